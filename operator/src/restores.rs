//! Restores, one step of the reconcile of a `TooGoodToGo` with `spec.backup`. One `Restore` at a
//! time (the oldest unfinished one) moves through
//!
//! `Pending` -> `Verifying` -> `BackingUp` -> `ScalingDown` -> `Restoring` -> `ScalingUp` ->
//! `Completed`
//!
//! - `Verifying`: a Job checks the file (gzip integrity, a complete dump; a dry run also restores
//!   it into a scratch database). A missing or corrupt file fails here, before anything is
//!   touched. A dry run ends here.
//! - `BackingUp`: a `Backup` of kind PreRestore (the safety copy) must complete.
//! - `ScalingDown`: the build step renders the bot with zero replicas and no autoscaler while a
//!   restore is in this phase or the next; the restore Job starts once no bot pod runs.
//! - `Restoring`: the Job replaces the database in one transaction, then migrates it.
//! - `ScalingUp`: the bot is rendered with its replicas again; the restore is `Completed` only
//!   when they are ready on the restored database (as the single host's `restore.sh` waits for
//!   health). Not within the bot's progress deadline: `Failed` with `botNotReady`, and the
//!   platform is Degraded `RestoredBotNotReady` until the bot is ready.
//!
//! `Completed` and `Failed` are final: nothing is retried (a bad backup is not tried forever), and
//! the bot is scaled back by the next build.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tracing::info;

use crate::backups::{
    BackupError, Notice, api_error, is_status, job_failure, job_succeeded, summary,
    termination_message,
};
use crate::cache::Reads;
use crate::crd::{
    Backup, BackupKind, BackupPhase, BackupResourceSpec, BackupSpec, DatabaseSpec, Restore,
    RestorePhase, RestoreStatus,
};
use crate::names::{Component, FIELD_MANAGER, Owner, job_name};
use crate::resources::{self, restore as render};

/// What the restore step did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RestoreFacts {
    /// The restore in progress and what it is doing, for the platform's status.
    pub active: Option<String>,
    pub events: Vec<Notice>,
    pub writes: Vec<String>,
}

/// The platform's Restores, oldest first.
pub async fn list(reads: &Reads, owner: &Owner) -> Result<Vec<Restore>, BackupError> {
    // Matched by `spec.toogoodtogo`: Restores a user creates carry no labels.
    let mut restores: Vec<Restore> = reads
        .list::<Restore>(&owner.namespace, &[])
        .await
        .map_err(api_error("list", "Restores"))?
        .into_iter()
        .filter(|r| r.spec.toogoodtogo == owner.name)
        .collect();
    restores.sort_by_key(|r| {
        (
            r.metadata.creation_timestamp.as_ref().map(|t| t.0),
            r.name_any(),
        )
    });
    Ok(restores)
}

fn phase(restore: &Restore) -> Option<RestorePhase> {
    restore.status.as_ref().and_then(|s| s.phase)
}

/// Whether a restore holds the bot at zero replicas: one replacing the database, or the newest
/// finished one whose migration failed (the database has the restored schema, which the running
/// version may not understand).
pub fn bot_stopped(restores: &[Restore]) -> bool {
    restores.iter().any(|r| {
        matches!(
            phase(r),
            Some(RestorePhase::ScalingDown | RestorePhase::Restoring)
        )
    }) || unmigrated(restores).is_some()
}

/// The newest finished restore of the live database when its migration failed.
pub fn unmigrated(restores: &[Restore]) -> Option<&Restore> {
    restores
        .iter()
        .rfind(|r| !r.spec.dry_run && phase(r).is_some_and(RestorePhase::is_terminal))
        .filter(|r| r.status.as_ref().is_some_and(|s| s.migration_failed))
}

/// Whether the restore Job's init container replaced the database (and so the failure is the
/// migration's).
async fn database_replaced(pods: &Api<Pod>, job: &str) -> Result<bool, BackupError> {
    let list = pods
        .list(&ListParams::default().labels(&format!("job-name={job}")))
        .await
        .map_err(api_error("list the pods of", format!("Job {job}")))?;
    Ok(list.items.iter().any(|pod| {
        pod.status
            .as_ref()
            .and_then(|s| s.init_container_statuses.as_ref())
            .into_iter()
            .flatten()
            .any(|c| {
                c.name == "restore"
                    && c.state
                        .as_ref()
                        .and_then(|s| s.terminated.as_ref())
                        .is_some_and(|t| t.exit_code == 0)
            })
    }))
}

/// Whether no bot pod runs any more.
pub fn bot_scaled_down(deployment: Option<&Deployment>) -> bool {
    deployment.is_none_or(|d| {
        d.spec.replicas == Some(0) && d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0) == 0
    })
}

/// Whether the bot runs again: every replica the spec wants (the autoscaler's minimum) ready,
/// on the Deployment's current generation and no longer the stopped one. Returns (ready, ready
/// replicas, wanted replicas).
pub fn bot_ready(
    cr: &crate::crd::TooGoodToGo,
    deployment: Option<&Deployment>,
) -> (bool, i32, i32) {
    let wanted = cr
        .spec
        .autoscaling
        .as_ref()
        .map_or(cr.spec.replicas, |a| a.min_replicas);
    let Some(d) = deployment else {
        return (wanted == 0, 0, wanted);
    };
    let status = d.status.clone().unwrap_or_default();
    let ready = status.ready_replicas.unwrap_or(0);
    let current = status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0);
    let scaled_up = wanted == 0 || d.spec.replicas != Some(0);
    (current && scaled_up && ready >= wanted, ready, wanted)
}

/// The newest finished restore of the live database when the bot did not come back after it.
pub fn bot_not_ready(restores: &[Restore]) -> Option<&Restore> {
    restores
        .iter()
        .rfind(|r| !r.spec.dry_run && phase(r).is_some_and(RestorePhase::is_terminal))
        .filter(|r| r.status.as_ref().is_some_and(|s| s.bot_not_ready))
}

/// A file name `pg-backup.sh` writes (and nothing that could leave the backup directory).
pub fn is_backup_file_name(file: &str) -> bool {
    crate::retention::taken_at_from_file(file).is_some()
        && file.ends_with(".sql.gz")
        && file
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        && !file.contains("..")
}

/// The file a Restore names: Ok(Some) when known, Ok(None) while its Backup is still running,
/// Err with the reason it cannot be restored.
pub fn source_file(restore: &Restore, backups: &[Backup]) -> Result<Option<String>, String> {
    let file = match (&restore.spec.file, &restore.spec.backup) {
        (Some(file), _) => file.clone(),
        (None, Some(name)) => {
            let Some(backup) = backups.iter().find(|b| &b.name_any() == name) else {
                return Err(format!(
                    "Backup {name} of {} does not exist",
                    restore.spec.toogoodtogo
                ));
            };
            let status = backup.status.clone().unwrap_or_default();
            match status.phase {
                Some(BackupPhase::Completed) => match status.file {
                    Some(file) => file,
                    None => return Err(format!("Backup {name} has no file")),
                },
                Some(BackupPhase::Failed) => {
                    return Err(format!("Backup {name} failed; there is nothing to restore"));
                }
                _ => return Ok(None),
            }
        }
        (None, None) => return Err("name a backup or a file".to_owned()),
    };
    if is_backup_file_name(&file) {
        Ok(Some(file))
    } else {
        Err(format!("{file} is not a backup file name"))
    }
}

struct Step<'a> {
    reads: &'a Reads,
    owner: &'a Owner,
    facts: RestoreFacts,
    now: Timestamp,
}

impl Step<'_> {
    async fn create_job(&mut self, job: Job) -> Result<(), BackupError> {
        let api: Api<Job> = Api::namespaced(self.reads.client().clone(), &self.owner.namespace);
        let name = job.name_any();
        match api.create(&PostParams::default(), &job).await {
            Ok(created) => {
                self.reads.wrote(&created);
                self.facts.writes.push(format!("Job/{name}"));
                Ok(())
            }
            Err(err) if is_status(&err, 409) => Ok(()),
            Err(source) => Err(api_error("create", format!("Job {name}"))(source)),
        }
    }

    async fn create_safety_backup(&mut self, name: &str) -> Result<(), BackupError> {
        let owner = self.owner;
        let api: Api<Backup> = Api::namespaced(self.reads.client().clone(), &owner.namespace);
        let mut backup = Backup::new(
            name,
            BackupResourceSpec {
                toogoodtogo: owner.name.clone(),
                kind: BackupKind::PreRestore,
                job_name: None,
            },
        );
        backup.metadata = owner.metadata(name.to_owned(), Component::Backup);
        backup.metadata.owner_references = None;
        match api.create(&PostParams::default(), &backup).await {
            Ok(created) => {
                self.reads.wrote(&created);
                self.facts.writes.push(format!("Backup/{name}"));
                Ok(())
            }
            Err(err) if is_status(&err, 409) => Ok(()),
            Err(source) => Err(api_error("create", format!("Backup {name}"))(source)),
        }
    }

    fn fail(&mut self, restore: &Restore, status: &mut RestoreStatus, message: String) {
        status.phase = Some(RestorePhase::Failed);
        status.completion_time = Some(Time(self.now));
        self.facts.events.push(Notice {
            warning: true,
            reason: "RestoreFailed",
            note: format!("restore {} failed: {message}", restore.name_any()),
            action: "Restore",
            related: Some(restore.object_ref(&())),
        });
        status.message = Some(message);
    }
}

/// The name of the Restore an automatic rollback asks for: one per pre-deployment backup, so
/// asking twice is a 409, not a second restore.
pub fn rollback_restore_name(backup: &str) -> String {
    format!("{backup}-rollback")
}

/// The Restore of the pre-deployment backup `backup` (an automatic rollback with
/// `restoreDatabaseOnRollback`).
pub fn rollback_restore(owner: &Owner, backup: &str) -> Restore {
    let name = rollback_restore_name(backup);
    let mut restore = Restore::new(
        &name,
        crate::crd::RestoreResourceSpec {
            toogoodtogo: owner.name.clone(),
            backup: Some(backup.to_owned()),
            file: None,
            dry_run: false,
        },
    );
    restore.metadata = owner.metadata(name, Component::Restore);
    restore.metadata.owner_references = None;
    restore
}

/// Create `restore` unless it exists. Returns whether it wrote.
pub async fn create(reads: &Reads, owner: &Owner, restore: &Restore) -> Result<bool, BackupError> {
    let api: Api<Restore> = Api::namespaced(reads.client().clone(), &owner.namespace);
    let name = restore.name_any();
    match api.create(&PostParams::default(), restore).await {
        Ok(created) => {
            reads.wrote(&created);
            info!(restore = %name, "restore requested");
            Ok(true)
        }
        Err(err) if is_status(&err, 409) => Ok(false),
        Err(source) => Err(api_error("create", format!("Restore {name}"))(source)),
    }
}

/// Advance the oldest unfinished Restore by at most one phase. With `hold` (an upgrade in
/// progress, [`crate::exclusive`]) a restore that has not started stays `Pending`, saying why.
#[allow(clippy::too_many_arguments)]
pub async fn reconcile(
    reads: &Reads,
    ctx: &resources::Context<'_>,
    spec: &BackupSpec,
    database: &DatabaseSpec,
    restores: &[Restore],
    backups: &[Backup],
    deployment: Option<&Deployment>,
    hold: Option<&str>,
    now: Timestamp,
) -> Result<RestoreFacts, BackupError> {
    let owner = ctx.owner;
    let ns = owner.namespace.as_str();
    let client = reads.client();
    let restores_api: Api<Restore> = Api::namespaced(client.clone(), ns);
    let jobs_api: Api<Job> = Api::namespaced(client.clone(), ns);
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut step = Step {
        reads,
        owner,
        facts: RestoreFacts::default(),
        now,
    };
    let mut unfinished = restores
        .iter()
        .filter(|r| !phase(r).is_some_and(RestorePhase::is_terminal));
    let Some(restore) = unfinished.next() else {
        return Ok(step.facts);
    };
    let name = restore.name_any();
    let current = restore.status.clone().unwrap_or_default();
    let mut status = current.clone();
    let owner_ref = restore.controller_owner_ref(&());
    let verify_name = job_name(&format!("{name}-verify"));
    let restore_name = job_name(&format!("{name}-restore"));
    let safety_name = format!("{name}-safety");
    let get_job = |job: String| {
        let api = jobs_api.clone();
        async move {
            api.get_opt(&job)
                .await
                .map_err(api_error("read", format!("Job {job}")))
        }
    };

    match current.phase {
        None | Some(RestorePhase::Pending) if hold.is_some() => {
            status.phase = Some(RestorePhase::Pending);
            status.message = hold.map(str::to_owned);
        }
        None | Some(RestorePhase::Pending) => match source_file(restore, backups) {
            Err(reason) => step.fail(restore, &mut status, reason),
            Ok(None) => {
                status.phase = Some(RestorePhase::Pending);
                status.message = restore
                    .spec
                    .backup
                    .as_ref()
                    .map(|b| format!("waiting for Backup {b} to complete"));
            }
            Ok(Some(file)) => {
                if let Some(owner_ref) = owner_ref.clone() {
                    let job = render::verify_job(
                        ctx,
                        spec,
                        database,
                        verify_name.clone(),
                        &file,
                        restore.spec.dry_run,
                        owner_ref,
                    );
                    step.create_job(job).await?;
                    status.phase = Some(RestorePhase::Verifying);
                    status.start_time = Some(Time(now));
                    status.message = Some(format!("verifying {file}"));
                    status.file = Some(file);
                }
            }
        },
        Some(RestorePhase::Verifying) => match get_job(verify_name.clone()).await? {
            None => step.fail(
                restore,
                &mut status,
                format!("the Job {verify_name} disappeared; nothing was changed"),
            ),
            Some(job) if job_succeeded(&job) => {
                let file = status.file.clone().unwrap_or_default();
                if restore.spec.dry_run {
                    status.phase = Some(RestorePhase::Completed);
                    status.completion_time = Some(Time(now));
                    status.message = Some(format!(
                        "dry run: {file} is intact and restores into a scratch database; the live database was not touched"
                    ));
                    step.facts.events.push(Notice {
                        warning: false,
                        reason: "RestoreVerified",
                        note: format!("restore {name} (dry run): {file} restores"),
                        action: "Restore",
                        related: Some(restore.object_ref(&())),
                    });
                } else {
                    step.create_safety_backup(&safety_name).await?;
                    status.phase = Some(RestorePhase::BackingUp);
                    status.safety_backup = Some(safety_name.clone());
                    status.message = Some(format!(
                        "{file} is intact; taking the safety backup {safety_name}"
                    ));
                }
            }
            Some(job) => {
                if let Some(failure) = job_failure(&job) {
                    let detail = termination_message(&pods_api, &verify_name, false)
                        .await?
                        .map(|m| summary(&m))
                        .filter(|m| !m.is_empty())
                        .unwrap_or(failure);
                    let file = status.file.clone().unwrap_or_default();
                    step.fail(
                        restore,
                        &mut status,
                        format!("{file} cannot be restored: {detail}; nothing was changed"),
                    );
                }
            }
        },
        Some(RestorePhase::BackingUp) => {
            let safety = backups.iter().find(|b| b.name_any() == safety_name);
            let safety_status = safety.and_then(|b| b.status.clone()).unwrap_or_default();
            match (safety, safety_status.phase) {
                (None, _) => step.fail(
                    restore,
                    &mut status,
                    format!("the safety backup {safety_name} disappeared; nothing was changed"),
                ),
                (Some(_), Some(BackupPhase::Completed)) => {
                    status.phase = Some(RestorePhase::ScalingDown);
                    status.message = Some(format!(
                        "safety backup {} taken; stopping the bot",
                        safety_status.file.unwrap_or_default()
                    ));
                }
                (Some(_), Some(BackupPhase::Failed)) => step.fail(
                    restore,
                    &mut status,
                    format!(
                        "the safety backup {safety_name} failed ({}); nothing was changed",
                        safety_status.message.unwrap_or_default()
                    ),
                ),
                _ => {}
            }
        }
        Some(RestorePhase::ScalingDown) => {
            if bot_scaled_down(deployment)
                && let Some(owner_ref) = owner_ref.clone()
            {
                let file = status.file.clone().unwrap_or_default();
                let version = deployment
                    .and_then(crate::observe::running_version)
                    .unwrap_or_else(|| ctx.cr.spec.version.clone());
                let job = render::restore_job(
                    ctx,
                    spec,
                    database,
                    restore_name.clone(),
                    &file,
                    &version,
                    owner_ref,
                );
                step.create_job(job).await?;
                status.phase = Some(RestorePhase::Restoring);
                status.message = Some(format!(
                    "replacing the database with {file}, then migrating it for version {version}"
                ));
            }
        }
        Some(RestorePhase::Restoring) => {
            let safety = status.safety_backup.clone().unwrap_or_default();
            match get_job(restore_name.clone()).await? {
                None => step.fail(
                    restore,
                    &mut status,
                    format!(
                        "the Job {restore_name} disappeared; the safety backup {safety} holds the database from before"
                    ),
                ),
                Some(job) if job_succeeded(&job) => {
                    // The bot is rendered with its replicas again from the next reconcile on.
                    let file = status.file.clone().unwrap_or_default();
                    status.phase = Some(RestorePhase::ScalingUp);
                    status.restored_time = Some(Time(now));
                    status.message = Some(format!(
                        "the database was restored from {file} and migrated; waiting for the bot to be ready on it"
                    ));
                }
                Some(job) => {
                    if let Some(failure) = job_failure(&job) {
                        let detail = termination_message(&pods_api, &restore_name, false)
                            .await?
                            .map(|m| summary(&m))
                            .filter(|m| !m.is_empty())
                            .unwrap_or(failure);
                        if database_replaced(&pods_api, &restore_name).await? {
                            // The restore is one transaction, so a failed restore step left the
                            // database as it was; a failed migration left it restored but not
                            // migrated, which the running version may not work on.
                            let file = status.file.clone().unwrap_or_default();
                            status.migration_failed = true;
                            step.fail(
                                restore,
                                &mut status,
                                format!(
                                    "the database was replaced with {file} but its migration failed: {detail}; the bot stays at zero replicas. The safety backup {safety} holds the database from before: restore it, or fix the migration and delete this Restore to start the bot"
                                ),
                            );
                        } else {
                            step.fail(
                                restore,
                                &mut status,
                                format!(
                                    "{detail}; the safety backup {safety} holds the database from before"
                                ),
                            );
                        }
                    }
                }
            }
        }
        Some(RestorePhase::ScalingUp) => {
            let file = status.file.clone().unwrap_or_default();
            let safety = status.safety_backup.clone().unwrap_or_default();
            let (ready, ready_replicas, wanted) = bot_ready(ctx.cr, deployment);
            let restored_at = status.restored_time.as_ref().map_or(now, |t| t.0);
            if status.restored_time.is_none() {
                status.restored_time = Some(Time(now));
            }
            let deadline = i64::from(ctx.cr.progress_deadline_seconds());
            if ready {
                status.phase = Some(RestorePhase::Completed);
                status.completion_time = Some(Time(now));
                status.message = Some(format!(
                    "the database was restored from {file} and migrated, and the bot is ready on it ({ready_replicas}/{wanted} replicas); the safety backup {safety} holds the database from before"
                ));
                step.facts.events.push(Notice {
                    warning: false,
                    reason: "RestoreCompleted",
                    note: format!(
                        "restore {name}: the database was restored from {file}; the bot is ready again"
                    ),
                    action: "Restore",
                    related: Some(restore.object_ref(&())),
                });
            } else if now.as_second() - restored_at.as_second() > deadline {
                status.bot_not_ready = true;
                step.fail(
                    restore,
                    &mut status,
                    format!(
                        "the database was restored from {file} and migrated, but the bot did not become ready on it within {deadline}s ({ready_replicas}/{wanted} replicas ready): see kubectl describe pods -l app.kubernetes.io/instance={},app.kubernetes.io/component=bot; the safety backup {safety} holds the database from before",
                        owner.name
                    ),
                );
            }
        }
        Some(RestorePhase::Completed | RestorePhase::Failed) => {}
    }

    let active_phase = status.phase.unwrap_or(RestorePhase::Pending);
    // A held restore is not in progress: the upgrade it waits for must be able to finish.
    let held = hold.is_some() && active_phase == RestorePhase::Pending;
    if !active_phase.is_terminal() && !held {
        step.facts.active = Some(format!(
            "restore {name}: {}{}",
            active_phase.as_str(),
            status
                .message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ));
    }
    let mut updates = vec![(
        name.clone(),
        restore.metadata.resource_version.clone(),
        current,
        status,
    )];
    for waiting in unfinished {
        let current = waiting.status.clone().unwrap_or_default();
        let mut next = current.clone();
        next.phase = Some(RestorePhase::Pending);
        next.message = Some(match hold {
            Some(why) if held => why.to_owned(),
            _ => format!("waiting for restore {name} to finish"),
        });
        updates.push((
            waiting.name_any(),
            waiting.metadata.resource_version.clone(),
            current,
            next,
        ));
    }
    for (restore_name, version, current, next) in updates {
        if next == current {
            continue;
        }
        // Written only over the Restore as it was read: a phase another reconcile (a second
        // operator replica) recorded meanwhile is not overwritten by one computed before it.
        let patch = json!({
            "apiVersion": Restore::api_version(&()),
            "kind": Restore::kind(&()),
            "metadata": {"resourceVersion": version},
            "status": next,
        });
        let written = restores_api
            .patch_status(
                &restore_name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await;
        match written {
            Ok(written) => reads.wrote(&written),
            Err(err) if is_status(&err, 409) => {
                info!(restore = %restore_name, "the restore changed since it was read; the next reconcile goes on");
                if restore_name == name {
                    // What this step decided was not recorded: neither is it announced.
                    step.facts.events.clear();
                }
                continue;
            }
            Err(source) => {
                return Err(api_error(
                    "update the status of",
                    format!("Restore {restore_name}"),
                )(source));
            }
        }
        if let Some(phase) = next.phase {
            info!(restore = %restore_name, phase = phase.as_str(), "restore status");
        }
        step.facts
            .writes
            .push(format!("Restore/{restore_name}/status"));
    }
    Ok(step.facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_pg_backup_writes_are_backup_files() {
        assert!(is_backup_file_name("toogoodtogo_20260101_030000.sql.gz"));
        assert!(is_backup_file_name(
            "toogoodtogo_20260101_030000_pre_deployment.sql.gz"
        ));
        assert!(!is_backup_file_name(
            "../toogoodtogo_20260101_030000.sql.gz"
        ));
        assert!(!is_backup_file_name(
            "toogoodtogo_20260101_030000.sql.gz/../../x"
        ));
        assert!(!is_backup_file_name("toogoodtogo_20260101_030000.tar"));
        assert!(!is_backup_file_name("dump.sql.gz"));
    }
}
