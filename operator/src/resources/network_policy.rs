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

/// The CloudNativePG cluster's pods (`cnpg.io/cluster`): the bot and the operator's Jobs on the
/// PostgreSQL port, as for the managed database. A NetworkPolicy that selects a pod refuses
/// every other ingress, so the two kinds of traffic CloudNativePG itself needs stay allowed:
/// the instances among themselves (streaming replication, `pg_rewind` of a former primary) and
/// the CloudNativePG operator, from any namespace, on the instance manager's status port.
pub fn cnpg(ctx: &Context) -> NetworkPolicy {
    let owner = ctx.owner;
    let cluster = owner.cnpg_cluster();
    // Named as the managed database's policy: whichever database runs, it has this one.
    let mut policy = only_clients(ctx, owner.postgres(), Component::Database, POSTGRES_PORT);
    let cluster_pods = LabelSelector {
        match_labels: Some([(CNPG_CLUSTER_LABEL.to_owned(), cluster)].into()),
        ..LabelSelector::default()
    };
    let cnpg_operator = LabelSelector {
        match_labels: Some(
            [(
                "app.kubernetes.io/name".to_owned(),
                CNPG_OPERATOR_NAME.to_owned(),
            )]
            .into(),
        ),
        ..LabelSelector::default()
    };
    if let Some(spec) = policy.spec.as_mut() {
        spec.pod_selector = Some(cluster_pods.clone());
        let rules = spec.ingress.get_or_insert_with(Vec::new);
        rules.push(NetworkPolicyIngressRule {
            from: Some(vec![NetworkPolicyPeer {
                pod_selector: Some(cluster_pods),
                ..NetworkPolicyPeer::default()
            }]),
            ports: None,
        });
        rules.push(NetworkPolicyIngressRule {
            from: Some(vec![NetworkPolicyPeer {
                namespace_selector: Some(LabelSelector::default()),
                pod_selector: Some(cnpg_operator),
                ..NetworkPolicyPeer::default()
            }]),
            ports: Some(vec![NetworkPolicyPort {
                port: Some(IntOrString::Int(CNPG_STATUS_PORT)),
                protocol: Some("TCP".to_owned()),
                end_port: None,
            }]),
        });
    }
    policy
}

/// Label of CloudNativePG's pods naming their Cluster.
const CNPG_CLUSTER_LABEL: &str = super::cnpg_cluster::CLUSTER_LABEL;
/// `app.kubernetes.io/name` of the CloudNativePG operator's pods (its manifests and chart).
const CNPG_OPERATOR_NAME: &str = "cloudnative-pg";
/// The instance manager's HTTP port the CloudNativePG operator polls.
const CNPG_STATUS_PORT: i32 = 8000;
