//! Rotation of the managed database's password without failed connections
//! (`spec.secretRotation.databasePassword`). The bot moves between two login roles,
//! `toogoodtogo_blue` and `toogoodtogo_green`, that act as the database owner:
//!
//! 1. `Preparing`: the new password is written to the credentials Secret (`pending-password`)
//!    and a Job gives it to the idle role (`pgr_prepare_login`);
//! 2. `Switching`: the Secret's `username`/`password` become the idle role and the new password;
//!    the bot rolls onto them (both roles are valid meanwhile);
//! 3. `Retiring`: once no pod of the old generation is left, a Job gives the old role a password
//!    nobody knows (`pgr_set_password`).
//!
//! [`decide`] runs before the build (it changes the values the build renders), [`act`] after the
//! apply (it creates the Job the state needs).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client, ResourceExt};
use tracing::info;

use crate::backups::{BackupError, Notice, api_error, is_status, job_failure, job_succeeded};
use crate::build::GeneratedValues;
use crate::crd::{
    DatabaseRotation, DatabaseRotationPhase, ManagedDatabase, SecretRotationStatus, TooGoodToGo,
};
use crate::generator::SecretGenerator;
use crate::names::{BOT_DATABASE_USER, CONFIG_HASH_ANNOTATION, Owner, job_name};
use crate::resources::{self, db_rotation as render};

/// The rotation as recorded on the credentials Secret, in the same write as the passwords: the
/// status can lose a write (a crash before it, a second operator replica), the Secret cannot
/// lose what it holds. So a rotation is started once, with one new password.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The rotation in progress, as of the last write of the Secret.
    pub rotation: Option<DatabaseRotation>,
    /// When the last rotation completed (seconds since the epoch).
    pub rotated_at: Option<i64>,
    /// The `toogoodtogo.io/rotate` value the last rotation started on.
    pub trigger: Option<String>,
    /// The start (seconds) of the last rotation that ended, completed or failed: a recorded
    /// rotation with that start is over, whatever else says it is not.
    pub ended: Option<i64>,
    /// The Secret's resourceVersion when read: its next write is conditional on it.
    pub resource_version: Option<String>,
}

pub const ROTATION_ANNOTATION: &str = "toogoodtogo.io/database-rotation";
pub const ROTATED_AT_ANNOTATION: &str = "toogoodtogo.io/database-password-rotated-at";
pub const TRIGGER_ANNOTATION: &str = "toogoodtogo.io/database-rotation-trigger";
pub const ENDED_ANNOTATION: &str = "toogoodtogo.io/database-rotation-ended";

fn phase_rank(phase: DatabaseRotationPhase) -> u8 {
    match phase {
        DatabaseRotationPhase::Preparing => 0,
        DatabaseRotationPhase::Switching => 1,
        DatabaseRotationPhase::Retiring => 2,
    }
}

impl Record {
    pub fn read(secret: Option<&k8s_openapi::api::core::v1::Secret>) -> Self {
        let annotations = secret.and_then(|s| s.metadata.annotations.as_ref());
        let get = |key: &str| annotations.and_then(|a| a.get(key));
        Self {
            rotation: get(ROTATION_ANNOTATION).and_then(|j| serde_json::from_str(j).ok()),
            rotated_at: get(ROTATED_AT_ANNOTATION)
                .and_then(|t| t.parse::<Timestamp>().ok())
                .map(|t| t.as_second()),
            trigger: get(TRIGGER_ANNOTATION).cloned(),
            ended: get(ENDED_ANNOTATION).and_then(|s| s.parse().ok()),
            resource_version: secret.and_then(|s| s.metadata.resource_version.clone()),
        }
    }

    pub fn annotations(&self) -> std::collections::BTreeMap<String, String> {
        let mut annotations = std::collections::BTreeMap::new();
        if let Some(rotation) = &self.rotation
            && let Ok(json) = serde_json::to_string(rotation)
        {
            annotations.insert(ROTATION_ANNOTATION.to_owned(), json);
        }
        if let Some(at) = self.rotated_at.and_then(|s| Timestamp::from_second(s).ok()) {
            annotations.insert(ROTATED_AT_ANNOTATION.to_owned(), at.to_string());
        }
        if let Some(trigger) = &self.trigger {
            annotations.insert(TRIGGER_ANNOTATION.to_owned(), trigger.clone());
        }
        if let Some(ended) = self.ended {
            annotations.insert(ENDED_ANNOTATION.to_owned(), ended.to_string());
        }
        annotations
    }

    /// The rotation state to act on: the status's, corrected by what the Secret recorded.
    pub fn merge(&self, status: &mut SecretRotationStatus) {
        let completed = [
            status.database_password.as_ref().map(|t| t.0.as_second()),
            self.rotated_at,
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(at) = completed.and_then(|s| Timestamp::from_second(s).ok()) {
            status.database_password = Some(Time(at));
        }
        let over = |r: &DatabaseRotation| self.ended == Some(r.started.0.as_second());
        let stored = self.rotation.as_ref().filter(|r| !over(r));
        status.database_rotation = match (status.database_rotation.take(), stored) {
            // The same rotation: the status may be ahead (the retire step is decided after the
            // Secret was written).
            (Some(ours), Some(stored)) if ours.started == stored.started => {
                if phase_rank(ours.phase) >= phase_rank(stored.phase) {
                    Some(ours)
                } else {
                    Some(stored.clone())
                }
            }
            // The Secret holds the pending password of its rotation, not of the status's.
            (_, Some(stored)) => Some(stored.clone()),
            // Ended since it started (the status write of its end was lost).
            (Some(ours), None) if over(&ours) => None,
            // A Secret from before records existed.
            (ours, None) => ours,
        };
    }
}

/// Whether the platform rotates its database password.
pub fn enabled(cr: &TooGoodToGo) -> bool {
    cr.spec.database.managed.is_some()
        && cr
            .spec
            .secret_rotation
            .as_ref()
            .and_then(|r| r.database_password)
            .unwrap_or(false)
}

/// The login role to move to from `current`: the owner moves to blue, blue and green alternate.
pub fn next_role(current: &str) -> String {
    let blue = format!("{BOT_DATABASE_USER}_blue");
    if current == blue {
        format!("{BOT_DATABASE_USER}_green")
    } else {
        blue
    }
}

fn job_for(owner: &Owner, step: &str, rotation: &DatabaseRotation) -> String {
    job_name(&format!(
        "{}-db-{step}-{}",
        owner.name,
        rotation.started.0.as_second()
    ))
}

/// Whether the Deployment runs only pods of its current template and that template is the one
/// the build rendered now.
pub fn rolled_out(live: Option<&Deployment>, desired: Option<&Deployment>) -> bool {
    let hash = |d: &Deployment| {
        d.spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(CONFIG_HASH_ANNOTATION))
            .cloned()
    };
    let (Some(live), Some(desired)) = (live, desired) else {
        return false;
    };
    let status = live.status.clone().unwrap_or_default();
    let wanted = live.spec.replicas.unwrap_or(1);
    hash(live) == hash(desired)
        && status.observed_generation.unwrap_or(0) >= live.metadata.generation.unwrap_or(0)
        && status.updated_replicas.unwrap_or(0) >= wanted
        && status.replicas.unwrap_or(0) == wanted
        && status.available_replicas.unwrap_or(0) >= wanted
}

/// Advance the rotation from the outcome of its Jobs, changing the values the build renders.
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    client: &Client,
    owner: &Owner,
    due: bool,
    trigger: Option<&str>,
    database_ready: bool,
    generated: &mut GeneratedValues,
    status: &mut SecretRotationStatus,
    generator: &dyn SecretGenerator,
    now: Timestamp,
) -> Result<Vec<Notice>, BackupError> {
    let mut notices = Vec::new();
    let Some(pg) = generated.postgres.as_mut() else {
        return Ok(notices);
    };
    let jobs: Api<Job> = Api::namespaced(client.clone(), &owner.namespace);
    let get = |name: String| {
        let jobs = jobs.clone();
        async move {
            jobs.get_opt(&name)
                .await
                .map_err(api_error("read", format!("Job {name}")))
        }
    };
    let started_with = status.database_rotation.clone();
    match status.database_rotation.clone() {
        None if due && database_ready => {
            // A rotation is known by the second it started, and the Secret records the start of
            // the one that ended: one started in that same second must not pass for it.
            let started = match pg.record.ended {
                Some(ended) if now.as_second() <= ended => {
                    Timestamp::from_second(ended.saturating_add(1)).unwrap_or(now)
                }
                _ => now,
            };
            let rotation = DatabaseRotation {
                phase: DatabaseRotationPhase::Preparing,
                from: pg.bot_user.clone(),
                to: next_role(&pg.bot_user),
                started: Time(started),
            };
            info!(from = %rotation.from, to = %rotation.to, "database password rotation starts");
            pg.pending_password = Some(generator.generate("POSTGRES_PASSWORD"));
            if let Some(trigger) = trigger {
                pg.record.trigger = Some(trigger.to_owned());
            }
            status.database_rotation = Some(rotation);
        }
        None => {}
        Some(rotation) => match rotation.phase {
            DatabaseRotationPhase::Preparing => {
                match get(job_for(owner, "prepare", &rotation)).await? {
                    Some(job) if job_succeeded(&job) => match pg.pending_password.take() {
                        Some(password) => {
                            pg.bot_user = rotation.to.clone();
                            pg.bot_password = password;
                            status.database_rotation = Some(DatabaseRotation {
                                phase: DatabaseRotationPhase::Switching,
                                ..rotation
                            });
                        }
                        None => {
                            status.database_rotation = None;
                            notices.push(failed(&rotation, "the new password was lost"));
                        }
                    },
                    Some(job) => {
                        if let Some(failure) = job_failure(&job) {
                            pg.pending_password = None;
                            status.database_rotation = None;
                            notices.push(failed(
                                &rotation,
                                &format!("{failure}; nothing was changed"),
                            ));
                        }
                    }
                    None => {}
                }
            }
            DatabaseRotationPhase::Switching => {}
            DatabaseRotationPhase::Retiring => {
                match get(job_for(owner, "retire", &rotation)).await? {
                    Some(job) if job_succeeded(&job) => {
                        status.database_rotation = None;
                        status.database_password = Some(Time(now));
                        pg.record.rotated_at = Some(now.as_second());
                        info!(from = %rotation.from, to = %rotation.to, "database password rotated");
                        notices.push(Notice {
                            warning: false,
                            reason: "DatabasePasswordRotated",
                            note: format!(
                                "rotated the database password: the bot logs in as {} with a new password; {} was retired",
                                rotation.to, rotation.from
                            ),
                            action: "Rotate",
                            related: None,
                        });
                    }
                    Some(job) => {
                        if let Some(failure) = job_failure(&job) {
                            status.database_rotation = None;
                            status.database_password = Some(Time(now));
                            pg.record.rotated_at = Some(now.as_second());
                            notices.push(failed(
                                &rotation,
                                &format!(
                                    "retiring {} failed ({failure}); its old password stays valid until the next rotation",
                                    rotation.from
                                ),
                            ));
                        }
                    }
                    None => {}
                }
            }
        },
    }
    // What the Secret records is what this reconcile leaves.
    if let Some(before) = &pg.record.rotation.clone().or(started_with)
        && status.database_rotation.is_none()
    {
        pg.record.ended = Some(before.started.0.as_second());
    }
    pg.record.rotation.clone_from(&status.database_rotation);
    Ok(notices)
}

fn failed(rotation: &DatabaseRotation, why: &str) -> Notice {
    Notice {
        warning: true,
        reason: "RotationFailed",
        note: format!(
            "database password rotation from {} to {}: {why}",
            rotation.from, rotation.to
        ),
        action: "Rotate",
        related: None,
    }
}

/// Create the Job the rotation's phase needs (after the apply wrote the Secret it reads).
pub async fn act(
    client: &Client,
    ctx: &resources::Context<'_>,
    managed: &ManagedDatabase,
    status: &mut SecretRotationStatus,
    live: Option<&Deployment>,
    desired: Option<&Deployment>,
) -> Result<Vec<String>, BackupError> {
    let Some(rotation) = status.database_rotation.clone() else {
        return Ok(Vec::new());
    };
    let owner = ctx.owner;
    let job = match rotation.phase {
        DatabaseRotationPhase::Preparing => Some(render::prepare_job(
            ctx,
            managed,
            job_for(owner, "prepare", &rotation),
            &rotation.to,
        )),
        DatabaseRotationPhase::Switching if rolled_out(live, desired) => {
            status.database_rotation = Some(DatabaseRotation {
                phase: DatabaseRotationPhase::Retiring,
                ..rotation.clone()
            });
            Some(render::retire_job(
                ctx,
                managed,
                job_for(owner, "retire", &rotation),
                &rotation.from,
            ))
        }
        DatabaseRotationPhase::Switching => None,
        DatabaseRotationPhase::Retiring => Some(render::retire_job(
            ctx,
            managed,
            job_for(owner, "retire", &rotation),
            &rotation.from,
        )),
    };
    let Some(job) = job else {
        return Ok(Vec::new());
    };
    let name = job.name_any();
    let api: Api<Job> = Api::namespaced(client.clone(), &owner.namespace);
    if api
        .get_opt(&name)
        .await
        .map_err(api_error("read", format!("Job {name}")))?
        .is_some()
    {
        return Ok(Vec::new());
    }
    match api.create(&PostParams::default(), &job).await {
        Ok(_) => Ok(vec![format!("Job/{name}")]),
        Err(err) if is_status(&err, 409) => Ok(Vec::new()),
        Err(source) => Err(api_error("create", format!("Job {name}"))(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_moves_to_blue_then_blue_and_green_alternate() {
        assert_eq!(next_role("toogoodtogo"), "toogoodtogo_blue");
        assert_eq!(next_role("toogoodtogo_blue"), "toogoodtogo_green");
        assert_eq!(next_role("toogoodtogo_green"), "toogoodtogo_blue");
    }
}
