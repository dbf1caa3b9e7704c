//! `SECRET_KEY` rotation on the API double: two phases, every old key kept for its grace period,
//! and exactly once when status writes are lost or the reconcile works from an older copy.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::crd::TooGoodToGo;
use crate::double_tests::{CR, Cluster, core};

fn generated(cluster: &Cluster, key: &str) -> String {
    use base64::Engine as _;
    let secret = cluster
        .server
        .get(&core("secrets", "tgtg-generated"))
        .unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(secret["data"][key].as_str().unwrap_or_default())
        .unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

fn retired(cluster: &Cluster) -> Vec<String> {
    let list: Vec<Value> =
        serde_json::from_str(&generated(cluster, "SECRET_KEYS_RETIRED")).unwrap_or_default();
    list.iter()
        .filter_map(|r| r["key"].as_str().map(str::to_owned))
        .collect()
}

fn annotate(cluster: &Cluster, trigger: &str) {
    cluster.server.edit(CR, |cr| {
        cr["metadata"]["annotations"] = json!({"toogoodtogo.io/rotate": trigger});
    });
}

/// Ask for a rotation and let it run through both rolls.
async fn rotate(cluster: &Cluster, trigger: &str) {
    annotate(cluster, trigger);
    for _ in 0..3 {
        cluster.reconcile_ok().await;
        cluster.controllers_act();
    }
}

#[tokio::test]
async fn the_new_key_signs_only_after_every_pod_accepts_it() {
    let cluster = Cluster::with_sample("minimal.yaml");
    cluster.converge().await;
    let old = generated(&cluster, "SECRET_KEY");
    annotate(&cluster, "1");
    cluster.reconcile_ok().await;
    let new = generated(&cluster, "SECRET_KEY_NEXT");
    assert!(!new.is_empty() && new != old);
    assert_eq!(generated(&cluster, "SECRET_KEY"), old, "the old key signs");
    assert_eq!(
        generated(&cluster, "SECRET_KEY_PREVIOUS"),
        new,
        "the pods roll onto accepting the new key"
    );
    // The roll is not complete: nothing changes.
    cluster.reconcile_ok().await;
    assert_eq!(generated(&cluster, "SECRET_KEY"), old);
    cluster.controllers_act();
    cluster.reconcile_ok().await;
    assert_eq!(generated(&cluster, "SECRET_KEY"), new);
    assert_eq!(generated(&cluster, "SECRET_KEY_PREVIOUS"), old);
    assert_eq!(generated(&cluster, "SECRET_KEY_NEXT"), "");
    let reasons: Vec<String> = cluster.events().into_iter().map(|(_, r, _)| r).collect();
    assert!(
        reasons.contains(&"SecretKeyAnnounced".to_owned())
            && reasons.contains(&"SecretKeyRotated".to_owned()),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn two_rotations_within_the_grace_period_keep_both_old_keys() {
    let cluster = Cluster::with_sample("minimal.yaml");
    cluster.converge().await;
    let k0 = generated(&cluster, "SECRET_KEY");
    rotate(&cluster, "1").await;
    let k1 = generated(&cluster, "SECRET_KEY");
    rotate(&cluster, "2").await;
    let k2 = generated(&cluster, "SECRET_KEY");
    assert!(k0 != k1 && k1 != k2 && k0 != k2, "{k0} {k1} {k2}");
    assert_eq!(
        retired(&cluster),
        [k1.clone(), k0.clone()],
        "newest first, both kept"
    );
    assert_eq!(generated(&cluster, "SECRET_KEY_PREVIOUS"), k1);
    assert_eq!(
        generated(&cluster, "SECRET_KEYS_PREVIOUS"),
        k0,
        "the older key reaches the bot too"
    );
}

#[tokio::test]
async fn a_rotation_happens_once_when_its_status_writes_are_lost_and_the_cache_is_stale() {
    let cluster = Cluster::with_sample("minimal.yaml");
    cluster.converge().await;
    let k0 = generated(&cluster, "SECRET_KEY");
    let status_before = cluster.resource()["status"].clone();
    let stale: TooGoodToGo =
        serde_json::from_value(cluster.resource()).unwrap_or_else(|e| panic!("{e}"));
    let lose_status = |cluster: &Cluster| {
        cluster
            .server
            .edit(CR, |cr| cr["status"] = status_before.clone());
    };
    let reconcile_stale = |cluster: &Cluster| {
        Box::pin(crate::controller::reconcile(
            Arc::new(stale.clone()),
            cluster.ctx.clone(),
        ))
    };

    annotate(&cluster, "once");
    cluster.reconcile_ok().await;
    let k1 = generated(&cluster, "SECRET_KEY_NEXT");
    assert!(!k1.is_empty());
    // The operator crashed before its status write; the watch then delivers an old copy.
    lose_status(&cluster);
    let result = reconcile_stale(&cluster).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(
        generated(&cluster, "SECRET_KEY_NEXT"),
        k1,
        "no second announcement"
    );
    assert_eq!(generated(&cluster, "SECRET_KEY"), k0);

    cluster.controllers_act();
    cluster.reconcile_ok().await;
    assert_eq!(generated(&cluster, "SECRET_KEY"), k1);
    // The swap's status write is lost too.
    lose_status(&cluster);
    for _ in 0..3 {
        let result = reconcile_stale(&cluster).await;
        assert!(result.is_ok(), "{result:?}");
        cluster.controllers_act();
    }
    assert_eq!(
        generated(&cluster, "SECRET_KEY"),
        k1,
        "rotated exactly once"
    );
    assert_eq!(retired(&cluster), [k0]);
    assert_eq!(generated(&cluster, "SECRET_KEY_NEXT"), "");
}
