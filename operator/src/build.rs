//! Build: the pure step. `render(&TooGoodToGo, &Inputs)` returns every object the operator wants
//! to exist, with no I/O, so it is tested with golden files and reused by `render` offline.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use serde::Serialize;

use crate::crd::TooGoodToGo;
use crate::names::Owner;
use crate::resources;

/// Operator-generated secret values, read back from their Secrets once they exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedValues {
    pub secret_key: String,
    pub webhook_secret_token: String,
    /// The key before the last rotation, still accepted by the bot for a grace period.
    pub secret_key_previous: Option<String>,
    /// The webhook token before the last rotation, still accepted by the bot.
    pub webhook_secret_token_previous: Option<String>,
    /// The signing key's announced and retired keys ([`crate::secret_key`]).
    pub key_ring: crate::secret_key::KeyRing,
    /// Where the webhook token's rotation stands, as the generated Secret records it.
    pub token_record: crate::webhook_token::Record,
    /// Only with a managed database.
    pub postgres: Option<PostgresCredentials>,
    /// The managed Redis' password (`requirepass`); only with a managed Redis.
    pub redis_password: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresCredentials {
    /// Superuser, for operator Jobs only (never given to the bot).
    pub superuser_password: String,
    /// The password of the bot's login role.
    pub bot_password: String,
    /// The role the bot logs in as: the database owner, or after a password rotation one of
    /// the two login roles acting as it.
    pub bot_user: String,
    /// A rotation's new password, before the bot switches to it.
    pub pending_password: Option<String>,
    /// The password rotation's state, kept with the passwords ([`crate::db_rotation::Record`]).
    pub record: crate::db_rotation::Record,
    /// The credentials Secret's uid ([`crate::credentials_sync`]).
    pub secret_uid: Option<String>,
}

/// Everything `render` needs besides the resource: the results of dereferencing and the
/// rollout state the reconciler observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inputs {
    pub generated: GeneratedValues,
    /// Digest of the data of every referenced Secret (token, database URL, Stripe...). It goes
    /// into the pod-template hash so that editing a referenced Secret rolls the bot.
    pub referenced_secrets_digest: String,
    /// The version the bot Deployment should run now, or None before the first successful
    /// migration (then no Deployment is rendered yet).
    pub deploy_version: Option<String>,
    /// The version whose migration Job must exist, if any.
    pub migrate_version: Option<String>,
    /// Size in the existing StatefulSet's claim template: that field is immutable, so a resize is
    /// done on the PVC and the template keeps the size it was created with.
    pub postgres_claim_template_size: Option<String>,
    /// A restore is replacing the database: the bot runs no pods and has no autoscaler.
    pub bot_stopped: bool,
    /// An automatic rollback from this version is in effect: recorded on the Deployment, in the
    /// same write that rolls it back ([`crate::observe::ROLLED_BACK_FROM_ANNOTATION`]).
    pub rolled_back_from: Option<String>,
    /// The credentials Secret whose passwords the database pod sets before it starts
    /// ([`crate::credentials_sync`]); None leaves the pod without that step.
    pub credentials_sync: Option<String>,
}

impl Inputs {
    /// Inputs of an offline render: the Deployment runs `spec.version` and that version's
    /// migration Job is shown.
    pub fn offline(
        cr: &TooGoodToGo,
        generated: GeneratedValues,
        referenced_secrets_digest: String,
    ) -> Self {
        Self {
            generated,
            referenced_secrets_digest,
            deploy_version: Some(cr.spec.version.clone()),
            migrate_version: Some(cr.spec.version.clone()),
            postgres_claim_template_size: None,
            bot_stopped: false,
            rolled_back_from: None,
            credentials_sync: None,
        }
    }
}

/// The managed PostgreSQL: credentials, init script, headless Service, StatefulSet, policy.
#[derive(Clone, Debug, PartialEq)]
pub struct ManagedPostgresObjects {
    pub credentials: Secret,
    pub init_script: ConfigMap,
    pub service: Service,
    pub stateful_set: StatefulSet,
    pub network_policy: NetworkPolicy,
    pub disruption_budget: Option<PodDisruptionBudget>,
}

/// The CloudNativePG cluster and the policy that lets the bot and the Jobs reach it.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudNativePgObjects {
    pub cluster: DynamicObject,
    pub network_policy: NetworkPolicy,
}

/// The managed Redis: configuration, Deployment, Service, policy.
#[derive(Clone, Debug, PartialEq)]
pub struct ManagedRedisObjects {
    pub config: ConfigMap,
    pub deployment: Deployment,
    pub service: Service,
    pub network_policy: NetworkPolicy,
}

/// Backups: the volume and the CronJob of the scheduled backups.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupObjects {
    pub claim: PersistentVolumeClaim,
    pub cron_job: CronJob,
}

/// Every object one `TooGoodToGo` is reconciled into. `None` means "must not exist".
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredObjects {
    pub generated_secret: Secret,
    pub config_map: ConfigMap,
    pub postgres: Option<ManagedPostgresObjects>,
    pub cnpg: Option<CloudNativePgObjects>,
    pub redis: Option<ManagedRedisObjects>,
    /// The shell libraries the backup, restore and rotation Jobs run.
    pub scripts: Option<ConfigMap>,
    pub backup: Option<BackupObjects>,
    pub migration_job: Option<Job>,
    pub deployment: Option<Deployment>,
    pub service: Service,
    pub ingress: Option<Ingress>,
    pub pod_disruption_budget: Option<PodDisruptionBudget>,
    pub autoscaler: Option<HorizontalPodAutoscaler>,
    pub service_monitor: Option<DynamicObject>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot serialize {kind} {name}: {source}")]
    Serialize {
        kind: String,
        name: String,
        source: serde_json::Error,
    },
}

/// How an object is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Server-side apply whenever the live object differs.
    Apply,
    /// Created when missing, never patched: its spec is immutable (Jobs).
    CreateOnly,
}

/// One rendered object in a kind-independent form, ready for the apply step.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub resource: ApiResource,
    pub object: DynamicObject,
    pub mode: WriteMode,
}

impl Manifest {
    fn of<K>(object: &K, mode: WriteMode) -> Result<Self, BuildError>
    where
        K: kube::Resource<DynamicType = ()> + Serialize,
    {
        let resource = ApiResource::erase::<K>(&());
        let name = object.meta().name.clone().unwrap_or_default();
        let serialize_error = |source| BuildError::Serialize {
            kind: resource.kind.clone(),
            name: name.clone(),
            source,
        };
        let mut value = serde_json::to_value(object).map_err(serialize_error)?;
        // k8s-openapi types do not serialize their apiVersion/kind; apply needs them.
        if let Some(map) = value.as_object_mut() {
            map.insert("apiVersion".to_owned(), resource.api_version.clone().into());
            map.insert("kind".to_owned(), resource.kind.clone().into());
        }
        let object = serde_json::from_value(value).map_err(serialize_error)?;
        Ok(Self {
            resource,
            object,
            mode,
        })
    }

    pub fn name(&self) -> &str {
        self.object.metadata.name.as_deref().unwrap_or_default()
    }
}

/// The prometheus-operator ServiceMonitor kind (a CRD that may not be installed).
pub fn service_monitor_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor"),
        "servicemonitors",
    )
}

impl DesiredObjects {
    /// Objects in apply order: secrets and config first, then the data stores, the migration,
    /// the bot, and what routes traffic to it.
    pub fn manifests(&self) -> Result<Vec<Manifest>, BuildError> {
        use WriteMode::{Apply, CreateOnly};
        let mut out = vec![
            Manifest::of(&self.generated_secret, Apply)?,
            Manifest::of(&self.config_map, Apply)?,
        ];
        if let Some(pg) = &self.postgres {
            out.push(Manifest::of(&pg.credentials, Apply)?);
            out.push(Manifest::of(&pg.init_script, Apply)?);
            out.push(Manifest::of(&pg.service, Apply)?);
            out.push(Manifest::of(&pg.stateful_set, Apply)?);
            out.push(Manifest::of(&pg.network_policy, Apply)?);
            if let Some(budget) = &pg.disruption_budget {
                out.push(Manifest::of(budget, Apply)?);
            }
        }
        if let Some(cnpg) = &self.cnpg {
            out.push(Manifest {
                resource: crate::resources::cnpg_cluster::resource(),
                object: cnpg.cluster.clone(),
                mode: Apply,
            });
            out.push(Manifest::of(&cnpg.network_policy, Apply)?);
        }
        if let Some(redis) = &self.redis {
            out.push(Manifest::of(&redis.config, Apply)?);
            out.push(Manifest::of(&redis.deployment, Apply)?);
            out.push(Manifest::of(&redis.service, Apply)?);
            out.push(Manifest::of(&redis.network_policy, Apply)?);
        }
        if let Some(scripts) = &self.scripts {
            out.push(Manifest::of(scripts, Apply)?);
        }
        if let Some(backup) = &self.backup {
            out.push(Manifest::of(&backup.claim, Apply)?);
            out.push(Manifest::of(&backup.cron_job, Apply)?);
        }
        if let Some(job) = &self.migration_job {
            out.push(Manifest::of(job, CreateOnly)?);
        }
        if let Some(deployment) = &self.deployment {
            out.push(Manifest::of(deployment, Apply)?);
        }
        out.push(Manifest::of(&self.service, Apply)?);
        if let Some(ingress) = &self.ingress {
            out.push(Manifest::of(ingress, Apply)?);
        }
        if let Some(pdb) = &self.pod_disruption_budget {
            out.push(Manifest::of(pdb, Apply)?);
        }
        if let Some(hpa) = &self.autoscaler {
            out.push(Manifest::of(hpa, Apply)?);
        }
        if let Some(monitor) = &self.service_monitor {
            out.push(Manifest {
                resource: service_monitor_resource(),
                object: monitor.clone(),
                mode: Apply,
            });
        }
        Ok(out)
    }

    /// Optional objects that must not exist under this spec: (kind, name) pairs to prune.
    /// Turning a feature off removes its objects; never a data volume or a credentials Secret.
    /// The database's StatefulSet is removed only when `keep_database` is false: under
    /// `deletionPolicy: Delete` its volume goes with it.
    pub fn absent(&self, owner: &Owner, keep_database: bool) -> Vec<(ApiResource, String)> {
        let mut absent = Vec::new();
        if self.ingress.is_none() {
            absent.push((ApiResource::erase::<Ingress>(&()), owner.name.clone()));
        }
        if self.pod_disruption_budget.is_none() {
            absent.push((ApiResource::erase::<PodDisruptionBudget>(&()), owner.bot()));
        }
        if self.autoscaler.is_none() {
            absent.push((
                ApiResource::erase::<HorizontalPodAutoscaler>(&()),
                owner.bot(),
            ));
        }
        if self.service_monitor.is_none() {
            absent.push((service_monitor_resource(), owner.bot()));
        }
        if self.backup.is_none() {
            absent.push((ApiResource::erase::<CronJob>(&()), owner.backup_cron_job()));
        }
        if self.scripts.is_none() {
            absent.push((ApiResource::erase::<ConfigMap>(&()), owner.backup_script()));
        }
        if self.redis.is_none() {
            absent.push((ApiResource::erase::<ConfigMap>(&()), owner.redis()));
            absent.push((ApiResource::erase::<Deployment>(&()), owner.redis()));
            absent.push((ApiResource::erase::<Service>(&()), owner.redis()));
            absent.push((ApiResource::erase::<NetworkPolicy>(&()), owner.redis()));
        }
        if self
            .postgres
            .as_ref()
            .is_none_or(|pg| pg.disruption_budget.is_none())
        {
            absent.push((
                ApiResource::erase::<PodDisruptionBudget>(&()),
                owner.postgres(),
            ));
        }
        if self.postgres.is_none() {
            if !keep_database {
                absent.push((ApiResource::erase::<StatefulSet>(&()), owner.postgres()));
            }
            absent.push((ApiResource::erase::<Service>(&()), owner.postgres()));
            // The CloudNativePG cluster's policy has the same name.
            if self.cnpg.is_none() {
                absent.push((ApiResource::erase::<NetworkPolicy>(&()), owner.postgres()));
            }
            absent.push((ApiResource::erase::<ConfigMap>(&()), owner.postgres_init()));
        }
        // The CloudNativePG Cluster is never pruned: CloudNativePG deletes the instances'
        // volumes with it. Only deleting the resource under deletionPolicy Delete or Backup
        // (which own it) removes it.
        absent
    }
}

/// Render every desired object of `cr`.
pub fn render(cr: &TooGoodToGo, inputs: &Inputs) -> DesiredObjects {
    let owner = Owner::of(cr);
    let ctx = resources::Context {
        cr,
        inputs,
        owner: &owner,
    };
    let config_map = resources::configmap::build(&ctx);
    let generated_secret = resources::secret::build_generated(&ctx);
    let postgres = cr
        .spec
        .database
        .managed
        .as_ref()
        .map(|managed| ManagedPostgresObjects {
            credentials: resources::postgres::credentials(&ctx),
            init_script: resources::postgres::init_script(&ctx),
            service: resources::postgres::service(&ctx),
            stateful_set: resources::postgres::stateful_set(&ctx, managed),
            network_policy: resources::network_policy::postgres(&ctx),
            disruption_budget: resources::pdb::database(&ctx, managed),
        });
    let cnpg = cr
        .spec
        .database
        .cloud_native_pg
        .as_ref()
        .map(|cnpg| CloudNativePgObjects {
            cluster: resources::cnpg_cluster::build(&ctx, cnpg),
            network_policy: resources::network_policy::cnpg(&ctx),
        });
    let redis = cr
        .spec
        .redis
        .managed
        .as_ref()
        .map(|managed| ManagedRedisObjects {
            config: resources::redis::config_map(&ctx),
            deployment: resources::redis::deployment(&ctx, managed),
            service: resources::redis::service(&ctx),
            network_policy: resources::network_policy::redis(&ctx),
        });
    let backup = crate::backups::enabled(cr).map(|(spec, managed)| BackupObjects {
        claim: resources::backup::claim(&ctx, spec),
        cron_job: resources::backup::cron_job(&ctx, spec, managed),
    });
    let scripts = (backup.is_some() || crate::db_rotation::enabled(cr))
        .then(|| resources::backup::script(&ctx));
    let pod_config_hash = resources::deployment::pod_config_hash(&ctx, &config_map);
    DesiredObjects {
        scripts,
        backup,
        migration_job: inputs
            .migrate_version
            .as_deref()
            .map(|version| resources::migration_job::build(&ctx, version)),
        deployment: inputs
            .deploy_version
            .as_deref()
            .map(|version| resources::deployment::build(&ctx, version, &pod_config_hash)),
        service: resources::service::build(&ctx),
        ingress: resources::ingress::build(&ctx),
        pod_disruption_budget: resources::pdb::build(&ctx),
        autoscaler: resources::hpa::build(&ctx),
        service_monitor: resources::service_monitor::build(&ctx),
        generated_secret,
        config_map,
        postgres,
        cnpg,
        redis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::FIELD_MANAGER;
    use crate::testing::sample;

    fn inputs(cr: &TooGoodToGo) -> Inputs {
        Inputs::offline(
            cr,
            GeneratedValues {
                secret_key: "k".to_owned(),
                webhook_secret_token: "t".to_owned(),
                secret_key_previous: None,
                webhook_secret_token_previous: None,
                key_ring: Default::default(),
                token_record: Default::default(),
                postgres: Some(PostgresCredentials {
                    superuser_password: "s".to_owned(),
                    bot_password: "b".to_owned(),
                    bot_user: "toogoodtogo".to_owned(),
                    pending_password: None,
                    record: Default::default(),
                    secret_uid: None,
                }),
                redis_password: Some("r".to_owned()),
            },
            "digest".to_owned(),
        )
    }

    /// The controller watches owned kinds filtered by the managed-by label and maps events back
    /// through the controller owner reference: every object must carry both.
    #[test]
    fn every_object_is_labelled_and_owned_so_its_watch_finds_the_resource() {
        for name in crate::testing::sample_names() {
            let mut cr = sample(&name);
            cr.metadata.uid = Some("cr-uid".to_owned());
            cr.metadata.namespace = Some("shop".to_owned());
            let desired = render(&cr, &inputs(&cr));
            let manifests = desired.manifests().unwrap_or_default();
            assert!(!manifests.is_empty());
            for manifest in manifests {
                let meta = &manifest.object.metadata;
                let what = format!("{name}: {}/{}", manifest.resource.kind, manifest.name());
                let labels = meta.labels.clone().unwrap_or_default();
                assert_eq!(
                    labels
                        .get("app.kubernetes.io/managed-by")
                        .map(String::as_str),
                    Some(FIELD_MANAGER),
                    "{what}"
                );
                assert_eq!(
                    labels.get("app.kubernetes.io/instance"),
                    cr.metadata.name.as_ref(),
                    "{what}"
                );
                let owners = meta.owner_references.clone().unwrap_or_default();
                if manifest.resource.kind == "PersistentVolumeClaim"
                    || manifest.name().ends_with("-postgres-credentials")
                    || manifest.resource.kind == crate::resources::cnpg_cluster::KIND
                {
                    // The backup volume outlives the resource on purpose, and with the default
                    // deletionPolicy Retain the database's credentials and the CloudNativePG
                    // cluster (which takes its volumes with it) do too.
                    assert!(owners.is_empty(), "{what}");
                    continue;
                }
                assert!(
                    owners
                        .iter()
                        .any(|o| o.uid == "cr-uid" && o.controller == Some(true)),
                    "{what}"
                );
                assert_eq!(meta.namespace.as_deref(), Some("shop"), "{what}");
            }
        }
    }

    #[test]
    fn autoscaling_leaves_replicas_to_the_hpa() {
        let cr = sample("external.yaml");
        let desired = render(&cr, &inputs(&cr));
        assert_eq!(desired.deployment.map(|d| d.spec.replicas), Some(None));
        assert!(desired.autoscaler.is_some());
        assert!(desired.pod_disruption_budget.is_some());
    }

    #[test]
    fn one_long_polling_replica_gets_no_disruption_budget_ingress_or_spread() {
        let cr = sample("minimal.yaml");
        let desired = render(&cr, &inputs(&cr));
        assert!(desired.pod_disruption_budget.is_none());
        assert!(desired.ingress.is_none());
        let spread = desired
            .deployment
            .and_then(|d| d.spec.template.spec)
            .and_then(|p| p.topology_spread_constraints);
        assert_eq!(spread, None);
    }

    #[test]
    fn before_the_first_migration_there_is_no_bot_deployment() {
        let cr = sample("minimal.yaml");
        let mut inputs = inputs(&cr);
        inputs.deploy_version = None;
        let desired = render(&cr, &inputs);
        assert!(desired.deployment.is_none());
        assert!(desired.migration_job.is_some());
    }
}
