//! Restores and upgrades are mutually exclusive.
//!
//! A migration that runs while a restore replaces the database migrates a database that is about
//! to be thrown away (or half of one), and a restore during an upgrade rollout replaces the schema
//! under pods of the new version. So whichever started first finishes first:
//!
//! - a restore that has started (past `Pending`) holds a version change: no pre-deployment
//!   backup, no migration Job, the running version stays (Progressing `WaitingForRestore`);
//! - an upgrade that has started (its pre-deployment backup, its migration Job, or the rollout of
//!   the new version until it became available) holds new restores in `Pending`;
//! - when both are only asked for, the restore goes first: the upgrade then migrates the
//!   restored database.
//!
//! Dry-run restores touch only a scratch database and hold no upgrade. After a restore, a
//! migration Job that succeeded before it is stale (it migrated the database that was replaced)
//! and runs again.

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;

use crate::crd::{Restore, RestorePhase, TooGoodToGo};
use crate::observe::{self, MigrationState, Observed, RolloutPlan};

/// Which of the two waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Turn {
    Free,
    /// The change to `version` waits for the restore `restore`.
    UpgradeWaits {
        restore: String,
    },
    /// New restores wait for the upgrade to `version`.
    RestoreWaits {
        version: String,
    },
}

fn phase(restore: &Restore) -> Option<RestorePhase> {
    restore.status.as_ref().and_then(|s| s.phase)
}

fn started(restore: &Restore) -> bool {
    !restore.spec.dry_run
        && phase(restore).is_some_and(|p| !p.is_terminal() && p != RestorePhase::Pending)
}

fn pending(restore: &Restore) -> bool {
    phase(restore).is_none_or(|p| p == RestorePhase::Pending)
}

/// Whether the plan changes the version through a migration (not a rollback, which needs none).
/// A failed migration or pre-deployment backup is not under way: it waits for a decision, and a
/// restore may well be that decision.
fn upgrade_wanted(plan: &RolloutPlan) -> bool {
    plan.rollback.is_none()
        && !matches!(
            plan.migration,
            MigrationState::NotNeeded
                | MigrationState::WaitingForRestore { .. }
                | MigrationState::Failed { .. }
                | MigrationState::BackupFailed { .. }
        )
}

/// Whether the new version runs but has not become available yet (and has not given up).
fn rolling_out(cr: &TooGoodToGo, observed: &Observed, plan: &RolloutPlan) -> bool {
    let wanted = cr.spec.version.as_str();
    plan.rollback.is_none()
        && observed.running_version().as_deref() == Some(wanted)
        && cr
            .status
            .as_ref()
            .and_then(|s| s.last_good_version.as_deref())
            .is_some_and(|good| good != wanted)
        && observed
            .deployment
            .as_ref()
            .is_some_and(|d| !observe::progress_deadline_exceeded(d))
}

pub fn decide(
    cr: &TooGoodToGo,
    observed: &Observed,
    plan: &RolloutPlan,
    restores: &[Restore],
) -> Turn {
    let live: Vec<&Restore> = restores.iter().filter(|r| !r.spec.dry_run).collect();
    let any_pending = restores.iter().any(pending);
    if upgrade_wanted(plan) {
        if let Some(restore) = live.iter().find(|r| started(r)) {
            return Turn::UpgradeWaits {
                restore: restore.name_any(),
            };
        }
        let upgrade_started =
            observed.migration_job.is_some() || observed.pre_deployment_backup.is_some();
        if upgrade_started {
            return if any_pending {
                Turn::RestoreWaits {
                    version: cr.spec.version.clone(),
                }
            } else {
                Turn::Free
            };
        }
        if let Some(restore) = live.iter().find(|r| pending(r)) {
            return Turn::UpgradeWaits {
                restore: restore.name_any(),
            };
        }
        return Turn::Free;
    }
    if any_pending && rolling_out(cr, observed, plan) {
        return Turn::RestoreWaits {
            version: cr.spec.version.clone(),
        };
    }
    Turn::Free
}

/// The plan while the version change waits for `restore`: what runs keeps running.
pub fn hold_upgrade(plan: RolloutPlan, observed: &Observed, restore: String) -> RolloutPlan {
    RolloutPlan {
        deploy_version: observed.running_version(),
        migrate_version: None,
        migration: MigrationState::WaitingForRestore { restore },
        rollback: plan.rollback,
    }
}

/// Whether `job` (a migration Job) succeeded before the newest completed restore: it migrated a
/// database that has since been replaced, so it does not count.
pub fn stale_after_restore(job: &Job, restores: &[Restore]) -> bool {
    let Some(status) = job.status.as_ref().filter(|s| s.succeeded.unwrap_or(0) > 0) else {
        return false;
    };
    // The Job controller sets completionTime on success; its creation is the fallback.
    let finished = status
        .completion_time
        .as_ref()
        .or(job.metadata.creation_timestamp.as_ref())
        .map(|t| t.0);
    let restored = restores
        .iter()
        .filter(|r| !r.spec.dry_run && phase(r) == Some(RestorePhase::Completed))
        .filter_map(|r| r.status.as_ref()?.completion_time.as_ref().map(|t| t.0))
        .max();
    match (finished, restored) {
        (Some(finished), Some(restored)) => finished < restored,
        _ => false,
    }
}

#[cfg(test)]
#[path = "exclusive_double_tests.rs"]
mod double_tests;
