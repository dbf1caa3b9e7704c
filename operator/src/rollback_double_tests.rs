//! Rollback with `restoreDatabaseOnRollback` on the API double: the database is restored only
//! when the new version's pods show it is to blame.

use serde_json::{Value, json};

use crate::double_tests::{CR, Cluster, NS};
use crate::testing::sample;

const BOT: &str = "/apis/apps/v1/namespaces/shop/deployments/tgtg-bot";

fn restores(cluster: &Cluster) -> Vec<String> {
    cluster
        .server
        .paths(&format!(
            "/apis/toogoodtogo.io/v1alpha1/namespaces/{NS}/restores/"
        ))
        .into_iter()
        .filter_map(|p| p.rsplit('/').next().map(str::to_owned))
        .collect()
}

fn image(cluster: &Cluster) -> String {
    cluster.server.get(BOT).unwrap_or_default()["spec"]["template"]["spec"]["containers"][0]
        ["image"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Production with `restoreDatabaseOnRollback`, converged at 1.4.2, upgraded to 1.5.0 (its
/// pre-deployment backup taken at 09:30) whose rollout then passes its progress deadline with
/// the new ReplicaSet's pods in `pod_status`. Returns the pre-deployment backup's name.
async fn upgrade_that_stalls(cluster: &Cluster, pod_statuses: &[Value]) -> String {
    let mut cr = serde_json::to_value(sample("production.yaml")).unwrap_or_default();
    cr["spec"]["rollout"]["restoreDatabaseOnRollback"] = json!(true);
    cluster.server.create(CR, cr);
    cluster.converge().await;
    let backup = cluster.completed_pre_deployment_backup("1.5.0", 2);
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["version"] = json!("1.5.0"));
    // Until the Deployment moves to 1.5.0; its rollout then never completes.
    for _ in 0..3 {
        cluster.reconcile_ok().await;
        if image(cluster) == "toogoodtogo/bot:1.5.0" {
            break;
        }
        cluster.controllers_act();
    }
    assert_eq!(image(cluster), "toogoodtogo/bot:1.5.0");
    for (i, status) in pod_statuses.iter().enumerate() {
        cluster.bot_pod(
            &format!("tgtg-bot-new-{i}"),
            "1.5.0",
            Value::Null,
            status.clone(),
        );
    }
    // A healthy pod of the old version, which must not count either way.
    cluster.bot_pod(
        "tgtg-bot-old-0",
        "1.4.2",
        Value::Null,
        json!({"phase": "Running", "containerStatuses": [{"name": "bot", "ready": true,
            "restartCount": 0, "image": "toogoodtogo/bot:1.4.2", "imageID": "",
            "state": {"running": {"startedAt": "2026-11-29T09:00:00Z"}}}]}),
    );
    cluster.server.edit(BOT, |d| {
        d["status"]["conditions"] = json!([{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": "ReplicaSet \"tgtg-bot-7f9\" has timed out progressing."}]);
    });
    backup
}

fn container(state: Value, ready: bool, restarts: i32) -> Value {
    json!({"phase": "Running", "containerStatuses": [{"name": "bot", "ready": ready,
        "restartCount": restarts, "image": "toogoodtogo/bot:1.5.0", "imageID": "", "state": state}]})
}

fn warning(cluster: &Cluster, reason: &str) -> Option<String> {
    cluster
        .events()
        .into_iter()
        .find(|(t, r, _)| t == "Warning" && r == reason)
        .map(|(_, _, note)| note)
}

async fn assert_restored(pods: &[Value], evidence: &str) {
    let cluster = Cluster::new();
    let backup = upgrade_that_stalls(&cluster, pods).await;
    cluster.reconcile_ok().await;
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2", "rolled back");
    assert_eq!(restores(&cluster), [format!("{backup}-rollback")]);
    let note = warning(&cluster, "RestoringDatabase");
    let note =
        note.unwrap_or_else(|| panic!("no RestoringDatabase Warning: {:?}", cluster.events()));
    assert!(note.contains(evidence), "{note}");
    assert!(
        note.contains(&backup) && note.contains("from 2026-11-29T09:30:00Z to "),
        "the Event names the backup and the window it discards: {note}"
    );
    let condition = cluster.condition("RolledBack");
    assert!(
        condition["message"]
            .as_str()
            .is_some_and(|m| m.contains("the database is restored from")),
        "{condition}"
    );
    assert_eq!(warning(&cluster, "RollbackWithoutRestore"), None);
}

async fn assert_not_restored(pods: &[Value], why: &str) {
    let cluster = Cluster::new();
    upgrade_that_stalls(&cluster, pods).await;
    cluster.reconcile_ok().await;
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2", "rolled back");
    assert_eq!(
        restores(&cluster),
        Vec::<String>::new(),
        "nothing written since the backup is thrown away"
    );
    let note = warning(&cluster, "RollbackWithoutRestore");
    let note = note.unwrap_or_else(|| panic!("no RollbackWithoutRestore: {:?}", cluster.events()));
    assert!(note.contains(why), "{note}");
    let condition = cluster.condition("RolledBack");
    assert!(
        condition["message"]
            .as_str()
            .is_some_and(|m| m.contains("the database was not restored") && m.contains(why)),
        "{condition}"
    );
    assert_eq!(
        cluster.resource()["status"]["rolledBack"]["from"],
        "1.5.0",
        "{:#}",
        cluster.resource()["status"]
    );
    assert_eq!(warning(&cluster, "RestoringDatabase"), None);
    // Later reconciles keep the explanation and do not change their mind.
    cluster.controllers_act();
    cluster.reconcile_ok().await;
    assert!(
        cluster.condition("RolledBack")["message"]
            .as_str()
            .is_some_and(|m| m.contains(why))
    );
    assert_eq!(restores(&cluster), Vec::<String>::new());
}

#[tokio::test]
async fn a_crash_looping_new_version_is_rolled_back_with_its_database() {
    assert_restored(
        &[container(
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}),
            false,
            6,
        )],
        "crash-looping",
    )
    .await;
}

#[tokio::test]
async fn a_new_version_failing_readiness_is_rolled_back_with_its_database() {
    assert_restored(
        &[container(
            json!({"running": {"startedAt": "2026-11-29T09:40:00Z"}}),
            false,
            0,
        )],
        "fails its readiness probe",
    )
    .await;
}

#[tokio::test]
async fn a_rollout_stalled_by_capacity_keeps_the_database() {
    assert_not_restored(
        &[
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient memory."}]}),
        ],
        "Insufficient memory",
    )
    .await;
}

#[tokio::test]
async fn a_rollout_stalled_by_an_image_pull_keeps_the_database() {
    assert_not_restored(
        &[
            json!({"phase": "Pending", "containerStatuses": [{"name": "bot", "ready": false,
            "restartCount": 0, "image": "toogoodtogo/bot:1.5.0", "imageID": "",
            "state": {"waiting": {"reason": "ImagePullBackOff",
                "message": "Back-off pulling image \"toogoodtogo/bot:1.5.0\""}}}]}),
        ],
        "ImagePullBackOff",
    )
    .await;
}
