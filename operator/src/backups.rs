//! Backups at run time, one step of the reconcile of a `TooGoodToGo` with `spec.backup`:
//!
//! 1. every Job of the backup CronJob gets a `Backup` resource that mirrors it, so every backup
//!    is listed by `kubectl get backups.toogoodtogo.io`;
//! 2. every `Backup` that has not finished gets its Job (on-demand and pre-deployment backups)
//!    and its status from that Job: phase, and from the Job's termination message (the
//!    backup's metadata file) file, size and checksum;
//! 3. retention ([`crate::retention`]) chooses what goes; a prune Job deletes exactly those files
//!    and, once it succeeded, the operator deletes their `Backup` resources.
//!
//! The volume and the `Backup` resources are not owned by the `TooGoodToGo`: deleting it leaves
//! the backups (and re-creating it with the same name finds them again).

use std::collections::BTreeSet;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use serde::Deserialize;
use serde_json::json;
use tracing::info;

use crate::cache::Reads;
use crate::crd::{
    Backup, BackupKind, BackupPhase, BackupResourceSpec, BackupSpec, BackupStatus, DatabaseSpec,
    LastBackup, TooGoodToGo,
};
use crate::names::{Component, FIELD_MANAGER, job_name};
use crate::resources::{self, backup as render};
use crate::retention::{self, Entry, Policy};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot {action} {what}: {source}")]
    Api {
        action: &'static str,
        what: String,
        #[source]
        source: kube::Error,
    },
}

pub(crate) fn api_error(
    action: &'static str,
    what: impl Into<String>,
) -> impl FnOnce(kube::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Api {
        action,
        what,
        source,
    }
}

pub(crate) fn is_status(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == code)
}

/// What the backup step found and did.
#[derive(Clone, Debug, Default)]
pub struct BackupFacts {
    pub last_success: Option<LastBackup>,
    /// The newest failed backup, when it is newer than the last success: (name, message).
    pub failure: Option<(String, String)>,
    /// A backup or a prune is pending or running.
    pub in_progress: bool,
    /// Events to publish on the `TooGoodToGo`.
    pub events: Vec<Notice>,
    /// Objects written.
    pub writes: Vec<String>,
    /// The platform's `Backup` resources after this step.
    pub backups: Vec<Backup>,
}

/// An Event to publish about a backup, a restore or a rotation.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub warning: bool,
    pub reason: &'static str,
    pub note: String,
    pub action: &'static str,
    /// The `Backup` or `Restore` it is about. It also keeps Events about different objects
    /// apart: the recorder folds Events of one reason and related object into a series.
    pub related: Option<ObjectReference>,
}

impl Notice {
    pub fn event(&self) -> Event {
        Event {
            type_: if self.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: self.reason.to_owned(),
            note: Some(self.note.clone()),
            action: self.action.to_owned(),
            secondary: self.related.clone(),
        }
    }
}

/// The metadata file `pg-backup.sh` writes next to a backup; a backup Job's termination message.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Report {
    pub file: String,
    pub size_bytes: i64,
    pub sha256: String,
    #[serde(default)]
    pub postgres_version: String,
    #[serde(default)]
    pub bot_version: String,
}

/// The name of the Job that runs a `Backup`.
pub fn job_of(backup: &Backup) -> String {
    backup
        .spec
        .job_name
        .clone()
        .unwrap_or_else(|| job_name(&backup.name_any()))
}

pub(crate) fn job_succeeded(job: &Job) -> bool {
    job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0) > 0
}

/// The failure message of a failed Job, None while it has not failed.
pub fn job_failure(job: &Job) -> Option<String> {
    job.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Failed" && c.status == "True")
        .map(|c| {
            c.message
                .clone()
                .or_else(|| c.reason.clone())
                .unwrap_or_else(|| "the Job failed".to_owned())
        })
}

/// The last meaningful line of a termination message that fell back to the logs.
pub(crate) fn summary(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| l.starts_with("ERROR"))
        .or(lines.last())
        .map(|l| (*l).to_owned())
        .unwrap_or_default()
}

/// The status a `Backup` should have, from its Job (pure).
pub fn next_status(
    current: &BackupStatus,
    job_name: &str,
    job: Option<&Job>,
    termination_message: Option<&str>,
    waiting_for_database: bool,
    now: Timestamp,
) -> BackupStatus {
    let mut next = current.clone();
    if current.phase.is_some_and(BackupPhase::is_terminal) {
        return next;
    }
    let Some(job) = job else {
        if current.job_name.is_some() {
            next.phase = Some(BackupPhase::Failed);
            next.completion_time = Some(Time(now));
            next.message = Some(format!("its Job {job_name} disappeared before it finished"));
        } else {
            next.phase = Some(BackupPhase::Pending);
            next.message =
                waiting_for_database.then(|| "waiting for the database to be ready".to_owned());
        }
        return next;
    };
    next.job_name = Some(job_name.to_owned());
    let status = job.status.clone().unwrap_or_default();
    if next.start_time.is_none() {
        next.start_time = status.start_time.clone();
    }
    if job_succeeded(job) {
        next.completion_time = Some(status.completion_time.unwrap_or(Time(now)));
        let report = termination_message
            .and_then(|m| serde_json::from_str::<Report>(m.trim()).ok())
            // The name goes into paths and arguments of later Jobs: only pg-backup.sh's names.
            .filter(|r| crate::restores::is_backup_file_name(&r.file));
        match report {
            Some(report) => {
                next.phase = Some(BackupPhase::Completed);
                next.file = Some(report.file);
                next.size_bytes = Some(report.size_bytes);
                next.sha256 = Some(report.sha256);
                next.postgres_version = Some(report.postgres_version).filter(|v| !v.is_empty());
                next.bot_version = Some(report.bot_version).filter(|v| !v.is_empty());
                next.message = None;
            }
            None => {
                next.phase = Some(BackupPhase::Failed);
                next.message = Some(format!(
                    "the Job {job_name} succeeded but did not report the backup's metadata"
                ));
            }
        }
    } else if let Some(failure) = job_failure(job) {
        next.phase = Some(BackupPhase::Failed);
        next.completion_time = Some(Time(now));
        let detail = termination_message.map(summary).filter(|s| !s.is_empty());
        next.message = Some(match detail {
            Some(detail) => format!("{detail} ({failure})"),
            None => failure,
        });
    } else {
        next.phase = Some(if status.active.unwrap_or(0) > 0 {
            BackupPhase::Running
        } else {
            BackupPhase::Pending
        });
        next.message = None;
    }
    next
}

/// When a backup was taken: the time in its file name, else when it started or was created.
pub fn taken_at(backup: &Backup) -> i64 {
    let status = backup.status.clone().unwrap_or_default();
    status
        .file
        .as_deref()
        .and_then(retention::taken_at_from_file)
        .or(status.start_time.map(|t| t.0.as_second()))
        .or(backup
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.as_second()))
        .unwrap_or(0)
}

/// The retention policy of a spec.
pub fn policy(spec: &BackupSpec) -> Policy {
    Policy {
        retention_days: spec.retention_days(),
        min_count: spec.min_count.unwrap_or(0),
        other_retention_days: spec.pre_deployment_retention_days,
    }
}

fn entry(backup: &Backup) -> Entry {
    let status = backup.status.clone().unwrap_or_default();
    Entry {
        name: backup.name_any(),
        kind: backup.spec.kind,
        phase: status.phase,
        taken_at: taken_at(backup),
        // A name that is not a backup file's is never handed to the prune Job.
        file: status
            .file
            .filter(|f| crate::restores::is_backup_file_name(f)),
    }
}

/// The newest success and, when newer, the newest failure.
pub fn summarize(backups: &[Backup]) -> (Option<LastBackup>, Option<(String, String)>) {
    let phase = |b: &Backup| b.status.as_ref().and_then(|s| s.phase);
    let newest = |wanted: BackupPhase| {
        backups
            .iter()
            .filter(|b| phase(b) == Some(wanted))
            .max_by_key(|b| (taken_at(b), b.name_any()))
    };
    let success = newest(BackupPhase::Completed).and_then(|b| {
        let status = b.status.as_ref()?;
        Some(LastBackup {
            name: b.name_any(),
            file: status.file.clone()?,
            completion_time: status.completion_time.clone()?,
        })
    });
    let success_at = newest(BackupPhase::Completed).map(taken_at);
    let failure = newest(BackupPhase::Failed)
        .filter(|b| success_at.is_none_or(|at| taken_at(b) > at))
        .map(|b| {
            let message = b
                .status
                .as_ref()
                .and_then(|s| s.message.clone())
                .unwrap_or_default();
            (b.name_any(), message)
        });
    (success, failure)
}

/// The pods of a Job and the termination message of its last finished container.
pub(crate) async fn termination_message(
    pods: &Api<Pod>,
    job: &str,
    succeeded: bool,
) -> Result<Option<String>, BackupError> {
    let list = pods
        .list(&ListParams::default().labels(&format!("job-name={job}")))
        .await
        .map_err(api_error("list the pods of", format!("Job {job}")))?;
    let message = list
        .items
        .iter()
        .filter_map(|pod| {
            let status = pod.status.as_ref()?;
            let statuses = status
                .init_container_statuses
                .iter()
                .flatten()
                .chain(status.container_statuses.iter().flatten());
            statuses
                .filter_map(|c| c.state.as_ref()?.terminated.as_ref())
                .filter(|t| (t.exit_code == 0) == succeeded)
                .filter_map(|t| t.message.clone())
                .next_back()
        })
        .next_back();
    Ok(message)
}

/// Run the backup step.
pub async fn reconcile(
    reads: &Reads,
    ctx: &resources::Context<'_>,
    spec: &BackupSpec,
    database: &DatabaseSpec,
    database_ready: bool,
    now: Timestamp,
) -> Result<BackupFacts, BackupError> {
    let owner = ctx.owner;
    let ns = owner.namespace.as_str();
    let client = reads.client();
    let backups_api: Api<Backup> = Api::namespaced(client.clone(), ns);
    let jobs_api: Api<Job> = Api::namespaced(client.clone(), ns);
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut facts = BackupFacts::default();

    // Backups are matched by `spec.toogoodtogo`: those a user creates carry no labels.
    let mut backups: Vec<Backup> = reads
        .list::<Backup>(ns, &[])
        .await
        .map_err(api_error("list", "Backups"))?
        .into_iter()
        .filter(|b| b.spec.toogoodtogo == owner.name)
        .collect();
    let jobs: Vec<Job> = reads
        .list::<Job>(
            ns,
            &[
                ("app.kubernetes.io/instance", owner.name.as_str()),
                ("app.kubernetes.io/component", Component::Backup.as_str()),
            ],
        )
        .await
        .map_err(api_error("list", "backup Jobs"))?;
    let label = |job: &Job| {
        job.labels()
            .get(render::JOB_LABEL)
            .cloned()
            .unwrap_or_default()
    };

    // 1. Mirror the CronJob's Jobs.
    let known: BTreeSet<String> = backups.iter().map(job_of).collect();
    for job in jobs.iter().filter(|j| label(j) == render::SCHEDULED_JOB) {
        let name = job.name_any();
        if known.contains(&name) {
            continue;
        }
        let mut mirror = Backup::new(
            &name,
            BackupResourceSpec {
                toogoodtogo: owner.name.clone(),
                kind: BackupKind::Scheduled,
                job_name: Some(name.clone()),
            },
        );
        mirror.metadata = owner.metadata(name.clone(), Component::Backup);
        mirror.metadata.owner_references = None;
        match backups_api.create(&PostParams::default(), &mirror).await {
            Ok(created) => {
                reads.wrote(&created);
                facts.writes.push(format!("Backup/{name}"));
                backups.push(created);
            }
            Err(err) if is_status(&err, 409) => {}
            Err(source) => return Err(api_error("create", format!("Backup {name}"))(source)),
        }
    }

    // 2. Jobs and status of unfinished Backups.
    for backup in &mut backups {
        let current = backup.status.clone().unwrap_or_default();
        if current.phase.is_some_and(BackupPhase::is_terminal) {
            continue;
        }
        let name = backup.name_any();
        let job_name = job_of(backup);
        let same_name = jobs.iter().find(|j| j.name_any() == job_name);
        // A Job of an earlier Backup of the same name (deleted, its Job not yet collected) is
        // not this Backup's: wait for it to go instead of taking over its outcome.
        let stale = backup.spec.job_name.is_none()
            && same_name.is_some_and(|j| {
                !j.owner_references()
                    .iter()
                    .any(|r| Some(&r.uid) == backup.metadata.uid.as_ref())
            });
        let mut job = same_name.filter(|_| !stale).cloned();
        let mut status = current.clone();
        if stale {
            let mut waiting = current.clone();
            waiting.phase = Some(BackupPhase::Pending);
            waiting.message = Some(format!(
                "waiting for the Job {job_name} of an earlier Backup of this name to be deleted"
            ));
            status = waiting;
            facts.in_progress = true;
        } else if job.is_none()
            && backup.spec.job_name.is_none()
            && current.job_name.is_none()
            && database_ready
        {
            let Some(owner_ref) = backup.controller_owner_ref(&()) else {
                continue;
            };
            let rendered = render::backup_job(
                ctx,
                spec,
                database,
                job_name.clone(),
                backup.spec.kind,
                owner_ref,
            );
            match jobs_api.create(&PostParams::default(), &rendered).await {
                Ok(created) => {
                    reads.wrote(&created);
                    facts.writes.push(format!("Job/{job_name}"));
                    info!(backup = %name, job = %job_name, "backup started");
                    job = Some(created);
                }
                Err(err) if is_status(&err, 409) => {}
                Err(source) => {
                    return Err(api_error("create", format!("Job {job_name}"))(source));
                }
            }
        }
        let message = match &job {
            Some(j) if job_succeeded(j) => termination_message(&pods_api, &job_name, true).await?,
            Some(j) if job_failure(j).is_some() => {
                termination_message(&pods_api, &job_name, false).await?
            }
            _ => None,
        };
        if !stale {
            status = next_status(
                &status,
                &job_name,
                job.as_ref(),
                message.as_deref(),
                !database_ready,
                now,
            );
        }
        if !status.phase.is_some_and(BackupPhase::is_terminal) {
            facts.in_progress = true;
        }
        if status != current {
            let patch = json!({
                "apiVersion": Backup::api_version(&()),
                "kind": Backup::kind(&()),
                "status": status,
            });
            let written = backups_api
                .patch_status(
                    &name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&patch),
                )
                .await
                .map_err(api_error("update the status of", format!("Backup {name}")))?;
            reads.wrote(&written);
            facts.writes.push(format!("Backup/{name}/status"));
            match status.phase {
                Some(BackupPhase::Failed) => facts.events.push(Notice {
                    warning: true,
                    reason: "BackupFailed",
                    note: format!(
                        "backup {name} failed: {}",
                        status.message.clone().unwrap_or_default()
                    ),
                    action: "Backup",
                    related: Some(backup.object_ref(&())),
                }),
                Some(BackupPhase::Completed) => facts.events.push(Notice {
                    warning: false,
                    reason: "BackupCompleted",
                    note: format!(
                        "backup {name} wrote {} ({} bytes)",
                        status.file.clone().unwrap_or_default(),
                        status.size_bytes.unwrap_or(0)
                    ),
                    action: "Backup",
                    related: Some(backup.object_ref(&())),
                }),
                _ => {}
            }
            if let Some(phase) = status.phase {
                info!(backup = %name, phase = phase.as_str(), "backup status");
            }
            backup.status = Some(status);
        }
    }

    // 3. Retention.
    let prune_jobs: Vec<&Job> = jobs
        .iter()
        .filter(|j| label(j) == render::PRUNE_JOB)
        .collect();
    let mut pruning = false;
    for job in &prune_jobs {
        let job_name = job.name_any();
        if job_succeeded(job) {
            let names: Vec<String> = job
                .annotations()
                .get(render::PRUNE_BACKUPS_ANNOTATION)
                .map(|a| {
                    a.split(',')
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            for name in names {
                delete_backup(reads, &backups_api, &name, &mut facts).await?;
                backups.retain(|b| b.name_any() != name);
            }
            delete_job(reads, &jobs_api, &job_name, &mut facts).await?;
        } else if let Some(failure) = job_failure(job) {
            facts.events.push(Notice {
                warning: true,
                reason: "PruneFailed",
                note: format!("pruning old backups failed ({failure}); retrying"),
                action: "Prune",
                related: None,
            });
            delete_job(reads, &jobs_api, &job_name, &mut facts).await?;
        } else {
            pruning = true;
        }
    }
    if prune_jobs.is_empty() {
        let entries: Vec<Entry> = backups.iter().map(entry).collect();
        let chosen = retention::choose(&entries, policy(spec), now.as_second());
        let (with_file, without_file): (Vec<Entry>, Vec<Entry>) =
            chosen.into_iter().partition(|e| e.file.is_some());
        for gone in without_file {
            delete_backup(reads, &backups_api, &gone.name, &mut facts).await?;
            backups.retain(|b| b.name_any() != gone.name);
        }
        if !with_file.is_empty() {
            let files: Vec<String> = with_file.iter().filter_map(|e| e.file.clone()).collect();
            let names: Vec<String> = with_file.iter().map(|e| e.name.clone()).collect();
            let job = render::prune_job(ctx, spec, database, &files, &names);
            let job_name = job.name_any();
            match jobs_api.create(&PostParams::default(), &job).await {
                Ok(created) => {
                    reads.wrote(&created);
                    info!(job = %job_name, files = ?files, "pruning backups");
                    facts.writes.push(format!("Job/{job_name}"));
                    facts.events.push(Notice {
                        warning: false,
                        reason: "PruningBackups",
                        note: format!("retention deletes {}", files.join(", ")),
                        action: "Prune",
                        related: None,
                    });
                    pruning = true;
                }
                Err(err) if is_status(&err, 409) => pruning = true,
                Err(source) => return Err(api_error("create", format!("Job {job_name}"))(source)),
            }
        }
    } else {
        // A prune Job existed in this pass: decide again on fresh state next time.
        pruning = true;
    }
    facts.in_progress |= pruning;
    let (last_success, failure) = summarize(&backups);
    facts.last_success = last_success;
    facts.failure = failure;
    facts.backups = backups;
    Ok(facts)
}

/// Annotation of a pre-deployment `Backup`: the version it was taken for.
pub const VERSION_ANNOTATION: &str = "toogoodtogo.io/version";

/// Create the pre-deployment `Backup` of `version` unless it exists. Returns whether it wrote.
pub async fn ensure_pre_deployment(
    reads: &Reads,
    owner: &crate::names::Owner,
    version: &str,
    generation: i64,
) -> Result<bool, BackupError> {
    let api: Api<Backup> = Api::namespaced(reads.client().clone(), &owner.namespace);
    let name = owner.pre_deployment_backup(version, generation);
    let mut backup = Backup::new(
        &name,
        BackupResourceSpec {
            toogoodtogo: owner.name.clone(),
            kind: BackupKind::PreDeployment,
            job_name: None,
        },
    );
    backup.metadata = owner.metadata(name.clone(), Component::Backup);
    backup.metadata.owner_references = None;
    backup
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(VERSION_ANNOTATION.to_owned(), version.to_owned());
    match api.create(&PostParams::default(), &backup).await {
        Ok(created) => {
            reads.wrote(&created);
            info!(backup = %name, version, "pre-deployment backup requested");
            Ok(true)
        }
        Err(err) if is_status(&err, 409) => Ok(false),
        Err(source) => Err(api_error("create", format!("Backup {name}"))(source)),
    }
}

async fn delete_backup(
    reads: &Reads,
    api: &Api<Backup>,
    name: &str,
    facts: &mut BackupFacts,
) -> Result<(), BackupError> {
    let deleted = api.delete(name, &DeleteParams::default()).await;
    if deleted.is_ok() || deleted.as_ref().is_err_and(|err| is_status(err, 404)) {
        reads.deleted("Backup", api.namespace().unwrap_or_default(), name);
    }
    match deleted {
        Ok(_) => {
            info!(backup = %name, "backup deleted by retention");
            facts.writes.push(format!("DELETE Backup/{name}"));
            Ok(())
        }
        Err(err) if is_status(&err, 404) => Ok(()),
        Err(source) => Err(api_error("delete", format!("Backup {name}"))(source)),
    }
}

async fn delete_job(
    reads: &Reads,
    api: &Api<Job>,
    name: &str,
    facts: &mut BackupFacts,
) -> Result<(), BackupError> {
    let deleted = api.delete(name, &DeleteParams::background()).await;
    if deleted.is_ok() || deleted.as_ref().is_err_and(|err| is_status(err, 404)) {
        reads.deleted("Job", api.namespace().unwrap_or_default(), name);
    }
    match deleted {
        Ok(_) => {
            facts.writes.push(format!("DELETE Job/{name}"));
            Ok(())
        }
        Err(err) if is_status(&err, 404) => Ok(()),
        Err(source) => Err(api_error("delete", format!("Job {name}"))(source)),
    }
}

/// The backup settings of a resource without `spec.backup`: every default.
static DEFAULT_BACKUP: BackupSpec = BackupSpec {
    enabled: None,
    schedule: None,
    time_zone: None,
    retention_days: None,
    min_count: None,
    pre_deployment_retention_days: None,
    pre_deployment: None,
    image: None,
    storage: None,
};

/// The backup settings when backups are on: always for a database the platform runs (managed
/// or CloudNativePG) unless `spec.backup.enabled` is false. The logical dumps reach a
/// CloudNativePG cluster through its `-rw` Service, so they follow a failover.
pub fn enabled(cr: &TooGoodToGo) -> Option<(&BackupSpec, &DatabaseSpec)> {
    let database = &cr.spec.database;
    database.in_cluster_major()?;
    match &cr.spec.backup {
        Some(spec) if spec.enabled == Some(false) => None,
        Some(spec) => Some((spec, database)),
        None => Some((&DEFAULT_BACKUP, database)),
    }
}

/// Backups of a database the platform runs turned off explicitly (`spec.backup.enabled: false`).
pub fn turned_off(cr: &TooGoodToGo) -> bool {
    cr.spec.database.in_cluster_major().is_some()
        && cr.spec.backup.as_ref().and_then(|b| b.enabled) == Some(false)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};

    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn job(status: JobStatus) -> Job {
        Job {
            status: Some(status),
            ..Job::default()
        }
    }

    const REPORT: &str = r#"{
  "file": "toogoodtogo_20260101_030000.sql.gz",
  "kind": "scheduled",
  "created_at": "2026-01-01T03:00:04Z",
  "size_bytes": 4096,
  "sha256": "ab",
  "database": "toogoodtogo",
  "postgres_version": "16.4",
  "tables": 12,
  "bot_version": "1.4.2",
  "host": "tgtg-backup-1-x"
}
"#;

    #[test]
    fn a_backup_without_a_job_is_pending_and_waits_for_the_database() {
        let status = next_status(&BackupStatus::default(), "b", None, None, true, at(0));
        assert_eq!(status.phase, Some(BackupPhase::Pending));
        assert_eq!(
            status.message.as_deref(),
            Some("waiting for the database to be ready")
        );
    }

    #[test]
    fn a_running_job_makes_it_running_with_the_jobs_start_time() {
        let running = job(JobStatus {
            active: Some(1),
            start_time: Some(Time(at(100))),
            ..JobStatus::default()
        });
        let status = next_status(
            &BackupStatus::default(),
            "b",
            Some(&running),
            None,
            false,
            at(200),
        );
        assert_eq!(status.phase, Some(BackupPhase::Running));
        assert_eq!(status.start_time, Some(Time(at(100))));
        assert_eq!(status.job_name.as_deref(), Some("b"));
    }

    #[test]
    fn a_succeeded_job_completes_it_with_the_reported_file() {
        let done = job(JobStatus {
            succeeded: Some(1),
            start_time: Some(Time(at(100))),
            completion_time: Some(Time(at(130))),
            ..JobStatus::default()
        });
        let status = next_status(
            &BackupStatus::default(),
            "b",
            Some(&done),
            Some(REPORT),
            false,
            at(200),
        );
        assert_eq!(status.phase, Some(BackupPhase::Completed));
        assert_eq!(
            status.file.as_deref(),
            Some("toogoodtogo_20260101_030000.sql.gz")
        );
        assert_eq!(status.size_bytes, Some(4096));
        assert_eq!(status.postgres_version.as_deref(), Some("16.4"));
        assert_eq!(status.completion_time, Some(Time(at(130))));
        // Terminal: nothing changes it again.
        let again = next_status(&status, "b", None, None, false, at(999));
        assert_eq!(again, status);
    }

    #[test]
    fn a_failed_job_fails_it_with_the_scripts_error_line() {
        let failed = job(JobStatus {
            failed: Some(2),
            conditions: Some(vec![JobCondition {
                type_: "Failed".to_owned(),
                status: "True".to_owned(),
                reason: Some("BackoffLimitExceeded".to_owned()),
                message: Some("Job has reached the specified backoff limit".to_owned()),
                ..JobCondition::default()
            }]),
            ..JobStatus::default()
        });
        let logs = "backup (scheduled)\nERROR: not enough free space in /backups: 3 MiB free, 120 MiB needed\n";
        let status = next_status(
            &BackupStatus::default(),
            "b",
            Some(&failed),
            Some(logs),
            false,
            at(5),
        );
        assert_eq!(status.phase, Some(BackupPhase::Failed));
        assert_eq!(
            status.message.as_deref(),
            Some(
                "ERROR: not enough free space in /backups: 3 MiB free, 120 MiB needed (Job has reached the specified backoff limit)"
            )
        );
    }

    #[test]
    fn a_vanished_job_fails_it_instead_of_waiting_forever() {
        let started = BackupStatus {
            phase: Some(BackupPhase::Running),
            job_name: Some("b".to_owned()),
            ..BackupStatus::default()
        };
        let status = next_status(&started, "b", None, None, false, at(5));
        assert_eq!(status.phase, Some(BackupPhase::Failed));
    }

    #[test]
    fn a_reported_file_name_that_is_not_a_backup_name_is_a_failure() {
        let done = job(JobStatus {
            succeeded: Some(1),
            ..JobStatus::default()
        });
        let report = REPORT.replace("toogoodtogo_20260101_030000.sql.gz", "../../etc/passwd");
        let status = next_status(
            &BackupStatus::default(),
            "b",
            Some(&done),
            Some(&report),
            false,
            at(5),
        );
        assert_eq!(status.phase, Some(BackupPhase::Failed));
        assert_eq!(status.file, None);
    }

    #[test]
    fn a_success_without_metadata_is_a_failure() {
        let done = job(JobStatus {
            succeeded: Some(1),
            ..JobStatus::default()
        });
        let status = next_status(
            &BackupStatus::default(),
            "b",
            Some(&done),
            Some("garbage"),
            false,
            at(5),
        );
        assert_eq!(status.phase, Some(BackupPhase::Failed));
    }
}
