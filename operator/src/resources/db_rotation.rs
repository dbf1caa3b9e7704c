//! The Jobs of a database password rotation (`deployment/scripts/lib/pg-roles.sh`, from the
//! scripts ConfigMap), as the superuser: one gives the idle login role its new password (read
//! from the credentials Secret's `pending-password`), one retires the old role with a password
//! made up inside the pod and never stored.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{ConfigMapVolumeSource, Volume, VolumeMount};

use super::Context;
use super::backup::{
    Role, SCRIPT_DIR, Step, job_labels, library_container, library_uid, plain_env, pod_template,
    secret_env,
};
use super::pod::{self, POSTGRES_PENDING_PASSWORD_KEY};
use crate::crd::ManagedDatabase;
use crate::names::{BOT_DATABASE_USER, Component};

/// [`super::backup::JOB_LABEL`] of the rotation Jobs.
pub const ROTATION_JOB: &str = "database-rotation";

const PREPARE_SCRIPT: &str = r#". /opt/toogoodtogo/pg-roles.sh
pgr_prepare_login "$OWNER_ROLE" "$LOGIN_ROLE" "$NEW_PASSWORD"
"#;

const RETIRE_SCRIPT: &str = r#". /opt/toogoodtogo/pg-roles.sh
pgr_set_password "$OLD_ROLE" "$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
"#;

fn job(ctx: &Context, managed: &ManagedDatabase, name: String, step: Step) -> Job {
    let (tmp_volume, tmp_mount) = pod::scratch_volume("tmp", "/tmp");
    let volumes = vec![
        Volume {
            name: "script".to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: ctx.owner.backup_script(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        tmp_volume,
    ];
    let mounts = vec![
        VolumeMount {
            name: "script".to_owned(),
            mount_path: SCRIPT_DIR.to_owned(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
        tmp_mount,
    ];
    let container = library_container(ctx, super::postgres::image(managed), step, mounts);
    let labels = job_labels(ctx, Component::Database, ROTATION_JOB);
    let mut metadata = ctx.owner.metadata(name, Component::Database);
    metadata.labels = Some(labels.clone());
    Job {
        metadata,
        spec: Some(JobSpec {
            backoff_limit: Some(3),
            active_deadline_seconds: Some(600),
            ttl_seconds_after_finished: Some(86_400),
            template: pod_template(ctx, labels, None, vec![container], volumes, library_uid()),
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// Give `login` the pending password (creating it as a member of the owner that acts as it).
pub fn prepare_job(ctx: &Context, managed: &ManagedDatabase, name: String, login: &str) -> Job {
    let credentials = ctx.owner.postgres_credentials();
    job(
        ctx,
        managed,
        name,
        Step {
            name: "prepare",
            role: Role::Superuser,
            script: PREPARE_SCRIPT,
            args: Vec::new(),
            env: vec![
                plain_env("OWNER_ROLE", BOT_DATABASE_USER),
                plain_env("LOGIN_ROLE", login),
                secret_env("NEW_PASSWORD", &credentials, POSTGRES_PENDING_PASSWORD_KEY),
            ],
        },
    )
}

/// Give `old` a password nobody knows.
pub fn retire_job(ctx: &Context, managed: &ManagedDatabase, name: String, old: &str) -> Job {
    job(
        ctx,
        managed,
        name,
        Step {
            name: "retire",
            role: Role::Superuser,
            script: RETIRE_SCRIPT,
            args: Vec::new(),
            env: vec![plain_env("OLD_ROLE", old)],
        },
    )
}
