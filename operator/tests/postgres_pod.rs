//! The managed PostgreSQL pod as the operator renders it for the production sample: what keeps
//! a real database healthy on Kubernetes beyond "it starts".

use serde_json::Value;
use toogoodtogo_operator::offline;

mod common;
use common::examples;

async fn postgres_pod() -> Value {
    let (_, value) = examples()
        .into_iter()
        .find(|(name, _)| name == "production.yaml")
        .unwrap_or_else(|| panic!("no production sample"));
    let cr = serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"));
    let yaml = offline::render_yaml(&cr, &offline::placeholder_secrets(&cr))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let objects: Vec<Value> = serde_saphyr::from_multiple(&yaml).unwrap_or_else(|e| panic!("{e}"));
    objects
        .into_iter()
        .find(|o| o["kind"] == "StatefulSet")
        .map(|sts| sts["spec"]["template"]["spec"].clone())
        .unwrap_or_else(|| panic!("no StatefulSet in {yaml}"))
}

fn seconds(probe: &Value) -> i64 {
    probe["periodSeconds"].as_i64().unwrap_or_default()
        * probe["failureThreshold"].as_i64().unwrap_or_default()
}

#[tokio::test]
async fn a_recovering_database_gets_ten_minutes_before_liveness_may_restart_it() {
    let pod = postgres_pod().await;
    let postgres = &pod["containers"][0];
    assert_eq!(postgres["name"], "postgres");
    let startup = &postgres["startupProbe"];
    assert_eq!(startup["exec"]["command"][0], "pg_isready", "{postgres:#}");
    assert!(seconds(startup) >= 600, "{startup}");
    assert!(
        seconds(&postgres["livenessProbe"]) < seconds(startup),
        "liveness alone would kill a long recovery"
    );
}

#[tokio::test]
async fn the_data_volume_is_not_chowned_on_every_start() {
    let pod = postgres_pod().await;
    assert_eq!(
        pod["securityContext"]["fsGroupChangePolicy"],
        "OnRootMismatch"
    );
}

#[tokio::test]
async fn dev_shm_is_memory_backed_for_parallel_queries() {
    let pod = postgres_pod().await;
    let shm = pod["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["emptyDir"]["medium"] == "Memory")
        .unwrap_or_else(|| panic!("no memory-backed volume: {:#}", pod["volumes"]));
    let mounted = pod["containers"][0]["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["name"] == shm["name"] && m["mountPath"] == "/dev/shm");
    assert!(mounted, "{:#}", pod["containers"][0]["volumeMounts"]);
    assert!(shm["emptyDir"]["sizeLimit"].is_string(), "{shm}");
}
