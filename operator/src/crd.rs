//! The `TooGoodToGo` custom resource (`toogoodtogo.io/v1alpha1`).
//!
//! The Rust types are the single source of the CRD schema: `crds/` is generated from them and a
//! test fails when it is stale. Cross-field rules are CEL `x-kubernetes-validations` so the API
//! server refuses bad resources; [`crate::validate`] mirrors each rule for the reconciler.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, CustomResourceExt, KubeSchema};
use serde::{Deserialize, Serialize};

pub const GROUP: &str = "toogoodtogo.io";
pub const VERSION: &str = "v1alpha1";

/// Message of the CEL rule that ties multiple bot replicas to webhook mode.
pub const RULE_WEBHOOK_FOR_SCALE: &str = "more than one replica or autoscaling requires telegram.webhook: Telegram allows only one long-polling client per bot token";
/// Message of the CEL rule tying the Ingress to webhook mode.
pub const RULE_INGRESS_NEEDS_WEBHOOK: &str =
    "ingress requires telegram.webhook: the Ingress routes only the webhook path";
/// Message of the CEL rule on `spec.database`.
pub const RULE_ONE_DATABASE: &str =
    "exactly one of database.managed, database.external and database.cloudNativePG must be set";
/// Message of the CEL rule on `spec.redis`.
pub const RULE_ONE_REDIS: &str = "exactly one of redis.managed and redis.external must be set";
/// Message of the CEL transition rule on `spec.database.managed.version`.
pub const RULE_POSTGRES_MAJOR_IMMUTABLE: &str = "the managed PostgreSQL major version cannot change in place: back up, create a new resource and restore";
/// Message of the CEL rule on `spec.autoscaling`.
pub const RULE_AUTOSCALING_RANGE: &str =
    "autoscaling.minReplicas must not exceed autoscaling.maxReplicas";

/// Desired state of one bot platform: the bot, its database, its cache and how it is reached.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "toogoodtogo.io",
    version = "v1alpha1",
    kind = "TooGoodToGo",
    plural = "toogoodtogos",
    shortname = "tgtg",
    category = "toogoodtogo-all",
    namespaced,
    status = "TooGoodToGoStatus",
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".spec.version"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(
    validation = kube::core::Rule::new("(self.replicas <= 1 && !has(self.autoscaling)) || has(self.telegram.webhook)").message(RULE_WEBHOOK_FOR_SCALE).field_path(".telegram"),
    validation = kube::core::Rule::new("!has(self.ingress) || has(self.telegram.webhook)").message(RULE_INGRESS_NEEDS_WEBHOOK).field_path(".ingress")
)]
#[serde(rename_all = "camelCase")]
pub struct TooGoodToGoSpec {
    /// Bot version: the image tag, e.g. `1.4.2`. Changing it runs that version's migration Job
    /// before the Deployment moves.
    #[schemars(length(min = 1, max = 128), pattern(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"))]
    pub version: String,
    /// Image repository without tag (default `toogoodtogo/bot`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,
    /// Digests that pin versions to exact images, e.g. `{"1.4.2": "sha256:…"}`: the bot, its
    /// migration and its Jobs of a listed version run `<image>:<version>@<digest>`, so a re-pushed
    /// tag cannot change what runs. A rollback runs the pinned image of the version it goes back to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub image_digests: BTreeMap<String, ImageDigest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<ImagePullPolicy>,
    /// Bot replicas; 0 is an emergency stop. Ignored while `autoscaling` is set.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 50))]
    pub replicas: i32,
    /// Stop applying changes; existing objects are kept as they are.
    #[serde(default)]
    pub suspend: bool,
    /// Bot container resources (defaults: requests 50m/64Mi, limit 256Mi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    pub telegram: TelegramSpec,
    pub database: DatabaseSpec,
    pub redis: RedisSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe: Option<StripeSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<MonitoringSpec>,
    /// Non-secret bot settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BotConfig>,
    /// Scheduled and pre-deployment backups (of a managed or CloudNativePG database: logical
    /// dumps), and the volume that `Backup` and `Restore` resources use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSpec>,
    /// Rotation of the generated `SECRET_KEY` and webhook secret token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_rotation: Option<SecretRotationSpec>,
    /// Progress deadline and automatic rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutSpec>,
    /// What deleting the resource does to the managed database's volume and credentials
    /// Secret, or to the CloudNativePG Cluster (and with it its volumes): `Retain` (default)
    /// keeps them, labelled with the resource's name, and a resource created again with the
    /// same name adopts them; `Delete` deletes them with the resource. The backup volume is
    /// always kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

fn default_replicas() -> i32 {
    1
}

/// What deleting a `TooGoodToGo` does to its data.
#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum DeletionPolicy {
    /// The database volume and its credentials Secret survive the resource.
    #[default]
    Retain,
    /// The database volume and its credentials Secret are deleted with the resource.
    Delete,
    /// A final backup first (a finalizer holds the deletion until it has completed), then as
    /// `Delete`.
    Backup,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum ImagePullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl ImagePullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// Where bot pods may run. Topology spread across nodes is added when replicas > 1.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
}

/// A key in a Secret in the resource's namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A Secret in the resource's namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TelegramSpec {
    /// The bot token from BotFather.
    pub token_secret_ref: SecretKeySelector,
    /// Webhook mode; without it the bot long-polls (one replica only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSpec>,
    /// Telegram user ids with admin rights.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admin_ids: Vec<i64>,
    /// Alternative Bot API server (e.g. a local bot-api).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^https?://"))]
    pub api_url: Option<String>,
}

/// Webhook mode. Telegram posts to `https://<host>/webhook`: the bot serves that fixed path,
/// and the Ingress routes only it.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSpec {
    /// Public host name Telegram calls, e.g. `bot.example.com`.
    #[schemars(
        length(min = 1, max = 253),
        pattern(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub host: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(validation = kube::core::Rule::new("(has(self.managed) ? 1 : 0) + (has(self.external) ? 1 : 0) + (has(self.cloudNativePG) ? 1 : 0) == 1").message(RULE_ONE_DATABASE))]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<ManagedDatabase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalDatabase>,
    /// A replicated PostgreSQL run by CloudNativePG (its operator must be installed): a
    /// `postgresql.cnpg.io/v1` `Cluster` with automated failover.
    #[serde(
        default,
        rename = "cloudNativePG",
        skip_serializing_if = "Option::is_none"
    )]
    pub cloud_native_pg: Option<CloudNativePgDatabase>,
}

impl DatabaseSpec {
    /// The PostgreSQL major version of a database the platform runs itself (managed or
    /// CloudNativePG): the backup Jobs use its client tools. None for an external database.
    pub fn in_cluster_major(&self) -> Option<String> {
        if let Some(managed) = &self.managed {
            return Some(managed.version.as_str().to_owned());
        }
        self.cloud_native_pg.as_ref().map(|cnpg| cnpg.major())
    }
}

/// Default of `spec.database.cloudNativePG.instances`: a primary and two streaming replicas.
pub const DEFAULT_CNPG_INSTANCES: i32 = 3;
/// Default of `spec.database.cloudNativePG.postgresVersion`.
pub const DEFAULT_CNPG_POSTGRES_VERSION: &str = "16";

/// A PostgreSQL cluster run by the CloudNativePG operator: one primary and `instances - 1`
/// streaming replicas; CloudNativePG promotes a replica when the primary fails, and the bot
/// follows the `-rw` Service to the new primary.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudNativePgDatabase {
    /// PostgreSQL instances (default 3); 1 has no replica to fail over to.
    #[serde(default = "default_cnpg_instances")]
    #[schemars(range(min = 1, max = 10))]
    pub instances: i32,
    /// PostgreSQL version, major (`16`) or major.minor (`16.6`): the image
    /// `ghcr.io/cloudnative-pg/postgresql:<version>` (default `16`).
    #[serde(default = "default_cnpg_postgres_version")]
    #[schemars(pattern(r"^(1[3-9]|[2-9][0-9])(\.[0-9]+)?$"))]
    pub postgres_version: String,
    /// The volume of each instance.
    pub storage: StorageSpec,
    /// Resources of each PostgreSQL instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// CloudNativePG's own physical backups (WAL archiving and point-in-time recovery), passed
    /// through to the Cluster's `spec.backup`. The operator's logical backups
    /// (`spec.backup`) are independent of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<CloudNativePgBackup>,
}

fn default_cnpg_instances() -> i32 {
    DEFAULT_CNPG_INSTANCES
}

fn default_cnpg_postgres_version() -> String {
    DEFAULT_CNPG_POSTGRES_VERSION.to_owned()
}

impl CloudNativePgDatabase {
    /// The major version of `postgresVersion` (`16.6` -> `16`).
    pub fn major(&self) -> String {
        self.postgres_version
            .split('.')
            .next()
            .unwrap_or(DEFAULT_CNPG_POSTGRES_VERSION)
            .to_owned()
    }
}

/// The Cluster's `spec.backup`, as CloudNativePG documents it; the operator does not interpret
/// the object store or snapshot settings.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudNativePgBackup {
    /// `barmanObjectStore`: WAL archive and base backups in S3, GCS or Azure Blob storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub barman_object_store: Option<serde_json::Value>,
    /// `volumeSnapshot`: base backups as Kubernetes VolumeSnapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub volume_snapshot: Option<serde_json::Value>,
    /// How long CloudNativePG keeps backups, e.g. `30d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[1-9][0-9]*[dwm]$"))]
    pub retention_policy: Option<String>,
}

/// An object whose fields the API server keeps as they are.
fn free_form_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// A single-instance PostgreSQL StatefulSet owned by this resource.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedDatabase {
    /// PostgreSQL major version; fixed for the life of the data volume.
    #[serde(default)]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message(RULE_POSTGRES_MAJOR_IMMUTABLE))]
    pub version: PostgresMajor,
    /// Image override; its major version must match `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,
    pub storage: StorageSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Whether a PodDisruptionBudget keeps voluntary evictions (a node drain, the cluster
    /// autoscaler) from stopping the database pod (default true). There is one pod: a drain of
    /// its node waits until this is set to false for the maintenance, and the database and the
    /// bot stop while the pod moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruption_budget: Option<bool>,
}

impl ManagedDatabase {
    pub fn disruption_budget(&self) -> bool {
        self.disruption_budget.unwrap_or(true)
    }
}

#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum PostgresMajor {
    #[serde(rename = "15")]
    V15,
    #[serde(rename = "16")]
    #[default]
    V16,
    #[serde(rename = "17")]
    V17,
}

impl PostgresMajor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V15 => "15",
            Self::V16 => "16",
            Self::V17 => "17",
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Volume size, e.g. `10Gi`. Growing it expands the PVC; shrinking is refused.
    #[schemars(pattern(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"))]
    pub size: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// A database run elsewhere; the Secret holds a `postgres://` URL.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalDatabase {
    pub url_secret_ref: SecretKeySelector,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(validation = kube::core::Rule::new("has(self.managed) != has(self.external)").message(RULE_ONE_REDIS))]
#[serde(rename_all = "camelCase")]
pub struct RedisSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<ManagedRedis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalRedis>,
}

/// A single Redis Deployment owned by this resource (cache only: no volume).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedRedis {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// A Redis run elsewhere; the Secret holds a `redis://` or `rediss://` URL.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalRedis {
    pub url_secret_ref: SecretKeySelector,
}

/// Telegram Payments through Stripe. The Secret holds `providerToken` (required), `apiKey`
/// (refunds) and `webhookSecret` (Stripe's webhook, routed by the Ingress at `/stripe/webhook`);
/// a missing key is the condition PaymentsReady=False naming it.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StripeSpec {
    pub secret_ref: SecretReference,
    /// ISO 4217 currency code (default EUR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Z]{3}$"))]
    pub currency: Option<String>,
    /// Minutes units stay held while a customer pays in the chat (bot default 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 120))]
    pub hold_minutes: Option<i32>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    /// Host served; defaults to the webhook host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"))]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<IngressTls>,
    /// Extra annotations for the ingress controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressTls {
    /// Secret holding the certificate (written by cert-manager when an issuer is named).
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// cert-manager ClusterIssuer that issues the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_issuer: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(validation = kube::core::Rule::new("self.minReplicas <= self.maxReplicas").message(RULE_AUTOSCALING_RANGE))]
#[serde(rename_all = "camelCase")]
pub struct AutoscalingSpec {
    #[schemars(range(min = 1, max = 50))]
    pub min_replicas: i32,
    #[schemars(range(min = 1, max = 50))]
    pub max_replicas: i32,
    /// Average CPU utilisation target in percent of requests.
    #[serde(default = "default_cpu_target")]
    #[schemars(range(min = 10, max = 100))]
    pub target_cpu_utilization_percent: i32,
}

fn default_cpu_target() -> i32 {
    70
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// Create a prometheus-operator ServiceMonitor (only when that CRD is installed).
    #[serde(default)]
    pub service_monitor: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[0-9]+(s|m)$"))]
    pub interval: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<BotEnvironment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// IANA time zone, e.g. `Europe/Berlin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600))]
    pub shutdown_timeout_seconds: Option<i32>,
    /// The most units one customer may hold on one deal (bot default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub reservation_max_units: Option<i32>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BotEnvironment {
    Development,
    Staging,
    Production,
}

impl BotEnvironment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

/// The bot's log format (`LOG_FORMAT`: the values the bot accepts).
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Pretty => "pretty",
        }
    }
}

/// Default of `spec.backup.schedule`: daily at 03:00.
pub const DEFAULT_BACKUP_SCHEDULE: &str = "0 3 * * *";
/// Default of `spec.backup.retentionDays`.
pub const DEFAULT_RETENTION_DAYS: i32 = 7;
/// Default size of the backup volume.
pub const DEFAULT_BACKUP_VOLUME_SIZE: &str = "10Gi";

/// Scheduled, pre-deployment and on-demand backups of the managed database, kept on a volume.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// Backups are on by default for a managed database (03:00, kept 7 days); `false` turns them
    /// off, which the Backup condition reports as a warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Cron schedule of the scheduled backup (default `0 3 * * *`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 9, max = 100))]
    pub schedule: Option<String>,
    /// IANA time zone the schedule is read in (default `UTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: Option<String>,
    /// Scheduled backups older than this many days are deleted (default 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub retention_days: Option<i32>,
    /// Retention never leaves fewer good scheduled backups than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub min_count: Option<i32>,
    /// Pre-deployment, manual and pre-restore backups older than this many days are deleted;
    /// unset keeps them until deleted by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub pre_deployment_retention_days: Option<i32>,
    /// Back up before every version change (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_deployment: Option<bool>,
    /// Image with `pg_dump` of the managed database's major version (default
    /// `postgres:<version>-alpine`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,
    /// Where backups are kept (default: a 10Gi volume of the default storage class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<BackupStorage>,
}

impl BackupSpec {
    pub fn schedule(&self) -> &str {
        self.schedule.as_deref().unwrap_or(DEFAULT_BACKUP_SCHEDULE)
    }
    pub fn time_zone(&self) -> &str {
        self.time_zone.as_deref().unwrap_or("UTC")
    }
    pub fn retention_days(&self) -> i32 {
        self.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS)
    }
    pub fn pre_deployment(&self) -> bool {
        self.pre_deployment.unwrap_or(true)
    }
    /// The backup volume: size and class.
    pub fn volume(&self) -> StorageSpec {
        self.storage
            .as_ref()
            .and_then(|s| s.persistent_volume_claim.clone())
            .unwrap_or_else(|| StorageSpec {
                size: DEFAULT_BACKUP_VOLUME_SIZE.to_owned(),
                storage_class_name: None,
            })
    }
}

/// Backup storage. Only a volume today; object storage would be another member.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStorage {
    /// A PersistentVolumeClaim `<name>-backups` the operator creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<StorageSpec>,
}

/// Annotation that rotates the generated secrets whenever its value changes.
pub const ROTATE_ANNOTATION: &str = "toogoodtogo.io/rotate";

/// Rotation of the secrets the operator generated. Rotated values take effect with a rolling
/// restart of the bot; the previous `SECRET_KEY` and webhook token stay accepted by the bot for
/// a grace period of a day. Besides the schedule or interval, changing the annotation
/// `toogoodtogo.io/rotate` rotates at once.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRotationSpec {
    /// Rotate when this cron schedule (UTC) passes; `intervalDays` wins when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Rotate the chosen secrets when they are this many days old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub interval_days: Option<i32>,
    /// Rotate `SECRET_KEY` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<bool>,
    /// Rotate the webhook secret token (default true; webhook mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret_token: Option<bool>,
    /// Rotate the managed database's password (default false): the bot moves between two login
    /// roles that act as the database owner, so no pod ever holds an invalid password. Not for
    /// a CloudNativePG cluster, whose operator owns the owner's Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_password: Option<bool>,
}

/// When each generated secret was last rotated (never the values).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRotationStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret_token: Option<Time>,
    /// The value of the `toogoodtogo.io/rotate` annotation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_trigger: Option<String>,
    /// When the managed database's password rotation last completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_password: Option<Time>,
    /// A database password rotation in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_rotation: Option<DatabaseRotation>,
    /// A webhook token rotation in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_rotation: Option<WebhookRotationPhase>,
}

/// The two rolls of a webhook token rotation.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum WebhookRotationPhase {
    /// The bot rolls onto pods that accept the new token besides the registered old one.
    Announcing,
    /// Every pod accepts it: the next roll registers the new token with Telegram.
    Swapping,
}

/// A database password rotation in progress: the bot moves from one login role to the other.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseRotation {
    pub phase: DatabaseRotationPhase,
    /// The role the bot logged in as.
    pub from: String,
    /// The role it moves to.
    pub to: String,
    pub started: Time,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum DatabaseRotationPhase {
    /// A Job gives the idle login role its new password.
    Preparing,
    /// The bot rolls onto the idle role and its new password.
    Switching,
    /// A Job gives the old role a password nobody knows.
    Retiring,
}

/// The digest of an image manifest.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(transparent)]
#[schemars(transparent)]
pub struct ImageDigest(#[schemars(pattern(r"^sha256:[a-f0-9]{64}$"))] pub String);

/// Rollout policy: how long a new version may take to become available, and what happens when
/// it does not.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// Go back to `status.lastGoodVersion` when the new version does not become available in
    /// time (default true). The bad version is not retried until `spec.version` changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_rollback: Option<bool>,
    /// The Deployment's progress deadline (default 120, as long as the single host's deploy
    /// waits for health).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 30, max = 3600))]
    pub progress_deadline_seconds: Option<i32>,
    /// Also restore the pre-deployment backup on an automatic rollback (default false), when
    /// the new version is to blame (its pods crash or fail readiness; not capacity or image
    /// pull): the data written since that backup is lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_database_on_rollback: Option<bool>,
    /// Versions kept in `status.history` (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub history_limit: Option<i32>,
    /// Minutes after a rollout completed during which the new version's pods' own `/metrics`
    /// are read, and the version rolled back when too many of its update attempts fail or its
    /// webhook answers 5xx too often (default 5; 0 turns the analysis off). The version becomes
    /// `status.lastGoodVersion` only after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 120))]
    pub analysis_minutes: Option<i32>,
    /// The share of failed update attempts, or of webhook calls answered with a 5xx, above which
    /// the analysis rolls the version back (default 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_failure_ratio: Option<f64>,
    /// The fewest update attempts (or webhook calls) the analysis judges a version on (default
    /// 20): on less traffic it neither rolls back nor blames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_updates: Option<i64>,
}

/// Default of `spec.rollout.progressDeadlineSeconds`.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 120;

impl TooGoodToGo {
    pub fn auto_rollback(&self) -> bool {
        self.spec
            .rollout
            .as_ref()
            .and_then(|r| r.auto_rollback)
            .unwrap_or(true)
    }

    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy.unwrap_or_default()
    }

    pub fn progress_deadline_seconds(&self) -> i32 {
        self.spec
            .rollout
            .as_ref()
            .and_then(|r| r.progress_deadline_seconds)
            .unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS)
    }

    pub fn history_limit(&self) -> usize {
        let limit = self.spec.rollout.as_ref().and_then(|r| r.history_limit);
        usize::try_from(limit.unwrap_or(10)).unwrap_or(10)
    }
}

/// An automatic rollback in effect.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolledBack {
    /// The version that did not become available (`spec.version`).
    pub from: String,
    /// The version running instead (the last good one).
    pub to: String,
    pub time: Time,
    /// What happened to the database (`restoreDatabaseOnRollback`): restored from which
    /// pre-deployment backup, or why not (the version was not to blame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Why the version was rolled back, when its rollout completed and the analysis found it
    /// failing (with the numbers); absent when it did not become available in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The analysis of a version whose rollout completed (`spec.rollout.analysisMinutes`).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutAnalysis {
    pub version: String,
    /// When its rollout was seen complete: the analysis ends `analysisMinutes` later.
    pub since: Time,
    /// What its pods counted at the last look.
    pub seen: String,
}

/// One deployed version.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeployedVersion {
    pub version: String,
    /// `Deployed` (it became available) or `RolledBack` (it did not).
    pub outcome: String,
    pub time: Time,
}

/// Observed state, written only by the operator.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TooGoodToGoStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Version the bot Deployment runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// The newest completed backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup: Option<LastBackup>,
    /// When the generated secrets were last rotated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_rotation: Option<SecretRotationStatus>,
    /// The newest version that became available and passed its analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_good_version: Option<String>,
    /// The analysis of the version whose rollout completed, while it lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<RolloutAnalysis>,
    /// Set while an automatic rollback is in effect (until `spec.version` changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back: Option<RolledBack>,
    /// The last deployed versions, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<DeployedVersion>,
}

/// The newest completed backup of a platform.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastBackup {
    /// The `Backup` resource.
    pub name: String,
    pub file: String,
    pub completion_time: Time,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum Phase {
    Pending,
    Progressing,
    Ready,
    Degraded,
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Progressing => "Progressing",
            Self::Ready => "Ready",
            Self::Degraded => "Degraded",
            Self::Failed => "Failed",
        }
    }
}

impl TooGoodToGo {
    /// Image reference of the bot for a given version, pinned when `imageDigests` lists it.
    pub fn bot_image(&self, version: &str) -> String {
        let repository = self.spec.image.as_deref().unwrap_or("toogoodtogo/bot");
        match self.spec.image_digests.get(version) {
            Some(ImageDigest(digest)) => format!("{repository}:{version}@{digest}"),
            None => format!("{repository}:{version}"),
        }
    }

    /// Whether more than one bot pod may run (fixed replicas or autoscaling).
    pub fn is_scaled_out(&self) -> bool {
        self.spec.replicas > 1 || self.spec.autoscaling.is_some()
    }
}

/// The CRD as YAML, exactly as written to `crds/`.
pub fn crd_yaml() -> Result<String, serde_saphyr::SerializeError> {
    let crd = TooGoodToGo::crd();
    serde_saphyr::to_string(&crd)
}

/// File name of the generated CRD under `crds/`.
pub const CRD_FILE: &str = "toogoodtogos.toogoodtogo.io.yaml";

/// Every CRD of the operator, in install order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![TooGoodToGo::crd(), Backup::crd(), Restore::crd()]
}

/// Every CRD as (file name under `crds/`, YAML).
pub fn crd_files() -> Result<Vec<(String, String)>, serde_saphyr::SerializeError> {
    crds()
        .iter()
        .map(|crd| {
            Ok((
                format!("{}.yaml", crd.metadata.name.clone().unwrap_or_default()),
                serde_saphyr::to_string(crd)?,
            ))
        })
        .collect()
}

/// Every CRD as one multi-document YAML stream (the `crd` command).
pub fn all_crds_yaml() -> Result<String, serde_saphyr::SerializeError> {
    let mut out = String::new();
    for (_, yaml) in crd_files()? {
        out.push_str("---\n");
        out.push_str(&yaml);
    }
    Ok(out)
}

/// Message of the CEL rule on `Restore.spec`.
pub const RULE_ONE_RESTORE_SOURCE: &str = "exactly one of backup and file must be set";

/// What made a backup.
#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum BackupKind {
    /// The CronJob of `spec.backup.schedule`.
    Scheduled,
    /// Before a version change.
    PreDeployment,
    /// Asked for by a person.
    #[default]
    Manual,
    /// The safety copy a `Restore` takes first.
    PreRestore,
}

impl BackupKind {
    /// The kind as `pg-backup.sh` names it (and as the file name ends).
    pub fn script_name(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::PreDeployment => "pre_deployment",
            Self::Manual => "manual",
            Self::PreRestore => "pre_restore",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "Scheduled",
            Self::PreDeployment => "PreDeployment",
            Self::Manual => "Manual",
            Self::PreRestore => "PreRestore",
        }
    }
}

/// One backup of a `TooGoodToGo`'s database (`backups.toogoodtogo.io`). Create one for an
/// on-demand backup; the operator creates them for scheduled, pre-deployment and pre-restore
/// backups.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[kube(
    group = "toogoodtogo.io",
    version = "v1alpha1",
    kind = "Backup",
    plural = "backups",
    shortname = "tgtgbackup",
    category = "toogoodtogo-all",
    namespaced,
    status = "BackupStatus",
    printcolumn = r#"{"name":"Platform","type":"string","jsonPath":".spec.toogoodtogo"}"#,
    printcolumn = r#"{"name":"Kind","type":"string","jsonPath":".spec.kind"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"File","type":"string","jsonPath":".status.file"}"#,
    printcolumn = r#"{"name":"Size","type":"integer","jsonPath":".status.sizeBytes"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct BackupResourceSpec {
    /// Name of the `TooGoodToGo` (same namespace) whose database is backed up.
    #[schemars(length(min = 1, max = 253))]
    pub toogoodtogo: String,
    #[serde(default)]
    pub kind: BackupKind,
    /// The CronJob's Job this backup mirrors (scheduled backups only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum BackupPhase {
    Pending,
    Running,
    Completed,
    Failed,
}

impl BackupPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BackupPhase>,
    /// File name on the backup volume, e.g. `toogoodtogo_20260101_030000.sql.gz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// PostgreSQL server version the dump was taken from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_version: Option<String>,
    /// Bot version that ran when the backup was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_version: Option<String>,
    /// The Job that runs (or ran) the backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Replace a `TooGoodToGo`'s database with a backup (`restores.toogoodtogo.io`), or with
/// `dryRun` only prove that the backup restores.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "toogoodtogo.io",
    version = "v1alpha1",
    kind = "Restore",
    plural = "restores",
    shortname = "tgtgrestore",
    category = "toogoodtogo-all",
    namespaced,
    status = "RestoreStatus",
    printcolumn = r#"{"name":"Platform","type":"string","jsonPath":".spec.toogoodtogo"}"#,
    printcolumn = r#"{"name":"Dry run","type":"boolean","jsonPath":".spec.dryRun"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"File","type":"string","jsonPath":".status.file"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = kube::core::Rule::new("has(self.backup) != has(self.file)").message(RULE_ONE_RESTORE_SOURCE))]
#[serde(rename_all = "camelCase")]
pub struct RestoreResourceSpec {
    /// Name of the `TooGoodToGo` (same namespace) whose database is replaced.
    #[schemars(length(min = 1, max = 253))]
    pub toogoodtogo: String,
    /// A completed `Backup` to restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub backup: Option<String>,
    /// Or a file on the backup volume, e.g. `toogoodtogo_20260101_030000.sql.gz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^toogoodtogo_[0-9]{8}_[0-9]{6}(_[a-z_]+)?\.sql\.gz$"))]
    pub file: Option<String>,
    /// Only verify the file and restore it into a scratch database; the live database and the
    /// bot are not touched.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum RestorePhase {
    Pending,
    /// Checking the file (gzip integrity, complete dump; a scratch restore for a dry run).
    Verifying,
    /// Taking the safety backup of the current database.
    BackingUp,
    /// Waiting for the bot to stop.
    ScalingDown,
    /// Replacing the database and running the migrations.
    Restoring,
    /// The database is restored; waiting for the bot's replicas to be ready on it.
    ScalingUp,
    Completed,
    Failed,
}

impl RestorePhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Verifying => "Verifying",
            Self::BackingUp => "BackingUp",
            Self::ScalingDown => "ScalingDown",
            Self::Restoring => "Restoring",
            Self::ScalingUp => "ScalingUp",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RestorePhase>,
    /// The backup file restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The `Backup` taken of the database before it was replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_backup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// What happened, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The database was replaced but the migration of the running version failed: the bot
    /// stays at zero replicas until this Restore is deleted or a newer restore completes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub migration_failed: bool,
    /// When the database was replaced and migrated; the bot must be ready again within its
    /// progress deadline from then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_time: Option<Time>,
    /// The database was restored but the bot did not become ready within its progress deadline:
    /// the platform is Degraded (RestoredBotNotReady) until it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bot_not_ready: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:2b8e1b5c0c9e4f1a7d3f6a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d";

    #[test]
    fn a_pinned_version_runs_its_digest_and_others_their_tag() {
        let mut cr = crate::testing::sample("production.yaml");
        cr.spec.image = Some("registry.example.com/tgtg/bot".to_owned());
        cr.spec
            .image_digests
            .insert("1.4.2".to_owned(), ImageDigest(DIGEST.to_owned()));
        assert_eq!(
            cr.bot_image("1.4.2"),
            format!("registry.example.com/tgtg/bot:1.4.2@{DIGEST}")
        );
        // A version without a pin (a newer one being tried) keeps its tag; going back to 1.4.2
        // runs the pinned image again.
        assert_eq!(cr.bot_image("1.5.0"), "registry.example.com/tgtg/bot:1.5.0");
    }
}
