//! Pieces shared by the bot Deployment and the migration Job: environment, hardening, volumes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapEnvSource, EmptyDirVolumeSource, EnvFromSource, EnvVar, EnvVarSource,
    PodSecurityContext, ResourceRequirements, SeccompProfile, SecretKeySelector, SecurityContext,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::Context;
use super::secret::{
    SECRET_KEY, SECRET_KEY_PREVIOUS, WEBHOOK_SECRET_TOKEN, WEBHOOK_SECRET_TOKEN_PREVIOUS,
};
use crate::crd::SecretKeySelector as SpecSecretKey;

/// UID/GID of the distroless `nonroot` user the bot image runs as.
pub const BOT_UID: i64 = 65532;
/// Key of the bot role's password in the managed PostgreSQL credentials Secret.
pub const POSTGRES_BOT_PASSWORD_KEY: &str = "password";
pub const POSTGRES_SUPERUSER_PASSWORD_KEY: &str = "superuser-password";
/// Key of the role the bot logs in as.
pub const POSTGRES_USER_KEY: &str = "username";
/// Key of a password rotation's new password, until the bot switches to it.
pub const POSTGRES_PENDING_PASSWORD_KEY: &str = "pending-password";

fn secret_env(name: &str, secret: &str, key: &str, optional: bool) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: optional.then_some(true),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn referenced(name: &str, selector: &SpecSecretKey) -> EnvVar {
    secret_env(name, &selector.name, &selector.key, false)
}

/// Secrets reach the bot as `secretKeyRef`s, so their values never appear in a pod spec; the
/// non-secret settings come from the ConfigMap.
pub fn bot_env(ctx: &Context) -> (Vec<EnvFromSource>, Vec<EnvVar>) {
    let spec = &ctx.cr.spec;
    let generated = ctx.owner.generated_secret();
    let mut env = vec![
        referenced("TELEGRAM_BOT_TOKEN", &spec.telegram.token_secret_ref),
        secret_env(SECRET_KEY, &generated, SECRET_KEY, false),
        // Filled by secret rotation; optional until then.
        secret_env(SECRET_KEY_PREVIOUS, &generated, SECRET_KEY_PREVIOUS, true),
        // Every older key still in its grace period (two rotations within it keep both).
        secret_env(
            crate::secret_key::ACCEPTED_KEYS,
            &generated,
            crate::secret_key::ACCEPTED_KEYS,
            true,
        ),
    ];
    if spec.telegram.webhook.is_some() {
        env.push(secret_env(
            WEBHOOK_SECRET_TOKEN,
            &generated,
            WEBHOOK_SECRET_TOKEN,
            false,
        ));
        env.push(secret_env(
            WEBHOOK_SECRET_TOKEN_PREVIOUS,
            &generated,
            WEBHOOK_SECRET_TOKEN_PREVIOUS,
            true,
        ));
    }
    if let Some(external) = &spec.database.external {
        env.push(referenced("DATABASE_URL", &external.url_secret_ref));
    } else if spec.database.cloud_native_pg.is_some() {
        // The URI CloudNativePG writes for the database owner points at the `-rw` Service,
        // which follows the primary through a failover.
        env.push(secret_env(
            "DATABASE_URL",
            &ctx.owner.cnpg_app_secret(),
            super::cnpg_cluster::URI_KEY,
            false,
        ));
    } else {
        // The login role changes with a password rotation: it comes with its password.
        env.push(secret_env(
            "POSTGRES_USER",
            &ctx.owner.postgres_credentials(),
            POSTGRES_USER_KEY,
            false,
        ));
        env.push(secret_env(
            "POSTGRES_PASSWORD",
            &ctx.owner.postgres_credentials(),
            POSTGRES_BOT_PASSWORD_KEY,
            false,
        ));
    }
    if let Some(external) = &spec.redis.external {
        env.push(referenced("REDIS_URL", &external.url_secret_ref));
    } else {
        env.push(secret_env(
            super::secret::REDIS_PASSWORD,
            &generated,
            super::secret::REDIS_PASSWORD,
            false,
        ));
    }
    env.extend(stripe_env(ctx));
    let env_from = vec![EnvFromSource {
        config_map_ref: Some(ConfigMapEnvSource {
            name: ctx.owner.config_map(),
            optional: None,
        }),
        ..EnvFromSource::default()
    }];
    (env_from, env)
}

/// The Stripe Secret's keys as the bot's variables ([`crate::payments::KEYS`]). The provider
/// token is required (the operator refuses a Stripe Secret without it); the others are optional
/// so that a missing one costs its feature (reported as `PaymentsReady`), not the pod.
pub fn stripe_env(ctx: &Context) -> Vec<EnvVar> {
    let Some(stripe) = &ctx.cr.spec.stripe else {
        return Vec::new();
    };
    crate::payments::KEYS
        .iter()
        .map(|key| {
            secret_env(
                key.env,
                &stripe.secret_ref.name,
                key.key,
                key.key != crate::payments::PROVIDER_TOKEN,
            )
        })
        .collect()
}

pub fn pod_security_context(uid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        fs_group: Some(uid),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            localhost_profile: None,
        }),
        ..PodSecurityContext::default()
    }
}

/// Read-only root, no privilege escalation, every capability dropped.
pub fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: None,
        }),
        ..SecurityContext::default()
    }
}

/// A writable emptyDir, since the root filesystem is read-only.
pub fn scratch_volume(name: &str, mount_path: &str) -> (Volume, VolumeMount) {
    (
        Volume {
            name: name.to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
        VolumeMount {
            name: name.to_owned(),
            mount_path: mount_path.to_owned(),
            ..VolumeMount::default()
        },
    )
}

/// The given resources, or requests/limits that fit a small bot.
pub fn resources_or(
    given: Option<&ResourceRequirements>,
    cpu_request: &str,
    memory_request: &str,
    memory_limit: &str,
) -> ResourceRequirements {
    given.cloned().unwrap_or_else(|| ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu_request.to_owned())),
            ("memory".to_owned(), Quantity(memory_request.to_owned())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_owned(),
            Quantity(memory_limit.to_owned()),
        )])),
        ..ResourceRequirements::default()
    })
}
