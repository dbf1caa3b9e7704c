//! A namespace list on the API double: the controllers watch exactly the listed namespaces, and
//! a platform in any other namespace is left alone.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::controller::Context;
use crate::metrics::Metrics;
use crate::scope::{self, WatchScope};
use crate::testing::api_server::ApiServer;
use crate::testing::sample;

// A cap for a busy CI machine, not an expectation: the states waited for come within a second or two.
const WAIT: Duration = Duration::from_secs(90);

struct Fixed;

impl crate::generator::SecretGenerator for Fixed {
    fn generate(&self, purpose: &str) -> String {
        format!("{purpose}-generated")
    }
}

fn platform(namespace: &str) -> String {
    format!("/apis/toogoodtogo.io/v1alpha1/namespaces/{namespace}/toogoodtogos/tgtg")
}

/// Whether the operator has reconciled the platform in `namespace` (written its status).
fn reconciled(server: &ApiServer, namespace: &str) -> bool {
    server
        .get(&platform(namespace))
        .is_some_and(|cr| cr["status"]["phase"].is_string())
}

/// The minimal sample as `tgtg` in `namespace`, with the Secrets it references.
fn platform_in(server: &ApiServer, namespace: &str) {
    let cr = sample("minimal.yaml");
    server.create(
        &format!("/api/v1/namespaces/{namespace}/secrets/tgtg-telegram"),
        json!({"apiVersion": "v1", "kind": "Secret", "data": {"token": "cGxhY2Vob2xkZXI="}}),
    );
    let mut value: Value = serde_json::to_value(cr).unwrap_or_default();
    value["metadata"] = json!({"name": "tgtg", "namespace": namespace});
    server.create(&platform(namespace), value);
}

#[tokio::test]
async fn the_listed_namespaces_are_reconciled_and_no_other() {
    let (client, server) = ApiServer::start();
    server.uninstalled("servicemonitors");
    for namespace in ["shop", "bakery", "elsewhere"] {
        platform_in(&server, namespace);
    }
    let ctx = Arc::new(Context::new(
        client,
        Arc::new(Fixed),
        Arc::new(Metrics::default()),
        Some("test".to_owned()),
    ));
    let scope = WatchScope::parse(&["shop,bakery"]).unwrap_or_else(|e| panic!("{e}"));
    let task = tokio::spawn(async move { scope::run(ctx, &scope).await });
    let deadline = tokio::time::Instant::now() + WAIT;
    while !(reconciled(&server, "shop") && reconciled(&server, "bakery")) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the listed namespaces were not reconciled within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    assert!(
        !reconciled(&server, "elsewhere"),
        "a namespace not in the list was reconciled"
    );
    let paths: Vec<String> = server.take_requests().into_iter().map(|r| r.path).collect();
    assert!(
        !paths.iter().any(|p| p.contains("/namespaces/elsewhere/")),
        "a request into a namespace not in the list"
    );
    // Nothing listed or watched across the cluster: the Roles would not allow it.
    let cluster_wide: Vec<&String> = paths
        .iter()
        .filter(|p| !p.contains("/namespaces/"))
        .filter(|p| {
            [
                "secrets",
                "toogoodtogos",
                "deployments",
                "jobs",
                "backups",
                "restores",
            ]
            .iter()
            .any(|kind| p.ends_with(&format!("/{kind}")))
        })
        .collect();
    assert!(cluster_wide.is_empty(), "{cluster_wide:?}");
}
