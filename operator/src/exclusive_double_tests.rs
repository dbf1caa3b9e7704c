//! Restores and upgrades on the API double: whichever started first finishes first, a migration
//! from before a restore runs again, and a failed post-restore migration keeps the bot stopped.

use serde_json::{Value, json};

use crate::double_tests::{CR, Cluster, core, group};

const BOT: &str = "/apis/apps/v1/namespaces/shop/deployments/tgtg-bot";

fn restore_path(name: &str) -> String {
    group("toogoodtogo.io/v1alpha1", "restores", name)
}

fn job_path(name: &str) -> String {
    group("batch/v1", "jobs", name)
}

fn backup_path(name: &str) -> String {
    group("toogoodtogo.io/v1alpha1", "backups", name)
}

fn get(cluster: &Cluster, path: &str) -> Value {
    cluster.server.get(path).unwrap_or_default()
}

fn image(cluster: &Cluster) -> String {
    get(cluster, BOT)["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn labels(component: &str) -> Value {
    json!({"app.kubernetes.io/name": "toogoodtogo", "app.kubernetes.io/instance": "tgtg",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "toogoodtogo-operator"})
}

/// A Restore of `tgtg` as a user creates it, with the status earlier reconciles left.
fn restore(cluster: &Cluster, name: &str, status: Value) {
    cluster.server.create(
        &restore_path(name),
        json!({"apiVersion": "toogoodtogo.io/v1alpha1", "kind": "Restore",
            "spec": {"toogoodtogo": "tgtg", "file": "toogoodtogo_20261129_030000.sql.gz",
                     "dryRun": false},
            "status": status}),
    );
}

/// The restore Job of `restore`, running.
fn restore_job(cluster: &Cluster, restore: &str) {
    cluster.server.create(
        &job_path(&format!("{restore}-restore")),
        json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"labels": labels("restore")},
            "spec": {"template": {"spec": {"containers": [{"name": "migrate", "image": "x"}]}}},
            "status": {"active": 1, "startTime": "2026-11-29T09:00:00Z"}}),
    );
}

fn production_without_pre_deployment_backup() -> Cluster {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.server.edit(CR, |cr| {
        cr["spec"]["backup"]["preDeployment"] = json!(false);
    });
    cluster
}

#[tokio::test]
async fn a_version_change_during_a_restore_waits_for_it_and_then_migrates_the_restored_database() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    restore(
        &cluster,
        "r1",
        json!({"phase": "Restoring", "file": "toogoodtogo_20261129_030000.sql.gz",
            "safetyBackup": "r1-safety", "startTime": "2026-11-29T09:00:00Z"}),
    );
    restore_job(&cluster, "r1");
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["version"] = json!("1.5.0"));
    for _ in 0..3 {
        cluster.reconcile_ok().await;
        cluster.controllers_act();
    }
    assert!(
        !cluster.server.exists(&job_path("tgtg-migrate-1.5.0")),
        "no migration while the database is replaced"
    );
    assert!(
        cluster
            .server
            .paths(&backup_path(""))
            .iter()
            .all(|p| !p.contains("pre-deployment")),
        "no pre-deployment backup either: {:?}",
        cluster.server.paths(&backup_path(""))
    );
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2");
    let progressing = cluster.condition("Progressing");
    assert_eq!(progressing["reason"], "WaitingForRestore", "{progressing}");
    assert!(
        progressing["message"]
            .as_str()
            .is_some_and(|m| m.contains("1.5.0") && m.contains("r1")),
        "{progressing}"
    );

    // The restore ends; the upgrade goes its way: backup, migration of the restored database,
    // rollout.
    cluster.server.edit(&job_path("r1-restore"), |j| {
        j["status"] = json!({"succeeded": 1, "startTime": "2026-11-29T09:00:00Z",
            "completionTime": "2026-11-29T09:05:00Z"});
    });
    // The restore ends once the bot is ready on the restored database.
    for _ in 0..3 {
        cluster.reconcile_ok().await;
        cluster.controllers_act();
    }
    assert_eq!(
        get(&cluster, &restore_path("r1"))["status"]["phase"],
        "Completed"
    );
    for _ in 0..6 {
        cluster.reconcile_ok().await;
        cluster.controllers_act();
        for path in cluster.server.paths(&backup_path("")) {
            if path.contains("pre-deployment") {
                cluster.server.edit(&path, |b| {
                    b["status"] = json!({"phase": "Completed",
                        "file": "toogoodtogo_20261129_100000_pre_deployment.sql.gz"});
                });
            }
        }
    }
    assert!(cluster.server.exists(&job_path("tgtg-migrate-1.5.0")));
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.5.0");
}

#[tokio::test]
async fn a_restore_requested_during_an_upgrade_waits_until_the_new_version_is_available() {
    let cluster = production_without_pre_deployment_backup();
    cluster.converge().await;
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["version"] = json!("1.5.0"));
    cluster.reconcile_ok().await;
    assert!(cluster.server.exists(&job_path("tgtg-migrate-1.5.0")));
    restore(&cluster, "r2", Value::Null);
    let waits = |cluster: &Cluster| {
        let status = get(cluster, &restore_path("r2"))["status"].clone();
        assert_eq!(status["phase"], "Pending", "{status}");
        assert!(
            status["message"]
                .as_str()
                .is_some_and(|m| m.contains("waiting for the upgrade to version 1.5.0")),
            "{status}"
        );
        assert!(!cluster.server.exists(&job_path("r2-verify")));
    };
    cluster.reconcile_ok().await;
    waits(&cluster);
    // The migration succeeds, the Deployment moves: the rollout is still the upgrade's.
    cluster.server.edit(&job_path("tgtg-migrate-1.5.0"), |j| {
        j["status"] = json!({"succeeded": 1, "completionTime": "2026-11-29T10:00:00Z"});
    });
    cluster.reconcile_ok().await;
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.5.0");
    cluster.reconcile_ok().await;
    waits(&cluster);
    assert_ne!(
        cluster.condition("Progressing")["reason"],
        "Restoring",
        "a held restore does not block the rollout from completing"
    );
    // The new version is available and under analysis: the restore still waits, since a
    // failing analysis would roll the version back under it.
    for _ in 0..3 {
        cluster.controllers_act();
        cluster.reconcile_ok().await;
    }
    assert_eq!(cluster.condition("Progressing")["reason"], "Analysing");
    waits(&cluster);
    // The analysis window ends (it began long ago): now the restore starts.
    cluster.server.edit(CR, |cr| {
        cr["status"]["analysis"]["since"] = json!("2026-11-29T10:00:00Z");
    });
    for _ in 0..3 {
        cluster.controllers_act();
        cluster.reconcile_ok().await;
    }
    assert_eq!(cluster.resource()["status"]["lastGoodVersion"], "1.5.0");
    assert_eq!(
        get(&cluster, &restore_path("r2"))["status"]["phase"],
        "Verifying"
    );
    assert!(cluster.server.exists(&job_path("r2-verify")));
}

#[tokio::test]
async fn a_migration_that_succeeded_before_a_restore_runs_again() {
    let cluster = production_without_pre_deployment_backup();
    cluster.converge().await;
    let migration = job_path("tgtg-migrate-1.5.0");
    cluster.server.create(
        &migration,
        json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"labels": labels("migration")},
            "spec": {"template": {"spec": {"containers": [{"name": "migrate", "image": "x"}]}}},
            "status": {"succeeded": 1, "completionTime": "2026-11-29T08:00:00Z"}}),
    );
    let before = get(&cluster, &migration)["metadata"]["uid"].clone();
    restore(
        &cluster,
        "r3",
        json!({"phase": "Completed", "completionTime": "2026-11-29T09:00:00Z"}),
    );
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["version"] = json!("1.5.0"));
    cluster.reconcile_ok().await;
    assert_eq!(
        image(&cluster),
        "toogoodtogo/bot:1.4.2",
        "the old success does not move the Deployment"
    );
    let job = get(&cluster, &migration);
    assert_ne!(
        job["metadata"]["uid"], before,
        "a new Job migrates the restored database"
    );
    assert!(job["status"].get("succeeded").is_none(), "{job}");
    cluster.controllers_act();
    cluster.reconcile_ok().await;
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.5.0");
}

#[tokio::test]
async fn a_failed_migration_after_a_restore_keeps_the_bot_at_zero_and_names_the_safety_backup() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    restore(
        &cluster,
        "r4",
        json!({"phase": "Restoring", "file": "toogoodtogo_20261129_030000.sql.gz",
            "safetyBackup": "r4-safety", "startTime": "2026-11-29T09:00:00Z"}),
    );
    restore_job(&cluster, "r4");
    cluster.reconcile_ok().await;
    assert_eq!(get(&cluster, BOT)["spec"]["replicas"], 0);
    cluster.server.edit(&job_path("r4-restore"), |j| {
        j["status"] = json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True",
            "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]});
    });
    cluster.server.create(
        &core("pods", "r4-restore-x7k2p"),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"job-name": "r4-restore"}},
            "status": {
                "initContainerStatuses": [{"name": "restore", "ready": false, "restartCount": 0,
                    "image": "postgres:16-alpine", "imageID": "",
                    "state": {"terminated": {"exitCode": 0}}}],
                "containerStatuses": [{"name": "migrate", "ready": false, "restartCount": 0,
                    "image": "toogoodtogo/bot:1.4.2", "imageID": "",
                    "state": {"terminated": {"exitCode": 1,
                        "message": "error: migration 0042 failed: column \"units\" already exists"}}}]}}),
    );
    for _ in 0..3 {
        cluster.reconcile().await.ok();
        cluster.controllers_act();
    }
    let status = get(&cluster, &restore_path("r4"))["status"].clone();
    assert_eq!(status["phase"], "Failed", "{status}");
    assert_eq!(status["migrationFailed"], true, "{status}");
    assert_eq!(
        get(&cluster, BOT)["spec"]["replicas"],
        0,
        "the running version must not serve a database it could not migrate"
    );
    let degraded = cluster.condition("Degraded");
    assert_eq!(
        degraded["reason"], "PostRestoreMigrationFailed",
        "{degraded}"
    );
    assert!(
        degraded["message"]
            .as_str()
            .is_some_and(|m| m.contains("r4-safety") && m.contains("column \"units\"")),
        "{degraded}"
    );
    assert_eq!(cluster.resource()["status"]["phase"], "Failed");

    // Deleting the failed Restore (the cause fixed by hand) starts the bot again.
    cluster.server.delete(&restore_path("r4"));
    cluster.reconcile_ok().await;
    assert_eq!(get(&cluster, BOT)["spec"]["replicas"], 3);
}

#[tokio::test]
async fn a_failed_migration_does_not_hold_a_restore() {
    let cluster = production_without_pre_deployment_backup();
    cluster.converge().await;
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["version"] = json!("1.5.0"));
    cluster.reconcile_ok().await;
    cluster.server.edit(&job_path("tgtg-migrate-1.5.0"), |j| {
        j["status"] = json!({"failed": 7, "conditions": [{"type": "Failed", "status": "True",
            "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]});
    });
    cluster.reconcile().await.ok();
    assert_eq!(cluster.condition("Degraded")["reason"], "MigrationFailed");
    // Restoring the database is a way out of a failed migration: it is not held.
    restore(&cluster, "r6", Value::Null);
    cluster.reconcile().await.ok();
    assert_eq!(
        get(&cluster, &restore_path("r6"))["status"]["phase"],
        "Verifying"
    );
}
