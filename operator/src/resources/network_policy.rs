//! NetworkPolicies that let only pods labelled `toogoodtogo.io/database-client` of the same
//! instance (the bot and the operator's Jobs) reach the managed PostgreSQL and Redis.

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Context;
use crate::names::{Component, DATABASE_CLIENT_LABEL, POSTGRES_PORT, REDIS_PORT};

fn only_clients(ctx: &Context, name: String, component: Component, port: i32) -> NetworkPolicy {
    let owner = ctx.owner;
    let clients = LabelSelector {
        match_labels: Some(
            [
                ("app.kubernetes.io/instance".to_owned(), owner.name.clone()),
                (DATABASE_CLIENT_LABEL.to_owned(), "true".to_owned()),
            ]
            .into(),
        ),
        ..LabelSelector::default()
    };
    NetworkPolicy {
        metadata: owner.metadata(name, component),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(owner.selector(component)),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(clients),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::Int(port)),
                    protocol: Some("TCP".to_owned()),
                    end_port: None,
                }]),
            }]),
            egress: None,
        }),
    }
}

pub fn postgres(ctx: &Context) -> NetworkPolicy {
    only_clients(
        ctx,
        ctx.owner.postgres(),
        Component::Database,
        POSTGRES_PORT,
    )
}

pub fn redis(ctx: &Context) -> NetworkPolicy {
    only_clients(ctx, ctx.owner.redis(), Component::Cache, REDIS_PORT)
}
