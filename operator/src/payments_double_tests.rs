//! Payments on the API double: the Stripe Secret's keys reach the bot as the variables it reads,
//! Stripe's webhook is routed, a missing key is a `PaymentsReady` condition naming it, and
//! `payments-check` runs once per version of the keys with its outcome as that condition.

use serde_json::{Value, json};

use crate::double_tests::{Cluster, core, group};

const BOT: &str = "/apis/apps/v1/namespaces/shop/deployments/tgtg-bot";
const STRIPE: &str = "/api/v1/namespaces/shop/secrets/tgtg-stripe";

fn get(cluster: &Cluster, path: &str) -> Value {
    cluster.server.get(path).unwrap_or_default()
}

/// The payments-check Jobs, by name.
fn checks(cluster: &Cluster) -> Vec<String> {
    cluster
        .server
        .paths(&group("batch/v1", "jobs", ""))
        .into_iter()
        .filter(|p| p.contains("payments-check"))
        .collect()
}

fn payments(cluster: &Cluster) -> (String, String, String) {
    let c = cluster.condition("PaymentsReady");
    let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
    (text("status"), text("reason"), text("message"))
}

#[tokio::test]
async fn the_bot_gets_each_stripe_variable_from_its_key_and_stripes_webhook_is_routed() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    let env = get(&cluster, BOT)["spec"]["template"]["spec"]["containers"][0]["env"].clone();
    for (variable, key) in [
        ("STRIPE_PROVIDER_TOKEN", "providerToken"),
        ("STRIPE_API_KEY", "apiKey"),
        ("STRIPE_WEBHOOK_SECRET", "webhookSecret"),
    ] {
        let var = env
            .as_array()
            .and_then(|vars| vars.iter().find(|v| v["name"] == variable).cloned())
            .unwrap_or_default();
        assert_eq!(
            var["valueFrom"]["secretKeyRef"]["name"], "tgtg-stripe",
            "{var}"
        );
        assert_eq!(var["valueFrom"]["secretKeyRef"]["key"], key, "{var}");
    }
    let ingress = get(
        &cluster,
        &group("networking.k8s.io/v1", "ingresses", "tgtg"),
    );
    let paths: Vec<(String, String)> = ingress["spec"]["rules"][0]["http"]["paths"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["path"].as_str().unwrap_or_default().to_owned(),
                p["pathType"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        paths,
        [
            ("/webhook".to_owned(), "Exact".to_owned()),
            ("/stripe/webhook".to_owned(), "Exact".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_stripe_secret_without_the_api_key_is_a_condition_naming_it_and_runs_no_check() {
    let cluster = Cluster::new();
    cluster.server.edit(STRIPE, |s| {
        s["data"] = json!({"providerToken": "cGxhY2Vob2xkZXI="});
    });
    cluster.create_resource("production.yaml");
    cluster.converge().await;
    let (status, reason, message) = payments(&cluster);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "StripeSecretKeyMissing")
    );
    assert!(
        message.contains("apiKey (STRIPE_API_KEY: refunds cannot be made)")
            && message.contains("webhookSecret")
            && !message.contains("providerToken"),
        "{message}"
    );
    assert_eq!(
        cluster.resource()["status"]["phase"],
        "Ready",
        "the marketplace runs; payments are reported on their own"
    );
    assert_eq!(checks(&cluster), Vec::<String>::new());
}

#[tokio::test]
async fn a_stripe_secret_without_the_provider_token_stops_the_reconcile_and_names_it() {
    let cluster = Cluster::new();
    cluster.server.edit(STRIPE, |s| {
        s["data"] = json!({"apiKey": "cGxhY2Vob2xkZXI="});
    });
    cluster.create_resource("production.yaml");
    assert!(cluster.reconcile().await.is_err());
    assert_eq!(cluster.condition("Degraded")["reason"], "SecretMissing");
    let (status, reason, message) = payments(&cluster);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "StripeSecretKeyMissing")
    );
    assert!(
        message.contains("providerToken (STRIPE_PROVIDER_TOKEN: invoices cannot be sent)"),
        "{message}"
    );
}

#[tokio::test]
async fn payments_check_runs_once_per_version_of_the_keys_and_its_outcome_is_the_condition() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    let first = checks(&cluster);
    assert_eq!(first.len(), 1, "{first:?}");
    let job = get(&cluster, &first[0]);
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["args"], json!(["payments-check"]));
    assert_eq!(container["image"], "toogoodtogo/bot:1.4.2");
    let (status, reason, _) = payments(&cluster);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "PaymentsChecked")
    );

    // Converged: the check is not repeated.
    for _ in 0..2 {
        cluster.reconcile_ok().await;
        cluster.controllers_act();
    }
    assert_eq!(checks(&cluster), first);

    // A rotated API key is checked again; the check of the old keys goes.
    cluster
        .server
        .edit(STRIPE, |s| s["data"]["apiKey"] = json!("cmslX2xpdmVfbmV3"));
    cluster.reconcile_ok().await;
    let second = checks(&cluster);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(second, first);
    let (status, reason, _) = payments(&cluster);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "PaymentsCheckRunning")
    );

    // Stripe refuses the new key.
    let name = second[0].rsplit('/').next().unwrap_or_default().to_owned();
    cluster.server.edit(&second[0], |j| {
        j["status"] = json!({"failed": 2, "conditions": [{"type": "Failed", "status": "True",
            "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]});
    });
    cluster.server.create(
        &core("pods", &format!("{name}-x7k2p")),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"job-name": name}},
            "status": {"containerStatuses": [{"name": "payments-check", "ready": false,
                "restartCount": 0, "image": "toogoodtogo/bot:1.4.2", "imageID": "",
                "state": {"terminated": {"exitCode": 1, "message":
                    "STRIPE_PROVIDER_TOKEN: set\nSTRIPE_API_KEY: refused: 401 Invalid API Key provided\npayments: NOT ready\n"}}}]}}),
    );
    for _ in 0..3 {
        cluster.reconcile_ok().await;
        cluster.controllers_act();
    }
    let (status, reason, message) = payments(&cluster);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "PaymentsCheckFailed")
    );
    assert!(
        message.contains("STRIPE_API_KEY: refused: 401 Invalid API Key provided")
            && message.contains(&name),
        "{message}"
    );
    let warnings: Vec<String> = cluster
        .events()
        .into_iter()
        .filter(|(type_, reason, _)| type_ == "Warning" && reason == "PaymentsCheckFailed")
        .map(|(_, _, note)| note)
        .collect();
    assert_eq!(warnings.len(), 1, "announced once: {warnings:?}");
    assert_eq!(
        cluster.resource()["status"]["phase"],
        "Ready",
        "a refused Stripe key does not take the marketplace down"
    );
}
