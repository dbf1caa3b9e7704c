//! Optional Ingress. It routes only the webhook paths — Telegram's, and Stripe's when payments
//! are on — so probes and `/metrics` stay cluster-internal.

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};

use super::Context;
use crate::names::{Component, STRIPE_WEBHOOK_PATH, WEBHOOK_PATH};

pub const CLUSTER_ISSUER_ANNOTATION: &str = "cert-manager.io/cluster-issuer";

pub fn build(ctx: &Context) -> Option<Ingress> {
    let spec = ctx.cr.spec.ingress.as_ref()?;
    let webhook = ctx.cr.spec.telegram.webhook.as_ref();
    let host = spec
        .host
        .clone()
        .or_else(|| webhook.map(|w| w.host.clone()));
    let owner = ctx.owner;

    let mut annotations = spec.annotations.clone().unwrap_or_default();
    if let Some(issuer) = spec.tls.as_ref().and_then(|tls| tls.cluster_issuer.clone()) {
        annotations.insert(CLUSTER_ISSUER_ANNOTATION.to_owned(), issuer);
    }
    // Stripe posts payment events to its own path; without payments nothing may reach it.
    let mut paths = vec![WEBHOOK_PATH];
    if ctx.cr.spec.stripe.is_some() {
        paths.push(STRIPE_WEBHOOK_PATH);
    }
    let mut metadata = owner.metadata(owner.name.clone(), Component::Bot);
    metadata.annotations = (!annotations.is_empty()).then_some(annotations);

    Some(Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: spec.class_name.clone(),
            tls: spec.tls.as_ref().map(|tls| {
                vec![IngressTLS {
                    hosts: host.clone().map(|h| vec![h]),
                    secret_name: Some(tls.secret_name.clone()),
                }]
            }),
            rules: Some(vec![IngressRule {
                host,
                http: Some(HTTPIngressRuleValue {
                    paths: paths
                        .iter()
                        .map(|path| HTTPIngressPath {
                            path: Some((*path).to_owned()),
                            path_type: "Exact".to_owned(),
                            backend: IngressBackend {
                                service: Some(IngressServiceBackend {
                                    name: owner.bot(),
                                    port: Some(ServiceBackendPort {
                                        name: Some("http".to_owned()),
                                        number: None,
                                    }),
                                }),
                                resource: None,
                            },
                        })
                        .collect(),
                }),
            }]),
            default_backend: None,
        }),
        ..Ingress::default()
    })
}

#[cfg(test)]
mod tests {
    /// The paths routed are the bot's own routes (`bot/src/http.rs`).
    #[test]
    fn the_routed_paths_are_routes_of_the_bot() {
        let http = std::fs::read_to_string(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bot/src/http.rs"),
        )
        .unwrap_or_default();
        // Formatting aside: `.route("/path", post(handler))`.
        let compact: String = http.split_whitespace().collect();
        for path in [
            crate::names::WEBHOOK_PATH,
            crate::names::STRIPE_WEBHOOK_PATH,
        ] {
            assert!(
                compact.contains(&format!(".route(\"{path}\",post(")),
                "bot/src/http.rs serves no POST {path}"
            );
        }
    }
}
