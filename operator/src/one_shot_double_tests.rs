//! One-shot actions happen exactly once on the API double: with the status write of the reconcile
//! that acted lost (a crash between the action and the status write), with reconciles started
//! from an older copy of the resource, and with two operator replicas reconciling at once (a
//! leader handover).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::controller::{Context, reconcile};
use crate::crd::TooGoodToGo;
use crate::double_tests::{CR, Cluster};
use crate::metrics::Metrics;

const BOT: &str = "/apis/apps/v1/namespaces/shop/deployments/tgtg-bot";

fn image(cluster: &Cluster) -> String {
    cluster.server.get(BOT).unwrap_or_default()["spec"]["template"]["spec"]["containers"][0]
        ["image"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A second operator replica on the same API server, with generated values of its own.
fn second_operator(cluster: &Cluster) -> Arc<Context> {
    struct Other;
    impl crate::generator::SecretGenerator for Other {
        fn generate(&self, purpose: &str) -> String {
            format!("{purpose}-other-{}", rand::random::<u32>())
        }
    }
    Arc::new(Context::new(
        cluster.ctx.client.clone(),
        Arc::new(Other),
        Arc::new(Metrics::default()),
        Some("second".to_owned()),
    ))
}

/// Both replicas reconcile the stored resource at the same time.
async fn both_reconcile(cluster: &Cluster, other: &Arc<Context>) {
    let cr: TooGoodToGo =
        serde_json::from_value(cluster.resource()).unwrap_or_else(|e| panic!("{e}"));
    let cr = Arc::new(cr);
    let (a, b) = tokio::join!(
        Box::pin(reconcile(cr.clone(), cluster.ctx.clone())),
        Box::pin(reconcile(cr, other.clone()))
    );
    assert!(a.is_ok(), "{a:?}");
    assert!(b.is_ok(), "{b:?}");
}

/// Put the status back as it was: the write of the reconcile that acted never happened.
fn lose_status(cluster: &Cluster, status: &Value) {
    cluster.server.edit(CR, |cr| cr["status"] = status.clone());
}

fn count_events(cluster: &Cluster, reason: &str) -> usize {
    cluster
        .events()
        .iter()
        .filter(|(_, r, _)| r == reason)
        .count()
}

/// Production at 1.4.2 upgraded to 1.5.0, whose rollout then passes its deadline.
async fn stalled_upgrade() -> Cluster {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.server.edit(CR, |cr| {
        cr["spec"]["backup"]["preDeployment"] = json!(false);
    });
    cluster.converge().await;
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["version"] = json!("1.5.0"));
    for _ in 0..3 {
        cluster.reconcile_ok().await;
        if image(&cluster) == "toogoodtogo/bot:1.5.0" {
            break;
        }
        cluster.controllers_act();
    }
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.5.0");
    cluster.server.edit(BOT, |d| {
        d["status"]["conditions"] = json!([{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded"}]);
    });
    cluster
}

#[tokio::test]
async fn a_rollback_is_not_undone_when_its_status_write_is_lost() {
    let cluster = stalled_upgrade().await;
    let before = cluster.resource()["status"].clone();
    let stale: TooGoodToGo =
        serde_json::from_value(cluster.resource()).unwrap_or_else(|e| panic!("{e}"));
    cluster.reconcile_ok().await;
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2");
    lose_status(&cluster, &before);
    // The old version's pods come up; reconciles from the stored resource and from the old copy.
    for _ in 0..3 {
        cluster.controllers_act();
        let result = Box::pin(reconcile(Arc::new(stale.clone()), cluster.ctx.clone())).await;
        assert!(result.is_ok(), "{result:?}");
        cluster.reconcile_ok().await;
        assert_eq!(
            image(&cluster),
            "toogoodtogo/bot:1.4.2",
            "the bad version is not deployed again"
        );
    }
    let status = cluster.resource()["status"].clone();
    assert_eq!(status["rolledBack"]["from"], "1.5.0", "{status:#}");
    assert_eq!(count_events(&cluster, "RolledBack"), 1);
}

#[tokio::test]
async fn two_operator_replicas_roll_back_once() {
    let cluster = stalled_upgrade().await;
    let other = second_operator(&cluster);
    both_reconcile(&cluster, &other).await;
    for _ in 0..2 {
        cluster.controllers_act();
        both_reconcile(&cluster, &other).await;
    }
    assert_eq!(image(&cluster), "toogoodtogo/bot:1.4.2");
    assert_eq!(cluster.resource()["status"]["rolledBack"]["from"], "1.5.0");
    let history: Vec<Value> = cluster.resource()["status"]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        history
            .iter()
            .filter(|h| h["outcome"] == "RolledBack")
            .count(),
        1,
        "{history:?}"
    );
}
