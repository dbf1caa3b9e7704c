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

/// Put the status back as the operator wrote it before: the write of the reconcile that acted
/// never happened (the operator's field manager owns what it owned then).
async fn lose_status(cluster: &Cluster, status: &Value) {
    let api: kube::Api<TooGoodToGo> =
        kube::Api::namespaced(cluster.ctx.client.clone(), crate::double_tests::NS);
    let patch = json!({"apiVersion": "toogoodtogo.io/v1alpha1", "kind": "TooGoodToGo",
        "status": status});
    let written = api
        .patch_status(
            "tgtg",
            &kube::api::PatchParams::apply(crate::names::FIELD_MANAGER).force(),
            &kube::api::Patch::Apply(&patch),
        )
        .await;
    assert!(written.is_ok(), "{written:?}");
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
    lose_status(&cluster, &before).await;
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

fn restore_path(name: &str) -> String {
    crate::double_tests::group("toogoodtogo.io/v1alpha1", "restores", name)
}

fn job_path(name: &str) -> String {
    crate::double_tests::group("batch/v1", "jobs", name)
}

fn jobs_named(cluster: &Cluster, part: &str) -> Vec<String> {
    cluster
        .server
        .paths(&job_path(""))
        .into_iter()
        .filter(|p| p.contains(part))
        .collect()
}

#[tokio::test]
async fn a_restore_replaces_the_database_once_with_lost_status_writes_and_two_replicas() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    let other = second_operator(&cluster);
    let scaling_down = json!({"phase": "ScalingDown", "file": "toogoodtogo_20261129_030000.sql.gz",
        "safetyBackup": "r5-safety", "startTime": "2026-11-29T09:00:00Z"});
    cluster.server.create(
        &restore_path("r5"),
        json!({"apiVersion": "toogoodtogo.io/v1alpha1", "kind": "Restore",
            "spec": {"toogoodtogo": "tgtg", "file": "toogoodtogo_20261129_030000.sql.gz",
                     "dryRun": false},
            "status": scaling_down}),
    );
    // The bot stops; then both replicas see no bot pod and start the restore.
    cluster.reconcile_ok().await;
    cluster.controllers_act();
    both_reconcile(&cluster, &other).await;
    let job = job_path("r5-restore");
    let uid = cluster.server.get(&job).unwrap_or_default()["metadata"]["uid"].clone();
    assert!(!uid.is_null(), "the restore Job runs");
    assert_eq!(jobs_named(&cluster, "r5-restore").len(), 1);
    let phase = |cluster: &Cluster| {
        cluster.server.get(&restore_path("r5")).unwrap_or_default()["status"]["phase"].clone()
    };
    assert_eq!(phase(&cluster), "Restoring");

    // The status write of that step is lost: the Job is not run a second time.
    cluster.server.edit(&restore_path("r5"), |r| {
        r["status"] = scaling_down.clone();
    });
    both_reconcile(&cluster, &other).await;
    assert_eq!(
        cluster.server.get(&job).unwrap_or_default()["metadata"]["uid"],
        uid
    );
    assert_eq!(phase(&cluster), "Restoring");

    cluster.server.edit(&job, |j| {
        j["status"] = json!({"succeeded": 1, "completionTime": "2026-11-29T09:05:00Z"});
    });
    both_reconcile(&cluster, &other).await;
    assert_eq!(phase(&cluster), "ScalingUp");
    // Completed once the bot is ready again, announced once.
    for _ in 0..3 {
        cluster.controllers_act();
        both_reconcile(&cluster, &other).await;
    }
    assert_eq!(phase(&cluster), "Completed");
    both_reconcile(&cluster, &other).await;
    assert_eq!(phase(&cluster), "Completed");
    assert_eq!(count_events(&cluster, "RestoreCompleted"), 1);
    assert_eq!(jobs_named(&cluster, "r5-restore").len(), 1);
}

fn credential(cluster: &Cluster, key: &str) -> String {
    use base64::Engine as _;
    let secret = cluster
        .server
        .get(&crate::double_tests::core(
            "secrets",
            "tgtg-postgres-credentials",
        ))
        .unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(secret["data"][key].as_str().unwrap_or_default())
        .unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[tokio::test]
async fn a_database_password_rotation_runs_once_with_lost_status_writes_and_two_replicas() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.server.edit(CR, |cr| {
        cr["spec"]["secretRotation"] =
            json!({"databasePassword": true, "secretKey": false, "webhookSecretToken": false});
    });
    cluster.converge().await;
    let other = second_operator(&cluster);
    let before = cluster.resource()["status"].clone();
    cluster.server.edit(CR, |cr| {
        cr["metadata"]["annotations"] = json!({"toogoodtogo.io/rotate": "db-1"});
    });
    both_reconcile(&cluster, &other).await;
    both_reconcile(&cluster, &other).await;
    let prepared = jobs_named(&cluster, "-db-prepare-");
    assert_eq!(prepared.len(), 1, "one preparation, one new password");
    let pending = credential(&cluster, "pending-password");
    assert!(!pending.is_empty());

    // Its status write is lost, and an old copy is reconciled: the same rotation goes on.
    lose_status(&cluster, &before).await;
    let stale: TooGoodToGo =
        serde_json::from_value(cluster.resource()).unwrap_or_else(|e| panic!("{e}"));
    let result = Box::pin(reconcile(Arc::new(stale), cluster.ctx.clone())).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(jobs_named(&cluster, "-db-prepare-"), prepared);
    assert_eq!(credential(&cluster, "pending-password"), pending);

    // Prepared: the bot switches to the idle role with that password.
    for path in &prepared {
        cluster.server.edit(path, |j| {
            j["status"] = json!({"succeeded": 1, "completionTime": "2026-11-29T10:00:00Z"});
        });
    }
    both_reconcile(&cluster, &other).await;
    assert_eq!(credential(&cluster, "username"), "toogoodtogo_blue");
    assert_eq!(credential(&cluster, "password"), pending);
    let switching = cluster.resource()["status"].clone();
    // Retired after the roll; then the completion's status write is lost too.
    for _ in 0..3 {
        cluster.controllers_act();
        both_reconcile(&cluster, &other).await;
        for path in jobs_named(&cluster, "-db-retire-") {
            cluster.server.edit(&path, |j| {
                j["status"] = json!({"succeeded": 1, "completionTime": "2026-11-29T10:10:00Z"});
            });
        }
    }
    assert_eq!(jobs_named(&cluster, "-db-retire-").len(), 1);
    assert!(
        cluster.resource()["status"]["secretRotation"]["databaseRotation"].is_null(),
        "{:#}",
        cluster.resource()["status"]
    );
    lose_status(&cluster, &switching).await;
    for _ in 0..2 {
        both_reconcile(&cluster, &other).await;
        cluster.controllers_act();
    }
    assert_eq!(
        jobs_named(&cluster, "-db-prepare-"),
        prepared,
        "no second rotation"
    );
    assert_eq!(credential(&cluster, "username"), "toogoodtogo_blue");
    assert_eq!(credential(&cluster, "password"), pending);
    assert!(cluster.resource()["status"]["secretRotation"]["databaseRotation"].is_null());
}

#[tokio::test]
async fn two_operator_replicas_rotate_the_secret_key_once() {
    use base64::Engine as _;
    let cluster = Cluster::with_sample("minimal.yaml");
    cluster.converge().await;
    let other = second_operator(&cluster);
    let key = |cluster: &Cluster, name: &str| {
        let secret = cluster
            .server
            .get(&crate::double_tests::core("secrets", "tgtg-generated"))
            .unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(secret["data"][name].as_str().unwrap_or_default())
            .unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    };
    let k0 = key(&cluster, "SECRET_KEY");
    cluster.server.edit(CR, |cr| {
        cr["metadata"]["annotations"] = json!({"toogoodtogo.io/rotate": "both"});
    });
    both_reconcile(&cluster, &other).await;
    let announced = key(&cluster, "SECRET_KEY_NEXT");
    assert!(!announced.is_empty());
    for _ in 0..4 {
        cluster.controllers_act();
        both_reconcile(&cluster, &other).await;
    }
    assert_eq!(
        key(&cluster, "SECRET_KEY"),
        announced,
        "the key every pod accepted signs"
    );
    let retired: Vec<Value> =
        serde_json::from_str(&key(&cluster, "SECRET_KEYS_RETIRED")).unwrap_or_default();
    assert_eq!(retired.len(), 1, "{retired:?}");
    assert_eq!(retired[0]["key"], k0.as_str());
}

#[tokio::test]
async fn a_webhook_token_swap_is_not_undone_when_its_status_write_is_lost() {
    use base64::Engine as _;
    let cluster = Cluster::with_sample("production.yaml");
    cluster.server.edit(CR, |cr| {
        cr["spec"]["secretRotation"] = json!({"secretKey": false});
    });
    cluster.converge().await;
    let token = |cluster: &Cluster, name: &str| {
        let secret = cluster
            .server
            .get(&crate::double_tests::core("secrets", "tgtg-generated"))
            .unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(secret["data"][name].as_str().unwrap_or_default())
            .unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    };
    let old = token(&cluster, "WEBHOOK_SECRET_TOKEN");
    cluster.server.edit(CR, |cr| {
        cr["metadata"]["annotations"] = json!({"toogoodtogo.io/rotate": "w"});
    });
    cluster.reconcile_ok().await;
    let new = token(&cluster, "WEBHOOK_SECRET_TOKEN_PREVIOUS");
    assert!(!new.is_empty() && new != old);
    cluster.controllers_act();
    cluster.reconcile_ok().await;
    let swapping = cluster.resource()["status"].clone();
    assert_eq!(swapping["secretRotation"]["webhookRotation"], "Swapping");
    cluster.reconcile_ok().await;
    assert_eq!(token(&cluster, "WEBHOOK_SECRET_TOKEN"), new);

    // The swap's status write is lost: the status still says Swapping.
    lose_status(&cluster, &swapping).await;
    for _ in 0..3 {
        cluster.reconcile_ok().await;
        cluster.controllers_act();
    }
    assert_eq!(
        token(&cluster, "WEBHOOK_SECRET_TOKEN"),
        new,
        "the tokens are not swapped back"
    );
    assert_eq!(token(&cluster, "WEBHOOK_SECRET_TOKEN_PREVIOUS"), old);
    assert!(cluster.resource()["status"]["secretRotation"]["webhookRotation"].is_null());
}
