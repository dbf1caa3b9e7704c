//! The `payments-check` Job: the bot's own check of the Stripe keys (the provider token is set,
//! Stripe accepts the API key by reading the balance, no money moves), run once per version of
//! the Stripe Secret. Its outcome is the platform's `PaymentsReady` condition
//! ([`crate::payments`]).

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Context;
use super::pod;
use crate::names::Component;

pub fn job(ctx: &Context, name: String, version: &str) -> Job {
    let owner = ctx.owner;
    let (env_from, _) = pod::bot_env(ctx);
    let (tmp_volume, tmp_mount) = pod::scratch_volume("tmp", "/tmp");
    let placement = ctx.cr.spec.placement.clone().unwrap_or_default();
    let labels = owner.labels(Component::PaymentsCheck);
    Job {
        // Owned by the resource (garbage-collected with it) and labelled with its instance,
        // so the Job watch brings its outcome back to the resource.
        metadata: owner.metadata(name, Component::PaymentsCheck),
        spec: Some(JobSpec {
            // One retry covers a network blip on the way to Stripe; a refused key stays refused.
            backoff_limit: Some(1),
            active_deadline_seconds: Some(300),
            template: PodTemplateSpec {
                // Not a database client: the NetworkPolicies keep it away from PostgreSQL and
                // Redis, which it does not need.
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
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
                        name: "payments-check".to_owned(),
                        image: Some(ctx.cr.bot_image(version)),
                        image_pull_policy: ctx
                            .cr
                            .spec
                            .image_pull_policy
                            .map(|p| p.as_str().to_owned()),
                        args: Some(vec!["payments-check".to_owned()]),
                        env_from: Some(env_from),
                        // The Stripe variables only: the check needs no other secret.
                        env: Some(pod::stripe_env(ctx)),
                        resources: Some(pod::resources_or(None, "10m", "32Mi", "128Mi")),
                        security_context: Some(pod::container_security_context()),
                        // What the check printed ("STRIPE_API_KEY: refused: ...") becomes the
                        // condition's message when it fails.
                        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
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
