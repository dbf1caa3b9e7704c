//! The real controller ([`controller::run`]) on the API double, fed by its watches: the cache it
//! reconciles from lags behind the API server (held watch events), the operator crashes between
//! steps and a new one takes over, and one-shot actions still happen exactly once.
//!
//! Tests wait for a state of the double (polling every 20 ms, at most 90 s on a busy machine), never for a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::controller::{self, Context};
use crate::double_tests::{CR, Cluster, NS, group};
use crate::metrics::{Metrics, ResourceLabels};

const BOT: &str = "/apis/apps/v1/namespaces/shop/deployments/tgtg-bot";
// A cap for a busy CI machine, not an expectation: the states waited for come within a second or two.
const WAIT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(20);

/// An operator process: the controller running on the double until it crashes.
struct Operator {
    ctx: Arc<Context>,
    task: JoinHandle<()>,
}

/// Generated values of a restarted operator: different from every earlier one, so a value
/// generated again would show.
struct Fresh;

impl crate::generator::SecretGenerator for Fresh {
    fn generate(&self, purpose: &str) -> String {
        format!("{purpose}-restarted-{}", rand::random::<u32>())
    }
}

impl Operator {
    fn start(ctx: Arc<Context>) -> Self {
        let running = ctx.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = controller::run(running, Some(NS)).await {
                panic!("the controller did not start: {error}");
            }
        });
        Self { ctx, task }
    }

    /// The cluster's operator (its writes are the cluster's `counted_writes`).
    fn of(cluster: &Cluster) -> Self {
        Self::start(cluster.ctx.clone())
    }

    /// A new operator process on the same API server: nothing in memory, its own values.
    fn restarted(cluster: &Cluster) -> Self {
        Self::start(Arc::new(Context::new(
            cluster.ctx.client.clone(),
            Arc::new(Fresh),
            Arc::new(Metrics::default()),
            Some("restarted".to_owned()),
        )))
    }

    /// Reconciles of `tgtg` this operator has finished.
    fn reconciles(&self) -> u64 {
        self.ctx
            .metrics
            .reconciliations
            .get_or_create(&ResourceLabels {
                namespace: NS.to_owned(),
                name: "tgtg".to_owned(),
            })
            .get()
    }

    /// The process dies wherever it is.
    fn crash(self) {
        self.task.abort();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Wait until `reached` holds of the cluster (it may act, as the cluster's controllers do).
async fn wait_for(cluster: &Cluster, what: &str, mut reached: impl FnMut(&Cluster) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !reached(cluster) {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {WAIT:?}; open watches {:?}, held events {}; status {:#}",
            cluster.server.open_watches(),
            cluster.server.held_events(),
            cluster.resource()["status"]
        );
        tokio::time::sleep(POLL).await;
    }
}

fn phase(cluster: &Cluster) -> Value {
    cluster.resource()["status"]["phase"].clone()
}

/// Wait until the resource is Ready, the cluster's controllers acting.
async fn ready(cluster: &Cluster) {
    wait_for(cluster, "Ready", |c| {
        c.controllers_act();
        phase(c) == "Ready"
    })
    .await;
}

const POKED: &str = "/api/v1/namespaces/shop/secrets/tgtg-telegram";

/// Make the operator reconcile again through a watch, and wait until it has: a label on the
/// referenced token Secret, which changes nothing the platform uses.
async fn poke(cluster: &Cluster, operator: &Operator) {
    static POKES: AtomicU64 = AtomicU64::new(0);
    let n = POKES.fetch_add(1, Ordering::SeqCst);
    reconcile_after(cluster, operator, POKED, |s| {
        s["metadata"]["labels"]["poked"] = json!(n.to_string());
    })
    .await;
}

/// Edit an object as another actor would, and wait for the reconcile the edit causes.
async fn reconcile_after(
    cluster: &Cluster,
    operator: &Operator,
    path: &str,
    edit: impl FnOnce(&mut Value),
) {
    let before = operator.reconciles();
    cluster.server.edit(path, edit);
    wait_for(
        cluster,
        &format!("a reconcile after an edit of {path}"),
        |_| operator.reconciles() > before,
    )
    .await;
}

/// Changes of the platform's objects (not its Events, not the poked Secret) since the last call.
fn object_changes(cluster: &Cluster) -> Vec<String> {
    cluster
        .server
        .take_changes()
        .into_iter()
        .filter(|p| p != POKED && !p.starts_with("/apis/events.k8s.io/"))
        .collect()
}

/// Wait until the resource is Ready and reconciles change nothing any more.
async fn settle(cluster: &Cluster, operator: &Operator) {
    ready(cluster).await;
    for _ in 0..10 {
        object_changes(cluster);
        poke(cluster, operator).await;
        cluster.controllers_act();
        if object_changes(cluster).is_empty() {
            return;
        }
    }
    panic!(
        "still changing after 10 reconciles: {:#}",
        cluster.resource()["status"]
    );
}

fn image(cluster: &Cluster) -> String {
    cluster.server.get(BOT).unwrap_or_default()["spec"]["template"]["spec"]["containers"][0]
        ["image"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn job_path(name: &str) -> String {
    group("batch/v1", "jobs", name)
}

fn jobs_named(cluster: &Cluster, part: &str) -> Vec<String> {
    cluster
        .server
        .paths(&job_path(""))
        .into_iter()
        .filter(|p| p.contains(part))
        .collect()
}

fn count_events(cluster: &Cluster, reason: &str) -> usize {
    cluster
        .events()
        .iter()
        .filter(|(_, r, _)| r == reason)
        .count()
}

/// The status writes of the resource fail, as if the operator died before it made them.
fn lose_status_writes(cluster: &Cluster) {
    cluster.server.refuse_writes(
        &format!("{CR}/status"),
        StatusCode::INTERNAL_SERVER_ERROR,
        "etcdserver: request timed out",
    );
}

fn keep_status_writes(cluster: &Cluster) {
    cluster.server.accept_writes(&format!("{CR}/status"));
}

#[tokio::test]
async fn every_example_converges_to_zero_changes_under_the_running_controller() {
    for file in crate::testing::sample_names() {
        let cluster = Cluster::with_sample(&file);
        let operator = Operator::of(&cluster);
        settle(&cluster, &operator).await;
        let counted = cluster.counted_writes();
        for _ in 0..3 {
            poke(&cluster, &operator).await;
        }
        assert_eq!(
            object_changes(&cluster),
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

/// Production at 1.4.2 upgraded to 1.5.0 under the running operator; the new version is
/// deployed and its rollout then passes its deadline.
async fn stalled_upgrade() -> (Cluster, Operator) {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.server.edit(CR, |cr| {
        cr["spec"]["backup"]["preDeployment"] = json!(false);
    });
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["version"] = json!("1.5.0"));
    wait_for(&cluster, "1.5.0 deployed", |c| {
        migrations_succeed(c);
        image(c) == "toogoodtogo/bot:1.5.0"
    })
    .await;
    cluster.server.edit(BOT, |d| {
        d["status"]["conditions"] = json!([{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded"}]);
    });
    (cluster, operator)
}

/// What the Job controller does for migrations only (the bot's rollout is left alone).
fn migrations_succeed(cluster: &Cluster) {
    for path in jobs_named(cluster, "-migrate-") {
        cluster.server.edit(&path, |job| {
            if job["status"].get("succeeded").is_none() {
                job["status"] = json!({"succeeded": 1, "completionTime": "2026-11-29T10:00:00Z"});
            }
        });
    }
}

/// The rollback stays: the bad version is not deployed again, the Deployment unchanged since
/// the rollback, one RolledBack Event.
async fn assert_rolled_back_once(cluster: &Cluster, operator: &Operator, generation: &Value) {
    wait_for(cluster, "the rollback recorded", |c| {
        c.controllers_act();
        c.resource()["status"]["rolledBack"]["from"] == "1.5.0"
    })
    .await;
    for _ in 0..3 {
        poke(cluster, operator).await;
        cluster.controllers_act();
    }
    assert_eq!(
        image(cluster),
        "toogoodtogo/bot:1.4.2",
        "the bad version is not deployed again"
    );
    assert_eq!(
        &cluster.server.get(BOT).unwrap_or_default()["metadata"]["generation"],
        generation,
        "the bot's Deployment did not change since the rollback"
    );
    assert_eq!(count_events(cluster, "RolledBack"), 1);
}

fn generation(cluster: &Cluster, path: &str) -> Value {
    cluster.server.get(path).unwrap_or_default()["metadata"]["generation"].clone()
}

#[tokio::test]
async fn a_rollback_is_not_undone_by_reconciles_from_a_lagging_cache() {
    let (cluster, operator) = stalled_upgrade().await;
    // From here the cache does not see the resource's writes (its status above all).
    cluster.server.hold_events(CR);
    wait_for(&cluster, "rolled back", |c| {
        image(c) == "toogoodtogo/bot:1.4.2"
    })
    .await;
    let rolled_back = generation(&cluster, BOT);
    // The old version's pods come up: reconciles from the lagging cache follow.
    cluster.controllers_act();
    for _ in 0..3 {
        poke(&cluster, &operator).await;
    }
    assert!(
        cluster.server.held_events() > 0,
        "the reconciles ran from a cache without the resource's latest writes"
    );
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2");
    cluster.server.release_events();
    assert_rolled_back_once(&cluster, &operator, &rolled_back).await;
}

#[tokio::test]
async fn a_rollback_is_not_undone_after_a_crash_before_its_status_write() {
    let (cluster, operator) = stalled_upgrade().await;
    lose_status_writes(&cluster);
    wait_for(&cluster, "rolled back", |c| {
        image(c) == "toogoodtogo/bot:1.4.2"
    })
    .await;
    let rolled_back = generation(&cluster, BOT);
    cluster.controllers_act();
    poke(&cluster, &operator).await;
    operator.crash();
    keep_status_writes(&cluster);

    let operator = Operator::restarted(&cluster);
    assert_rolled_back_once(&cluster, &operator, &rolled_back).await;
}

/// A value of the generated Secret.
fn generated(cluster: &Cluster, key: &str) -> String {
    decoded(cluster, "tgtg-generated", key)
}

fn decoded(cluster: &Cluster, secret: &str, key: &str) -> String {
    use base64::Engine as _;
    let secret = cluster
        .server
        .get(&crate::double_tests::core("secrets", secret))
        .unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(secret["data"][key].as_str().unwrap_or_default())
        .unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

fn retired_keys(cluster: &Cluster) -> Vec<String> {
    let list: Vec<Value> =
        serde_json::from_str(&generated(cluster, "SECRET_KEYS_RETIRED")).unwrap_or_default();
    list.iter()
        .filter_map(|r| r["key"].as_str().map(str::to_owned))
        .collect()
}

fn ask_rotation(cluster: &Cluster, trigger: &str) {
    cluster.server.edit(CR, |cr| {
        cr["metadata"]["annotations"] = json!({"toogoodtogo.io/rotate": trigger});
    });
}

#[tokio::test]
async fn the_secret_key_rotates_once_and_keeps_the_previous_key_through_a_crash_and_a_lagging_cache()
 {
    let cluster = Cluster::with_sample("minimal.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    let k0 = generated(&cluster, "SECRET_KEY");
    // The announcement's status write fails; the operator dies after it.
    lose_status_writes(&cluster);
    ask_rotation(&cluster, "once");
    wait_for(&cluster, "the new key announced", |c| {
        !generated(c, "SECRET_KEY_NEXT").is_empty()
    })
    .await;
    let k1 = generated(&cluster, "SECRET_KEY_NEXT");
    operator.crash();
    keep_status_writes(&cluster);

    // The next operator's cache lags behind the resource from its first write on.
    cluster.server.hold_events(CR);
    let operator = Operator::restarted(&cluster);
    wait_for(&cluster, "the announced key signs", |c| {
        c.controllers_act();
        generated(c, "SECRET_KEY") == k1
    })
    .await;
    for _ in 0..3 {
        poke(&cluster, &operator).await;
        cluster.controllers_act();
    }
    cluster.server.release_events();
    poke(&cluster, &operator).await;
    assert_eq!(
        generated(&cluster, "SECRET_KEY"),
        k1,
        "rotated exactly once"
    );
    assert_eq!(generated(&cluster, "SECRET_KEY_NEXT"), "");
    assert_eq!(
        generated(&cluster, "SECRET_KEY_PREVIOUS"),
        k0,
        "the key on users' buttons"
    );
    assert_eq!(retired_keys(&cluster), [k0]);
}

/// What the Job controller does for the Jobs whose name contains `part`: they succeed.
fn jobs_succeed(cluster: &Cluster, part: &str) {
    for path in jobs_named(cluster, part) {
        cluster.server.edit(&path, |job| {
            if job["status"].get("succeeded").is_none() {
                job["status"] = json!({"succeeded": 1, "startTime": "2026-11-29T10:00:00Z",
                    "completionTime": "2026-11-29T10:01:00Z"});
            }
        });
    }
}

#[tokio::test]
async fn one_database_password_preparation_through_a_crash_and_a_lagging_cache() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.server.edit(CR, |cr| {
        cr["spec"]["secretRotation"] =
            json!({"databasePassword": true, "secretKey": false, "webhookSecretToken": false});
    });
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    lose_status_writes(&cluster);
    ask_rotation(&cluster, "db-1");
    wait_for(&cluster, "the preparation Job", |c| {
        !jobs_named(c, "-db-prepare-").is_empty()
    })
    .await;
    let prepared = jobs_named(&cluster, "-db-prepare-");
    let pending = decoded(&cluster, "tgtg-postgres-credentials", "pending-password");
    assert!(!pending.is_empty());
    operator.crash();
    keep_status_writes(&cluster);

    cluster.server.hold_events(CR);
    let operator = Operator::restarted(&cluster);
    wait_for(&cluster, "the bot on the new role", |c| {
        c.controllers_act();
        jobs_succeed(c, "-db-prepare-");
        jobs_succeed(c, "-db-retire-");
        decoded(c, "tgtg-postgres-credentials", "username") == "toogoodtogo_blue"
            && !jobs_named(c, "-db-retire-").is_empty()
    })
    .await;
    cluster.server.release_events();
    wait_for(&cluster, "the rotation finished", |c| {
        c.controllers_act();
        jobs_succeed(c, "-db-retire-");
        c.resource()["status"]["secretRotation"]["databaseRotation"].is_null()
    })
    .await;
    for _ in 0..3 {
        poke(&cluster, &operator).await;
        cluster.controllers_act();
    }
    assert_eq!(
        jobs_named(&cluster, "-db-prepare-"),
        prepared,
        "one preparation"
    );
    assert_eq!(jobs_named(&cluster, "-db-retire-").len(), 1);
    assert_eq!(
        decoded(&cluster, "tgtg-postgres-credentials", "password"),
        pending,
        "the password the preparation set is the one the bot uses"
    );
}

fn restore_path(name: &str) -> String {
    group("toogoodtogo.io/v1alpha1", "restores", name)
}

#[tokio::test]
async fn a_restore_runs_once_through_a_crash_and_a_lagging_cache() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    // The safety backup is taken: the restore stops the bot next.
    cluster.server.create(
        &restore_path("r5"),
        json!({"apiVersion": "toogoodtogo.io/v1alpha1", "kind": "Restore",
            "spec": {"toogoodtogo": "tgtg", "file": "toogoodtogo_20261129_030000.sql.gz",
                     "dryRun": false},
            "status": {"phase": "ScalingDown", "file": "toogoodtogo_20261129_030000.sql.gz",
                "safetyBackup": "r5-safety", "startTime": "2026-11-29T09:00:00Z"}}),
    );
    let job = job_path("r5-restore");
    lose_status_writes(&cluster);
    cluster.server.refuse_writes(
        &format!("{}/status", restore_path("r5")),
        StatusCode::INTERNAL_SERVER_ERROR,
        "etcdserver: request timed out",
    );
    wait_for(&cluster, "the restore Job", |c| {
        c.controllers_act();
        c.server.exists(&job)
    })
    .await;
    let uid = cluster.server.get(&job).unwrap_or_default()["metadata"]["uid"].clone();
    operator.crash();
    keep_status_writes(&cluster);
    cluster
        .server
        .accept_writes(&format!("{}/status", restore_path("r5")));

    // The resource's watch lags; the Restore's events arrive (they are what moves it on).
    cluster.server.hold_events(CR);
    let operator = Operator::restarted(&cluster);
    let restore_phase = |c: &Cluster| {
        c.server.get(&restore_path("r5")).unwrap_or_default()["status"]["phase"].clone()
    };
    wait_for(&cluster, "restoring", |c| restore_phase(c) == "Restoring").await;
    jobs_succeed(&cluster, "r5-restore");
    wait_for(&cluster, "the restore completed", |c| {
        c.controllers_act();
        restore_phase(c) == "Completed"
    })
    .await;
    cluster.server.release_events();
    for _ in 0..3 {
        poke(&cluster, &operator).await;
        cluster.controllers_act();
    }
    assert_eq!(restore_phase(&cluster), "Completed");
    assert_eq!(
        cluster.server.get(&job).unwrap_or_default()["metadata"]["uid"],
        uid,
        "the restore Job ran once"
    );
    assert_eq!(jobs_named(&cluster, "r5-restore").len(), 1);
    assert_eq!(count_events(&cluster, "RestoreCompleted"), 1);
    assert_eq!(phase(&cluster), "Ready");
}

fn condition(cluster: &Cluster, type_: &str) -> Value {
    cluster.condition(type_)
}

/// What the StatefulSet controller does: the managed database's pod is ready.
fn database_ready(cluster: &Cluster) {
    cluster
        .server
        .edit(&group("apps/v1", "statefulsets", "tgtg-postgres"), |s| {
            s["status"] = json!({"replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                "observedGeneration": s["metadata"]["generation"]});
        });
}

#[tokio::test]
async fn a_converged_platform_is_ready_on_its_version() {
    let cluster = Cluster::with_sample("minimal.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    assert_eq!(condition(&cluster, "Ready")["status"], "True");
    assert_eq!(condition(&cluster, "DatabaseReady")["status"], "True");
    assert_eq!(cluster.resource()["status"]["currentVersion"], "1.0.0");
}

#[tokio::test]
async fn the_bot_moves_to_a_version_only_after_its_migration_succeeded() {
    let cluster = Cluster::with_sample("minimal.yaml");
    let operator = Operator::of(&cluster);
    wait_for(&cluster, "the migration Job", |c| {
        database_ready(c);
        !jobs_named(c, "tgtg-migrate-1.0.0").is_empty()
    })
    .await;
    for _ in 0..2 {
        poke(&cluster, &operator).await;
    }
    assert!(
        !cluster.server.exists(BOT),
        "no bot while its migration runs"
    );
    assert_eq!(condition(&cluster, "Progressing")["reason"], "Migrating");

    migrations_succeed(&cluster);
    wait_for(&cluster, "the bot rolling out", |c| {
        condition(c, "Progressing")["reason"] == "RollingOut"
    })
    .await;
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.0.0");
}

#[tokio::test]
async fn generated_secrets_are_created_once_and_never_regenerated_even_by_a_new_operator() {
    let cluster = Cluster::with_sample("minimal.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    let generated_data = |c: &Cluster| {
        c.server
            .get(&crate::double_tests::core("secrets", "tgtg-generated"))
            .unwrap_or_default()["data"]
            .clone()
    };
    let credentials = |c: &Cluster| {
        c.server
            .get(&crate::double_tests::core(
                "secrets",
                "tgtg-postgres-credentials",
            ))
            .unwrap_or_default()["data"]
            .clone()
    };
    let (secret, database) = (generated_data(&cluster), credentials(&cluster));
    assert!(!secret.is_null() && !database.is_null());
    operator.crash();
    let operator = Operator::restarted(&cluster);
    for _ in 0..2 {
        poke(&cluster, &operator).await;
    }
    assert_eq!(generated_data(&cluster), secret);
    assert_eq!(credentials(&cluster), database);
}

/// Touch the resource (an annotation nothing reads) and wait for the reconcile it causes.
async fn touch(cluster: &Cluster, operator: &Operator, n: usize) {
    reconcile_after(cluster, operator, CR, |cr| {
        cr["metadata"]["annotations"]["example.com/touched"] = json!(n.to_string());
    })
    .await;
}

/// Requests other than the watches' own.
fn reads_and_writes(cluster: &Cluster) -> Vec<String> {
    cluster
        .server
        .take_requests()
        .iter()
        .filter(|r| !r.query.contains("watch=true"))
        .map(crate::testing::api_server::Recorded::line)
        .collect()
}

#[tokio::test]
async fn a_converged_platform_is_reconciled_from_the_watches_without_a_request() {
    let cluster = Cluster::with_sample("minimal.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    reads_and_writes(&cluster);
    for n in 0..3 {
        touch(&cluster, &operator, n).await;
    }
    assert_eq!(reads_and_writes(&cluster), Vec::<String>::new());
}

#[tokio::test]
async fn an_object_whose_write_the_watch_has_not_delivered_is_read_from_the_api_server() {
    let cluster = Cluster::with_sample("minimal.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    // The watch of Deployments delivers nothing more for now.
    cluster
        .server
        .hold_events("/apis/apps/v1/namespaces/shop/deployments");
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["replicas"] = json!(0));
    wait_for(&cluster, "the bot stopped", |c| {
        c.server.get(BOT).unwrap_or_default()["spec"]["replicas"] == 0
    })
    .await;
    reads_and_writes(&cluster);
    // The store still holds the Deployment before that write: it is read from the server, and
    // what the server holds is not written again.
    touch(&cluster, &operator, 0).await;
    let requests = reads_and_writes(&cluster);
    let get = format!("GET {BOT}");
    assert!(requests.contains(&get), "{requests:?}");
    assert!(
        !requests
            .iter()
            .any(|r| r.starts_with("PATCH") && r.ends_with(BOT)),
        "{requests:?}"
    );
    // Delivered (the store takes the event before it triggers a reconcile), the store answers
    // again.
    let before = operator.reconciles();
    cluster.server.release_events();
    wait_for(
        &cluster,
        "the reconcile the delivered write triggers",
        |_| operator.reconciles() > before,
    )
    .await;
    reads_and_writes(&cluster);
    touch(&cluster, &operator, 1).await;
    touch(&cluster, &operator, 2).await;
    assert_eq!(reads_and_writes(&cluster), Vec::<String>::new());
}

#[tokio::test]
async fn drift_in_an_object_kept_as_metadata_is_repaired_at_once() {
    let config = "/api/v1/namespaces/shop/configmaps/tgtg-config";
    let cluster = Cluster::with_sample("minimal.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    let rendered = cluster.server.get(config).unwrap_or_default()["data"].clone();
    assert!(rendered.as_object().is_some_and(|d| !d.is_empty()));

    cluster.server.edit(config, |c| {
        c["data"]["LOG_FORMAT"] = json!("edited by hand")
    });
    wait_for(&cluster, "the configuration repaired", |c| {
        c.server.get(config).unwrap_or_default()["data"] == rendered
    })
    .await;
}

#[tokio::test]
async fn drift_in_an_owned_object_is_repaired_at_once() {
    let cluster = Cluster::with_sample("minimal.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    object_changes(&cluster);

    cluster
        .server
        .edit(BOT, |d| d["spec"]["replicas"] = json!(5));
    wait_for(&cluster, "the replicas repaired", |c| {
        c.server.get(BOT).unwrap_or_default()["spec"]["replicas"] == 1
    })
    .await;
    let owned =
        |changes: Vec<String>| -> Vec<String> { changes.into_iter().filter(|p| p != CR).collect() };
    assert_eq!(
        owned(object_changes(&cluster)),
        [BOT, BOT],
        "the edit, then one repair"
    );

    let service = crate::double_tests::core("services", "tgtg-bot");
    cluster.server.delete(&service);
    wait_for(&cluster, "the Service back", |c| c.server.exists(&service)).await;
    assert_eq!(
        owned(object_changes(&cluster)),
        [service.clone(), service],
        "the deletion, then one creation"
    );
    drop(operator);
}

#[tokio::test]
async fn a_changed_referenced_secret_rolls_the_bot_within_seconds() {
    let cluster = Cluster::with_sample("minimal.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    let hash = |c: &Cluster| {
        c.server.get(BOT).unwrap_or_default()["spec"]["template"]["metadata"]["annotations"]
            [crate::names::CONFIG_HASH_ANNOTATION]
            .clone()
    };
    let before = hash(&cluster);
    assert!(!before.is_null());
    // Only the watch of the Secret's metadata tells the operator.
    cluster.server.edit(
        &crate::double_tests::core("secrets", "tgtg-telegram"),
        |s| {
            s["data"]["token"] = json!("NDU2OmRlZg==");
        },
    );
    wait_for(&cluster, "the bot rolled", |c| hash(c) != before).await;
    drop(operator);
}

#[tokio::test]
async fn a_failed_migration_fails_the_resource_and_keeps_the_old_version() {
    let cluster = Cluster::with_sample("minimal.yaml");
    // No pre-deployment backup: the migration follows the version change at once.
    cluster.server.edit(CR, |cr| {
        cr["spec"]["backup"] = json!({"enabled": false});
    });
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["version"] = json!("1.1.0"));
    let job = job_path("tgtg-migrate-1.1.0");
    wait_for(&cluster, "the migration Job", |c| c.server.exists(&job)).await;
    cluster.server.edit(&job, |job| {
        job["status"] = json!({"failed": 7, "conditions": [{"type": "Failed", "status": "True",
            "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]});
    });
    wait_for(&cluster, "Failed", |c| phase(c) == "Failed").await;
    poke(&cluster, &operator).await;
    assert_eq!(condition(&cluster, "Degraded")["reason"], "MigrationFailed");
    assert_eq!(cluster.resource()["status"]["currentVersion"], "1.0.0");
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.0.0");
}

#[tokio::test]
async fn a_missing_secret_degrades_the_resource_until_the_secret_is_created() {
    let cluster = Cluster::new();
    let token = crate::double_tests::core("secrets", "tgtg-telegram");
    let secret = cluster.server.get(&token).unwrap_or_default();
    cluster.server.delete(&token);
    cluster.create_resource("minimal.yaml");
    let operator = Operator::of(&cluster);
    wait_for(&cluster, "Degraded", |c| phase(c) == "Degraded").await;
    let degraded = condition(&cluster, "Degraded");
    assert_eq!(degraded["status"], "True");
    assert_eq!(degraded["reason"], "SecretMissing");
    assert_eq!(
        degraded["message"],
        "Secret \"tgtg-telegram\" named in spec.telegram.tokenSecretRef does not exist"
    );
    assert!(
        cluster
            .events()
            .iter()
            .any(|(t, r, _)| t == "Warning" && r == "SecretMissing"),
        "{:?}",
        cluster.events()
    );
    assert!(
        !cluster
            .server
            .exists(&group("apps/v1", "statefulsets", "tgtg-postgres")),
        "nothing is applied without its inputs"
    );

    // The failed reconciles back off (5 s, doubling); creating the Secret heals it at once
    // through the Secret's watch.
    cluster.server.create(&token, secret);
    wait_for(&cluster, "healed", |c| {
        c.controllers_act();
        condition(c, "Degraded")["status"] == "False"
    })
    .await;
    drop(operator);
}

const DATA_VOLUME: &str = "/api/v1/namespaces/shop/persistentvolumeclaims/data-tgtg-postgres-0";

fn resize_to(cluster: &Cluster, size: &str) {
    cluster.server.edit(CR, |cr| {
        cr["spec"]["database"]["managed"]["storage"]["size"] = json!(size);
    });
}

fn claimed(cluster: &Cluster, path: &str) -> Value {
    cluster.server.get(path).unwrap_or_default()["spec"]["resources"]["requests"]["storage"].clone()
}

#[tokio::test]
async fn a_larger_database_volume_expands_the_claim_not_the_template() {
    let cluster = Cluster::with_sample("minimal.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    assert_eq!(claimed(&cluster, DATA_VOLUME), "5Gi");
    resize_to(&cluster, "10Gi");
    wait_for(&cluster, "the claim expanded", |c| {
        claimed(c, DATA_VOLUME) == "10Gi"
    })
    .await;
    let statefulset = cluster
        .server
        .get(&group("apps/v1", "statefulsets", "tgtg-postgres"))
        .unwrap_or_default();
    assert_eq!(
        statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
        "5Gi",
        "claim templates are immutable"
    );
    settle(&cluster, &operator).await;
    assert_eq!(condition(&cluster, "Degraded")["status"], "False");
}

#[tokio::test]
async fn a_volume_that_cannot_shrink_or_expand_degrades_with_the_reason() {
    let cluster = Cluster::with_sample("minimal.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    resize_to(&cluster, "1Gi");
    wait_for(&cluster, "VolumeResizeFailed", |c| {
        condition(c, "Degraded")["reason"] == "VolumeResizeFailed"
    })
    .await;
    assert_eq!(
        condition(&cluster, "Degraded")["message"],
        "database volume data-tgtg-postgres-0 is 5Gi; shrinking it to 1Gi is not possible"
    );

    cluster.server.refuse_writes(
        DATA_VOLUME,
        StatusCode::FORBIDDEN,
        "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize",
    );
    resize_to(&cluster, "20Gi");
    wait_for(&cluster, "the expansion refused", |c| {
        condition(c, "Degraded")["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("cannot expand database volume data-tgtg-postgres-0 from 5Gi to 20Gi: only dynamically provisioned"))
    })
    .await;
    assert_eq!(claimed(&cluster, DATA_VOLUME), "5Gi");
    drop(operator);
}

#[tokio::test]
async fn a_service_monitor_is_applied_only_where_prometheus_operator_is_installed() {
    let monitor = "/apis/monitoring.coreos.com/v1/namespaces/shop/servicemonitors/tgtg-bot";
    let without = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&without);
    settle(&without, &operator).await;
    assert!(!without.server.exists(monitor));

    let with = Cluster::new();
    with.server.install(
        "monitoring.coreos.com/v1",
        &[("ServiceMonitor", "servicemonitors")],
    );
    with.create_resource("production.yaml");
    let operator = Operator::of(&with);
    settle(&with, &operator).await;
    assert_eq!(
        with.server.get(monitor).unwrap_or_default()["spec"]["endpoints"][0]["path"],
        "/metrics"
    );
}

#[tokio::test]
async fn migration_jobs_of_other_versions_are_deleted_and_the_current_one_kept() {
    let cluster = Cluster::with_sample("minimal.yaml");
    cluster.server.edit(CR, |cr| {
        cr["spec"]["backup"] = json!({"enabled": false});
    });
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    let old_job = job_path("tgtg-migrate-1.0.0");
    assert!(
        cluster.server.exists(&old_job),
        "the succeeded Job of the running version stays"
    );
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["version"] = json!("1.1.0"));
    wait_for(&cluster, "the old migration Job gone", |c| {
        c.server.exists(&job_path("tgtg-migrate-1.1.0")) && !c.server.exists(&old_job)
    })
    .await;
    drop(operator);
}

// ---- backups ----

fn backup_path(name: &str) -> String {
    group("toogoodtogo.io/v1alpha1", "backups", name)
}

fn backup(cluster: &Cluster, name: &str) -> Value {
    cluster.server.get(&backup_path(name)).unwrap_or_default()
}

/// `toogoodtogo_YYYYMMDD_HHMMSS<suffix>.sql.gz` of a time `seconds_ago` before now.
fn backup_file(seconds_ago: i64, suffix: &str) -> String {
    use k8s_openapi::jiff::Timestamp;
    let at = Timestamp::now().as_second() - seconds_ago;
    let stamp = Timestamp::from_second(at)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .strftime("%Y%m%d_%H%M%S")
        .to_string();
    format!("toogoodtogo_{stamp}{suffix}.sql.gz")
}

/// The metadata file of a backup, as the Job's termination message.
fn report(file: &str) -> String {
    json!({"file": file, "kind": "scheduled", "created_at": "2026-01-01T03:00:04Z",
           "size_bytes": 52_431, "sha256": "5e".repeat(32), "database": "toogoodtogo",
           "postgres_version": "16.4", "tables": 12, "bot_version": "1.4.2", "host": "x"})
    .to_string()
}

/// The CronJob controller starts a Job from the CronJob's template.
fn cron_job_starts(cluster: &Cluster, job: &str) {
    let cron = cluster
        .server
        .get(&group("batch/v1", "cronjobs", "tgtg-backup"))
        .unwrap_or_default();
    let template = &cron["spec"]["jobTemplate"];
    cluster.server.create(
        &job_path(job),
        json!({"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"labels": template["metadata"]["labels"].clone()},
               "spec": template["spec"].clone(),
               "status": {"active": 1, "startTime": "2026-11-29T03:00:01Z"}}),
    );
}

/// The Job's pod ends (its termination message is the backup's report, or the last log lines),
/// then the Job controller marks the Job succeeded or failed.
fn job_ends(cluster: &Cluster, job: &str, succeeded: bool, message: &str) {
    cluster.server.create(
        &crate::double_tests::core("pods", &format!("{job}-x7k2p")),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"job-name": job}},
               "status": {"containerStatuses": [{"name": "backup", "ready": false, "restartCount": 0,
                   "image": "postgres:16-alpine", "imageID": "",
                   "state": {"terminated": {"exitCode": if succeeded { 0 } else { 3 }, "message": message}}}]}}),
    );
    cluster.server.edit(&job_path(job), |j| {
        j["status"] = if succeeded {
            json!({"succeeded": 1, "startTime": "2026-11-29T03:00:01Z",
                   "completionTime": "2026-11-29T03:00:09Z"})
        } else {
            json!({"failed": 2, "startTime": "2026-11-29T03:00:01Z", "conditions": [
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit"}]})
        };
    });
}

/// A finished Backup resource, as earlier reconciles would have left it.
fn finished_backup(cluster: &Cluster, name: &str, kind: &str, file: Option<&str>) {
    let phase = if file.is_some() {
        "Completed"
    } else {
        "Failed"
    };
    cluster.server.create(
        &backup_path(name),
        json!({"apiVersion": "toogoodtogo.io/v1alpha1", "kind": "Backup",
               "spec": {"toogoodtogo": "tgtg", "kind": kind},
               "status": {"phase": phase, "file": file, "sizeBytes": file.map(|_| 1000),
                          "completionTime": "2026-01-01T00:00:10Z"}}),
    );
}

/// The (type, reason, related object) of every Event with `reason`.
fn events_with(cluster: &Cluster, reason: &str) -> Vec<Value> {
    cluster
        .server
        .paths(&format!("/apis/events.k8s.io/v1/namespaces/{NS}/events/"))
        .iter()
        .filter_map(|p| cluster.server.get(p))
        .filter(|e| e["reason"] == reason)
        .collect()
}

#[tokio::test]
async fn backups_get_a_volume_the_shared_library_and_a_nightly_cron_job() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    let cron = cluster
        .server
        .get(&group("batch/v1", "cronjobs", "tgtg-backup"))
        .unwrap_or_default();
    assert_eq!(cron["spec"]["schedule"], "0 3 * * *");
    assert_eq!(cron["spec"]["timeZone"], "UTC");
    assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][0]["image"], "postgres:16-alpine");
    let claim = cluster
        .server
        .get(&crate::double_tests::core(
            "persistentvolumeclaims",
            "tgtg-backups",
        ))
        .unwrap_or_default();
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "10Gi");
    assert!(
        claim["metadata"]["ownerReferences"].is_null(),
        "the backups outlive the resource"
    );
    let script = cluster
        .server
        .get(&crate::double_tests::core(
            "configmaps",
            "tgtg-backup-script",
        ))
        .unwrap_or_default();
    assert_eq!(
        script["data"]["pg-backup.sh"],
        crate::resources::backup::SCRIPT
    );
    assert_eq!(condition(&cluster, "Backup")["reason"], "NoBackupYet");
}

#[tokio::test]
async fn every_scheduled_backup_becomes_a_backup_resource_with_its_file_and_size() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    cron_job_starts(&cluster, "tgtg-backup-29410380");
    wait_for(&cluster, "the Backup mirror", |c| {
        backup(c, "tgtg-backup-29410380")["status"]["phase"] == "Running"
    })
    .await;
    let mirror = backup(&cluster, "tgtg-backup-29410380");
    assert_eq!(mirror["spec"]["toogoodtogo"], "tgtg");
    assert_eq!(mirror["spec"]["kind"], "Scheduled");
    assert_eq!(mirror["spec"]["jobName"], "tgtg-backup-29410380");
    assert_eq!(mirror["status"]["startTime"], "2026-11-29T03:00:01Z");

    let file = backup_file(60, "");
    job_ends(&cluster, "tgtg-backup-29410380", true, &report(&file));
    wait_for(&cluster, "the backup recorded", |c| {
        c.condition("Backup")["reason"] == "BackupSucceeded"
    })
    .await;
    let status = &backup(&cluster, "tgtg-backup-29410380")["status"];
    assert_eq!(status["phase"], "Completed");
    assert_eq!(status["file"], file.as_str());
    assert_eq!(status["sizeBytes"], 52_431);
    assert_eq!(status["postgresVersion"], "16.4");
    assert_eq!(status["completionTime"], "2026-11-29T03:00:09Z");
    assert_eq!(
        cluster.resource()["status"]["lastBackup"]["file"],
        file.as_str()
    );
    assert_eq!(condition(&cluster, "Backup")["status"], "True");
    settle(&cluster, &operator).await;
    assert_eq!(events_with(&cluster, "BackupCompleted").len(), 1);
    // Exported under the single host's names, so its backup-age alert judges this platform too.
    let metrics = cluster.ctx.metrics.render();
    for line in [
        r#"toogoodtogo_backup_last_success_timestamp_seconds{namespace="shop",name="tgtg"} 1795921209"#,
        r#"toogoodtogo_backup_last_size_bytes{namespace="shop",name="tgtg"} 52431"#,
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }

    // The next night's backup gets its own Event (not folded into the first one's series).
    cron_job_starts(&cluster, "tgtg-backup-29411820");
    wait_for(&cluster, "the second mirror", |c| {
        !backup(c, "tgtg-backup-29411820")["status"].is_null()
    })
    .await;
    job_ends(
        &cluster,
        "tgtg-backup-29411820",
        true,
        &report(&backup_file(30, "")),
    );
    wait_for(&cluster, "the second backup's Event", |c| {
        events_with(c, "BackupCompleted")
            .iter()
            .any(|e| e["related"]["name"] == "tgtg-backup-29411820")
    })
    .await;
}

#[tokio::test]
async fn an_on_demand_backup_runs_one_job_and_a_failure_is_reported_once_and_not_retried() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    cluster.server.create(
        &backup_path("before-import"),
        json!({"apiVersion": "toogoodtogo.io/v1alpha1", "kind": "Backup",
               "spec": {"toogoodtogo": "tgtg"}}),
    );
    let job_of = job_path("before-import");
    wait_for(&cluster, "the backup Job", |c| c.server.exists(&job_of)).await;
    let uid = backup(&cluster, "before-import")["metadata"]["uid"].clone();
    let job = cluster.server.get(&job_of).unwrap_or_default();
    assert_eq!(job["metadata"]["ownerReferences"][0]["uid"], uid);
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "Backup");
    let env = job["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        env.iter()
            .any(|e| e["name"] == "BACKUP_KIND" && e["value"] == "manual")
    );
    assert!(
        env.iter()
            .any(|e| e["name"] == "PGB_PRUNE" && e["value"] == "0")
    );
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"]["toogoodtogo.io/database-client"],
        "true"
    );
    wait_for(&cluster, "the Backup Pending on its Job", |c| {
        backup(c, "before-import")["status"]["jobName"] == "before-import"
    })
    .await;
    assert_eq!(
        backup(&cluster, "before-import")["status"]["phase"],
        "Pending"
    );

    job_ends(
        &cluster,
        "before-import",
        false,
        "backup (manual) of database toogoodtogo\nERROR: not enough free space in /backups: 3 MiB free, 120 MiB needed\n",
    );
    wait_for(&cluster, "the backup Failed", |c| {
        backup(c, "before-import")["status"]["phase"] == "Failed"
    })
    .await;
    assert_eq!(
        backup(&cluster, "before-import")["status"]["message"],
        "ERROR: not enough free space in /backups: 3 MiB free, 120 MiB needed (Job has reached the specified backoff limit)"
    );
    wait_for(&cluster, "BackupFailed", |c| {
        c.condition("Backup")["reason"] == "BackupFailed"
    })
    .await;
    assert_eq!(condition(&cluster, "Backup")["status"], "False");
    // Failed is final: the Job gone, no new one.
    cluster.server.delete(&job_of);
    for _ in 0..3 {
        poke(&cluster, &operator).await;
    }
    assert!(!cluster.server.exists(&job_of), "not retried");
    assert_eq!(events_with(&cluster, "BackupFailed").len(), 1);
}

#[tokio::test]
async fn an_on_demand_backup_waits_for_the_database_instead_of_failing() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    cluster
        .server
        .edit(&group("apps/v1", "statefulsets", "tgtg-postgres"), |s| {
            s["status"] = json!({"replicas": 1, "readyReplicas": 0});
        });
    // The operator knows the database is down before the backup is asked for. A Backup created
    // in the same instant can meet a reconcile that read the database as ready a moment before
    // and start its Job, as against a database that fails while its Job runs.
    wait_for(&cluster, "the database seen not ready", |c| {
        c.condition("DatabaseReady")["status"] == "False"
    })
    .await;
    cluster.server.create(
        &backup_path("nightly-extra"),
        json!({"apiVersion": "toogoodtogo.io/v1alpha1", "kind": "Backup",
               "spec": {"toogoodtogo": "tgtg"}}),
    );
    wait_for(&cluster, "the Backup waiting", |c| {
        let status = &backup(c, "nightly-extra")["status"];
        assert!(
            !c.server.exists(&job_path("nightly-extra")),
            "a backup Job while the database is not ready: {status}"
        );
        status["message"] == "waiting for the database to be ready"
    })
    .await;
    assert!(!cluster.server.exists(&job_path("nightly-extra")));
    assert_eq!(
        backup(&cluster, "nightly-extra")["status"]["phase"],
        "Pending"
    );
    database_ready(&cluster);
    wait_for(&cluster, "the backup Job", |c| {
        c.server.exists(&job_path("nightly-extra"))
    })
    .await;
}

#[tokio::test]
async fn backups_of_other_platforms_are_left_alone() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    cluster.server.create(
        &backup_path("other"),
        json!({"apiVersion": "toogoodtogo.io/v1alpha1", "kind": "Backup",
               "spec": {"toogoodtogo": "another-shop"}}),
    );
    for _ in 0..2 {
        poke(&cluster, &operator).await;
    }
    assert!(backup(&cluster, "other")["status"].is_null());
    assert!(!cluster.server.exists(&job_path("other")));
}

#[tokio::test]
async fn retention_really_deletes_the_old_files_and_then_their_backup_resources() {
    let cluster = Cluster::with_sample("production.yaml");
    let day = 86_400;
    // Ten nightly backups, 0..=9 days old, an old manual one and an old failed one.
    let mut files = Vec::new();
    for age in 0..10 {
        let file = backup_file(age * day + 3600, "");
        finished_backup(
            &cluster,
            &format!("tgtg-backup-{age}"),
            "Scheduled",
            Some(&file),
        );
        files.push(file);
    }
    let manual = backup_file(40 * day, "_manual");
    finished_backup(&cluster, "by-hand", "Manual", Some(&manual));
    finished_backup(&cluster, "broken", "Scheduled", None);
    cluster.server.edit(&backup_path("broken"), |b| {
        b["status"]["startTime"] = json!("2026-01-01T00:00:00Z");
    });
    let operator = Operator::of(&cluster);
    ready(&cluster).await;
    // The failed backup has no file: its resource goes at once. One prune Job for the files
    // older than 7 days, oldest first.
    wait_for(&cluster, "the prune Job", |c| {
        !jobs_named(c, "tgtg-backup-prune-").is_empty() && !c.server.exists(&backup_path("broken"))
    })
    .await;
    let prune_jobs = jobs_named(&cluster, "tgtg-backup-prune-");
    assert_eq!(prune_jobs.len(), 1, "{prune_jobs:?}");
    let prune = cluster.server.get(&prune_jobs[0]).unwrap_or_default();
    let command = &prune["spec"]["template"]["spec"]["containers"][0]["command"];
    assert_eq!(
        command.as_array().map(|c| c[4..].to_vec()),
        Some(vec![json!(files[9]), json!(files[8]), json!(files[7])]),
        "exactly the expired files are deleted: {command}"
    );
    assert_eq!(
        prune["metadata"]["annotations"]["toogoodtogo.io/backups"],
        "tgtg-backup-9,tgtg-backup-8,tgtg-backup-7"
    );
    assert_eq!(events_with(&cluster, "PruningBackups").len(), 1);
    // Until the Job is done the resources stay and nothing else is started.
    poke(&cluster, &operator).await;
    assert!(cluster.server.exists(&backup_path("tgtg-backup-9")));
    assert_eq!(jobs_named(&cluster, "tgtg-backup-prune-"), prune_jobs);

    cluster
        .server
        .edit(&prune_jobs[0], |j| j["status"] = json!({"succeeded": 1}));
    wait_for(&cluster, "the expired Backups gone", |c| {
        ["tgtg-backup-9", "tgtg-backup-8", "tgtg-backup-7"]
            .iter()
            .all(|gone| !c.server.exists(&backup_path(gone)))
            && !c.server.exists(&prune_jobs[0])
    })
    .await;
    for kept in ["tgtg-backup-0", "tgtg-backup-6", "by-hand"] {
        assert!(cluster.server.exists(&backup_path(kept)), "{kept}");
    }
    wait_for(&cluster, "the newest backup in the status", |c| {
        c.resource()["status"]["lastBackup"]["name"] == "tgtg-backup-0"
    })
    .await;
    // Settled: nothing more to prune.
    settle(&cluster, &operator).await;
    assert!(jobs_named(&cluster, "tgtg-backup-prune-").is_empty());
    let uncovered: Vec<String> = cluster
        .server
        .take_requests()
        .iter()
        .filter(|r| !crate::rbac::allows(crate::rbac::CONTROLLER_RULES, &r.method, &r.path))
        .map(crate::testing::api_server::Recorded::line)
        .collect();
    assert_eq!(
        uncovered,
        Vec::<String>::new(),
        "the RBAC rules cover every request"
    );
}

// ---- restores ----

fn restore_requested(cluster: &Cluster, name: &str, spec: Value) {
    let mut spec = spec;
    spec["toogoodtogo"] = json!("tgtg");
    cluster.server.create(
        &restore_path(name),
        json!({"apiVersion": "toogoodtogo.io/v1alpha1", "kind": "Restore", "spec": spec}),
    );
}

fn restore(cluster: &Cluster, name: &str) -> Value {
    cluster.server.get(&restore_path(name)).unwrap_or_default()
}

fn restore_phase_is(cluster: &Cluster, name: &str, phase: &str) -> bool {
    restore(cluster, name)["status"]["phase"] == phase
}

fn bot_replicas(cluster: &Cluster) -> Value {
    cluster.server.get(BOT).unwrap_or_default()["spec"]["replicas"].clone()
}

/// A production platform under the running operator with a completed nightly backup and a
/// Restore of it that has reached `Restoring`. Returns the restored file.
async fn restore_running(cluster: &Cluster, operator: &Operator) -> String {
    settle(cluster, operator).await;
    let file = backup_file(3600, "");
    finished_backup(cluster, "nightly", "Scheduled", Some(&file));
    restore_requested(cluster, "back-to-nightly", json!({"backup": "nightly"}));
    wait_for(cluster, "Verifying", |c| {
        restore_phase_is(c, "back-to-nightly", "Verifying")
            && c.server.exists(&job_path("back-to-nightly-verify"))
    })
    .await;
    job_ends(
        cluster,
        "back-to-nightly-verify",
        true,
        &format!("{file} is intact"),
    );
    // The safety copy is an ordinary Backup with its Job.
    wait_for(cluster, "the safety backup running", |c| {
        restore_phase_is(c, "back-to-nightly", "BackingUp")
            && c.server.exists(&job_path("back-to-nightly-safety"))
    })
    .await;
    assert_eq!(
        backup(cluster, "back-to-nightly-safety")["spec"]["kind"],
        "PreRestore"
    );
    assert_eq!(
        bot_replicas(cluster),
        3,
        "nothing is touched before the safety copy"
    );
    job_ends(
        cluster,
        "back-to-nightly-safety",
        true,
        &report(&backup_file(0, "_pre_restore")),
    );
    // The bot is stopped; the restore waits until its pods are gone.
    wait_for(cluster, "the bot stopped", |c| {
        restore_phase_is(c, "back-to-nightly", "ScalingDown") && bot_replicas(c) == 0
    })
    .await;
    poke(cluster, operator).await;
    assert!(!cluster.server.exists(&job_path("back-to-nightly-restore")));
    assert_eq!(condition(cluster, "Ready")["reason"], "Restoring");
    assert_eq!(condition(cluster, "Progressing")["reason"], "Restoring");
    wait_for(cluster, "Restoring", |c| {
        c.controllers_act();
        restore_phase_is(c, "back-to-nightly", "Restoring")
    })
    .await;
    file
}

#[tokio::test]
async fn a_restore_of_a_missing_backup_fails_at_once_and_touches_nothing() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    object_changes(&cluster);
    restore_requested(&cluster, "oops", json!({"backup": "no-such-backup"}));
    wait_for(&cluster, "Failed", |c| {
        restore_phase_is(c, "oops", "Failed")
    })
    .await;
    assert_eq!(
        restore(&cluster, "oops")["status"]["message"],
        "Backup no-such-backup of tgtg does not exist"
    );
    // Final: never retried.
    for _ in 0..2 {
        poke(&cluster, &operator).await;
    }
    let touched: Vec<String> = object_changes(&cluster)
        .into_iter()
        .filter(|p| p.contains("/jobs/") || p.contains("/deployments/"))
        .collect();
    assert_eq!(touched, Vec::<String>::new());
    assert_eq!(events_with(&cluster, "RestoreFailed").len(), 1);
}

#[tokio::test]
async fn a_corrupt_or_missing_file_fails_verification_before_anything_is_touched() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    let file = backup_file(7200, "_manual");
    restore_requested(&cluster, "from-file", json!({"file": file}));
    let verify = job_path("from-file-verify");
    wait_for(&cluster, "the verification Job", |c| {
        c.server.exists(&verify)
    })
    .await;
    let job = cluster.server.get(&verify).unwrap_or_default();
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "Restore");
    assert_eq!(
        job["spec"]["backoffLimit"], 0,
        "a bad file is not tried again"
    );
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert!(
        container["command"][2]
            .as_str()
            .is_some_and(|s| s.contains("pgb_verify \"$BACKUP_DIR/$RESTORE_FILE\"")),
        "{container}"
    );
    let env = container["env"].as_array().cloned().unwrap_or_default();
    assert!(
        env.iter()
            .any(|e| e["name"] == "RESTORE_FILE" && e["value"] == file.as_str())
    );
    assert!(
        env.iter()
            .any(|e| e["name"] == "PGUSER" && e["valueFrom"]["secretKeyRef"]["key"] == "username"),
        "the bot's login role"
    );

    job_ends(
        &cluster,
        "from-file-verify",
        false,
        &format!(
            "ERROR: backup file is not a valid gzip archive (corrupt or truncated): /backups/{file}\n"
        ),
    );
    wait_for(&cluster, "Failed", |c| {
        restore_phase_is(c, "from-file", "Failed")
    })
    .await;
    let status = &restore(&cluster, "from-file")["status"];
    assert_eq!(
        status["message"],
        format!(
            "{file} cannot be restored: ERROR: backup file is not a valid gzip archive (corrupt or truncated): /backups/{file}; nothing was changed"
        )
    );
    assert!(status["safetyBackup"].is_null());
    poke(&cluster, &operator).await;
    assert!(!cluster.server.exists(&backup_path("from-file-safety")));
    assert_eq!(bot_replicas(&cluster), 3);
    assert_eq!(events_with(&cluster, "RestoreFailed").len(), 1);
}

#[tokio::test]
async fn a_dry_run_restores_into_a_scratch_database_and_leaves_the_platform_alone() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    let file = backup_file(7200, "");
    restore_requested(&cluster, "check", json!({"file": file, "dryRun": true}));
    let verify = job_path("check-verify");
    wait_for(&cluster, "the check Job", |c| c.server.exists(&verify)).await;
    let job = cluster.server.get(&verify).unwrap_or_default();
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert!(
        container["command"][2]
            .as_str()
            .is_some_and(|s| s.contains("pgb_restore_check")),
        "{container}"
    );
    let env = container["env"].as_array().cloned().unwrap_or_default();
    assert!(
        env.iter()
            .any(|e| e["name"] == "PGUSER" && e["value"] == "postgres"),
        "creating the scratch database needs the superuser"
    );
    let bot_generation = generation(&cluster, BOT);
    job_ends(&cluster, "check-verify", true, "restores");
    wait_for(&cluster, "Completed", |c| {
        restore_phase_is(c, "check", "Completed")
    })
    .await;
    assert!(
        restore(&cluster, "check")["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("the live database was not touched"))
    );
    poke(&cluster, &operator).await;
    assert!(!cluster.server.exists(&backup_path("check-safety")));
    assert!(!cluster.server.exists(&job_path("check-restore")));
    assert_eq!(generation(&cluster, BOT), bot_generation);
    assert_eq!(bot_replicas(&cluster), 3);
}

#[tokio::test]
async fn a_restore_takes_a_safety_backup_stops_the_bot_restores_migrates_and_starts_it_again() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    let file = restore_running(&cluster, &operator).await;
    let job = cluster
        .server
        .get(&job_path("back-to-nightly-restore"))
        .unwrap_or_default();
    let pod = &job["spec"]["template"]["spec"];
    let restore_container = &pod["initContainers"][0];
    assert!(
        restore_container["command"][2]
            .as_str()
            .is_some_and(|s| s.contains("pgb_restore \"$BACKUP_DIR/$RESTORE_FILE\""))
    );
    let env = restore_container["env"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        env.iter()
            .any(|e| e["name"] == "RESTORE_FILE" && e["value"] == file.as_str())
    );
    assert!(
        env.iter()
            .any(|e| e["name"] == "PGUSER" && e["valueFrom"]["secretKeyRef"]["key"] == "username"),
        "the bot's login role"
    );
    let migrate = &pod["containers"][0];
    assert_eq!(migrate["image"], "toogoodtogo/bot:1.4.2");
    assert_eq!(migrate["args"], json!(["migrate"]));
    assert_eq!(migrate["securityContext"]["runAsUser"], 65532);
    assert_eq!(job["spec"]["backoffLimit"], 0);

    jobs_succeed(&cluster, "back-to-nightly-restore");
    // The bot comes back with its replicas; the restore ends when they are ready.
    wait_for(&cluster, "the bot scaled up", |c| {
        restore_phase_is(c, "back-to-nightly", "ScalingUp") && bot_replicas(c) == 3
    })
    .await;
    wait_for(&cluster, "Completed", |c| {
        c.controllers_act();
        restore_phase_is(c, "back-to-nightly", "Completed")
    })
    .await;
    assert_eq!(
        restore(&cluster, "back-to-nightly")["status"]["safetyBackup"],
        "back-to-nightly-safety"
    );
    settle(&cluster, &operator).await;
    assert_eq!(events_with(&cluster, "RestoreCompleted").len(), 1);
}

#[tokio::test]
async fn a_failed_restore_reports_the_reason_and_the_safety_backup_and_the_bot_comes_back() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    restore_running(&cluster, &operator).await;
    job_ends(
        &cluster,
        "back-to-nightly-restore",
        false,
        "ERROR: restore failed (psql exit 3); the database was left unchanged\n",
    );
    wait_for(&cluster, "Failed", |c| {
        restore_phase_is(c, "back-to-nightly", "Failed")
    })
    .await;
    assert_eq!(
        restore(&cluster, "back-to-nightly")["status"]["message"],
        "ERROR: restore failed (psql exit 3); the database was left unchanged; the safety backup back-to-nightly-safety holds the database from before"
    );
    wait_for(&cluster, "the bot back", |c| bot_replicas(c) == 3).await;
    // Not retried: no new restore Job after the failed one is gone.
    cluster.server.delete(&job_path("back-to-nightly-restore"));
    for _ in 0..2 {
        poke(&cluster, &operator).await;
    }
    assert!(!cluster.server.exists(&job_path("back-to-nightly-restore")));
    assert_eq!(events_with(&cluster, "RestoreFailed").len(), 1);
}

// ---- secret rotation ----

fn pod_hash(cluster: &Cluster) -> Value {
    cluster.server.get(BOT).unwrap_or_default()["spec"]["template"]["metadata"]["annotations"]
        [crate::names::CONFIG_HASH_ANNOTATION]
        .clone()
}

fn rotation(cluster: &Cluster) -> Value {
    cluster.resource()["status"]["secretRotation"].clone()
}

#[tokio::test]
async fn the_rotate_annotation_rotates_the_key_and_token_and_keeps_the_previous_ones() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    let (key, token) = (
        generated(&cluster, "SECRET_KEY"),
        generated(&cluster, "WEBHOOK_SECRET_TOKEN"),
    );
    assert_eq!(generated(&cluster, "SECRET_KEY_PREVIOUS"), "");
    let hash = pod_hash(&cluster);

    ask_rotation(&cluster, "2026-11-29");
    wait_for(&cluster, "the new values announced", |c| {
        rotation(c)["webhookRotation"] == "Announcing"
    })
    .await;
    // The new SECRET_KEY is announced first: accepted by the new pods (the bot's one extra
    // accepted key), while the old key still signs.
    let new_key = generated(&cluster, "SECRET_KEY_NEXT");
    assert!(!new_key.is_empty() && new_key != key);
    assert_eq!(generated(&cluster, "SECRET_KEY"), key);
    assert_eq!(generated(&cluster, "SECRET_KEY_PREVIOUS"), new_key);
    // The new webhook token is announced first: accepted by the new pods, the old one still
    // registered with Telegram, so no pod ever rejects what Telegram sends.
    let new_token = generated(&cluster, "WEBHOOK_SECRET_TOKEN_PREVIOUS");
    assert_eq!(generated(&cluster, "WEBHOOK_SECRET_TOKEN"), token);
    assert!(!new_token.is_empty() && new_token != token);
    assert_ne!(
        pod_hash(&cluster),
        hash,
        "the bot rolls onto the new values"
    );
    assert_eq!(rotation(&cluster)["lastTrigger"], "2026-11-29");
    assert!(
        rotation(&cluster)["secretKey"].is_null(),
        "not rotated until it signs"
    );
    assert_eq!(events_with(&cluster, "SecretKeyAnnounced").len(), 1);
    // While the pods roll nothing moves on.
    poke(&cluster, &operator).await;
    assert_eq!(generated(&cluster, "SECRET_KEY"), key, "still rolling");
    assert_eq!(rotation(&cluster)["webhookRotation"], "Announcing");

    // Every pod accepts the new key: it signs now, and the old one is accepted for a day; the
    // key's swap rolls the pods once more, after that roll the token swaps.
    wait_for(&cluster, "both swapped", |c| {
        c.controllers_act();
        generated(c, "WEBHOOK_SECRET_TOKEN") == new_token
            && rotation(c)["webhookRotation"].is_null()
    })
    .await;
    settle(&cluster, &operator).await;
    assert_eq!(generated(&cluster, "SECRET_KEY"), new_key);
    assert_eq!(generated(&cluster, "SECRET_KEY_PREVIOUS"), key);
    assert_eq!(generated(&cluster, "SECRET_KEY_NEXT"), "");
    assert_eq!(generated(&cluster, "WEBHOOK_SECRET_TOKEN_PREVIOUS"), token);
    let status = rotation(&cluster);
    assert!(status["secretKey"].is_string());
    assert!(status["webhookSecretToken"].is_string());
    for reason in ["SecretKeyRotated", "WebhookTokenRotated"] {
        assert_eq!(events_with(&cluster, reason).len(), 1, "{reason}");
    }
    assert!(
        !cluster.resource()["status"].to_string().contains(&key),
        "status never holds values"
    );
    // The bot reads both through optional secret references.
    let env = cluster.server.get(BOT).unwrap_or_default()["spec"]["template"]["spec"]["containers"]
        [0]["env"]
        .clone();
    for name in ["SECRET_KEY_PREVIOUS", "WEBHOOK_SECRET_TOKEN_PREVIOUS"] {
        assert!(
            env.as_array()
                .is_some_and(|e| e.iter().any(|v| v["name"] == name)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn after_the_grace_period_the_previous_values_are_dropped() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    ask_rotation(&cluster, "a");
    wait_for(&cluster, "rotated", |c| {
        c.controllers_act();
        rotation(c)["webhookSecretToken"].is_string() && rotation(c)["webhookRotation"].is_null()
    })
    .await;
    settle(&cluster, &operator).await;
    let retired = generated(&cluster, "SECRET_KEY_PREVIOUS");
    assert_ne!(retired, "");
    // A day and more later.
    cluster.server.edit(
        &crate::double_tests::core("secrets", "tgtg-generated"),
        |s| {
            use base64::Engine as _;
            let list = json!([{"key": retired, "retiredAt": 1_767_225_600}]).to_string();
            s["data"]["SECRET_KEYS_RETIRED"] =
                json!(base64::engine::general_purpose::STANDARD.encode(list));
            s["metadata"]["annotations"]["toogoodtogo.io/webhook-token-rotated-at"] =
                json!("2026-01-01T00:00:00Z");
        },
    );
    cluster.server.edit(CR, |cr| {
        cr["status"]["secretRotation"]["secretKey"] = json!("2026-01-01T00:00:00Z");
        cr["status"]["secretRotation"]["webhookSecretToken"] = json!("2026-01-01T00:00:00Z");
    });
    let key = generated(&cluster, "SECRET_KEY");
    wait_for(&cluster, "the previous values dropped", |c| {
        c.controllers_act();
        generated(c, "SECRET_KEY_PREVIOUS").is_empty()
            && generated(c, "WEBHOOK_SECRET_TOKEN_PREVIOUS").is_empty()
    })
    .await;
    settle(&cluster, &operator).await;
    assert_eq!(generated(&cluster, "SECRET_KEY"), key, "no new rotation");
}

#[tokio::test]
async fn secrets_older_than_the_interval_are_rotated() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.server.edit(CR, |cr| {
        cr["spec"]["secretRotation"] = json!({"intervalDays": 30, "webhookSecretToken": false});
        cr["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    });
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    // Created long ago: SECRET_KEY is rotated at once, not the token.
    wait_for(&cluster, "the key rotated", |c| {
        c.controllers_act();
        rotation(c)["secretKey"].is_string()
    })
    .await;
    settle(&cluster, &operator).await;
    assert!(rotation(&cluster)["webhookSecretToken"].is_null());
    assert_eq!(generated(&cluster, "WEBHOOK_SECRET_TOKEN_PREVIOUS"), "");
    // Then not again until the interval passed.
    let key = generated(&cluster, "SECRET_KEY");
    for _ in 0..2 {
        poke(&cluster, &operator).await;
    }
    assert_eq!(generated(&cluster, "SECRET_KEY"), key);
    assert_eq!(events_with(&cluster, "SecretKeyRotated").len(), 1);
}

// ---- rollouts ----

/// Set the version; returns the resource's generation with it.
fn set_version(cluster: &Cluster, version: &str) -> i64 {
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["version"] = json!(version));
    cluster.resource()["metadata"]["generation"]
        .as_i64()
        .unwrap_or_default()
}

fn pre_deployment_backup(version: &str, generation: i64) -> String {
    crate::names::Owner::of(&crate::testing::sample("production.yaml"))
        .pre_deployment_backup(version, generation)
}

/// The Deployment controller gives up on the rollout.
fn progress_deadline_exceeded(cluster: &Cluster) {
    cluster.server.edit(BOT, |d| {
        d["status"]["conditions"] = json!([{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": "ReplicaSet \"tgtg-bot-7f9\" has timed out progressing."}]);
        d["status"]["availableReplicas"] = json!(2);
    });
}

/// Upgrade to `version` (without a pre-deployment backup) until its pods are created.
async fn upgrade_to(cluster: &Cluster, version: &str) {
    set_version(cluster, version);
    let image_of_version = format!("toogoodtogo/bot:{version}");
    wait_for(cluster, "the new version deployed", |c| {
        migrations_succeed(c);
        image(c) == image_of_version
    })
    .await;
}

#[tokio::test]
async fn a_version_bump_takes_a_pre_deployment_backup_before_migrating_and_rolling() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    let generation = set_version(&cluster, "1.5.0");
    let backup_name = pre_deployment_backup("1.5.0", generation);
    wait_for(&cluster, "the pre-deployment backup's Job", |c| {
        c.server.exists(&job_path(&backup_name))
    })
    .await;
    assert_eq!(
        backup(&cluster, &backup_name)["spec"]["kind"],
        "PreDeployment"
    );
    poke(&cluster, &operator).await;
    migrations_succeed(&cluster);
    assert!(
        !cluster.server.exists(&job_path("tgtg-migrate-1.5.0")),
        "no migration before the backup"
    );
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2");
    assert_eq!(condition(&cluster, "Progressing")["reason"], "BackingUp");

    job_ends(
        &cluster,
        &backup_name,
        true,
        &report(&backup_file(0, "_pre_deployment")),
    );
    wait_for(&cluster, "the migration Job", |c| {
        c.server.exists(&job_path("tgtg-migrate-1.5.0"))
    })
    .await;
    assert_eq!(
        backup(&cluster, &backup_name)["status"]["phase"],
        "Completed"
    );
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2");
    wait_for(&cluster, "1.5.0 deployed", |c| {
        migrations_succeed(c);
        image(c) == "toogoodtogo/bot:1.5.0"
    })
    .await;
}

#[tokio::test]
async fn a_failed_pre_deployment_backup_stops_the_upgrade() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    let generation = set_version(&cluster, "1.5.0");
    let backup_name = pre_deployment_backup("1.5.0", generation);
    wait_for(&cluster, "the pre-deployment backup's Job", |c| {
        c.server.exists(&job_path(&backup_name))
    })
    .await;
    job_ends(
        &cluster,
        &backup_name,
        false,
        "ERROR: pg_dump failed (exit 1); no backup written\n",
    );
    wait_for(&cluster, "Failed", |c| phase(c) == "Failed").await;
    assert_eq!(
        condition(&cluster, "Degraded")["reason"],
        "PreDeploymentBackupFailed"
    );
    poke(&cluster, &operator).await;
    assert!(!cluster.server.exists(&job_path("tgtg-migrate-1.5.0")));
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2");
    // Deleting the failed Backup tries again, its Job going with it (garbage collection).
    let old_job = cluster
        .server
        .get(&job_path(&backup_name))
        .unwrap_or_default()["metadata"]["uid"]
        .clone();
    cluster.server.delete(&backup_path(&backup_name));
    wait_for(&cluster, "a fresh Job of a new Backup", |c| {
        let job = c.server.get(&job_path(&backup_name)).unwrap_or_default();
        !job.is_null()
            && job["metadata"]["uid"] != old_job
            && job["metadata"]["ownerReferences"][0]["uid"]
                == backup(c, &backup_name)["metadata"]["uid"]
    })
    .await;
    assert_eq!(
        backup(&cluster, &backup_name)["spec"]["kind"],
        "PreDeployment"
    );
    let job = cluster
        .server
        .get(&job_path(&backup_name))
        .unwrap_or_default();
    assert!(job["status"].is_null(), "a fresh Job");
}

#[tokio::test]
async fn a_version_that_never_becomes_available_is_rolled_back_once_and_not_retried() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.server.edit(CR, |cr| {
        cr["spec"]["backup"]["preDeployment"] = json!(false);
        // Here a version is good once available; the analysis has its own tests.
        cr["spec"]["rollout"]["analysisMinutes"] = json!(0);
    });
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    assert_eq!(cluster.resource()["status"]["lastGoodVersion"], "1.4.2");
    upgrade_to(&cluster, "1.5.0").await;
    assert_eq!(
        cluster.server.get(BOT).unwrap_or_default()["spec"]["progressDeadlineSeconds"],
        600
    );

    progress_deadline_exceeded(&cluster);
    wait_for(&cluster, "rolled back", |c| {
        c.resource()["status"]["rolledBack"]["from"] == "1.5.0"
    })
    .await;
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2");
    assert!(
        !cluster.server.exists(&job_path("tgtg-migrate-1.4.2")),
        "going back runs no migration"
    );
    let rolled_back = condition(&cluster, "RolledBack");
    assert_eq!(rolled_back["status"], "True");
    assert_eq!(
        rolled_back["message"],
        "version 1.5.0 did not become available; version 1.4.2 runs instead"
    );
    assert_eq!(condition(&cluster, "Degraded")["reason"], "RolledBack");
    assert_eq!(phase(&cluster), "Degraded");
    assert_eq!(cluster.resource()["status"]["rolledBack"]["to"], "1.4.2");
    let history: Vec<(String, String)> = cluster.resource()["status"]["history"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["version"].as_str().unwrap_or_default().to_owned(),
                e["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            ("1.4.2".to_owned(), "Deployed".to_owned()),
            ("1.5.0".to_owned(), "RolledBack".to_owned())
        ]
    );

    // The old version comes up; the bad one is not tried again: no loop, no more Events.
    let rolled_back_generation = generation(&cluster, BOT);
    wait_for(&cluster, "the old version ready", |c| {
        c.controllers_act();
        c.condition("Ready")["status"] == "True"
    })
    .await;
    for _ in 0..3 {
        poke(&cluster, &operator).await;
        cluster.controllers_act();
    }
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2");
    assert_eq!(generation(&cluster, BOT), rolled_back_generation);
    let events = events_with(&cluster, "RolledBack");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "Warning");
    assert_eq!(
        events[0]["note"],
        "version 1.5.0 did not become available within 600s; rolled back to 1.4.2"
    );
    assert_eq!(condition(&cluster, "Ready")["status"], "True");
    assert_eq!(cluster.resource()["status"]["lastGoodVersion"], "1.4.2");

    // A new version proceeds normally, and the rollback is over.
    upgrade_to(&cluster, "1.5.1").await;
    settle(&cluster, &operator).await;
    assert!(cluster.resource()["status"]["rolledBack"].is_null());
    assert!(condition(&cluster, "RolledBack").is_null());
    assert_eq!(cluster.resource()["status"]["lastGoodVersion"], "1.5.1");
}

#[tokio::test]
async fn without_auto_rollback_a_stuck_version_stays_and_says_so() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.server.edit(CR, |cr| {
        cr["spec"]["backup"]["preDeployment"] = json!(false);
        cr["spec"]["rollout"]["autoRollback"] = json!(false);
    });
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    upgrade_to(&cluster, "1.5.0").await;
    progress_deadline_exceeded(&cluster);
    for _ in 0..3 {
        poke(&cluster, &operator).await;
    }
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.5.0");
    assert!(cluster.resource()["status"]["rolledBack"].is_null());
}

#[tokio::test]
async fn an_automatic_rollback_can_restore_the_pre_deployment_backup() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.server.edit(CR, |cr| {
        cr["spec"]["rollout"]["restoreDatabaseOnRollback"] = json!(true);
    });
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    let generation = set_version(&cluster, "1.5.0");
    let backup_name = pre_deployment_backup("1.5.0", generation);
    wait_for(&cluster, "the pre-deployment backup's Job", |c| {
        c.server.exists(&job_path(&backup_name))
    })
    .await;
    job_ends(
        &cluster,
        &backup_name,
        true,
        &report(&backup_file(0, "_pre_deployment")),
    );
    wait_for(&cluster, "1.5.0 deployed", |c| {
        migrations_succeed(c);
        image(c) == "toogoodtogo/bot:1.5.0"
    })
    .await;
    // The new version is to blame: its pod crash-loops.
    cluster.server.create(
        &crate::double_tests::core("pods", "tgtg-bot-7f9-abcde"),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"labels": {
                   "app.kubernetes.io/name": "toogoodtogo", "app.kubernetes.io/instance": "tgtg",
                   "app.kubernetes.io/component": "bot", "app.kubernetes.io/version": "1.5.0"}},
               "status": {"containerStatuses": [{"name": "bot", "ready": false, "restartCount": 5,
                   "image": "toogoodtogo/bot:1.5.0", "imageID": "",
                   "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}),
    );
    progress_deadline_exceeded(&cluster);
    let rollback_restore = format!("{backup_name}-rollback");
    // The Restore goes its usual way: the file is verified first.
    wait_for(&cluster, "the Restore verifying", |c| {
        restore_phase_is(c, &rollback_restore, "Verifying")
    })
    .await;
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2");
    let requested = restore(&cluster, &rollback_restore);
    assert_eq!(requested["spec"]["backup"], backup_name.as_str());
    assert_eq!(requested["spec"]["toogoodtogo"], "tgtg");
}

#[tokio::test]
async fn a_version_deployed_again_after_going_back_gets_a_fresh_pre_deployment_backup() {
    let cluster = Cluster::with_sample("production.yaml");
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    let generation = set_version(&cluster, "1.5.0");
    let first = pre_deployment_backup("1.5.0", generation);
    wait_for(&cluster, "the first backup's Job", |c| {
        c.server.exists(&job_path(&first))
    })
    .await;
    job_ends(
        &cluster,
        &first,
        true,
        &report(&backup_file(600, "_pre_deployment")),
    );
    wait_for(&cluster, "1.5.0 deployed", |c| {
        migrations_succeed(c);
        image(c) == "toogoodtogo/bot:1.5.0"
    })
    .await;
    // Back by hand, then forward again: the first backup is old by now.
    set_version(&cluster, "1.4.2");
    wait_for(&cluster, "1.4.2 deployed", |c| {
        image(c) == "toogoodtogo/bot:1.4.2"
    })
    .await;
    let generation = set_version(&cluster, "1.5.0");
    let second = pre_deployment_backup("1.5.0", generation);
    assert_ne!(first, second);
    wait_for(&cluster, "the second backup's Job", |c| {
        c.server.exists(&job_path(&second))
    })
    .await;
    assert_eq!(backup(&cluster, &second)["spec"]["kind"], "PreDeployment");
    poke(&cluster, &operator).await;
    assert_eq!(
        image(&cluster),
        "toogoodtogo/bot:1.4.2",
        "waits for the new backup"
    );
    assert_eq!(condition(&cluster, "Progressing")["reason"], "BackingUp");
}

// ---- database password rotation ----

fn credential(cluster: &Cluster, key: &str) -> String {
    decoded(cluster, "tgtg-postgres-credentials", key)
}

fn env_of(job: &Value) -> Vec<Value> {
    job["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn database_rotation(cluster: &Cluster) -> Value {
    rotation(cluster)["databaseRotation"].clone()
}

/// Production with database password rotation, Ready under the running operator.
async fn rotating_database_password() -> (Cluster, Operator) {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.server.edit(CR, |cr| {
        cr["spec"]["secretRotation"] =
            json!({"databasePassword": true, "secretKey": false, "webhookSecretToken": false});
    });
    let operator = Operator::of(&cluster);
    settle(&cluster, &operator).await;
    (cluster, operator)
}

#[tokio::test]
async fn the_database_password_moves_to_the_idle_role_and_the_old_one_is_retired_after_the_roll() {
    let (cluster, operator) = rotating_database_password().await;
    assert_eq!(credential(&cluster, "username"), "toogoodtogo");
    let old_password = credential(&cluster, "password");
    let hash = pod_hash(&cluster);

    // 1. Preparing: the new password waits in the Secret; a Job gives it to the idle role.
    ask_rotation(&cluster, "db-1");
    wait_for(&cluster, "the preparation Job", |c| {
        !jobs_named(c, "tgtg-db-prepare-").is_empty()
            && database_rotation(c)["phase"] == "Preparing"
    })
    .await;
    let rotation_status = database_rotation(&cluster);
    assert_eq!(rotation_status["from"], "toogoodtogo");
    assert_eq!(rotation_status["to"], "toogoodtogo_blue");
    let pending = credential(&cluster, "pending-password");
    assert!(!pending.is_empty());
    poke(&cluster, &operator).await;
    assert_eq!(
        credential(&cluster, "username"),
        "toogoodtogo",
        "the bot is not moved yet"
    );
    assert_eq!(
        pod_hash(&cluster),
        hash,
        "no roll before the role has its password"
    );
    let prepare = jobs_named(&cluster, "tgtg-db-prepare-");
    let job = cluster.server.get(&prepare[0]).unwrap_or_default();
    let env = env_of(&job);
    assert!(
        env.iter()
            .any(|e| e["name"] == "LOGIN_ROLE" && e["value"] == "toogoodtogo_blue")
    );
    assert!(env.iter().any(|e| e["name"] == "NEW_PASSWORD"
        && e["valueFrom"]["secretKeyRef"]["key"] == "pending-password"));
    assert!(
        env.iter()
            .any(|e| e["name"] == "PGUSER" && e["value"] == "postgres")
    );
    assert!(
        !job.to_string().contains(&pending),
        "the password is never in a pod spec"
    );

    // 2. Switching: the Secret moves to the new role and password; the bot rolls, and the old
    // role stays while old pods use it.
    jobs_succeed(&cluster, "tgtg-db-prepare-");
    wait_for(&cluster, "Switching", |c| {
        database_rotation(c)["phase"] == "Switching"
    })
    .await;
    assert_eq!(credential(&cluster, "username"), "toogoodtogo_blue");
    assert_eq!(credential(&cluster, "password"), pending);
    assert_eq!(credential(&cluster, "pending-password"), "");
    assert_ne!(pod_hash(&cluster), hash);
    poke(&cluster, &operator).await;
    assert!(
        jobs_named(&cluster, "tgtg-db-retire-").is_empty(),
        "the old pods still use the old role"
    );

    // 3. Retiring: once the roll is complete, the old role gets a password nobody knows.
    wait_for(&cluster, "Retiring", |c| {
        c.controllers_act();
        database_rotation(c)["phase"] == "Retiring" && !jobs_named(c, "tgtg-db-retire-").is_empty()
    })
    .await;
    let retire = jobs_named(&cluster, "tgtg-db-retire-");
    let job = cluster.server.get(&retire[0]).unwrap_or_default();
    assert!(
        env_of(&job)
            .iter()
            .any(|e| e["name"] == "OLD_ROLE" && e["value"] == "toogoodtogo")
    );
    jobs_succeed(&cluster, "tgtg-db-retire-");
    wait_for(&cluster, "rotated", |c| {
        database_rotation(c).is_null() && rotation(c)["databasePassword"].is_string()
    })
    .await;
    let status = cluster.resource()["status"].to_string();
    assert!(!status.contains(&pending));
    assert!(!status.contains(&old_password));
    settle(&cluster, &operator).await;
    assert_eq!(events_with(&cluster, "DatabasePasswordRotated").len(), 1);

    // The next rotation goes from blue to green.
    ask_rotation(&cluster, "db-2");
    wait_for(&cluster, "the next rotation", |c| {
        database_rotation(c)["to"] == "toogoodtogo_green"
    })
    .await;
}

#[tokio::test]
async fn a_failed_preparation_changes_nothing_and_says_so() {
    let (cluster, operator) = rotating_database_password().await;
    ask_rotation(&cluster, "db-1");
    wait_for(&cluster, "the preparation Job", |c| {
        !jobs_named(c, "tgtg-db-prepare-").is_empty()
    })
    .await;
    let password = credential(&cluster, "password");
    for path in jobs_named(&cluster, "tgtg-db-prepare-") {
        cluster.server.edit(&path, |j| {
            j["status"] = json!({"failed": 4, "conditions": [{"type": "Failed", "status": "True",
                "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]});
        });
    }
    wait_for(&cluster, "the rotation given up", |c| {
        database_rotation(c).is_null()
    })
    .await;
    poke(&cluster, &operator).await;
    assert_eq!(credential(&cluster, "username"), "toogoodtogo");
    assert_eq!(credential(&cluster, "password"), password);
    assert_eq!(credential(&cluster, "pending-password"), "");
    assert_eq!(events_with(&cluster, "RotationFailed").len(), 1);
    assert_eq!(
        events_with(&cluster, "RotationFailed")[0]["type"],
        "Warning"
    );
}

// ---- RBAC ----

/// The (group, resource, verb) an authorizer sees for a request: a GET with `watch=true` is
/// `watch`.
fn authorized_as(
    request: &crate::testing::api_server::Recorded,
) -> Option<(String, String, String)> {
    let (group, resource, verb) = crate::rbac::classify(&request.method, &request.path)?;
    let verb = match request.query.split('&').any(|p| p == "watch=true") {
        true => "watch",
        false => verb,
    };
    Some((group, resource, verb.to_owned()))
}

#[tokio::test]
async fn every_request_of_the_running_controller_is_covered_by_the_rbac_rules() {
    let mut requests = Vec::new();

    // A missing Secret, then created; a deleted Service repaired; the database volume grown.
    let cluster = Cluster::new();
    let token = crate::double_tests::core("secrets", "tgtg-telegram");
    let secret = cluster.server.get(&token).unwrap_or_default();
    cluster.server.delete(&token);
    cluster.create_resource("minimal.yaml");
    let operator = Operator::of(&cluster);
    wait_for(&cluster, "Degraded", |c| phase(c) == "Degraded").await;
    cluster.server.create(&token, secret);
    settle(&cluster, &operator).await;
    let service = crate::double_tests::core("services", "tgtg-bot");
    cluster.server.delete(&service);
    wait_for(&cluster, "the Service back", |c| c.server.exists(&service)).await;
    resize_to(&cluster, "10Gi");
    wait_for(&cluster, "the claim expanded", |c| {
        claimed(c, DATA_VOLUME) == "10Gi"
    })
    .await;
    drop(operator);
    requests.extend(cluster.server.take_requests());

    // Scaled out with autoscaling and a ServiceMonitor, then back to one replica: prunes.
    let scaled = Cluster::new();
    scaled.server.install(
        "monitoring.coreos.com/v1",
        &[("ServiceMonitor", "servicemonitors")],
    );
    scaled.create_resource("production.yaml");
    let operator = Operator::of(&scaled);
    settle(&scaled, &operator).await;
    let pdb = group("policy/v1", "poddisruptionbudgets", "tgtg-bot");
    let ingress = group("networking.k8s.io/v1", "ingresses", "tgtg");
    assert!(scaled.server.exists(&pdb) && scaled.server.exists(&ingress));
    scaled.server.edit(CR, |cr| {
        cr["spec"]["replicas"] = json!(1);
        cr["spec"]["autoscaling"] = Value::Null;
        cr["spec"]["ingress"] = Value::Null;
    });
    wait_for(&scaled, "pruned", |c| {
        !c.server.exists(&pdb) && !c.server.exists(&ingress)
    })
    .await;
    drop(operator);
    requests.extend(scaled.server.take_requests());

    let uncovered: Vec<String> = requests
        .iter()
        .filter(|r| {
            authorized_as(r).is_some_and(|(group, resource, verb)| {
                !crate::rbac::CONTROLLER_RULES.iter().any(|rule| {
                    rule.api_group == group
                        && rule.resources.contains(&resource.as_str())
                        && rule.verbs.contains(&verb.as_str())
                })
            })
        })
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect();
    assert_eq!(uncovered, Vec::<String>::new());
    let verbs: std::collections::BTreeSet<String> = requests
        .iter()
        .filter_map(|r| authorized_as(r).map(|a| a.2))
        .collect();
    assert_eq!(
        verbs,
        ["create", "delete", "get", "list", "patch", "watch"]
            .map(str::to_owned)
            .into(),
        "the scenarios exercise every verb"
    );
}
