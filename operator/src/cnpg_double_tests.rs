//! `spec.database.cloudNativePG` on the API double: the CloudNativePG `Cluster` the operator
//! creates, the conditions it reads from the Cluster's status (waiting, ready, failover in
//! progress), a cluster without CloudNativePG, and the data kept on a switch and on deletion.

use kube::runtime::controller::Action;
use serde_json::{Value, json};

use crate::controller::PROGRESS_REQUEUE;
use crate::double_tests::{CR, Cluster, core, group};

const CNPG: &str = "/apis/postgresql.cnpg.io/v1/namespaces/shop/clusters/tgtg-cnpg";
const BOT: &str = "/apis/apps/v1/namespaces/shop/deployments/tgtg-bot";

fn get(cluster: &Cluster, path: &str) -> Value {
    cluster.server.get(path).unwrap_or_default()
}

fn env(container: &Value, name: &str) -> Value {
    container["env"]
        .as_array()
        .and_then(|vars| vars.iter().find(|v| v["name"] == name).cloned())
        .unwrap_or_default()
}

fn set_cluster_status(cluster: &Cluster, status: Value) {
    cluster.server.edit(CNPG, |c| c["status"] = status);
}

fn healthy(primary: &str) -> Value {
    json!({"phase": "Cluster in healthy state", "instances": 3, "readyInstances": 3,
        "currentPrimary": primary, "targetPrimary": primary,
        "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterIsReady"}]})
}

#[tokio::test]
async fn without_cloudnativepg_the_resource_says_what_to_install_and_nothing_else_breaks() {
    let cluster = Cluster::new();
    cluster.create_resource("ha.yaml");
    cluster.reconcile_ok().await;

    let database = cluster.condition("DatabaseReady");
    assert_eq!(database["status"], "False");
    assert_eq!(database["reason"], "CloudNativePGNotInstalled");
    let message = database["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("postgresql.cnpg.io/v1")
            && message.contains("install the CloudNativePG operator"),
        "{message}"
    );
    assert_eq!(
        cluster.condition("Degraded")["reason"],
        "CloudNativePGNotInstalled"
    );
    assert_eq!(cluster.resource()["status"]["phase"], "Degraded");
    assert!(!cluster.server.exists(CNPG));
    // What does not need the database is there; the bot and its migration wait for it.
    for made in [
        core("configmaps", "tgtg-config"),
        core("secrets", "tgtg-generated"),
        group("apps/v1", "deployments", "tgtg-redis"),
        core("services", "tgtg-bot"),
    ] {
        assert!(cluster.server.exists(&made), "{made}");
    }
    assert!(!cluster.server.exists(BOT));
    assert!(
        cluster
            .server
            .paths("/apis/batch/v1/namespaces/shop/jobs/")
            .is_empty(),
        "no migration Job runs against a database that cannot exist"
    );
    cluster.server.take_changes();
    cluster.reconcile_ok().await;
    assert_eq!(
        cluster.server.take_changes(),
        Vec::<String>::new(),
        "waiting for CloudNativePG writes nothing"
    );

    cluster.install_cloudnativepg();
    cluster.converge().await;
    assert!(cluster.server.exists(CNPG));
    assert_eq!(cluster.condition("DatabaseReady")["reason"], "ClusterReady");
    assert_eq!(cluster.condition("Degraded")["status"], "False");
}

#[tokio::test]
async fn the_cluster_is_created_with_the_bots_database_and_the_bot_and_jobs_use_its_primary() {
    let cluster = Cluster::with_sample("ha.yaml");
    cluster.reconcile_ok().await;
    let cnpg = get(&cluster, CNPG);
    assert_eq!(cnpg["kind"], "Cluster");
    let spec = &cnpg["spec"];
    assert_eq!(
        spec["bootstrap"]["initdb"],
        json!({"database": "toogoodtogo", "owner": "toogoodtogo"})
    );
    assert_eq!(spec["instances"], 3);
    assert_eq!(spec["imageName"], "ghcr.io/cloudnative-pg/postgresql:16.6");
    assert_eq!(
        spec["storage"],
        json!({"size": "20Gi", "storageClass": "fast-ssd"})
    );
    assert_eq!(spec["resources"]["requests"]["cpu"], "250m");
    assert_eq!(
        spec["backup"]["barmanObjectStore"]["destinationPath"],
        "s3://tgtg-backups/cnpg"
    );
    assert_eq!(spec["backup"]["retentionPolicy"], "30d");
    assert_eq!(
        cnpg["metadata"]["labels"]["app.kubernetes.io/instance"],
        "tgtg"
    );
    assert_eq!(
        cluster.condition("DatabaseReady")["reason"],
        "WaitingForCluster"
    );

    cluster.converge().await;
    let bot = get(&cluster, BOT)["spec"]["template"]["spec"]["containers"][0].clone();
    assert_eq!(
        env(&bot, "DATABASE_URL")["valueFrom"]["secretKeyRef"],
        json!({"name": "tgtg-cnpg-app", "key": "uri"})
    );
    assert_eq!(env(&bot, "POSTGRES_PASSWORD"), Value::Null);
    // The scheduled logical dumps go through the Service that follows the primary.
    let backup =
        get(&cluster, &group("batch/v1", "cronjobs", "tgtg-backup"))["spec"]["jobTemplate"]["spec"]
            ["template"]["spec"]["containers"][0]
            .clone();
    assert_eq!(env(&backup, "PGHOST")["value"], "tgtg-cnpg-rw");
    assert_eq!(
        env(&backup, "PGPASSWORD")["valueFrom"]["secretKeyRef"],
        json!({"name": "tgtg-cnpg-app", "key": "password"})
    );
    assert_eq!(
        env(&backup, "PGUSER")["valueFrom"]["secretKeyRef"]["name"],
        "tgtg-cnpg-app"
    );
    // The bot and the Jobs reach the cluster's pods; the instances and CloudNativePG still
    // reach each other.
    let policy = get(
        &cluster,
        &group("networking.k8s.io/v1", "networkpolicies", "tgtg-postgres"),
    );
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"],
        json!({"cnpg.io/cluster": "tgtg-cnpg"})
    );
    let rules = policy["spec"]["ingress"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        rules[0]["from"][0]["podSelector"]["matchLabels"]["toogoodtogo.io/database-client"],
        "true"
    );
    assert_eq!(
        rules[1]["from"][0]["podSelector"]["matchLabels"],
        json!({"cnpg.io/cluster": "tgtg-cnpg"})
    );
    assert_eq!(rules[2]["ports"][0]["port"], 8000);
    let bot_labels = &get(&cluster, BOT)["spec"]["template"]["metadata"]["labels"];
    assert_eq!(bot_labels["toogoodtogo.io/database-client"], "true");
    assert!(
        !cluster
            .server
            .exists(&group("apps/v1", "statefulsets", "tgtg-postgres"))
    );
}

#[tokio::test]
async fn the_resource_waits_for_the_cluster_then_migrates_once_it_is_ready() {
    let cluster = Cluster::with_sample("ha.yaml");
    cluster.reconcile_ok().await;
    set_cluster_status(
        &cluster,
        json!({"phase": "Setting up primary", "targetPrimary": "tgtg-cnpg-1",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ClusterIsNotReady"}]}),
    );
    let action = cluster.reconcile().await;
    assert_eq!(
        action.ok(),
        Some(Action::requeue(PROGRESS_REQUEUE)),
        "a cluster coming up is looked at again soon, watched or not"
    );
    let database = cluster.condition("DatabaseReady");
    assert_eq!(database["status"], "False");
    assert_eq!(database["reason"], "WaitingForCluster");
    assert!(
        database["message"]
            .as_str()
            .is_some_and(|m| m.contains("Setting up primary")),
        "{database}"
    );
    assert_eq!(
        cluster.condition("Progressing")["reason"],
        "WaitingForDatabase"
    );
    let migration = group("batch/v1", "jobs", "tgtg-migrate-1.4.2");
    assert!(!cluster.server.exists(&migration));

    set_cluster_status(&cluster, healthy("tgtg-cnpg-1"));
    cluster.reconcile_ok().await;
    let database = cluster.condition("DatabaseReady");
    assert_eq!(database["status"], "True");
    assert_eq!(database["reason"], "ClusterReady");
    assert!(
        database["message"]
            .as_str()
            .is_some_and(|m| m.contains("tgtg-cnpg-1")),
        "{database}"
    );
    assert!(cluster.server.exists(&migration));
    cluster.converge().await;
    assert_eq!(cluster.resource()["status"]["phase"], "Ready");
}

#[tokio::test]
async fn a_failover_in_progress_is_reported_and_the_rest_is_left_alone() {
    let cluster = Cluster::with_sample("ha.yaml");
    cluster.converge().await;
    cluster.server.take_changes();

    set_cluster_status(
        &cluster,
        json!({"phase": "Failing over", "phaseReason": "Failing over from tgtg-cnpg-1 to tgtg-cnpg-2",
            "currentPrimary": "tgtg-cnpg-1", "targetPrimary": "tgtg-cnpg-2",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ClusterIsNotReady"}]}),
    );
    cluster.server.take_changes();
    let action = cluster.reconcile().await;
    assert_eq!(action.ok(), Some(Action::requeue(PROGRESS_REQUEUE)));
    let database = cluster.condition("DatabaseReady");
    assert_eq!(database["status"], "False");
    assert_eq!(database["reason"], "FailoverInProgress");
    let message = database["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("tgtg-cnpg-2") && message.contains("tgtg-cnpg-rw"),
        "{message}"
    );
    assert_eq!(
        cluster.server.take_changes(),
        vec![CR.to_owned()],
        "only the status changes: the bot keeps running and reconnects on its own"
    );

    set_cluster_status(&cluster, healthy("tgtg-cnpg-2"));
    cluster.reconcile_ok().await;
    let database = cluster.condition("DatabaseReady");
    assert_eq!(database["reason"], "ClusterReady");
    assert!(
        database["message"]
            .as_str()
            .is_some_and(|m| m.contains("its primary is tgtg-cnpg-2")),
        "{database}"
    );
}

#[tokio::test]
async fn a_converged_cloudnativepg_platform_sends_no_writes_and_needs_only_its_rbac() {
    let cluster = Cluster::with_sample("ha.yaml");
    cluster.converge().await;
    let refused: Vec<String> = cluster
        .server
        .take_requests()
        .iter()
        .filter(|r| !crate::rbac::allows(crate::rbac::CONTROLLER_RULES, &r.method, &r.path))
        .map(crate::testing::api_server::Recorded::line)
        .collect();
    assert_eq!(
        refused,
        Vec::<String>::new(),
        "requests the RBAC rules do not allow"
    );
    cluster.server.take_changes();
    for _ in 0..3 {
        cluster.reconcile_ok().await;
    }
    let writes: Vec<String> = cluster
        .server
        .take_requests()
        .iter()
        .filter(|r| r.method != http::Method::GET)
        .map(crate::testing::api_server::Recorded::line)
        .collect();
    assert_eq!(writes, Vec::<String>::new());
    assert_eq!(cluster.server.take_changes(), Vec::<String>::new());
}

#[tokio::test]
async fn switching_from_the_managed_database_to_cloudnativepg_keeps_the_managed_data() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    let data = core("persistentvolumeclaims", "data-tgtg-postgres-0");
    let credentials = core("secrets", "tgtg-postgres-credentials");
    let volume_uid = get(&cluster, &data)["metadata"]["uid"].clone();
    assert_ne!(volume_uid, Value::Null);

    cluster.install_cloudnativepg();
    cluster.server.edit(CR, |cr| {
        cr["spec"]["database"] = json!({"cloudNativePG": {"storage": {"size": "20Gi"}}});
    });
    cluster.converge().await;
    assert!(cluster.server.exists(CNPG));
    assert_eq!(
        get(&cluster, &data)["metadata"]["uid"],
        volume_uid,
        "the managed database's volume stays for a restore or a switch back"
    );
    assert!(
        cluster.server.exists(&credentials),
        "and the passwords it knows"
    );
    assert!(
        !cluster.server.exists(&core("services", "tgtg-postgres")),
        "what served the managed database goes"
    );
    let policy = group("networking.k8s.io/v1", "networkpolicies", "tgtg-postgres");
    assert_eq!(
        get(&cluster, &policy)["spec"]["podSelector"]["matchLabels"],
        json!({"cnpg.io/cluster": "tgtg-cnpg"}),
        "the database's policy now admits the clients to the cluster's pods"
    );

    // Back to the managed database: the CloudNativePG cluster and its volumes stay too.
    cluster.server.edit(CR, |cr| {
        cr["spec"]["database"] = json!({"managed": {"version": "16", "storage": {"size": "20Gi"}}});
    });
    cluster.converge().await;
    assert!(cluster.server.exists(CNPG));
    assert!(
        cluster
            .server
            .exists(&core("persistentvolumeclaims", "tgtg-cnpg-1"))
    );
    assert_eq!(
        get(&cluster, &policy)["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"],
        "database"
    );
}

#[tokio::test]
async fn by_default_deleting_the_resource_keeps_the_cluster_and_a_new_resource_adopts_it() {
    let cluster = Cluster::with_sample("ha.yaml");
    cluster.converge().await;
    let uid = get(&cluster, CNPG)["metadata"]["uid"].clone();

    cluster.server.delete(CR);
    assert!(
        !cluster.server.exists(BOT),
        "owned objects are garbage-collected"
    );
    assert_eq!(
        get(&cluster, CNPG)["metadata"]["uid"],
        uid,
        "the cluster is kept"
    );
    assert_eq!(
        get(&cluster, CNPG)["metadata"]["labels"]["app.kubernetes.io/instance"],
        "tgtg",
        "it says which platform it belonged to"
    );
    for instance in 1..=3 {
        let volume = core("persistentvolumeclaims", &format!("tgtg-cnpg-{instance}"));
        assert!(cluster.server.exists(&volume), "{volume}");
    }

    cluster.create_resource("ha.yaml");
    cluster.converge().await;
    assert_eq!(
        get(&cluster, CNPG)["metadata"]["uid"],
        uid,
        "adopted, not recreated"
    );
    assert_eq!(cluster.condition("DatabaseReady")["reason"], "ClusterReady");
}

#[tokio::test]
async fn with_deletion_policy_delete_the_cluster_and_its_volumes_go_with_the_resource() {
    let cluster = Cluster::new();
    cluster.install_cloudnativepg();
    let mut cr = serde_json::to_value(crate::testing::sample("ha.yaml")).unwrap_or_default();
    cr["spec"]["deletionPolicy"] = json!("Delete");
    cluster.server.create(CR, cr);
    cluster.converge().await;
    assert!(
        cluster
            .server
            .exists(&core("persistentvolumeclaims", "tgtg-cnpg-1"))
    );
    cluster.server.delete(CR);
    assert!(!cluster.server.exists(CNPG));
    assert!(
        !cluster
            .server
            .exists(&core("persistentvolumeclaims", "tgtg-cnpg-1"))
    );
    assert!(
        cluster
            .server
            .exists(&core("persistentvolumeclaims", "tgtg-backups")),
        "the logical backups are always kept"
    );
}

#[tokio::test]
async fn a_dry_run_restore_of_a_cloudnativepg_platform_uses_its_superuser_through_the_primary() {
    let cluster = Cluster::with_sample("ha.yaml");
    cluster.converge().await;
    cluster.server.create(
        &group("toogoodtogo.io/v1alpha1", "restores", "check"),
        json!({"apiVersion": "toogoodtogo.io/v1alpha1", "kind": "Restore",
            "spec": {"toogoodtogo": "tgtg", "file": "toogoodtogo_20261129_030000.sql.gz",
                     "dryRun": true}}),
    );
    cluster.reconcile_ok().await;
    cluster.reconcile_ok().await;
    let job = get(&cluster, &group("batch/v1", "jobs", "check-verify"));
    let container = job["spec"]["template"]["spec"]["containers"][0].clone();
    assert_eq!(
        env(&container, "PGHOST")["value"],
        "tgtg-cnpg-rw",
        "{job:#}"
    );
    assert_eq!(
        env(&container, "PGPASSWORD")["valueFrom"]["secretKeyRef"],
        json!({"name": "tgtg-cnpg-superuser", "key": "password"})
    );
    assert_eq!(
        env(&container, "PGUSER")["valueFrom"]["secretKeyRef"]["name"],
        "tgtg-cnpg-superuser"
    );
}

#[tokio::test]
async fn the_database_password_is_not_rotated_on_cloudnativepg_which_owns_the_app_secret() {
    let cluster = Cluster::new();
    cluster.install_cloudnativepg();
    let mut cr = serde_json::to_value(crate::testing::sample("ha.yaml")).unwrap_or_default();
    cr["spec"]["secretRotation"] = json!({"databasePassword": true, "intervalDays": 1});
    cluster.server.create(CR, cr);
    cluster.converge().await;
    cluster.server.edit(CR, |cr| {
        cr["metadata"]["annotations"] = json!({"toogoodtogo.io/rotate": "now"})
    });
    cluster.reconcile_ok().await;
    let jobs = cluster.server.paths("/apis/batch/v1/namespaces/shop/jobs/");
    assert!(
        jobs.iter().all(|j| !j.contains("tgtg-db-")),
        "no password rotation Job: {jobs:?}"
    );
    assert_eq!(
        cluster.resource()["status"]["secretRotation"]["databaseRotation"],
        Value::Null
    );
    assert!(
        !cluster
            .server
            .exists(&core("secrets", "tgtg-postgres-credentials"))
    );
}

/// Wait, at most `within`, until `reached` holds (the cluster's controllers may act meanwhile).
async fn wait_until(
    cluster: &Cluster,
    what: &str,
    within: std::time::Duration,
    mut reached: impl FnMut(&Cluster) -> bool,
) {
    let deadline = tokio::time::Instant::now() + within;
    while !reached(cluster) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}; status {:#}",
            cluster.resource()["status"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Under the running controller a failover shows in the status as it happens: the Cluster is
/// watched, while the next periodic look at a Ready platform is minutes away (and a look of
/// the rollout, 15 s, longer than this test waits).
#[tokio::test]
async fn under_the_running_controller_a_failover_shows_as_it_happens() {
    let cluster = Cluster::with_sample("ha.yaml");
    let ctx = cluster.ctx.clone();
    let operator = tokio::spawn(async move {
        if let Err(error) = crate::controller::run(ctx, Some(crate::double_tests::NS)).await {
            panic!("the controller did not start: {error}");
        }
    });
    wait_until(&cluster, "Ready", std::time::Duration::from_secs(30), |c| {
        c.controllers_act();
        c.resource()["status"]["phase"] == "Ready"
    })
    .await;

    set_cluster_status(
        &cluster,
        json!({"phase": "Failing over", "currentPrimary": "tgtg-cnpg-1",
            "targetPrimary": "tgtg-cnpg-2",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ClusterIsNotReady"}]}),
    );
    let quickly = std::time::Duration::from_secs(5);
    wait_until(&cluster, "FailoverInProgress", quickly, |c| {
        c.condition("DatabaseReady")["reason"] == "FailoverInProgress"
    })
    .await;
    set_cluster_status(&cluster, healthy("tgtg-cnpg-2"));
    wait_until(&cluster, "the new primary", quickly, |c| {
        c.condition("DatabaseReady")["message"]
            .as_str()
            .is_some_and(|m| m.contains("its primary is tgtg-cnpg-2"))
    })
    .await;
    operator.abort();
}

#[tokio::test]
async fn with_deletion_policy_backup_the_cluster_goes_only_after_a_final_logical_backup_of_it() {
    let cluster = Cluster::new();
    cluster.install_cloudnativepg();
    let mut cr = serde_json::to_value(crate::testing::sample("ha.yaml")).unwrap_or_default();
    cr["spec"]["deletionPolicy"] = json!("Backup");
    cluster.server.create(CR, cr);
    cluster.converge().await;
    cluster.server.delete(CR);
    cluster.reconcile_ok().await;
    let final_backup = group("toogoodtogo.io/v1alpha1", "backups", "tgtg-final");
    assert!(cluster.server.exists(&final_backup));
    assert!(
        cluster.server.exists(CNPG),
        "the cluster runs for the backup"
    );
    let job = cluster
        .server
        .paths("/apis/batch/v1/namespaces/shop/jobs/tgtg-final")
        .first()
        .map(|path| get(&cluster, path))
        .unwrap_or_default();
    let container = job["spec"]["template"]["spec"]["containers"][0].clone();
    assert_eq!(
        env(&container, "PGHOST")["value"],
        "tgtg-cnpg-rw",
        "{job:#}"
    );

    cluster.server.edit(&final_backup, |b| {
        b["status"] = json!({"phase": "Completed", "file": "toogoodtogo_20261129_100000.sql.gz"});
    });
    cluster.reconcile_ok().await;
    assert!(!cluster.server.exists(CR));
    assert!(!cluster.server.exists(CNPG));
    assert!(
        !cluster
            .server
            .exists(&core("persistentvolumeclaims", "tgtg-cnpg-1"))
    );
    assert!(cluster.server.exists(&final_backup), "the backup stays");
}
