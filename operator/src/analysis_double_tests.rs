//! Rollout analysis on the API double: a version whose rollout completed is judged by its pods'
//! own `/metrics` (served over real HTTP by a stand-in for the bot) before it counts as good.

use serde_json::{Value, json};

use crate::double_tests::{CR, Cluster, core};
use crate::testing::sample;

const BOT: &str = "/apis/apps/v1/namespaces/shop/deployments/tgtg-bot";

fn image(cluster: &Cluster) -> String {
    cluster.server.get(BOT).unwrap_or_default()["spec"]["template"]["spec"]["containers"][0]
        ["image"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// What a bot pod of the new version exports: `failed` of `attempts` updates failed.
fn bot_metrics(attempts: u64, failed: u64) -> String {
    format!(
        "# TYPE toogoodtogo_updates_processed counter\n\
         toogoodtogo_updates_processed_total{{outcome=\"handled\"}} {}\n\
         # TYPE toogoodtogo_updates_failed counter\n\
         toogoodtogo_updates_failed_total {failed}\n\
         toogoodtogo_http_requests_total{{method=\"POST\",route=\"/webhook\",status=\"200\"}} {attempts}\n",
        attempts - failed
    )
}

/// A bot pod's metrics endpoint on a local port: real HTTP, as the operator reaches pod IPs.
async fn serve_metrics(text: String) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let text = text.clone();
            async move { text }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// Production converged at 1.4.2 (`configure` edits its spec first), upgraded to 1.5.0 whose
/// rollout completes with one ready pod exporting `metrics`.
async fn rolled_out_upgrade(metrics: String, configure: impl FnOnce(&mut Value)) -> Cluster {
    let cluster = Cluster::new();
    let mut cr = serde_json::to_value(sample("production.yaml")).unwrap_or_default();
    configure(&mut cr);
    cluster.server.create(CR, cr);
    cluster.converge().await;
    assert_eq!(cluster.resource()["status"]["lastGoodVersion"], "1.4.2");
    cluster.completed_pre_deployment_backup("1.5.0", 2);
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["version"] = json!("1.5.0"));
    for _ in 0..4 {
        cluster.reconcile_ok().await;
        cluster.controllers_act();
    }
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.5.0");
    let port = serve_metrics(metrics).await;
    cluster.bot_pod(
        "tgtg-bot-150-a",
        "1.5.0",
        json!({"containers": [{"name": "bot", "image": "toogoodtogo/bot:1.5.0",
            "ports": [{"name": "http", "containerPort": port}]}]}),
        json!({"phase": "Running", "podIP": "127.0.0.1",
            "containerStatuses": [{"name": "bot", "ready": true, "restartCount": 0,
                "image": "toogoodtogo/bot:1.5.0", "imageID": "",
                "state": {"running": {"startedAt": "2026-11-29T10:00:00Z"}}}]}),
    );
    cluster
}

fn warning(cluster: &Cluster, reason: &str) -> Option<String> {
    cluster
        .events()
        .into_iter()
        .find(|(t, r, _)| t == "Warning" && r == reason)
        .map(|(_, _, note)| note)
}

const EVIDENCE: &str = "30 of 100 update attempts failed (30%), 0 of 100 webhook calls answered 5xx (0%) on 1 pod(s) of version 1.5.0: over the limit of 20%";

#[tokio::test]
async fn a_version_that_fails_its_updates_after_rolling_out_is_rolled_back_with_the_numbers() {
    let cluster = rolled_out_upgrade(bot_metrics(100, 30), |_| {}).await;
    cluster.reconcile_ok().await;
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2", "rolled back");
    let note = warning(&cluster, "RolledBack")
        .unwrap_or_else(|| panic!("no RolledBack Warning: {:?}", cluster.events()));
    assert!(note.contains(EVIDENCE), "{note}");
    let status = cluster.resource()["status"].clone();
    assert_eq!(status["lastGoodVersion"], "1.4.2");
    assert_eq!(status["rolledBack"]["from"], "1.5.0");
    assert!(
        status["rolledBack"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains(EVIDENCE)),
        "{status:#}"
    );
    // Later reconciles, with the bad version's pods gone, keep the explanation and the rollback.
    cluster.server.delete(&core("pods", "tgtg-bot-150-a"));
    for _ in 0..2 {
        cluster.controllers_act();
        cluster.reconcile_ok().await;
    }
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2");
    let condition = cluster.condition("RolledBack");
    assert!(
        condition["message"]
            .as_str()
            .is_some_and(|m| m.contains("failed its analysis") && m.contains(EVIDENCE)),
        "{condition}"
    );
}

#[tokio::test]
async fn a_healthy_version_counts_as_good_only_when_its_analysis_ends() {
    let cluster = rolled_out_upgrade(bot_metrics(100, 3), |_| {}).await;
    cluster.reconcile_ok().await;
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.5.0");
    let status = cluster.resource()["status"].clone();
    assert_eq!(status["lastGoodVersion"], "1.4.2", "{status:#}");
    assert_eq!(status["analysis"]["version"], "1.5.0");
    let progressing = cluster.condition("Progressing");
    assert_eq!(progressing["reason"], "Analysing", "{progressing}");
    assert!(
        progressing["message"]
            .as_str()
            .is_some_and(|m| m.contains("3 of 100 update attempts failed (3%)")),
        "{progressing}"
    );
    assert_eq!(cluster.condition("Ready")["status"], "True");

    // Five minutes later (the default window).
    cluster.server.edit(CR, |cr| {
        cr["status"]["analysis"]["since"] = json!("2026-11-29T10:00:00Z");
    });
    cluster.reconcile_ok().await;
    let status = cluster.resource()["status"].clone();
    assert_eq!(status["lastGoodVersion"], "1.5.0", "{status:#}");
    assert!(status["analysis"].is_null(), "{status:#}");
    assert_eq!(cluster.condition("Progressing")["reason"], "Complete");
    assert_eq!(warning(&cluster, "RolledBack"), None);
}

#[tokio::test]
async fn too_little_traffic_or_analysis_turned_off_rolls_nothing_back() {
    let quiet = rolled_out_upgrade(bot_metrics(10, 10), |_| {}).await;
    quiet.reconcile_ok().await;
    assert_eq!(
        image(&quiet),
        "toogoodtogo/bot:1.5.0",
        "10 updates prove nothing"
    );
    assert_eq!(quiet.condition("Progressing")["reason"], "Analysing");

    let off = rolled_out_upgrade(bot_metrics(100, 90), |cr| {
        cr["spec"]["rollout"]["analysisMinutes"] = json!(0);
    })
    .await;
    off.reconcile_ok().await;
    assert_eq!(image(&off), "toogoodtogo/bot:1.5.0");
    assert_eq!(off.resource()["status"]["lastGoodVersion"], "1.5.0");
}

#[tokio::test]
async fn a_version_failing_its_analysis_is_to_blame_and_its_database_restored_when_asked() {
    let cluster = rolled_out_upgrade(bot_metrics(100, 30), |cr| {
        cr["spec"]["rollout"]["restoreDatabaseOnRollback"] = json!(true);
    })
    .await;
    cluster.reconcile_ok().await;
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2");
    let note = warning(&cluster, "RestoringDatabase")
        .unwrap_or_else(|| panic!("no RestoringDatabase Warning: {:?}", cluster.events()));
    assert!(note.contains(EVIDENCE), "{note}");
}
