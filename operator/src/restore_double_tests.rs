//! The end of a restore on the API double: `Completed` only once the bot's replicas are ready on
//! the restored database, and a bot that does not come back within its progress deadline fails
//! the restore and leaves the platform Degraded `RestoredBotNotReady` until it is ready.

use serde_json::{Value, json};

use crate::double_tests::{Cluster, group};

const BOT: &str = "/apis/apps/v1/namespaces/shop/deployments/tgtg-bot";

fn restore_path(name: &str) -> String {
    group("toogoodtogo.io/v1alpha1", "restores", name)
}

fn job_path(name: &str) -> String {
    group("batch/v1", "jobs", name)
}

fn restore_status(cluster: &Cluster) -> Value {
    cluster.server.get(&restore_path("r")).unwrap_or_default()["status"].clone()
}

fn replicas(cluster: &Cluster) -> Value {
    cluster.server.get(BOT).unwrap_or_default()["spec"]["replicas"].clone()
}

/// Production, converged, with a Restore `r` whose restore Job has just succeeded: the database
/// is replaced and migrated, the bot is still at zero replicas.
async fn database_restored() -> Cluster {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    cluster.server.create(
        &restore_path("r"),
        json!({"apiVersion": "toogoodtogo.io/v1alpha1", "kind": "Restore",
            "spec": {"toogoodtogo": "tgtg", "file": "toogoodtogo_20261129_030000.sql.gz",
                     "dryRun": false},
            "status": {"phase": "Restoring", "file": "toogoodtogo_20261129_030000.sql.gz",
                "safetyBackup": "r-safety", "startTime": "2026-11-29T09:00:00Z"}}),
    );
    cluster.server.create(
        &job_path("r-restore"),
        json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"labels": {"app.kubernetes.io/name": "toogoodtogo",
                "app.kubernetes.io/instance": "tgtg", "app.kubernetes.io/component": "restore",
                "app.kubernetes.io/managed-by": "toogoodtogo-operator"}},
            "spec": {"template": {"spec": {"containers": [{"name": "migrate", "image": "x"}]}}},
            "status": {"active": 1, "startTime": "2026-11-29T09:00:00Z"}}),
    );
    cluster.reconcile_ok().await;
    cluster.controllers_act();
    assert_eq!(
        replicas(&cluster),
        0,
        "the bot is stopped while the database is replaced"
    );
    cluster.server.edit(&job_path("r-restore"), |j| {
        j["status"] = json!({"succeeded": 1, "startTime": "2026-11-29T09:00:00Z",
            "completionTime": "2026-11-29T09:05:00Z"});
    });
    cluster.reconcile_ok().await;
    cluster
}

#[tokio::test]
async fn a_restore_completes_only_when_the_bot_is_ready_on_the_restored_database() {
    let cluster = database_restored().await;
    let status = restore_status(&cluster);
    assert_eq!(status["phase"], "ScalingUp", "{status}");
    assert!(status["restoredTime"].is_string(), "{status}");
    assert_eq!(cluster.condition("Ready")["reason"], "Restoring");

    // The bot is scaled back; its pods are not ready yet.
    cluster.reconcile_ok().await;
    assert_eq!(replicas(&cluster), 3);
    cluster.reconcile_ok().await;
    assert_eq!(restore_status(&cluster)["phase"], "ScalingUp");
    assert!(
        !cluster
            .events()
            .iter()
            .any(|(_, reason, _)| reason == "RestoreCompleted"),
        "not completed while no bot pod is ready"
    );

    cluster.controllers_act();
    cluster.reconcile_ok().await;
    let status = restore_status(&cluster);
    assert_eq!(status["phase"], "Completed", "{status}");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("the bot is ready on it (3/3 replicas)")),
        "{status}"
    );
    assert!(
        cluster
            .events()
            .iter()
            .any(|(_, reason, _)| reason == "RestoreCompleted")
    );
    cluster.reconcile_ok().await;
    assert_eq!(cluster.resource()["status"]["phase"], "Ready");
}

#[tokio::test]
async fn a_bot_that_does_not_come_back_after_a_restore_fails_it_with_a_clear_condition() {
    let cluster = database_restored().await;
    cluster.reconcile_ok().await;
    assert_eq!(replicas(&cluster), 3);
    // The bot's pods never get ready; the progress deadline (600 s) passes.
    cluster.server.edit(&restore_path("r"), |r| {
        r["status"]["restoredTime"] = json!("2026-11-29T09:05:00Z");
    });
    cluster.reconcile_ok().await;
    let status = restore_status(&cluster);
    assert_eq!(status["phase"], "Failed", "{status}");
    assert_eq!(status["botNotReady"], true, "{status}");
    let message = status["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        message.contains("did not become ready on it within 600s (0/3 replicas ready)")
            && message.contains("r-safety"),
        "{message}"
    );
    assert!(
        cluster
            .events()
            .iter()
            .any(|(type_, reason, _)| type_ == "Warning" && reason == "RestoreFailed")
    );
    cluster.reconcile_ok().await;
    let degraded = cluster.condition("Degraded");
    assert_eq!(degraded["reason"], "RestoredBotNotReady", "{degraded}");
    assert!(
        degraded["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("restore r: ") && m.contains("0/3 replicas ready")),
        "{degraded}"
    );
    assert_eq!(cluster.resource()["status"]["phase"], "Degraded");
    assert_eq!(replicas(&cluster), 3, "the bot is not held at zero");

    // The bot comes up after all: the platform is well again.
    cluster.controllers_act();
    cluster.reconcile_ok().await;
    cluster.controllers_act();
    cluster.reconcile_ok().await;
    assert_eq!(cluster.condition("Degraded")["reason"], "AsExpected");
    assert_eq!(cluster.resource()["status"]["phase"], "Ready");
}
