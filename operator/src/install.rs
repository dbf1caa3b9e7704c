//! `toogoodtogo-operator manifests`: the complete plain install of the operator for
//! `kubectl apply -f` — Namespace, CRD, ServiceAccount, RBAC (from [`crate::rbac`], the one source
//! of the operator's permissions), Deployment, PodDisruptionBudget and metrics Service.
//!
//! The Helm chart under `charts/toogoodtogo-operator/` installs the same objects with its default
//! values; `operator/tests/chart_render.rs` renders the chart with Helm and compares.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction, Namespace,
    ObjectFieldSelector, PodAffinityTerm, PodAntiAffinity, PodSpec, PodTemplateSpec, Probe,
    Service, ServiceAccount, ServicePort, ServiceSpec, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use crate::rbac::{self, Rule};
use crate::resources::pod;
use crate::scope::WatchScope;

/// Name of the operator's Deployment, ServiceAccount, ClusterRole and their bindings.
pub const OPERATOR_NAME: &str = "toogoodtogo-operator";
/// Namespace the plain install goes to unless `--namespace` says otherwise.
pub const DEFAULT_NAMESPACE: &str = "toogoodtogo-system";
/// Port of `/healthz`, `/readyz` and `/metrics` (the `run` command's default `--listen`).
pub const METRICS_PORT: i32 = 8080;
/// Name of that port on the container and the metrics Service (ServiceMonitors select it).
pub const METRICS_PORT_NAME: &str = "metrics";
/// Two replicas: one leads, the other takes over the Lease when the leader's node goes away.
pub const REPLICAS: i32 = 2;
/// The operator image runs as the same unprivileged user as the bot image (distroless nonroot).
pub const OPERATOR_UID: i64 = pod::BOT_UID;

/// The operator image of this version.
pub fn default_image() -> String {
    format!("toogoodtogo/operator:{}", env!("CARGO_PKG_VERSION"))
}

/// What the install is parameterised by.
#[derive(Clone, Debug)]
pub struct InstallOptions {
    /// Namespace of the operator itself (its Deployment, ServiceAccount and Lease).
    pub namespace: String,
    /// Operator image reference.
    pub image: String,
    /// All namespaces (a ClusterRole), or a list (a Role in each).
    pub scope: WatchScope,
}

impl Default for InstallOptions {
    fn default() -> Self {
        Self {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            image: default_image(),
            scope: WatchScope::All,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot write YAML: {0}")]
    Yaml(String),
}

/// Labels of every object of the install. Deliberately without
/// `app.kubernetes.io/managed-by=toogoodtogo-operator`: that label marks the objects the
/// operator owns and watches, and the operator does not manage itself.
pub fn labels() -> BTreeMap<String, String> {
    let mut labels = selector_labels();
    labels.insert(
        "app.kubernetes.io/part-of".to_owned(),
        "toogoodtogo".to_owned(),
    );
    labels.insert(
        "app.kubernetes.io/version".to_owned(),
        env!("CARGO_PKG_VERSION").to_owned(),
    );
    labels
}

/// Labels selecting the operator's pods (stable: part of the Deployment's immutable selector).
pub fn selector_labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_owned(),
            OPERATOR_NAME.to_owned(),
        ),
        (
            "app.kubernetes.io/instance".to_owned(),
            OPERATOR_NAME.to_owned(),
        ),
    ])
}

fn metadata(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(labels()),
        ..ObjectMeta::default()
    }
}

/// The RBAC rules of [`crate::rbac`] as Kubernetes PolicyRules.
pub fn policy_rules(rules: &[Rule]) -> Vec<PolicyRule> {
    rules
        .iter()
        .map(|rule| PolicyRule {
            api_groups: Some(vec![rule.api_group.to_owned()]),
            resources: Some(rule.resources.iter().map(|r| (*r).to_owned()).collect()),
            verbs: rule.verbs.iter().map(|v| (*v).to_owned()).collect(),
            ..PolicyRule::default()
        })
        .collect()
}

fn service_account_subject(options: &InstallOptions) -> Subject {
    Subject {
        kind: "ServiceAccount".to_owned(),
        name: OPERATOR_NAME.to_owned(),
        namespace: Some(options.namespace.clone()),
        ..Subject::default()
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef {
        api_group: Some("rbac.authorization.k8s.io".to_owned()),
        kind: kind.to_owned(),
        name: name.to_owned(),
    }
}

/// Name of the Role (in the operator's namespace) that lets it hold the leader Lease.
pub fn leader_election_role_name() -> String {
    format!("{OPERATOR_NAME}-leader-election")
}

fn env_from_field(name: &str, field_path: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: field_path.to_owned(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn http_probe(path: &str, period_seconds: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String(METRICS_PORT_NAME.to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period_seconds),
        timeout_seconds: Some(2),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

/// The operator's Deployment: leader-elected replicas, probes on `/healthz` and `/readyz`, and
/// the same hardened pod as the bot's (non-root, read-only root, no capabilities, seccomp).
pub fn deployment(options: &InstallOptions) -> Deployment {
    let mut env = vec![
        // The Lease lives in the operator's own namespace; the pod name is its identity there.
        env_from_field("POD_NAMESPACE", "metadata.namespace"),
        env_from_field("POD_NAME", "metadata.name"),
        EnvVar {
            name: "LOG_FORMAT".to_owned(),
            value: Some("json".to_owned()),
            ..EnvVar::default()
        },
        EnvVar {
            name: "RUST_LOG".to_owned(),
            value: Some("info".to_owned()),
            ..EnvVar::default()
        },
    ];
    if let WatchScope::Namespaces(_) = &options.scope {
        env.push(EnvVar {
            name: "WATCH_NAMESPACE".to_owned(),
            value: Some(options.scope.describe()),
            ..EnvVar::default()
        });
    }
    let container = Container {
        name: "operator".to_owned(),
        image: Some(options.image.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        args: Some(vec![
            "run".to_owned(),
            format!("--listen=0.0.0.0:{METRICS_PORT}"),
        ]),
        env: Some(env),
        ports: Some(vec![ContainerPort {
            name: Some(METRICS_PORT_NAME.to_owned()),
            container_port: METRICS_PORT,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        liveness_probe: Some(http_probe("/healthz", 10)),
        readiness_probe: Some(http_probe("/readyz", 5)),
        resources: Some(pod::resources_or(None, "50m", "64Mi", "256Mi")),
        security_context: Some(pod::container_security_context()),
        ..Container::default()
    };
    Deployment {
        metadata: metadata(OPERATOR_NAME, Some(&options.namespace)),
        spec: DeploymentSpec {
            replicas: Some(REPLICAS),
            selector: LabelSelector {
                match_labels: Some(selector_labels()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels()),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(OPERATOR_NAME.to_owned()),
                    security_context: Some(pod::pod_security_context(OPERATOR_UID)),
                    affinity: Some(spread_over_nodes()),
                    containers: vec![container],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    }
}

/// Replicas on different nodes where the cluster has them (preferred, not required: a one-node
/// cluster still runs both), so a node going away cannot take the leader and its stand-in.
fn spread_over_nodes() -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        topology_key: "kubernetes.io/hostname".to_owned(),
                        label_selector: Some(LabelSelector {
                            match_labels: Some(selector_labels()),
                            ..LabelSelector::default()
                        }),
                        ..PodAffinityTerm::default()
                    },
                },
            ]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    }
}

/// A node drain evicts one operator pod at a time: the other keeps or takes the Lease.
pub fn disruption_budget(options: &InstallOptions) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: metadata(OPERATOR_NAME, Some(&options.namespace)),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels()),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

/// The Service in front of `/metrics`, for Prometheus.
pub fn metrics_service(options: &InstallOptions) -> Service {
    Service {
        metadata: metadata(
            &format!("{OPERATOR_NAME}-metrics"),
            Some(&options.namespace),
        ),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(selector_labels()),
            ports: Some(vec![ServicePort {
                name: Some(METRICS_PORT_NAME.to_owned()),
                port: METRICS_PORT,
                target_port: Some(IntOrString::String(METRICS_PORT_NAME.to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn to_value<T: Serialize>(object: &T) -> Result<serde_json::Value, InstallError> {
    serde_json::to_value(object).map_err(|e| InstallError::Yaml(e.to_string()))
}

/// Every object of the install, in the order `kubectl apply` needs them (the Namespace first).
pub fn objects(options: &InstallOptions) -> Result<Vec<serde_json::Value>, InstallError> {
    let namespace = Some(options.namespace.as_str());
    let mut objects = vec![to_value(&Namespace {
        metadata: metadata(&options.namespace, None),
        ..Namespace::default()
    })?];
    for crd in crate::crd::crds() {
        objects.push(to_value(&crd)?);
    }
    objects.extend([to_value(&ServiceAccount {
        metadata: metadata(OPERATOR_NAME, namespace),
        ..ServiceAccount::default()
    })?]);
    let controller_rules = Some(policy_rules(rbac::CONTROLLER_RULES));
    match &options.scope {
        WatchScope::All => {
            objects.push(to_value(&ClusterRole {
                metadata: metadata(OPERATOR_NAME, None),
                rules: controller_rules,
                ..ClusterRole::default()
            })?);
            objects.push(to_value(&ClusterRoleBinding {
                metadata: metadata(OPERATOR_NAME, None),
                role_ref: role_ref("ClusterRole", OPERATOR_NAME),
                subjects: Some(vec![service_account_subject(options)]),
            })?);
        }
        // Nothing cluster-wide: the Role of each watched namespace.
        WatchScope::Namespaces(watched) => {
            for watch in watched {
                objects.push(to_value(&Role {
                    metadata: metadata(OPERATOR_NAME, Some(watch)),
                    rules: controller_rules.clone(),
                })?);
                objects.push(to_value(&RoleBinding {
                    metadata: metadata(OPERATOR_NAME, Some(watch)),
                    role_ref: role_ref("Role", OPERATOR_NAME),
                    subjects: Some(vec![service_account_subject(options)]),
                })?);
            }
        }
    }
    let leader_role = leader_election_role_name();
    objects.push(to_value(&Role {
        metadata: metadata(&leader_role, namespace),
        rules: Some(policy_rules(rbac::LEADER_ELECTION_RULES)),
    })?);
    objects.push(to_value(&RoleBinding {
        metadata: metadata(&leader_role, namespace),
        role_ref: role_ref("Role", &leader_role),
        subjects: Some(vec![service_account_subject(options)]),
    })?);
    objects.push(to_value(&metrics_service(options))?);
    objects.push(to_value(&deployment(options))?);
    objects.push(to_value(&disruption_budget(options))?);
    Ok(objects)
}

/// The install as a multi-document YAML stream for `kubectl apply -f`.
pub fn manifests_yaml(options: &InstallOptions) -> Result<String, InstallError> {
    let mut out = String::new();
    for object in objects(options)? {
        out.push_str("---\n");
        out.push_str(
            &serde_saphyr::to_string(&object).map_err(|e| InstallError::Yaml(e.to_string()))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(objects: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
        objects
            .iter()
            .find(|o| o["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in the install"))
    }

    #[test]
    fn the_operator_pod_is_hardened_and_probed() {
        let objects = objects(&InstallOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let deployment = find(&objects, "Deployment");
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(deployment["spec"]["replicas"], 2);
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let container = &pod["containers"][0];
        let security = &container["securityContext"];
        assert_eq!(security["readOnlyRootFilesystem"], true);
        assert_eq!(security["allowPrivilegeEscalation"], false);
        assert_eq!(security["capabilities"]["drop"][0], "ALL");
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(pod["serviceAccountName"], OPERATOR_NAME);
    }

    #[test]
    fn watching_a_namespace_list_grants_a_role_in_each_and_nothing_cluster_wide() {
        let options = InstallOptions {
            scope: WatchScope::parse(&["shop,bakery"]).unwrap_or_else(|e| panic!("{e}")),
            ..InstallOptions::default()
        };
        let objects = objects(&options).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !objects
                .iter()
                .any(|o| o["kind"] == "ClusterRole" || o["kind"] == "ClusterRoleBinding")
        );
        for kind in ["Role", "RoleBinding"] {
            let namespaces: Vec<&str> = objects
                .iter()
                .filter(|o| o["kind"] == kind && o["metadata"]["name"] == OPERATOR_NAME)
                .filter_map(|o| o["metadata"]["namespace"].as_str())
                .collect();
            assert_eq!(namespaces, ["bakery", "shop"], "{kind}");
        }
        let env = &find(&objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"];
        assert!(env.as_array().is_some_and(|e| {
            e.iter()
                .any(|v| v["name"] == "WATCH_NAMESPACE" && v["value"] == "bakery,shop")
        }));
    }

    #[test]
    fn no_rule_uses_a_wildcard() {
        for rule in policy_rules(rbac::CONTROLLER_RULES)
            .iter()
            .chain(&policy_rules(rbac::LEADER_ELECTION_RULES))
        {
            assert!(!rule.verbs.iter().any(|v| v == "*"), "{rule:?}");
            assert!(
                !rule.resources.iter().flatten().any(|r| r == "*"),
                "{rule:?}"
            );
            assert!(
                !rule.api_groups.iter().flatten().any(|g| g == "*"),
                "{rule:?}"
            );
        }
    }
}
