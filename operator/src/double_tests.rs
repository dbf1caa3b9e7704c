//! The reconciler against the stateful API double ([`crate::testing::api_server`]): a server
//! that normalises, defaults, tracks field managers and resourceVersions, and garbage-collects,
//! as a real kube-apiserver does.

use std::sync::Arc;

use kube::runtime::controller::Action;
use serde_json::{Value, json};

use crate::controller::{Context, Error, reconcile};
use crate::crd::TooGoodToGo;
use crate::generator::SecretGenerator;
use crate::metrics::{Metrics, ResourceLabels};
use crate::testing::api_server::ApiServer;
use crate::testing::sample;

pub const NS: &str = "shop";
pub const CR: &str = "/apis/toogoodtogo.io/v1alpha1/namespaces/shop/toogoodtogos/tgtg";

pub fn core(plural: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{NS}/{plural}/{name}")
}

pub fn group(group_version: &str, plural: &str, name: &str) -> String {
    format!("/apis/{group_version}/namespaces/{NS}/{plural}/{name}")
}

/// A new value on every call, so a regenerated secret would show.
#[derive(Default)]
struct CountingGenerator(std::sync::atomic::AtomicUsize);

impl SecretGenerator for CountingGenerator {
    fn generate(&self, purpose: &str) -> String {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        format!("{purpose}-{n}")
    }
}

pub struct Cluster {
    pub server: ApiServer,
    pub ctx: Arc<Context>,
}

/// Secrets every sample references, with their keys.
const REFERENCED: &[(&str, &[&str])] = &[
    ("tgtg-telegram", &["token"]),
    ("tgtg-stripe", &["providerToken", "apiKey", "webhookSecret"]),
    ("tgtg-database", &["url"]),
    ("tgtg-redis", &["url"]),
];

impl Cluster {
    /// An empty cluster (no prometheus-operator) with the referenced Secrets.
    pub fn new() -> Self {
        let (client, server) = ApiServer::start();
        server.uninstalled("servicemonitors");
        for (name, keys) in REFERENCED {
            let data: serde_json::Map<String, Value> = keys
                .iter()
                .map(|k| ((*k).to_owned(), json!("cGxhY2Vob2xkZXI=")))
                .collect();
            server.create(
                &core("secrets", name),
                json!({"apiVersion": "v1", "kind": "Secret", "data": data}),
            );
        }
        let ctx = Arc::new(Context::new(
            client,
            Arc::new(CountingGenerator::default()),
            Arc::new(Metrics::default()),
            Some("test".to_owned()),
        ));
        Self { server, ctx }
    }

    /// A cluster with the sample `file` created as `tgtg` in `shop` (with CloudNativePG installed
    /// when the sample asks for it).
    pub fn with_sample(file: &str) -> Self {
        let cluster = Self::new();
        if sample(file).spec.database.cloud_native_pg.is_some() {
            cluster.install_cloudnativepg();
        }
        cluster.create_resource(file);
        cluster
    }

    /// Serve CloudNativePG's `Cluster` kind, as its installation does.
    pub fn install_cloudnativepg(&self) {
        self.server
            .install("postgresql.cnpg.io/v1", &[("Cluster", "clusters")]);
    }

    pub fn create_resource(&self, file: &str) {
        let mut cr = serde_json::to_value(sample(file)).unwrap_or_default();
        cr["metadata"]["name"] = json!("tgtg");
        self.server.create(CR, cr);
    }

    pub fn resource(&self) -> Value {
        self.server.get(CR).unwrap_or_default()
    }

    pub fn condition(&self, type_: &str) -> Value {
        self.resource()["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == type_).cloned())
            .unwrap_or_default()
    }

    /// The (type, reason, note) of every Event published.
    pub fn events(&self) -> Vec<(String, String, String)> {
        self.server
            .paths(&format!("/apis/events.k8s.io/v1/namespaces/{NS}/events/"))
            .iter()
            .filter_map(|p| self.server.get(p))
            .map(|e| {
                let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                (text("type"), text("reason"), text("note"))
            })
            .collect()
    }

    /// One reconcile of the stored resource, as the watch would deliver it.
    pub async fn reconcile(&self) -> Result<Action, Error> {
        let stored = self.resource();
        let cr: TooGoodToGo = match serde_json::from_value(stored) {
            Ok(cr) => cr,
            Err(e) => panic!("stored resource does not parse: {e}"),
        };
        Box::pin(reconcile(Arc::new(cr), self.ctx.clone())).await
    }

    pub async fn reconcile_ok(&self) {
        let result = self.reconcile().await;
        assert!(result.is_ok(), "{result:?}");
    }

    /// The writes the operator counted (the `writes` metric).
    pub fn counted_writes(&self) -> u64 {
        self.ctx
            .metrics
            .writes
            .get_or_create(&ResourceLabels {
                namespace: NS.to_owned(),
                name: "tgtg".to_owned(),
            })
            .get()
    }

    /// The pre-deployment Backup of the upgrade of `tgtg` (the production sample) to `version`
    /// at `generation`, completed at 09:31 as its Job leaves it. Returns its name.
    pub fn completed_pre_deployment_backup(&self, version: &str, generation: i64) -> String {
        let name = crate::names::Owner::of(&sample("production.yaml"))
            .pre_deployment_backup(version, generation);
        self.server.create(
            &group("toogoodtogo.io/v1alpha1", "backups", &name),
            json!({"apiVersion": "toogoodtogo.io/v1alpha1", "kind": "Backup",
                "metadata": {"annotations": {"toogoodtogo.io/version": version},
                             "labels": {"app.kubernetes.io/instance": "tgtg"}},
                "spec": {"toogoodtogo": "tgtg", "kind": "PreDeployment"},
                "status": {"phase": "Completed",
                           "file": "toogoodtogo_20261129_093000_pre_deployment.sql.gz",
                           "startTime": "2026-11-29T09:30:00Z",
                           "completionTime": "2026-11-29T09:31:00Z"}}),
        );
        name
    }

    /// A pod of the bot of `tgtg` at `version`, as its ReplicaSet creates it, with the given
    /// spec (may be null) and status.
    pub fn bot_pod(&self, name: &str, version: &str, spec: Value, status: Value) {
        self.server.create(
            &core("pods", name),
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"labels": {"app.kubernetes.io/name": "toogoodtogo",
                    "app.kubernetes.io/instance": "tgtg", "app.kubernetes.io/component": "bot",
                    "app.kubernetes.io/version": version}},
                "spec": spec,
                "status": status}),
        );
    }

    /// What the cluster's controllers do: the StatefulSet controller creates the data volume
    /// (owned by the StatefulSet when its retention policy deletes it) and its pod gets ready,
    /// migration Jobs succeed, Deployments roll out.
    pub fn controllers_act(&self) {
        for path in self
            .server
            .paths(&format!("/apis/apps/v1/namespaces/{NS}/statefulsets/"))
        {
            let Some(sts) = self.server.get(&path) else {
                continue;
            };
            let name = sts["metadata"]["name"].as_str().unwrap_or_default();
            for template in sts["spec"]["volumeClaimTemplates"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let claim = format!(
                    "{}-{name}-0",
                    template["metadata"]["name"].as_str().unwrap_or_default()
                );
                let claim_path = core("persistentvolumeclaims", &claim);
                if self.server.exists(&claim_path) {
                    continue;
                }
                // As the StatefulSet controller labels a claim: the template's labels and the
                // selector's.
                let mut labels = template["metadata"]["labels"].clone();
                if !labels.is_object() {
                    labels = json!({});
                }
                for (key, value) in sts["spec"]["selector"]["matchLabels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                {
                    labels[key] = value.clone();
                }
                let mut pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"labels": labels},
                    "spec": template["spec"]});
                if sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete" {
                    pvc["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1",
                        "kind": "StatefulSet", "name": name, "uid": sts["metadata"]["uid"],
                        "controller": true}]);
                }
                self.server.create(&claim_path, pvc);
            }
            self.server.edit(&path, |s| {
                s["status"] = json!({"replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                    "observedGeneration": s["metadata"]["generation"]});
            });
        }
        self.cloudnativepg_acts();
        for path in self
            .server
            .paths(&format!("/apis/batch/v1/namespaces/{NS}/jobs/"))
        {
            self.server.edit(&path, |job| {
                let component = &job["metadata"]["labels"]["app.kubernetes.io/component"];
                // A payments check a test made fail stays failed.
                let failed = job["status"].get("failed").is_some();
                if (component == "migration" || (component == "payments-check" && !failed))
                    && job["status"].get("succeeded").is_none()
                {
                    // The Job controller records when it finished.
                    let now = k8s_openapi::jiff::Timestamp::now().as_second();
                    let now = k8s_openapi::jiff::Timestamp::from_second(now).unwrap_or_default();
                    job["status"] = json!({"succeeded": 1, "completionTime": now.to_string()});
                }
            });
        }
        for path in self
            .server
            .paths(&format!("/apis/apps/v1/namespaces/{NS}/deployments/"))
        {
            self.server.edit(&path, |d| {
                let n = d["spec"]["replicas"].clone();
                d["status"] = json!({"observedGeneration": d["metadata"]["generation"],
                    "replicas": n, "updatedReplicas": n, "readyReplicas": n, "availableReplicas": n});
            });
        }
    }

    /// What CloudNativePG does for a new Cluster: the instances' volumes and its Secrets (owned
    /// by the Cluster, so deleting it deletes them), then the status of a healthy cluster whose
    /// first instance is primary. A Cluster whose status a test set is left as it is.
    pub fn cloudnativepg_acts(&self) {
        for path in self.server.paths(&format!(
            "/apis/postgresql.cnpg.io/v1/namespaces/{NS}/clusters/"
        )) {
            let Some(cnpg) = self.server.get(&path) else {
                continue;
            };
            if cnpg.get("status").is_some_and(|s| !s.is_null()) {
                continue;
            }
            let name = cnpg["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let owned = json!([{"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
                "name": name, "uid": cnpg["metadata"]["uid"], "controller": true}]);
            for instance in 1..=cnpg["spec"]["instances"].as_i64().unwrap_or(1) {
                self.server.create(
                    &core("persistentvolumeclaims", &format!("{name}-{instance}")),
                    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": {"labels": {"cnpg.io/cluster": name},
                            "ownerReferences": owned},
                        "spec": {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": cnpg["spec"]["storage"]["size"]}}}}),
                );
            }
            for secret in ["app", "superuser"] {
                self.server.create(
                    &core("secrets", &format!("{name}-{secret}")),
                    json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
                        "metadata": {"ownerReferences": owned},
                        "data": {"username": "dG9vZ29vZHRvZ28=", "password": "cGxhY2Vob2xkZXI="}}),
                );
            }
            let primary = format!("{name}-1");
            self.server.edit(&path, |c| {
                c["status"] = json!({"phase": "Cluster in healthy state",
                    "instances": c["spec"]["instances"], "readyInstances": c["spec"]["instances"],
                    "currentPrimary": primary, "targetPrimary": primary,
                    "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterIsReady"}]});
            });
        }
    }

    /// Reconcile, letting the controllers act in between, until the resource is Ready.
    pub async fn converge(&self) {
        for _ in 0..8 {
            self.reconcile_ok().await;
            self.controllers_act();
            if self.resource()["status"]["phase"] == "Ready" {
                self.reconcile_ok().await;
                self.controllers_act();
                return;
            }
        }
        panic!(
            "not Ready after 8 reconciles: {:#}",
            self.resource()["status"]
        );
    }
}

#[tokio::test]
async fn every_example_converges_to_zero_writes_on_a_normalising_server() {
    for file in crate::testing::sample_names() {
        let cluster = Cluster::with_sample(&file);
        cluster.converge().await;
        cluster.server.take_changes();
        cluster.server.take_requests();
        let counted = cluster.counted_writes();
        for _ in 0..3 {
            cluster.reconcile_ok().await;
        }
        let sent: Vec<String> = cluster
            .server
            .take_requests()
            .iter()
            .filter(|r| r.method != http::Method::GET)
            .map(super::testing::api_server::Recorded::line)
            .collect();
        assert_eq!(
            sent,
            Vec::<String>::new(),
            "{file}: a converged resource sends no writes"
        );
        assert_eq!(
            cluster.server.take_changes(),
            Vec::<String>::new(),
            "{file}: a converged resource changes nothing"
        );
        assert_eq!(
            cluster.counted_writes(),
            counted,
            "{file}: the write metric counts only real changes"
        );
    }
}

#[tokio::test]
async fn fields_removed_from_the_spec_disappear_from_the_live_objects() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    let ingress = "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/tgtg";
    let deployment = "/apis/apps/v1/namespaces/shop/deployments/tgtg-bot";
    let live = |path: &str| cluster.server.get(path).unwrap_or_default();
    assert!(live(ingress)["spec"].get("tls").is_some());
    assert!(
        live(deployment)["spec"]["template"]["spec"]
            .get("nodeSelector")
            .is_some()
    );

    cluster.server.edit(CR, |cr| {
        cr["spec"]["ingress"]["tls"] = Value::Null;
        cr["spec"]["placement"] = Value::Null;
    });
    cluster.reconcile_ok().await;
    assert_eq!(live(ingress)["spec"].get("tls"), None);
    assert_eq!(
        live(deployment)["spec"]["template"]["spec"].get("nodeSelector"),
        None
    );
    cluster.controllers_act();
    cluster.reconcile_ok().await;
    cluster.server.take_changes();
    cluster.reconcile_ok().await;
    assert_eq!(cluster.server.take_changes(), Vec::<String>::new());
}

const DATA: &str = "/api/v1/namespaces/shop/persistentvolumeclaims/data-tgtg-postgres-0";
const CREDENTIALS: &str = "/api/v1/namespaces/shop/secrets/tgtg-postgres-credentials";
const BACKUPS: &str = "/api/v1/namespaces/shop/persistentvolumeclaims/tgtg-backups";

fn postgres_statefulset() -> String {
    group("apps/v1", "statefulsets", "tgtg-postgres")
}

#[tokio::test]
async fn the_database_pod_keeps_a_disruption_budget_until_it_is_turned_off_for_maintenance() {
    let cluster = Cluster::with_sample("minimal.yaml");
    cluster.converge().await;
    let budget_path = group("policy/v1", "poddisruptionbudgets", "tgtg-postgres");
    let budget = cluster.server.get(&budget_path).unwrap_or_default();
    assert_eq!(budget["spec"]["minAvailable"], 1);
    let selected = budget["spec"]["selector"]["matchLabels"].clone();
    assert!(
        selected.as_object().is_some_and(|m| !m.is_empty()),
        "{budget}"
    );
    let pod_labels = cluster
        .server
        .get(&group("apps/v1", "statefulsets", "tgtg-postgres"))
        .unwrap_or_default()["spec"]["template"]["metadata"]["labels"]
        .clone();
    for (key, value) in selected.as_object().into_iter().flatten() {
        assert_eq!(
            &pod_labels[key], value,
            "the budget selects the database pod"
        );
    }
    // One bot pod has none: it would only block drains.
    assert!(
        !cluster
            .server
            .exists(&group("policy/v1", "poddisruptionbudgets", "tgtg-bot"))
    );

    let set_budget = |on: bool| {
        cluster.server.edit(CR, |cr| {
            cr["spec"]["database"]["managed"]["disruptionBudget"] = json!(on);
        });
    };
    set_budget(false);
    cluster.reconcile_ok().await;
    assert!(!cluster.server.exists(&budget_path), "a drain may go on");
    set_budget(true);
    cluster.reconcile_ok().await;
    assert!(cluster.server.exists(&budget_path));
}

#[tokio::test]
async fn by_default_deleting_the_resource_keeps_the_data_and_a_new_resource_adopts_it() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    let volume_uid = cluster
        .server
        .get(DATA)
        .map(|v| v["metadata"]["uid"].clone());
    let credentials = cluster.server.get(CREDENTIALS).map(|s| s["data"].clone());
    assert!(volume_uid.is_some() && credentials.is_some());

    cluster.server.delete(CR);
    assert!(
        !cluster.server.exists(&postgres_statefulset()),
        "owned objects are garbage-collected"
    );
    for kept in [DATA, CREDENTIALS, BACKUPS] {
        let object = cluster.server.get(kept);
        assert!(object.is_some(), "{kept} was deleted with the resource");
        assert_eq!(
            object.unwrap_or_default()["metadata"]["labels"]["app.kubernetes.io/instance"],
            "tgtg",
            "{kept} says which platform it belonged to"
        );
    }

    cluster.create_resource("production.yaml");
    cluster.converge().await;
    assert_eq!(
        cluster
            .server
            .get(DATA)
            .map(|v| v["metadata"]["uid"].clone()),
        volume_uid,
        "the database volume is mounted again, not recreated"
    );
    assert_eq!(
        cluster.server.get(CREDENTIALS).map(|s| s["data"].clone()),
        credentials,
        "the passwords the database knows are kept"
    );
    assert_eq!(cluster.resource()["status"]["phase"], "Ready");
}

#[tokio::test]
async fn with_deletion_policy_delete_the_data_goes_with_the_resource() {
    let cluster = Cluster::new();
    let mut cr = serde_json::to_value(sample("production.yaml")).unwrap_or_default();
    cr["spec"]["deletionPolicy"] = json!("Delete");
    cluster.server.create(CR, cr);
    cluster.converge().await;
    assert!(cluster.server.exists(DATA));
    cluster.server.delete(CR);
    assert!(!cluster.server.exists(DATA));
    assert!(!cluster.server.exists(CREDENTIALS));
    assert!(cluster.server.exists(BACKUPS), "backups are always kept");
}

#[tokio::test]
async fn switching_from_retain_to_delete_and_back_moves_the_ownership_of_the_credentials() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    let owners = |c: &Cluster| {
        c.server.get(CREDENTIALS).unwrap_or_default()["metadata"]["ownerReferences"].clone()
    };
    assert_eq!(owners(&cluster), Value::Null);
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["deletionPolicy"] = json!("Delete"));
    cluster.reconcile_ok().await;
    assert_eq!(owners(&cluster)[0]["kind"], "TooGoodToGo");
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["deletionPolicy"] = json!("Retain"));
    cluster.reconcile_ok().await;
    assert_eq!(
        owners(&cluster),
        Value::Null,
        "a field the operator stops setting is removed"
    );
}

#[tokio::test]
async fn turning_features_off_deletes_their_objects_but_never_data() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.server.install(
        "monitoring.coreos.com/v1",
        &[("ServiceMonitor", "servicemonitors")],
    );
    cluster.converge().await;
    let monitor = group("monitoring.coreos.com/v1", "servicemonitors", "tgtg-bot");
    let cron_job = group("batch/v1", "cronjobs", "tgtg-backup");
    let redis = group("apps/v1", "deployments", "tgtg-redis");
    for path in [&monitor, &cron_job, &redis, &postgres_statefulset()] {
        assert!(cluster.server.exists(path), "{path}");
    }

    cluster.server.edit(CR, |cr| {
        let spec = &mut cr["spec"];
        spec["monitoring"]["serviceMonitor"] = json!(false);
        spec["backup"] = json!({"enabled": false});
        spec["redis"] = json!({"external": {"urlSecretRef": {"name": "tgtg-redis", "key": "url"}}});
        spec["database"] =
            json!({"external": {"urlSecretRef": {"name": "tgtg-database", "key": "url"}}});
    });
    cluster.server.take_requests();
    cluster.reconcile_ok().await;
    let requests = cluster.server.take_requests();
    let gone = [
        monitor,
        cron_job,
        core("configmaps", "tgtg-backup-script"),
        core("configmaps", "tgtg-redis"),
        redis,
        core("services", "tgtg-redis"),
        group("networking.k8s.io/v1", "networkpolicies", "tgtg-redis"),
        postgres_statefulset(),
        core("services", "tgtg-postgres"),
        group("networking.k8s.io/v1", "networkpolicies", "tgtg-postgres"),
        core("configmaps", "tgtg-postgres-init"),
    ];
    for path in &gone {
        assert!(!cluster.server.exists(path), "{path} is still there");
    }
    for kept in [DATA, CREDENTIALS, BACKUPS] {
        assert!(cluster.server.exists(kept), "{kept} was deleted");
    }
    let uncovered: Vec<String> = requests
        .iter()
        .filter(|r| !crate::rbac::allows(crate::rbac::CONTROLLER_RULES, &r.method, &r.path))
        .map(super::testing::api_server::Recorded::line)
        .collect();
    assert_eq!(
        uncovered,
        Vec::<String>::new(),
        "the RBAC rules allow the deletes"
    );
    // And it settles.
    cluster.controllers_act();
    cluster.reconcile_ok().await;
    cluster.server.take_changes();
    cluster.reconcile_ok().await;
    assert_eq!(cluster.server.take_changes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_refused_object_degrades_the_resource_and_the_others_are_still_applied() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    let message = "StatefulSet.apps \"tgtg-postgres\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";
    cluster.server.refuse_writes(
        &postgres_statefulset(),
        http::StatusCode::UNPROCESSABLE_ENTITY,
        message,
    );
    cluster.server.edit(CR, |cr| {
        cr["spec"]["database"]["managed"]["storage"]["storageClassName"] = json!("slow-hdd");
        cr["spec"]["replicas"] = json!(2);
    });
    let result = cluster.reconcile().await;
    assert!(result.is_err(), "retried with backoff");

    let deployment = cluster
        .server
        .get(&group("apps/v1", "deployments", "tgtg-bot"))
        .unwrap_or_default();
    assert_eq!(
        deployment["spec"]["replicas"], 2,
        "objects after the refused one are applied"
    );
    for (type_, status) in [("Ready", "False"), ("Degraded", "True")] {
        let condition = cluster.condition(type_);
        assert_eq!(condition["status"], status, "{condition}");
        assert_eq!(condition["reason"], "ReconcileFailed", "{condition}");
        let text = condition["message"].as_str().unwrap_or_default();
        assert!(
            text.contains("StatefulSet tgtg-postgres") && text.contains("is invalid"),
            "{text}"
        );
    }
    assert_eq!(cluster.resource()["status"]["phase"], "Degraded");
    assert!(
        cluster
            .events()
            .iter()
            .any(|(t, reason, note)| t == "Warning"
                && reason == "ReconcileFailed"
                && note.contains("tgtg-postgres")),
        "{:?}",
        cluster.events()
    );
}

#[tokio::test]
async fn any_api_error_after_validation_reaches_the_status_and_keeps_what_it_records() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    let before = cluster.resource()["status"].clone();
    cluster.server.refuse_writes(
        &format!("/apis/toogoodtogo.io/v1alpha1/namespaces/{NS}/backups"),
        http::StatusCode::FORBIDDEN,
        "backups.toogoodtogo.io is forbidden: exceeded quota: platform, requested: count/backups.toogoodtogo.io=1",
    );
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["version"] = json!("1.5.0"));
    let result = cluster.reconcile().await;
    assert!(result.is_err());
    let ready = cluster.condition("Ready");
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "ReconcileFailed");
    assert!(
        ready["message"]
            .as_str()
            .is_some_and(|m| m.contains("exceeded quota")),
        "{ready}"
    );
    let status = cluster.resource()["status"].clone();
    for kept in [
        "currentVersion",
        "lastGoodVersion",
        "history",
        "secretRotation",
    ] {
        assert_eq!(status[kept], before[kept], "{kept}");
    }
    assert!(
        cluster
            .events()
            .iter()
            .any(|(t, reason, _)| t == "Warning" && reason == "ReconcileFailed")
    );
}

/// After a restore the bot Deployment no longer gets `replicas: 0` from the operator: with
/// autoscaling the field must go (the server defaults it and the HPA takes over), not stay at 0.
#[tokio::test]
async fn replicas_the_operator_stops_setting_do_not_stay_at_zero() {
    let cluster = Cluster::with_sample("external.yaml");
    cluster.converge().await;
    let path = group("apps/v1", "deployments", "tgtg-bot");
    // What the operator applied while a restore held the bot at zero.
    let live = cluster.server.get(&path).unwrap_or_default();
    let mut held = json!({"apiVersion": live["apiVersion"], "kind": live["kind"],
        "metadata": {"name": "tgtg-bot", "labels": live["metadata"]["labels"],
                     "ownerReferences": live["metadata"]["ownerReferences"]},
        "spec": live["spec"]});
    held["spec"]["replicas"] = json!(0);
    let client = cluster.ctx.client.clone();
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        client,
        NS,
        &kube::api::ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
    );
    let patched = api
        .patch(
            "tgtg-bot",
            &kube::api::PatchParams::apply(crate::names::FIELD_MANAGER).force(),
            &kube::api::Patch::Apply(&held),
        )
        .await;
    assert!(patched.is_ok(), "{patched:?}");
    assert_eq!(
        cluster.server.get(&path).unwrap_or_default()["spec"]["replicas"],
        0
    );

    cluster.reconcile_ok().await;
    assert_eq!(
        cluster.server.get(&path).unwrap_or_default()["spec"]["replicas"],
        1,
        "the operator's replicas is removed and defaulted, so the autoscaler can scale"
    );
}

#[tokio::test]
async fn a_reconcile_started_from_a_stale_cache_acts_on_the_stored_resource() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    let stale = cluster.resource();
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["replicas"] = json!(2));
    cluster.reconcile_ok().await;
    let status = cluster.resource()["status"].clone();
    assert_eq!(status["observedGeneration"], 2);

    // The watch delivers the resource as it was before: the reconcile must not undo the change
    // nor write the status of generation 1 over that of generation 2.
    let cr: TooGoodToGo = serde_json::from_value(stale).unwrap_or_else(|e| panic!("{e}"));
    let result = Box::pin(reconcile(Arc::new(cr), cluster.ctx.clone())).await;
    assert!(result.is_ok(), "{result:?}");
    let deployment = cluster
        .server
        .get(&group("apps/v1", "deployments", "tgtg-bot"))
        .unwrap_or_default();
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(cluster.resource()["status"]["observedGeneration"], 2);
}

#[tokio::test]
async fn a_status_computed_from_an_older_resource_version_is_refused_not_written() {
    let cluster = Cluster::with_sample("minimal.yaml");
    cluster.converge().await;
    let stale: TooGoodToGo =
        serde_json::from_value(cluster.resource()).unwrap_or_else(|e| panic!("{e}"));
    cluster
        .server
        .edit(CR, |cr| cr["status"]["phase"] = json!("Degraded"));
    let mut next = stale.status.clone().unwrap_or_default();
    next.phase = Some(crate::crd::Phase::Progressing);
    let api: kube::Api<TooGoodToGo> = kube::Api::namespaced(cluster.ctx.client.clone(), NS);
    let written = crate::status::write(&api, &stale, &next).await;
    assert!(
        matches!(written, Err(kube::Error::Api(ref s)) if s.code == 409),
        "{written:?}"
    );
    assert_eq!(cluster.resource()["status"]["phase"], "Degraded");
}

/// A rotation scheduled a few minutes ahead is not left to the five-minute re-check.
#[tokio::test]
async fn the_requeue_takes_the_earliest_due_rotation() {
    let cluster = Cluster::new();
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let minute = (now / 60 + 3) % 60;
    let mut cr = serde_json::to_value(sample("minimal.yaml")).unwrap_or_default();
    cr["spec"]["secretRotation"] = json!({"schedule": format!("{minute} * * * *")});
    cluster.server.create(CR, cr);
    cluster.converge().await;
    let action = cluster.reconcile().await;
    let text = format!("{action:?}");
    let seconds: Option<u64> = text
        .split("Some(")
        .nth(1)
        .and_then(|rest| rest.split('s').next())
        .and_then(|n| n.split('.').next())
        .and_then(|n| n.parse().ok());
    assert!(
        seconds.is_some_and(|s| (1..=181).contains(&s)),
        "requeue {text}, the rotation is due at minute {minute}"
    );
}

#[tokio::test]
async fn an_invalid_spec_keeps_reporting_what_runs() {
    let cluster = Cluster::with_sample("minimal.yaml");
    cluster.converge().await;
    // Two long-polling replicas: refused (the API server's CEL rule, which the double does not
    // run, and the operator's own validation).
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["replicas"] = json!(2));
    cluster.reconcile_ok().await;
    let status = cluster.resource()["status"].clone();
    assert_eq!(status["phase"], "Failed");
    assert_eq!(cluster.condition("Degraded")["reason"], "InvalidSpec");
    assert_eq!(status["currentVersion"], "1.0.0");
    assert_eq!(status["readyReplicas"], 1);
    assert_ne!(cluster.condition("Ready")["reason"], "NotDeployed");
}

#[tokio::test]
async fn a_namespace_being_deleted_is_a_normal_end_not_an_error() {
    let cluster = Cluster::with_sample("minimal.yaml");
    let message = "secrets \"tgtg-generated\" is forbidden: unable to create new content in namespace shop because it is being terminated";
    for path in [
        core("secrets", "tgtg-generated"),
        core("configmaps", "tgtg-config"),
    ] {
        cluster
            .server
            .refuse_writes(&path, http::StatusCode::FORBIDDEN, message);
    }
    let result = cluster.reconcile().await;
    assert_eq!(result.ok(), Some(Action::await_change()));
    assert!(
        cluster.events().iter().all(|(t, _, _)| t != "Warning"),
        "{:?}",
        cluster.events()
    );
    assert_ne!(cluster.condition("Degraded")["reason"], "ReconcileFailed");
}

#[tokio::test]
async fn a_managed_database_is_backed_up_by_default_and_turning_it_off_is_a_warning() {
    let cluster = Cluster::with_sample("minimal.yaml");
    assert_eq!(cluster.resource()["spec"].get("backup"), None);
    cluster.converge().await;
    let cron_job = group("batch/v1", "cronjobs", "tgtg-backup");
    let schedule = cluster.server.get(&cron_job).unwrap_or_default()["spec"]["schedule"].clone();
    assert_eq!(schedule, "0 3 * * *");
    assert!(cluster.server.exists(BACKUPS));
    assert_eq!(cluster.condition("Backup")["reason"], "NoBackupYet");

    cluster
        .server
        .edit(CR, |cr| cr["spec"]["backup"] = json!({"enabled": false}));
    cluster.reconcile_ok().await;
    assert!(!cluster.server.exists(&cron_job));
    assert!(
        cluster.server.exists(BACKUPS),
        "the backups made so far stay"
    );
    let condition = cluster.condition("Backup");
    assert_eq!(
        (condition["status"].as_str(), condition["reason"].as_str()),
        (Some("False"), Some("BackupsDisabled"))
    );
}

#[tokio::test]
async fn a_lost_credentials_secret_is_not_replaced_by_passwords_the_database_does_not_know() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    cluster.server.delete(CREDENTIALS);
    let result = cluster.reconcile().await;
    assert!(result.is_err(), "retried with backoff");
    assert!(
        !cluster.server.exists(CREDENTIALS),
        "no new passwords are generated"
    );
    let degraded = cluster.condition("Degraded");
    assert_eq!(degraded["reason"], "CredentialsMissing");
    assert!(
        degraded["message"].as_str().is_some_and(
            |m| m.contains("data-tgtg-postgres-0") && m.contains("tgtg-postgres-credentials")
        ),
        "{degraded}"
    );
    assert!(
        cluster
            .events()
            .iter()
            .any(|(t, reason, _)| t == "Warning" && reason == "CredentialsMissing")
    );
}

/// What `n` reconciles in a row ask the controller for.
async fn delays(cluster: &Cluster, n: usize) -> Vec<Action> {
    let mut delays = Vec::new();
    for _ in 0..n {
        match cluster.reconcile().await {
            Ok(action) => delays.push(action),
            Err(error) => panic!("{error}"),
        }
    }
    delays
}

#[tokio::test]
async fn a_degraded_resource_is_looked_at_ever_less_often_until_it_is_repaired() {
    use std::time::Duration;
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    let size = |size: &str| {
        cluster.server.edit(CR, |cr| {
            cr["spec"]["database"]["managed"]["storage"]["size"] = json!(size);
        });
    };
    let requeue = |seconds: &[u64]| -> Vec<Action> {
        seconds
            .iter()
            .map(|s| Action::requeue(Duration::from_secs(*s)))
            .collect()
    };
    // A volume cannot shrink: Degraded until the size is put back.
    size("10Gi");
    assert_eq!(
        delays(&cluster, 7).await,
        requeue(&[15, 30, 60, 120, 240, 300, 300])
    );
    assert_eq!(
        cluster.condition("Degraded")["reason"],
        "VolumeResizeFailed"
    );
    size("20Gi");
    assert_eq!(delays(&cluster, 1).await, requeue(&[300]));
    assert_eq!(cluster.resource()["status"]["phase"], "Ready");
    // Degraded again: looked at soon again, then less often.
    size("10Gi");
    assert_eq!(delays(&cluster, 2).await, requeue(&[15, 30]));
}
