//! Reconcile against the request-by-request fake API server: the exact requests of reconciles.
//! Scenarios run through the controller and its watches on the stateful API double are in
//! `controller_double_tests.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::*;
use crate::fixtures::{FakeApiServer, Recorded};
use crate::generator::SecretGenerator;
use crate::testing::sample;

const NS: &str = "shop";

/// Reconciles of concurrently running tests hold this shared; the test that captures the log
/// output holds it exclusively. `tracing`'s callsite interest is global, so a reconcile on another
/// test thread while the capturing subscriber is installed can cost that test lines or spans.
static LOGS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());
const CR_PATH: &str = "/apis/toogoodtogo.io/v1alpha1/namespaces/shop/toogoodtogos/tgtg";

fn core(kind: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{NS}/{kind}/{name}")
}

fn group(group_version: &str, kind: &str, name: &str) -> String {
    format!("/apis/{group_version}/namespaces/{NS}/{kind}/{name}")
}

fn deployment_path(name: &str) -> String {
    group("apps/v1", "deployments", name)
}

/// A new value on every call, so a regenerated secret would show.
#[derive(Default)]
struct CountingGenerator(AtomicUsize);

impl SecretGenerator for CountingGenerator {
    fn generate(&self, purpose: &str) -> String {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        format!("{purpose}-{n}")
    }
}

struct Harness {
    server: FakeApiServer,
    ctx: Arc<Context>,
    /// This test holds [`LOGS`] exclusively.
    holds_logs: bool,
}

fn secret(name: &str, key: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS},
           "data": {key: "cGxhY2Vob2xkZXI="}})
}

impl Harness {
    fn new(with_token: bool) -> Self {
        let secrets: &[(&str, &str)] = if with_token {
            &[("tgtg-telegram", "token")]
        } else {
            &[]
        };
        Self::with_sample("minimal.yaml", secrets)
    }

    /// A sample resource in namespace `shop`, with the given Secrets (name, key) present.
    fn with_sample(file: &str, secrets: &[(&str, &str)]) -> Self {
        let (client, server) = FakeApiServer::start();
        server.serve_list(&format!("/apis/batch/v1/namespaces/{NS}/jobs"));
        server.serve_list(&format!("/api/v1/namespaces/{NS}/pods"));
        server.serve_list(&format!(
            "/apis/toogoodtogo.io/v1alpha1/namespaces/{NS}/backups"
        ));
        server.serve_list(&format!(
            "/apis/toogoodtogo.io/v1alpha1/namespaces/{NS}/restores"
        ));
        for (name, key) in secrets {
            server.insert(&core("secrets", name), secret(name, key));
        }
        let mut cr = serde_json::to_value(sample(file)).unwrap_or_default();
        // The minimal scenarios count requests of the bot's own objects: backups, on by default
        // for a managed database, are off here (the production scenarios and
        // double_tests.rs cover them).
        if file == "minimal.yaml" {
            cr["spec"]["backup"] = json!({"enabled": false});
        }
        cr["metadata"]["namespace"] = json!(NS);
        cr["metadata"]["uid"] = json!("cr-uid");
        cr["metadata"]["generation"] = json!(1);
        server.insert(CR_PATH, cr);
        let generator = Arc::new(CountingGenerator::default());
        let ctx = Arc::new(Context::new(
            client,
            generator,
            Arc::new(Metrics::default()),
            Some("test".to_owned()),
        ));
        Self {
            server,
            ctx,
            holds_logs: false,
        }
    }

    /// Reconcile the stored resource (as the watch would deliver it) and return the requests.
    async fn reconcile(&self) -> (Result<Action, Error>, Vec<Recorded>) {
        let stored = self.server.get(CR_PATH).unwrap_or_default();
        let cr: TooGoodToGo = match serde_json::from_value(stored) {
            Ok(cr) => cr,
            Err(e) => panic!("stored resource does not parse: {e}"),
        };
        let _logs = match self.holds_logs {
            true => None,
            false => Some(LOGS.read().await),
        };
        self.server.take_requests();
        // On the heap: a debug build's reconcile future is large for a test thread's stack.
        let result = Box::pin(reconcile(Arc::new(cr), self.ctx.clone())).await;
        (result, self.server.take_requests())
    }

    /// Reconcile, expecting success; returns the requests.
    async fn reconcile_ok(&self) -> Vec<Recorded> {
        let (result, requests) = self.reconcile().await;
        assert!(result.is_ok(), "{result:?}");
        requests
    }

    fn status(&self) -> Value {
        self.server
            .get(CR_PATH)
            .map(|cr| cr["status"].clone())
            .unwrap_or_default()
    }

    fn condition(&self, type_: &str) -> Value {
        self.status()["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == type_).cloned())
            .unwrap_or_default()
    }

    /// What the kubelet and the Job controller would do: the migration succeeds.
    fn migration_succeeds(&self) {
        let version = self.server.get(CR_PATH).unwrap_or_default()["spec"]["version"].clone();
        let job = format!("tgtg-migrate-{}", version.as_str().unwrap_or_default());
        self.server.edit(&group("batch/v1", "jobs", &job), |job| {
            job["status"] = json!({"succeeded": 1});
        });
    }

    /// The managed PostgreSQL becomes ready.
    fn database_becomes_ready(&self) {
        self.server
            .edit(&group("apps/v1", "statefulsets", "tgtg-postgres"), |s| {
                s["status"] = json!({"replicas": 1, "readyReplicas": 1});
            });
    }

    /// The bot pods and the database become ready.
    fn pods_become_ready(&self) {
        self.server.edit(&deployment_path("tgtg-bot"), |d| {
            let generation = d["metadata"]["generation"].clone();
            let n = d["spec"]["replicas"].clone();
            d["status"] = json!({"observedGeneration": generation, "replicas": n,
                "updatedReplicas": n, "readyReplicas": n, "availableReplicas": n});
        });
        self.server
            .edit(&group("apps/v1", "statefulsets", "tgtg-postgres"), |s| {
                s["status"] = json!({"replicas": 1, "readyReplicas": 1});
            });
    }

    /// Reconcile until the platform is Ready.
    async fn converge(&self) {
        self.reconcile_ok().await;
        self.database_becomes_ready();
        self.reconcile_ok().await;
        self.migration_succeeds();
        self.reconcile_ok().await;
        self.pods_become_ready();
        self.reconcile_ok().await;
    }
}

fn lines(requests: &[Recorded]) -> Vec<String> {
    requests.iter().map(Recorded::line).collect()
}

fn writes(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.is_write())
        .map(Recorded::line)
        .collect()
}

#[tokio::test]
async fn first_reconcile_applies_everything_but_the_bot_and_the_migration_waits_for_the_database() {
    let h = Harness::new(true);
    let (result, requests) = h.reconcile().await;
    assert!(result.is_ok(), "{result:?}");

    let get = |path: String| format!("GET {path}");
    let patch = |path: String| format!("PATCH {path}");
    let mut expected = vec![
        // the resource as stored (the watch cache may lag)
        format!("GET {CR_PATH}"),
        // dereference
        get(core("secrets", "tgtg-telegram")),
        get(core("secrets", "tgtg-generated")),
        get(core("secrets", "tgtg-postgres-credentials")),
        // no credentials yet: is there a database volume they would belong to?
        get(core("persistentvolumeclaims", "data-tgtg-postgres-0")),
        // observe
        get(deployment_path("tgtg-bot")),
        get(group("batch/v1", "jobs", "tgtg-migrate-1.0.0")),
        get(group("apps/v1", "statefulsets", "tgtg-postgres")),
        // its data volume: which credentials Secret its passwords come from
        get(core("persistentvolumeclaims", "data-tgtg-postgres-0")),
    ];
    // apply, in order: each object read, then written because it is missing
    for path in [
        core("secrets", "tgtg-generated"),
        core("configmaps", "tgtg-config"),
        core("secrets", "tgtg-postgres-credentials"),
        core("configmaps", "tgtg-postgres-init"),
        core("services", "tgtg-postgres"),
        group("apps/v1", "statefulsets", "tgtg-postgres"),
        group("networking.k8s.io/v1", "networkpolicies", "tgtg-postgres"),
        group("policy/v1", "poddisruptionbudgets", "tgtg-postgres"),
        core("configmaps", "tgtg-redis"),
        deployment_path("tgtg-redis"),
        core("services", "tgtg-redis"),
        group("networking.k8s.io/v1", "networkpolicies", "tgtg-redis"),
        core("services", "tgtg-bot"),
    ] {
        expected.push(get(path.clone()));
        expected.push(patch(path));
    }
    // prune: optional objects that must not exist
    expected.push(get(group("networking.k8s.io/v1", "ingresses", "tgtg")));
    expected.push(get(group("policy/v1", "poddisruptionbudgets", "tgtg-bot")));
    expected.push(get(group(
        "autoscaling/v2",
        "horizontalpodautoscalers",
        "tgtg-bot",
    )));
    // features that are off: no ServiceMonitor, no backups
    expected.push(get(group(
        "monitoring.coreos.com/v1",
        "servicemonitors",
        "tgtg-bot",
    )));
    expected.push(get(group("batch/v1", "cronjobs", "tgtg-backup")));
    expected.push(get(core("configmaps", "tgtg-backup-script")));
    // migration Jobs of other versions: none yet
    expected.push(format!("GET /apis/batch/v1/namespaces/{NS}/jobs"));
    // status and the Event for the new phase
    expected.push(format!("PATCH {CR_PATH}/status"));
    expected.push(format!(
        "POST /apis/events.k8s.io/v1/namespaces/{NS}/events"
    ));
    assert_eq!(lines(&requests), expected);

    // Server-side apply with one field manager, forced.
    for request in requests.iter().filter(|r| r.method == http::Method::PATCH) {
        assert!(
            request.query.contains("fieldManager=toogoodtogo-operator"),
            "{}",
            request.query
        );
        assert!(request.query.contains("force=true"), "{}", request.query);
    }
    // Owned objects point at the resource, so deleting it deletes them.
    let owner = &h
        .server
        .get(&core("configmaps", "tgtg-config"))
        .unwrap_or_default()["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["uid"].as_str(), owner["controller"].as_bool()),
        (Some("cr-uid"), Some(true))
    );

    assert_eq!(h.status()["phase"], "Progressing");
    assert_eq!(h.condition("Progressing")["reason"], "WaitingForDatabase");
    assert_eq!(h.condition("DatabaseReady")["status"], "False");
    assert_eq!(h.status()["observedGeneration"], 1);
    let event = requests
        .last()
        .and_then(|r| r.body.clone())
        .unwrap_or_default();
    assert_eq!(
        (event["type"].as_str(), event["reason"].as_str()),
        (Some("Normal"), Some("Progressing"))
    );

    // Once PostgreSQL is ready the migration Job is created: one object and the status.
    h.database_becomes_ready();
    let requests = h.reconcile_ok().await;
    assert_eq!(
        writes(&requests),
        [
            format!("PATCH {}", group("batch/v1", "jobs", "tgtg-migrate-1.0.0")),
            format!("PATCH {CR_PATH}/status"),
        ]
    );
    assert_eq!(h.condition("Progressing")["reason"], "Migrating");
    assert_eq!(h.condition("DatabaseReady")["status"], "True");
    let job = h
        .server
        .get(&group("batch/v1", "jobs", "tgtg-migrate-1.0.0"))
        .unwrap_or_default();
    let pod = &job["spec"]["template"];
    assert_eq!(pod["spec"]["containers"][0]["args"], json!(["migrate"]));
    assert_eq!(
        pod["metadata"]["labels"]["toogoodtogo.io/database-client"],
        "true"
    );
}

#[tokio::test]
async fn a_suspended_resource_writes_nothing_but_its_status() {
    let h = Harness::new(true);
    h.server
        .edit(CR_PATH, |cr| cr["spec"]["suspend"] = json!(true));
    let (result, requests) = h.reconcile().await;
    assert_eq!(result.ok(), Some(Action::await_change()));
    assert_eq!(
        writes(&requests),
        vec![
            format!("PATCH {CR_PATH}/status"),
            format!("POST /apis/events.k8s.io/v1/namespaces/{NS}/events"),
        ]
    );
    assert_eq!(h.condition("Progressing")["reason"], "Suspended");
}

#[tokio::test]
async fn a_deleted_resource_is_left_to_garbage_collection() {
    let h = Harness::new(true);
    h.server.edit(CR_PATH, |cr| {
        cr["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z")
    });
    let (result, requests) = h.reconcile().await;
    assert_eq!(result.ok(), Some(Action::await_change()));
    assert!(requests.is_empty(), "no finalizer work: {requests:?}");
}

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn every_log_line_is_json_with_the_resource_and_no_secret() {
    let _exclusive = LOGS.write().await;
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber =
        crate::telemetry::json_subscriber(tracing_subscriber::EnvFilter::new("debug"), move || {
            writer.clone()
        });
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut h = Harness::new(false);
    h.holds_logs = true;
    let _ = h.reconcile().await; // missing Secret: a warning and a status update
    h.server.insert(
        &core("secrets", "tgtg-telegram"),
        secret("tgtg-telegram", "token"),
    );
    h.converge().await;

    let text = String::from_utf8(capture.0.lock().map(|b| b.clone()).unwrap_or_default())
        .unwrap_or_default();
    let ours: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| {
            line["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("toogoodtogo_operator"))
        })
        .collect();
    assert!(ours.len() >= 3, "{text}");
    for line in &ours {
        assert_eq!(line["span"]["namespace"], NS, "{line}");
        assert_eq!(line["span"]["resource"], "tgtg", "{line}");
    }
    // Neither referenced nor generated secret values appear anywhere in the logs.
    for value in [
        "cGxhY2Vob2xkZXI=",
        "placeholder",
        "SECRET_KEY-0",
        "WEBHOOK_SECRET_TOKEN-1",
    ] {
        assert!(!text.contains(value), "{value} leaked into the logs");
    }
}

#[tokio::test]
async fn the_controller_refuses_to_start_without_its_crd() {
    let (client, server) = FakeApiServer::start();
    let ctx = Arc::new(Context::new(
        client,
        Arc::new(crate::generator::PlaceholderGenerator),
        Arc::new(Metrics::default()),
        None,
    ));
    let result = run(ctx, Some(NS)).await;
    assert!(
        matches!(result, Err(RunError::CrdMissing("TooGoodToGo", _))),
        "{result:?}"
    );
    assert_eq!(
        lines(&server.take_requests()),
        [format!(
            "GET /apis/toogoodtogo.io/v1alpha1/namespaces/{NS}/toogoodtogos"
        )]
    );
}

#[tokio::test]
async fn the_controller_refuses_to_start_without_the_backup_and_restore_crds() {
    let (client, server) = FakeApiServer::start();
    server.serve_list(&format!(
        "/apis/toogoodtogo.io/v1alpha1/namespaces/{NS}/toogoodtogos"
    ));
    let ctx = Arc::new(Context::new(
        client,
        Arc::new(crate::generator::PlaceholderGenerator),
        Arc::new(Metrics::default()),
        None,
    ));
    let result = run(ctx, Some(NS)).await;
    let message = result.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.starts_with(
            "the Backup CRD is not installed or not readable (apply every file of crds/ first)"
        ),
        "{message}"
    );
}
