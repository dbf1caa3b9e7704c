//! One migration Job per bot version (`toogoodtogo-bot migrate`). It must succeed before the
//! Deployment moves to that version. `migrate` exits 0 when the schema is current or ahead, so a
//! Job for an older version is harmless, but the reconciler does not start one on a rollback.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Context;
use super::pod;
use crate::names::{Component, DATABASE_CLIENT_LABEL};

pub fn build(ctx: &Context, version: &str) -> Job {
    let owner = ctx.owner;
    let (env_from, env) = pod::bot_env(ctx);
    let (tmp_volume, tmp_mount) = pod::scratch_volume("tmp", "/tmp");
    let mut pod_labels = owner.labels(Component::Migration);
    pod_labels.insert("app.kubernetes.io/version".to_owned(), version.to_owned());
    pod_labels.insert(DATABASE_CLIENT_LABEL.to_owned(), "true".to_owned());
    let mut metadata = owner.metadata(owner.migration_job(version), Component::Migration);
    if let Some(labels) = metadata.labels.as_mut() {
        labels.insert("app.kubernetes.io/version".to_owned(), version.to_owned());
    }
    let placement = ctx.cr.spec.placement.clone().unwrap_or_default();
    Job {
        metadata,
        spec: Some(JobSpec {
            // Retries cover a database that is still starting.
            backoff_limit: Some(6),
            active_deadline_seconds: Some(1800),
            // No TTL: a failed Job must stay (and not be re-created and re-run a day later);
            // the apply step deletes the Jobs of other versions instead.
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_owned()),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(pod::pod_security_context(pod::BOT_UID)),
                    node_selector: placement.node_selector,
                    tolerations: placement.tolerations,
                    affinity: placement.affinity,
                    containers: vec![Container {
                        name: "migrate".to_owned(),
                        image: Some(ctx.cr.bot_image(version)),
                        image_pull_policy: ctx
                            .cr
                            .spec
                            .image_pull_policy
                            .map(|p| p.as_str().to_owned()),
                        args: Some(vec!["migrate".to_owned()]),
                        env_from: Some(env_from),
                        env: Some(env),
                        resources: Some(pod::resources_or(None, "50m", "64Mi", "256Mi")),
                        security_context: Some(pod::container_security_context()),
                        volume_mounts: Some(vec![tmp_mount]),
                        ..Container::default()
                    }],
                    volumes: Some(vec![tmp_volume]),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}
