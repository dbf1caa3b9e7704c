//! The bot Deployment.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerPort, HTTPGetAction, PodSpec, PodTemplateSpec, Probe,
    TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Context;
use super::pod;
use crate::digest;
use crate::names::{BOT_PORT, CONFIG_HASH_ANNOTATION, Component, DATABASE_CLIENT_LABEL};

/// Digest of everything the pods read at start-up: the ConfigMap, the generated secret values and
/// the referenced Secrets. Stored on the pod template so a change rolls the pods.
pub fn pod_config_hash(ctx: &Context, config_map: &ConfigMap) -> String {
    let generated = &ctx.inputs.generated;
    let mut material = serde_json::to_string(&config_map.data).unwrap_or_default();
    for part in [
        generated.secret_key.as_str(),
        generated.webhook_secret_token.as_str(),
        generated.secret_key_previous.as_deref().unwrap_or_default(),
        generated
            .webhook_secret_token_previous
            .as_deref()
            .unwrap_or_default(),
        generated
            .postgres
            .as_ref()
            .map_or("", |p| p.bot_password.as_str()),
        generated
            .postgres
            .as_ref()
            .map_or("", |p| p.bot_user.as_str()),
        ctx.inputs.referenced_secrets_digest.as_str(),
    ] {
        material.push('\n');
        material.push_str(part);
    }
    // Only with a managed Redis, so the pods of a platform without one keep their hash.
    if let Some(password) = &generated.redis_password {
        material.push('\n');
        material.push_str(password);
    }
    digest::short_hex(material.as_bytes())
}

fn http_probe(path: &str, period_seconds: i32, failure_threshold: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("http".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period_seconds),
        failure_threshold: Some(failure_threshold),
        timeout_seconds: Some(2),
        ..Probe::default()
    }
}

pub fn build(ctx: &Context, version: &str, config_hash: &str) -> Deployment {
    let spec = &ctx.cr.spec;
    let owner = ctx.owner;
    let (env_from, env) = pod::bot_env(ctx);
    let (tmp_volume, tmp_mount) = pod::scratch_volume("tmp", "/tmp");
    let placement = spec.placement.clone().unwrap_or_default();

    let mut pod_labels = owner.labels(Component::Bot);
    pod_labels.insert("app.kubernetes.io/version".to_owned(), version.to_owned());
    pod_labels.insert(DATABASE_CLIENT_LABEL.to_owned(), "true".to_owned());

    // Spread bot pods over nodes when there is more than one, so a node loss keeps the bot up.
    let topology_spread_constraints = ctx.cr.is_scaled_out().then(|| {
        vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: "kubernetes.io/hostname".to_owned(),
            when_unsatisfiable: "ScheduleAnyway".to_owned(),
            label_selector: Some(owner.selector(Component::Bot)),
            ..TopologySpreadConstraint::default()
        }]
    });

    let container = Container {
        name: "bot".to_owned(),
        image: Some(ctx.cr.bot_image(version)),
        image_pull_policy: spec.image_pull_policy.map(|p| p.as_str().to_owned()),
        args: Some(vec!["serve".to_owned()]),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_owned()),
            container_port: BOT_PORT,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        env_from: Some(env_from),
        env: Some(env),
        resources: Some(pod::resources_or(
            spec.resources.as_ref(),
            "50m",
            "64Mi",
            "256Mi",
        )),
        startup_probe: Some(http_probe("/live", 2, 30)),
        liveness_probe: Some(http_probe("/live", 10, 3)),
        readiness_probe: Some(http_probe("/ready", 5, 2)),
        security_context: Some(pod::container_security_context()),
        volume_mounts: Some(vec![tmp_mount]),
        ..Container::default()
    };

    Deployment {
        metadata: {
            let mut metadata = owner.metadata(owner.bot(), Component::Bot);
            // The rollback is remembered where it is done: a lost status write cannot undo it.
            if let Some(from) = &ctx.inputs.rolled_back_from {
                metadata.annotations = Some(BTreeMap::from([(
                    crate::observe::ROLLED_BACK_FROM_ANNOTATION.to_owned(),
                    from.clone(),
                )]));
            }
            metadata
        },
        spec: DeploymentSpec {
            // With an autoscaler the HPA owns the replica count; applying one here would make
            // the operator and the HPA fight over it.
            // A restore stops the bot (and sets the autoscaler aside) while it replaces the
            // database.
            replicas: if ctx.inputs.bot_stopped {
                Some(0)
            } else {
                spec.autoscaling.is_none().then_some(spec.replicas)
            },
            selector: owner.selector(Component::Bot),
            revision_history_limit: Some(5),
            progress_deadline_seconds: Some(ctx.cr.progress_deadline_seconds()),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(BTreeMap::from([(
                        CONFIG_HASH_ANNOTATION.to_owned(),
                        config_hash.to_owned(),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    // The bot talks to no Kubernetes API.
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(pod::pod_security_context(pod::BOT_UID)),
                    termination_grace_period_seconds: Some(
                        i64::from(
                            spec.config
                                .as_ref()
                                .and_then(|c| c.shutdown_timeout_seconds)
                                .unwrap_or(25),
                        ) + 5,
                    ),
                    node_selector: placement.node_selector,
                    tolerations: placement.tolerations,
                    affinity: placement.affinity,
                    topology_spread_constraints,
                    volumes: Some(vec![tmp_volume]),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    }
}
