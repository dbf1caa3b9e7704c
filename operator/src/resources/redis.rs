//! The managed Redis: one pod, no persistence (the bot keeps nothing in Redis it cannot lose).

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, ExecAction, PodSpec, PodTemplateSpec, Probe, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Context;
use super::pod;
use crate::crd::ManagedRedis;
use crate::names::{Component, REDIS_PORT};

/// UID of the `redis` user in the official Alpine images.
const REDIS_UID: i64 = 999;

pub fn deployment(ctx: &Context, managed: &ManagedRedis) -> Deployment {
    let owner = ctx.owner;
    let (data_volume, data_mount) = pod::scratch_volume("data", "/data");
    let probe = |period: i32| Probe {
        exec: Some(ExecAction {
            command: Some(vec!["redis-cli".to_owned(), "ping".to_owned()]),
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(2),
        failure_threshold: Some(3),
        ..Probe::default()
    };
    Deployment {
        metadata: owner.metadata(owner.redis(), Component::Cache),
        spec: DeploymentSpec {
            replicas: Some(1),
            selector: owner.selector(Component::Cache),
            // One instance: never run two side by side.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".to_owned()),
                rolling_update: None,
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(owner.labels(Component::Cache)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(pod::pod_security_context(REDIS_UID)),
                    containers: vec![Container {
                        name: "redis".to_owned(),
                        image: Some(
                            managed
                                .image
                                .clone()
                                .unwrap_or_else(|| "redis:7-alpine".to_owned()),
                        ),
                        args: Some(vec![
                            "--save".to_owned(),
                            String::new(),
                            "--appendonly".to_owned(),
                            "no".to_owned(),
                        ]),
                        ports: Some(vec![ContainerPort {
                            name: Some("redis".to_owned()),
                            container_port: REDIS_PORT,
                            protocol: Some("TCP".to_owned()),
                            ..ContainerPort::default()
                        }]),
                        resources: Some(pod::resources_or(
                            managed.resources.as_ref(),
                            "50m",
                            "64Mi",
                            "256Mi",
                        )),
                        readiness_probe: Some(probe(5)),
                        liveness_probe: Some(probe(15)),
                        security_context: Some(pod::container_security_context()),
                        volume_mounts: Some(vec![data_mount]),
                        ..Container::default()
                    }],
                    volumes: Some(vec![data_volume]),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    }
}

pub fn service(ctx: &Context) -> Service {
    let owner = ctx.owner;
    Service {
        metadata: owner.metadata(owner.redis(), Component::Cache),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(owner.selector_labels(Component::Cache)),
            ports: Some(vec![ServicePort {
                name: Some("redis".to_owned()),
                port: REDIS_PORT,
                target_port: Some(IntOrString::String("redis".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
