//! Backups of the database the platform runs (managed or CloudNativePG): the volume they live
//! on, the ConfigMap with `deployment/scripts/lib/pg-backup.sh` (the same library the
//! single-host `backup.sh` and `restore.sh` use, embedded at build time, not a copy), the
//! CronJob of the scheduled backups, the Job of one `Backup` and the Job that deletes the files
//! retention chose.
//!
//! Every Job runs `bash` from the PostgreSQL image of the database's major version, sources the
//! library and calls one of its functions. A backup Job ends by writing the backup's metadata
//! file to its termination message, where the operator reads file name, size and checksum.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EnvVar, EnvVarSource, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec,
    SecretKeySelector, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::pod::{
    self, POSTGRES_BOT_PASSWORD_KEY, POSTGRES_SUPERUSER_PASSWORD_KEY, POSTGRES_USER_KEY,
};
use super::{Context, cnpg_cluster};
use crate::crd::{BackupKind, BackupSpec, DatabaseSpec};
use crate::names::{BOT_DATABASE, Component, DATABASE_CLIENT_LABEL, POSTGRES_PORT};

/// The backup library, byte for byte.
pub const SCRIPT: &str = include_str!("../../../deployment/scripts/lib/pg-backup.sh");
/// Key of the library in the ConfigMap, and its file name in the Jobs.
pub const SCRIPT_KEY: &str = "pg-backup.sh";
/// The two-role password rotation library, byte for byte.
pub const ROLES_SCRIPT: &str = include_str!("../../../deployment/scripts/lib/pg-roles.sh");
/// Its key in the ConfigMap.
pub const ROLES_SCRIPT_KEY: &str = "pg-roles.sh";
/// Where the ConfigMap is mounted in the Jobs.
pub const SCRIPT_DIR: &str = "/opt/toogoodtogo";
/// Where the backup volume is mounted in the Jobs (`BACKUP_DIR`).
pub const BACKUP_DIR: &str = "/backups";
/// Label on every Job (and its pods) the backup machinery creates: what the Job does.
pub const JOB_LABEL: &str = "toogoodtogo.io/job";
/// [`JOB_LABEL`] of the CronJob's Jobs.
pub const SCHEDULED_JOB: &str = "scheduled-backup";
/// [`JOB_LABEL`] of a `Backup`'s Job.
pub const BACKUP_JOB: &str = "backup";
/// [`JOB_LABEL`] of the prune Job.
pub const PRUNE_JOB: &str = "prune";
/// Annotation of the prune Job: the `Backup` resources whose files it deletes, comma-separated.
pub const PRUNE_BACKUPS_ANNOTATION: &str = "toogoodtogo.io/backups";
/// UID of the `postgres` user in the official Alpine images.
const POSTGRES_UID: i64 = 70;

/// A backup Job's script: back up, then hand the metadata to the operator.
const BACKUP_SCRIPT: &str = r#". /opt/toogoodtogo/pg-backup.sh
pgb_backup "$BACKUP_KIND" || exit $?
cat "$PGB_LAST_BACKUP.meta.json" > /dev/termination-log
"#;

/// The prune Job's script: delete exactly the files named as arguments.
const PRUNE_SCRIPT: &str = r#". /opt/toogoodtogo/pg-backup.sh
pgb_remove "$@"
"#;

/// Which database role a Job connects as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The bot's role, which owns the bot database: dumps and restores keep that ownership.
    Bot,
    /// The superuser: only to create and drop a scratch database for a dry run.
    Superuser,
}

/// The image with the PostgreSQL client tools of the database's major version.
pub fn image(spec: &BackupSpec, database: &DatabaseSpec) -> String {
    spec.image.clone().unwrap_or_else(|| {
        let major = database
            .in_cluster_major()
            .unwrap_or_else(|| crate::crd::PostgresMajor::default().as_str().to_owned());
        format!("postgres:{major}-alpine")
    })
}

pub fn claim(ctx: &Context, spec: &BackupSpec) -> PersistentVolumeClaim {
    let owner = ctx.owner;
    let volume = spec.volume();
    let mut metadata = owner.metadata(owner.backup_claim(), Component::Backup);
    // Not owned: deleting the TooGoodToGo (and its database volume) keeps the backups.
    metadata.owner_references = None;
    PersistentVolumeClaim {
        metadata,
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: volume.storage_class_name,
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(volume.size),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

pub fn script(ctx: &Context) -> ConfigMap {
    let owner = ctx.owner;
    ConfigMap {
        metadata: owner.metadata(owner.backup_script(), Component::Backup),
        data: Some(BTreeMap::from([
            (SCRIPT_KEY.to_owned(), SCRIPT.to_owned()),
            (ROLES_SCRIPT_KEY.to_owned(), ROLES_SCRIPT.to_owned()),
        ])),
        ..ConfigMap::default()
    }
}

pub fn plain_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    }
}

pub fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: None,
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// Connection and library settings of every Job: the PostgreSQL tools run in the container
/// (`PGB_EXEC` empty), and the operator, not the library, decides what is pruned.
pub fn library_env(ctx: &Context, role: Role) -> Vec<EnvVar> {
    let owner = ctx.owner;
    let (host, user, password) = if ctx.cr.spec.database.cloud_native_pg.is_some() {
        // CloudNativePG's Secrets, through the Service that follows the primary: a Job started
        // before a failover reconnects to the new primary on its retry.
        let secret = match role {
            Role::Bot => owner.cnpg_app_secret(),
            Role::Superuser => owner.cnpg_superuser_secret(),
        };
        (
            owner.cnpg_primary_service(),
            secret_env("PGUSER", &secret, cnpg_cluster::USERNAME_KEY),
            secret_env("PGPASSWORD", &secret, cnpg_cluster::PASSWORD_KEY),
        )
    } else {
        let credentials = owner.postgres_credentials();
        let (user, password_key) = match role {
            Role::Bot => (
                secret_env("PGUSER", &credentials, POSTGRES_USER_KEY),
                POSTGRES_BOT_PASSWORD_KEY,
            ),
            Role::Superuser => (
                plain_env("PGUSER", "postgres"),
                POSTGRES_SUPERUSER_PASSWORD_KEY,
            ),
        };
        (
            owner.postgres(),
            user,
            secret_env("PGPASSWORD", &credentials, password_key),
        )
    };
    vec![
        plain_env("PGHOST", &host),
        plain_env("PGPORT", &POSTGRES_PORT.to_string()),
        user,
        password,
        plain_env("PGCONNECT_TIMEOUT", "10"),
        plain_env("PGB_EXEC", ""),
        plain_env("PGB_DB", BOT_DATABASE),
        plain_env("PGB_PRUNE", "0"),
        plain_env("BACKUP_DIR", BACKUP_DIR),
        plain_env("BACKUP_TEXTFILE_DIR", ""),
        plain_env("BOT_VERSION", &ctx.cr.spec.version),
    ]
}

/// The volumes every Job mounts: the backup volume, the library, a writable `/tmp`.
pub fn volumes(ctx: &Context) -> (Vec<Volume>, Vec<VolumeMount>) {
    let (tmp_volume, tmp_mount) = pod::scratch_volume("tmp", "/tmp");
    let volumes = vec![
        Volume {
            name: "backups".to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: ctx.owner.backup_claim(),
                read_only: None,
            }),
            ..Volume::default()
        },
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
            name: "backups".to_owned(),
            mount_path: BACKUP_DIR.to_owned(),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "script".to_owned(),
            mount_path: SCRIPT_DIR.to_owned(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
        tmp_mount,
    ];
    (volumes, mounts)
}

/// One call of the library in a container.
pub struct Step<'a> {
    /// Container name (and `$0` of the script).
    pub name: &'a str,
    pub role: Role,
    /// Bash that sources the library and calls it.
    pub script: &'a str,
    /// Positional arguments of the script.
    pub args: Vec<String>,
    /// Environment on top of [`library_env`].
    pub env: Vec<EnvVar>,
}

/// A container that runs a step with bash, with the library's environment.
pub fn library_container(
    ctx: &Context,
    image: String,
    step: Step,
    mounts: Vec<VolumeMount>,
) -> Container {
    let mut env = library_env(ctx, step.role);
    env.extend(step.env);
    let mut command = vec![
        "bash".to_owned(),
        "-c".to_owned(),
        step.script.to_owned(),
        step.name.to_owned(),
    ];
    command.extend(step.args);
    Container {
        name: step.name.to_owned(),
        image: Some(image),
        command: Some(command),
        env: Some(env),
        resources: Some(pod::resources_or(None, "50m", "64Mi", "512Mi")),
        security_context: Some(pod::container_security_context()),
        // On failure the last lines of the log (the library's ERROR line) become the message.
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

/// Labels of a Job of the backup machinery and of its pods.
pub fn job_labels(ctx: &Context, component: Component, job: &str) -> BTreeMap<String, String> {
    let mut labels = ctx.owner.labels(component);
    labels.insert(JOB_LABEL.to_owned(), job.to_owned());
    labels
}

/// The pod of a Job: hardened like every other pod, allowed through the database's policy.
pub fn pod_template(
    ctx: &Context,
    labels: BTreeMap<String, String>,
    init_containers: Option<Vec<Container>>,
    containers: Vec<Container>,
    volumes: Vec<Volume>,
    uid: i64,
) -> PodTemplateSpec {
    let mut pod_labels = labels;
    pod_labels.insert(DATABASE_CLIENT_LABEL.to_owned(), "true".to_owned());
    let placement = ctx.cr.spec.placement.clone().unwrap_or_default();
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            restart_policy: Some("Never".to_owned()),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(pod::pod_security_context(uid)),
            node_selector: placement.node_selector,
            tolerations: placement.tolerations,
            affinity: placement.affinity,
            init_containers,
            containers,
            volumes: Some(volumes),
            ..PodSpec::default()
        }),
    }
}

fn backup_pod(
    ctx: &Context,
    spec: &BackupSpec,
    database: &DatabaseSpec,
    labels: BTreeMap<String, String>,
    kind: BackupKind,
) -> PodTemplateSpec {
    let (volumes, mounts) = volumes(ctx);
    let container = library_container(
        ctx,
        image(spec, database),
        Step {
            name: "backup",
            role: Role::Bot,
            script: BACKUP_SCRIPT,
            args: Vec::new(),
            env: vec![plain_env("BACKUP_KIND", kind.script_name())],
        },
        mounts,
    );
    pod_template(ctx, labels, None, vec![container], volumes, POSTGRES_UID)
}

/// The scheduled backups: one Job at a time, a few finished Jobs kept for their logs.
pub fn cron_job(ctx: &Context, spec: &BackupSpec, database: &DatabaseSpec) -> CronJob {
    let owner = ctx.owner;
    let labels = job_labels(ctx, Component::Backup, SCHEDULED_JOB);
    let mut metadata = owner.metadata(owner.backup_cron_job(), Component::Backup);
    metadata.labels = Some(labels.clone());
    CronJob {
        metadata,
        spec: CronJobSpec {
            schedule: spec.schedule().to_owned(),
            time_zone: Some(spec.time_zone().to_owned()),
            concurrency_policy: Some("Forbid".to_owned()),
            // A run missed by more than an hour (operator or cluster down) is skipped, not
            // run late in a burst.
            starting_deadline_seconds: Some(3600),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..ObjectMeta::default()
                }),
                spec: Some(JobSpec {
                    backoff_limit: Some(1),
                    active_deadline_seconds: Some(3600),
                    template: backup_pod(ctx, spec, database, labels, BackupKind::Scheduled),
                    ..JobSpec::default()
                }),
            },
            ..CronJobSpec::default()
        },
        ..CronJob::default()
    }
}

/// The Job of one `Backup`, owned by it (deleting the `Backup` deletes the Job).
pub fn backup_job(
    ctx: &Context,
    spec: &BackupSpec,
    database: &DatabaseSpec,
    job_name: String,
    kind: BackupKind,
    backup: OwnerReference,
) -> Job {
    let labels = job_labels(ctx, Component::Backup, BACKUP_JOB);
    let mut metadata = ctx.owner.metadata(job_name, Component::Backup);
    metadata.labels = Some(labels.clone());
    metadata.owner_references = Some(vec![backup]);
    Job {
        metadata,
        spec: Some(JobSpec {
            backoff_limit: Some(1),
            active_deadline_seconds: Some(3600),
            // The Backup keeps the outcome; the finished Job goes after a day.
            ttl_seconds_after_finished: Some(86_400),
            template: backup_pod(ctx, spec, database, labels, kind),
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// The Job that deletes `files` from the backup volume; the annotation names their `Backup`
/// resources, which the operator deletes once the Job succeeded.
pub fn prune_job(
    ctx: &Context,
    spec: &BackupSpec,
    database: &DatabaseSpec,
    files: &[String],
    backups: &[String],
) -> Job {
    let owner = ctx.owner;
    let labels = job_labels(ctx, Component::Backup, PRUNE_JOB);
    let mut metadata = owner.metadata(owner.prune_job(files), Component::Backup);
    metadata.labels = Some(labels.clone());
    metadata.annotations = Some(BTreeMap::from([(
        PRUNE_BACKUPS_ANNOTATION.to_owned(),
        backups.join(","),
    )]));
    let (volumes, mounts) = volumes(ctx);
    let container = library_container(
        ctx,
        image(spec, database),
        Step {
            name: "prune",
            role: Role::Bot,
            script: PRUNE_SCRIPT,
            args: files.to_vec(),
            env: Vec::new(),
        },
        mounts,
    );
    Job {
        metadata,
        spec: Some(JobSpec {
            backoff_limit: Some(2),
            active_deadline_seconds: Some(600),
            template: pod_template(ctx, labels, None, vec![container], volumes, POSTGRES_UID),
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// UID the library's containers run as.
pub fn library_uid() -> i64 {
    POSTGRES_UID
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_jobs_run_the_shared_library_not_a_copy() {
        let on_disk = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../deployment/scripts/lib/pg-backup.sh"),
        )
        .unwrap_or_default();
        assert_eq!(super::SCRIPT, on_disk);
        let roles = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../deployment/scripts/lib/pg-roles.sh"),
        )
        .unwrap_or_default();
        assert_eq!(super::ROLES_SCRIPT, roles);
        assert!(super::SCRIPT.contains("pgb_remove()"));
        assert!(super::SCRIPT.contains("pgb_restore_check()"));
    }
}
