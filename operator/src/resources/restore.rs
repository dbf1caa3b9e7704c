//! The Jobs of a `Restore`, owned by it. Both run `pg-backup.sh` from the backup ConfigMap:
//!
//! - the verify Job checks the file before anything is touched (`pgb_verify`); for a dry run it
//!   also restores it into a scratch database and drops that again (`pgb_restore_check`, as the
//!   superuser, who may create databases);
//! - the restore Job replaces the database in one transaction (`pgb_restore`, as the bot's role
//!   so that the restored tables stay the bot's) in an init container, then runs the bot's
//!   migrations with the bot image.
//!
//! Neither is retried: a restore that failed must be looked at, not repeated.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::Container;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::Context;
use super::backup::{
    self, Role, Step, job_labels, library_container, library_uid, plain_env, pod_template,
};
use super::pod;
use crate::crd::{BackupSpec, DatabaseSpec};
use crate::names::Component;

/// [`backup::JOB_LABEL`] of the verify Job.
pub const VERIFY_JOB: &str = "restore-verify";
/// [`backup::JOB_LABEL`] of the restore Job.
pub const RESTORE_JOB: &str = "restore";

const VERIFY_SCRIPT: &str = r#". /opt/toogoodtogo/pg-backup.sh
pgb_verify "$BACKUP_DIR/$RESTORE_FILE" || exit $?
echo "$RESTORE_FILE is intact" > /dev/termination-log
"#;

const DRY_RUN_SCRIPT: &str = r#". /opt/toogoodtogo/pg-backup.sh
pgb_restore_check "$BACKUP_DIR/$RESTORE_FILE" || exit $?
echo "$RESTORE_FILE is intact and restores into a scratch database" > /dev/termination-log
"#;

const RESTORE_SCRIPT: &str = r#". /opt/toogoodtogo/pg-backup.sh
pgb_restore "$BACKUP_DIR/$RESTORE_FILE"
"#;

fn job(ctx: &Context, name: String, job_label: &str, restore: OwnerReference) -> Job {
    let mut metadata = ctx.owner.metadata(name, Component::Restore);
    metadata.labels = Some(job_labels(ctx, Component::Restore, job_label));
    metadata.owner_references = Some(vec![restore]);
    Job {
        metadata,
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(3600),
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// Check `file` (and for a dry run restore it into a scratch database).
pub fn verify_job(
    ctx: &Context,
    spec: &BackupSpec,
    database: &DatabaseSpec,
    name: String,
    file: &str,
    dry_run: bool,
    restore: OwnerReference,
) -> Job {
    let mut job = job(ctx, name, VERIFY_JOB, restore);
    let (volumes, mounts) = backup::volumes(ctx);
    let (script, role) = if dry_run {
        (DRY_RUN_SCRIPT, Role::Superuser)
    } else {
        (VERIFY_SCRIPT, Role::Bot)
    };
    let container = library_container(
        ctx,
        backup::image(spec, database),
        Step {
            name: "verify",
            role,
            script,
            args: Vec::new(),
            env: vec![plain_env("RESTORE_FILE", file)],
        },
        mounts,
    );
    let labels = job_labels(ctx, Component::Restore, VERIFY_JOB);
    if let Some(spec) = job.spec.as_mut() {
        spec.template = pod_template(ctx, labels, None, vec![container], volumes, library_uid());
    }
    job
}

/// Replace the database with `file`, then migrate it with the bot of `version`.
pub fn restore_job(
    ctx: &Context,
    spec: &BackupSpec,
    database: &DatabaseSpec,
    name: String,
    file: &str,
    version: &str,
    restore: OwnerReference,
) -> Job {
    let mut job = job(ctx, name, RESTORE_JOB, restore);
    let (mut volumes, mounts) = backup::volumes(ctx);
    let restore_container = library_container(
        ctx,
        backup::image(spec, database),
        Step {
            name: "restore",
            role: Role::Bot,
            script: RESTORE_SCRIPT,
            args: Vec::new(),
            env: vec![plain_env("RESTORE_FILE", file)],
        },
        mounts,
    );
    let (env_from, env) = pod::bot_env(ctx);
    let (bot_tmp, bot_tmp_mount) = pod::scratch_volume("bot-tmp", "/tmp");
    volumes.push(bot_tmp);
    let mut security = pod::container_security_context();
    security.run_as_user = Some(pod::BOT_UID);
    security.run_as_group = Some(pod::BOT_UID);
    let migrate = Container {
        name: "migrate".to_owned(),
        image: Some(ctx.cr.bot_image(version)),
        image_pull_policy: ctx.cr.spec.image_pull_policy.map(|p| p.as_str().to_owned()),
        args: Some(vec!["migrate".to_owned()]),
        env_from: Some(env_from),
        env: Some(env),
        resources: Some(pod::resources_or(None, "50m", "64Mi", "256Mi")),
        security_context: Some(security),
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        volume_mounts: Some(vec![bot_tmp_mount]),
        ..Container::default()
    };
    let labels = job_labels(ctx, Component::Restore, RESTORE_JOB);
    if let Some(spec) = job.spec.as_mut() {
        spec.template = pod_template(
            ctx,
            labels,
            Some(vec![restore_container]),
            vec![migrate],
            volumes,
            library_uid(),
        );
    }
    job
}
