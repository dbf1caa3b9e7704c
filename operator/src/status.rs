//! Update status: conditions following the Kubernetes API conventions, the phase, the version
//! that runs, and Events for meaningful transitions. Computing the status is pure; it is written
//! only when it differs from the live status, so a converged resource causes no status write.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::backups::BackupFacts;
use crate::crd::{
    DeployedVersion, Phase, RolledBack, RolloutAnalysis, SecretRotationStatus, TooGoodToGo,
    TooGoodToGoStatus,
};
use crate::names::FIELD_MANAGER;
use crate::observe::{MigrationState, Observed, RolloutPlan};

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";
pub const DATABASE_READY: &str = "DatabaseReady";
/// Present while an automatic rollback is in effect.
pub const ROLLED_BACK: &str = "RolledBack";
/// Outcome of the newest backup (only with `spec.backup`).
pub const BACKUP: &str = "Backup";
/// The Stripe keys and the outcome of `payments-check` (only with `spec.stripe`).
pub const PAYMENTS_READY: &str = "PaymentsReady";

/// Something the user or the cluster must fix; each becomes the Degraded reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    InvalidSpec(String),
    SecretMissing(String),
    MigrationFailed(String),
    VolumeResize(String),
    PreDeploymentBackupFailed(String),
    /// An automatic rollback is in effect: the platform runs, but not the version asked for.
    RolledBack(String),
    /// The API server refused an object (name and its message); the others were reconciled.
    ReconcileFailed(String),
    /// The managed database's volume exists without its credentials Secret: new passwords
    /// would not be the database's.
    CredentialsMissing(String),
    /// A restore replaced the database but the migration of the running version failed: the
    /// bot stays at zero replicas.
    PostRestoreMigrationFailed(String),
    /// A restore replaced the database but the bot did not become ready on it in time.
    RestoredBotNotReady(String),
    /// `spec.database.cloudNativePG` without CloudNativePG installed: no database to run on.
    CloudNativePgNotInstalled(String),
}

impl Problem {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidSpec(_) => "InvalidSpec",
            Self::SecretMissing(_) => "SecretMissing",
            Self::MigrationFailed(_) => "MigrationFailed",
            Self::VolumeResize(_) => "VolumeResizeFailed",
            Self::PreDeploymentBackupFailed(_) => "PreDeploymentBackupFailed",
            Self::RolledBack(_) => "RolledBack",
            Self::ReconcileFailed(_) => RECONCILE_FAILED,
            Self::CredentialsMissing(_) => "CredentialsMissing",
            Self::PostRestoreMigrationFailed(_) => "PostRestoreMigrationFailed",
            Self::RestoredBotNotReady(_) => "RestoredBotNotReady",
            Self::CloudNativePgNotInstalled(_) => "CloudNativePGNotInstalled",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::InvalidSpec(m)
            | Self::SecretMissing(m)
            | Self::MigrationFailed(m)
            | Self::VolumeResize(m)
            | Self::PreDeploymentBackupFailed(m)
            | Self::RolledBack(m)
            | Self::ReconcileFailed(m)
            | Self::CredentialsMissing(m)
            | Self::PostRestoreMigrationFailed(m)
            | Self::RestoredBotNotReady(m)
            | Self::CloudNativePgNotInstalled(m) => m,
        }
    }

    /// Failures that retrying cannot fix without a spec change.
    fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::InvalidSpec(_)
                | Self::MigrationFailed(_)
                | Self::PreDeploymentBackupFailed(_)
                | Self::RolledBack(_)
                | Self::PostRestoreMigrationFailed(_)
        )
    }
}

/// What the reconcile learned, from which the status is computed.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub problem: Option<Problem>,
    pub plan: Option<RolloutPlan>,
    pub observed: Observed,
    pub suspended: bool,
    /// What the backup step found; None when it did not run.
    pub backups: Option<BackupFacts>,
    /// A restore in progress: what it is doing.
    pub restoring: Option<String>,
    /// Rotation times after this reconcile; None keeps the previous ones.
    pub secret_rotation: Option<SecretRotationStatus>,
    /// What a rollback decided in this reconcile about the database; None keeps what the
    /// status says for the same rollback.
    pub rollback_database: Option<String>,
    /// The evidence of a rollback the analysis decided in this reconcile; None keeps what the
    /// status says for the same rollback.
    pub rollback_reason: Option<String>,
    /// Where payments stand ([`crate::payments`]); None keeps the previous condition.
    pub payments: Option<crate::payments::Payments>,
}

struct Judgement {
    type_: &'static str,
    status: bool,
    reason: &'static str,
    message: String,
}

/// (wanted, available, settled). Wanted is what the resource asks for, not the live field, so
/// a drifted replica count reads as the drift it is; with an autoscaler the HPA decides.
fn deployment_progress(cr: &TooGoodToGo, deployment: &Deployment) -> (i32, i32, bool) {
    let wanted = match cr.spec.autoscaling {
        Some(_) => deployment.spec.replicas.unwrap_or(1),
        None => cr.spec.replicas,
    };
    let status = deployment.status.clone().unwrap_or_default();
    let generation_seen =
        status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let settled = generation_seen
        && updated >= wanted
        && available >= wanted
        && status.replicas.unwrap_or(0) == wanted;
    (wanted, available, settled)
}

/// The status the resource should have now. `previous` supplies lastTransitionTime of
/// conditions whose status did not change.
pub fn compute(
    cr: &TooGoodToGo,
    facts: &Facts,
    previous: Option<&TooGoodToGoStatus>,
    now: Timestamp,
) -> TooGoodToGoStatus {
    let rollback = facts.plan.as_ref().and_then(|p| p.rollback.clone());
    // The version that should run: spec.version, or the last good one after a rollback.
    let version = &rollback
        .as_ref()
        .map_or_else(|| cr.spec.version.clone(), |(_, to)| to.clone());
    let running = facts.observed.running_version();
    let deployment = facts.observed.deployment.as_ref();
    let migration = facts.plan.as_ref().map(|p| &p.migration);
    let waiting_for_database = migration == Some(&MigrationState::WaitingForDatabase);
    let migrating = migration == Some(&MigrationState::Running);
    let backing_up = migration == Some(&MigrationState::BackingUp);
    let waiting_for_restore = match migration {
        Some(MigrationState::WaitingForRestore { restore }) => Some(restore.clone()),
        _ => None,
    };

    let (ready, ready_reason, ready_message) = match deployment {
        _ if facts.suspended => (false, "Suspended", "reconciliation is suspended".to_owned()),
        _ if facts.restoring.is_some() => (
            false,
            "Restoring",
            facts.restoring.clone().unwrap_or_default(),
        ),
        _ if matches!(facts.problem, Some(Problem::ReconcileFailed(_))) => (
            false,
            RECONCILE_FAILED,
            facts
                .problem
                .as_ref()
                .map(|p| p.message().to_owned())
                .unwrap_or_default(),
        ),
        None => (
            false,
            "NotDeployed",
            format!("waiting for the migration of version {version}"),
        ),
        Some(d) => {
            let (wanted, available, settled) = deployment_progress(cr, d);
            if running.as_deref() != Some(version.as_str()) {
                (
                    false,
                    "Upgrading",
                    format!("version {version} is not rolled out yet"),
                )
            } else if !settled {
                (
                    false,
                    "RollingOut",
                    format!("{available}/{wanted} bot replicas available"),
                )
            } else if wanted == 0 {
                (true, "ScaledToZero", "the bot is scaled to zero".to_owned())
            } else {
                (
                    true,
                    "Available",
                    format!("{available}/{wanted} bot replicas of version {version} available"),
                )
            }
        }
    };

    // A reconcile that stopped before planning keeps the analysis the last one recorded.
    let analysis = match (&facts.plan, &facts.observed.analysis) {
        (
            Some(_),
            Some(crate::analysis::State::Analysing {
                version,
                since,
                seen,
            }),
        ) => Some(RolloutAnalysis {
            version: version.clone(),
            since: Time(*since),
            seen: seen.clone(),
        }),
        (Some(_), _) => None,
        (None, _) => previous.and_then(|p| p.analysis.clone()),
    };
    let progressing = match &facts.problem {
        Some(problem) if problem.is_terminal() => Judgement {
            type_: PROGRESSING,
            status: false,
            reason: problem.reason(),
            message: problem.message().to_owned(),
        },
        _ if facts.suspended => Judgement {
            type_: PROGRESSING,
            status: false,
            reason: "Suspended",
            message: "reconciliation is suspended".to_owned(),
        },
        // Before Restoring: the version asked for is what waits.
        _ if waiting_for_restore.is_some() => Judgement {
            type_: PROGRESSING,
            status: true,
            reason: "WaitingForRestore",
            message: format!(
                "version {version} waits for restore {} to finish: a migration must not run while the database is replaced",
                waiting_for_restore.clone().unwrap_or_default()
            ),
        },
        _ if facts.restoring.is_some() => Judgement {
            type_: PROGRESSING,
            status: true,
            reason: "Restoring",
            message: facts.restoring.clone().unwrap_or_default(),
        },
        _ if backing_up => Judgement {
            type_: PROGRESSING,
            status: true,
            reason: "BackingUp",
            message: format!("taking the pre-deployment backup before version {version}"),
        },
        _ if waiting_for_database => Judgement {
            type_: PROGRESSING,
            status: true,
            reason: "WaitingForDatabase",
            message: format!("waiting for the database before migrating to version {version}"),
        },
        _ if migrating => Judgement {
            type_: PROGRESSING,
            status: true,
            reason: "Migrating",
            message: format!("running the database migration for version {version}"),
        },
        _ if !ready => Judgement {
            type_: PROGRESSING,
            status: true,
            reason: "RollingOut",
            message: ready_message.clone(),
        },
        _ if analysis.is_some() => Judgement {
            type_: PROGRESSING,
            status: true,
            reason: "Analysing",
            message: analysis.as_ref().map_or_else(String::new, |a| {
                format!(
                    "version {} is rolled out and watched for {} minutes from {} before it counts as good: {}",
                    a.version,
                    crate::analysis::Policy::of(cr).map_or(0, |p| p.window.as_secs() / 60),
                    a.since.0,
                    a.seen
                )
            }),
        },
        _ => Judgement {
            type_: PROGRESSING,
            status: false,
            reason: "Complete",
            message: format!("version {version} is rolled out"),
        },
    };

    let degraded = match &facts.problem {
        Some(problem) => Judgement {
            type_: DEGRADED,
            status: true,
            reason: problem.reason(),
            message: problem.message().to_owned(),
        },
        None => Judgement {
            type_: DEGRADED,
            status: false,
            reason: "AsExpected",
            message: "no problems".to_owned(),
        },
    };

    let database = if cr.spec.database.external.is_some() {
        Judgement {
            type_: DATABASE_READY,
            status: true,
            reason: "External",
            message: "an external database is used".to_owned(),
        }
    } else if let Some(cnpg) = &facts.observed.cnpg {
        let (status, reason, message) = crate::cnpg::describe(&crate::names::Owner::of(cr), cnpg);
        Judgement {
            type_: DATABASE_READY,
            status,
            reason,
            message,
        }
    } else if facts.observed.postgres_ready() {
        Judgement {
            type_: DATABASE_READY,
            status: true,
            reason: "Running",
            message: "the managed PostgreSQL is ready".to_owned(),
        }
    } else {
        Judgement {
            type_: DATABASE_READY,
            status: false,
            reason: "Starting",
            message: "the managed PostgreSQL is not ready yet".to_owned(),
        }
    };

    let phase = match &facts.problem {
        // The last good version serves: degraded, not failed.
        Some(Problem::RolledBack(_)) => Phase::Degraded,
        Some(problem) if problem.is_terminal() => Phase::Failed,
        Some(_) => Phase::Degraded,
        None if ready => Phase::Ready,
        // Suspended before anything was rolled out, or not reconciled yet.
        None if deployment.is_none() && facts.plan.is_none() => Phase::Pending,
        None => Phase::Progressing,
    };

    let last_backup = match &facts.backups {
        Some(backups) => backups.last_success.clone(),
        None => previous.and_then(|p| p.last_backup.clone()),
    };
    let turned_off = crate::backups::turned_off(cr).then(|| Judgement {
        type_: BACKUP,
        status: false,
        reason: "BackupsDisabled",
        message: "logical backups of the database are turned off (spec.backup.enabled: false)"
            .to_owned(),
    });
    let backup = crate::backups::enabled(cr).map(|_| {
        let failure = match &facts.backups {
            Some(backups) => backups.failure.clone(),
            None => previous
                .and_then(|p| p.conditions.iter().find(|c| c.type_ == BACKUP))
                .filter(|c| c.reason == "BackupFailed")
                .map(|c| (String::new(), c.message.clone())),
        };
        match (failure, &last_backup) {
            (Some((name, message)), _) if name.is_empty() => Judgement {
                type_: BACKUP,
                status: false,
                reason: "BackupFailed",
                message,
            },
            (Some((name, message)), _) => Judgement {
                type_: BACKUP,
                status: false,
                reason: "BackupFailed",
                message: format!("backup {name} failed: {message}"),
            },
            (None, Some(last)) => Judgement {
                type_: BACKUP,
                status: true,
                reason: "BackupSucceeded",
                message: format!("backup {} wrote {}", last.name, last.file),
            },
            (None, None) => Judgement {
                type_: BACKUP,
                status: false,
                reason: "NoBackupYet",
                message: "no backup has completed yet".to_owned(),
            },
        }
    });

    let payments = cr
        .spec
        .stripe
        .as_ref()
        .and(facts.payments.as_ref())
        .map(|payments| {
            use crate::payments::Payments;
            let (status, reason, message) = match payments {
                Payments::KeysMissing(m) => (false, "StripeSecretKeyMissing", m.clone()),
                Payments::Checking(job) => (
                    false,
                    "PaymentsCheckRunning",
                    format!("the Job {job} runs payments-check on the Stripe keys"),
                ),
                Payments::Ready(m) => (true, "PaymentsChecked", m.clone()),
                Payments::CheckFailed(m) => (false, "PaymentsCheckFailed", m.clone()),
            };
            Judgement {
                type_: PAYMENTS_READY,
                status,
                reason,
                message,
            }
        });

    let generation = cr.metadata.generation;
    let mut judgements = vec![
        Judgement {
            type_: READY,
            status: ready,
            reason: ready_reason,
            message: ready_message,
        },
        progressing,
        degraded,
        database,
    ];
    judgements.extend(backup.or(turned_off));
    judgements.extend(payments);
    let rolled_back = match (&facts.plan, &rollback) {
        (Some(_), Some((from, to))) => Some(RolledBack {
            from: from.clone(),
            to: to.clone(),
            time: previous
                .and_then(|p| p.rolled_back.as_ref())
                .filter(|r| &r.from == from && &r.to == to)
                .map_or(Time(now), |r| r.time.clone()),
            database: facts.rollback_database.clone().or_else(|| {
                previous
                    .and_then(|p| p.rolled_back.as_ref())
                    .filter(|r| &r.from == from && &r.to == to)
                    .and_then(|r| r.database.clone())
            }),
            reason: facts.rollback_reason.clone().or_else(|| {
                previous
                    .and_then(|p| p.rolled_back.as_ref())
                    .filter(|r| &r.from == from && &r.to == to)
                    .and_then(|r| r.reason.clone())
            }),
        }),
        (Some(_), None) => None,
        (None, _) => previous.and_then(|p| p.rolled_back.clone()),
    };
    if let Some(r) = &rolled_back {
        judgements.push(Judgement {
            type_: ROLLED_BACK,
            status: true,
            reason: "RolledBack",
            message: format!(
                "version {} {}; version {} runs instead{}",
                r.from,
                r.reason.as_deref().map_or_else(
                    || "did not become available".to_owned(),
                    |evidence| format!("failed its analysis: {evidence}")
                ),
                r.to,
                r.database
                    .as_deref()
                    .map(|d| format!("; {d}"))
                    .unwrap_or_default()
            ),
        });
    }
    let previous_good = previous.and_then(|p| p.last_good_version.clone());
    let last_good_version = if ready
        && analysis.is_none()
        && rollback.is_none()
        && facts.restoring.is_none()
        && running.as_deref() == Some(cr.spec.version.as_str())
    {
        running.clone()
    } else {
        previous_good.clone()
    };
    let mut history = previous.map(|p| p.history.clone()).unwrap_or_default();
    if last_good_version != previous_good
        && let Some(good) = &last_good_version
    {
        history.push(DeployedVersion {
            version: good.clone(),
            outcome: "Deployed".to_owned(),
            time: Time(now),
        });
    }
    let previous_rollback = previous
        .and_then(|p| p.rolled_back.as_ref())
        .map(|r| &r.from);
    if let Some(r) = &rolled_back
        && previous_rollback != Some(&r.from)
    {
        history.push(DeployedVersion {
            version: r.from.clone(),
            outcome: "RolledBack".to_owned(),
            time: Time(now),
        });
    }
    let excess = history.len().saturating_sub(cr.history_limit());
    history.drain(..excess);
    let mut conditions: Vec<Condition> = judgements
        .into_iter()
        .map(|j| {
            let status = if j.status { "True" } else { "False" }.to_owned();
            let since = previous
                .and_then(|p| p.conditions.iter().find(|c| c.type_ == j.type_))
                .filter(|c| c.status == status)
                .map_or(Time(now), |c| c.last_transition_time.clone());
            Condition {
                type_: j.type_.to_owned(),
                status,
                reason: j.reason.to_owned(),
                message: j.message,
                last_transition_time: since,
                observed_generation: generation,
            }
        })
        .collect();
    // A reconcile that stopped before the payments step keeps what the last one found.
    if cr.spec.stripe.is_some()
        && facts.payments.is_none()
        && let Some(kept) = previous.and_then(|p| {
            p.conditions
                .iter()
                .find(|c| c.type_ == PAYMENTS_READY)
                .cloned()
        })
    {
        conditions.push(kept);
    }
    conditions.sort_by_key(|c| condition_rank(&c.type_));

    TooGoodToGoStatus {
        observed_generation: generation,
        phase: Some(phase),
        conditions,
        current_version: running,
        ready_replicas: deployment
            .and_then(|d| d.status.as_ref())
            .and_then(|s| s.ready_replicas)
            .or(deployment.map(|_| 0)),
        last_backup,
        secret_rotation: facts
            .secret_rotation
            .clone()
            .or_else(|| previous.and_then(|p| p.secret_rotation.clone())),
        last_good_version,
        analysis,
        rolled_back,
        history,
    }
}

/// Write the status with server-side apply when it differs. Returns the resource as stored
/// when it wrote.
pub async fn write(
    api: &Api<TooGoodToGo>,
    cr: &TooGoodToGo,
    status: &TooGoodToGoStatus,
) -> Result<Option<TooGoodToGo>, kube::Error> {
    if cr.status.as_ref() == Some(status) {
        return Ok(None);
    }
    // The resourceVersion the status was computed from: a write in between (a stale read, a
    // second operator replica) makes the server answer 409 instead of losing that write.
    let patch = json!({
        "apiVersion": TooGoodToGo::api_version(&()),
        "kind": TooGoodToGo::kind(&()),
        "metadata": {"resourceVersion": cr.resource_version()},
        "status": status,
    });
    api.patch_status(
        &cr.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(Some)
}

/// The status after a reconcile failed on an API error: everything the previous status recorded
/// (versions, rotation, backups, history) is kept; the phase is Degraded and the Ready and
/// Degraded conditions carry `message` (the object and the API server's answer).
pub fn failed(
    cr: &TooGoodToGo,
    previous: Option<&TooGoodToGoStatus>,
    message: &str,
    now: Timestamp,
) -> TooGoodToGoStatus {
    let mut next = previous.cloned().unwrap_or_default();
    next.phase = Some(Phase::Degraded);
    for (type_, status) in [(READY, "False"), (DEGRADED, "True")] {
        let since = next
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .filter(|c| c.status == status)
            .map_or(Time(now), |c| c.last_transition_time.clone());
        next.conditions.retain(|c| c.type_ != type_);
        next.conditions.push(Condition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: RECONCILE_FAILED.to_owned(),
            message: message.to_owned(),
            last_transition_time: since,
            observed_generation: cr.metadata.generation,
        });
    }
    next.conditions.sort_by_key(|c| condition_rank(&c.type_));
    next
}

/// Reason of the conditions and the Warning Event of a reconcile that failed on an API error.
pub const RECONCILE_FAILED: &str = "ReconcileFailed";

/// Conditions in the order `compute` writes them.
fn condition_rank(type_: &str) -> usize {
    [
        READY,
        PROGRESSING,
        DEGRADED,
        DATABASE_READY,
        BACKUP,
        PAYMENTS_READY,
        ROLLED_BACK,
    ]
    .iter()
    .position(|t| *t == type_)
    .unwrap_or(usize::MAX)
}

/// The Event for a phase change, if the phase changed.
pub fn transition_event(
    previous: Option<&TooGoodToGoStatus>,
    next: &TooGoodToGoStatus,
) -> Option<Event> {
    let before = previous.and_then(|s| s.phase);
    let after = next.phase?;
    if before == Some(after) {
        return None;
    }
    let degraded = next
        .conditions
        .iter()
        .find(|c| c.type_ == DEGRADED && c.status == "True");
    // The reconcile publishes its own Event for a rollback, naming both versions.
    if degraded.is_some_and(|c| c.reason == "RolledBack") {
        return None;
    }
    let (type_, reason, note) = match (after, degraded) {
        (Phase::Degraded | Phase::Failed, Some(c)) => {
            (EventType::Warning, c.reason.clone(), c.message.clone())
        }
        _ => {
            let ready = next.conditions.iter().find(|c| c.type_ == READY);
            (
                EventType::Normal,
                after.as_str().to_owned(),
                ready.map(|c| c.message.clone()).unwrap_or_default(),
            )
        }
    };
    Some(Event {
        type_,
        reason,
        note: Some(note),
        action: "Reconcile".to_owned(),
        secondary: None,
    })
}

pub async fn publish(
    recorder: &Recorder,
    cr: &TooGoodToGo,
    event: &Event,
) -> Result<(), kube::Error> {
    recorder.publish(event, &cr.object_ref(&())).await
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::DeploymentStatus;

    use super::*;
    use crate::observe::VERSION_LABEL;
    use crate::testing::sample;

    fn ready_deployment(version: &str, replicas: i32) -> Deployment {
        let mut d = Deployment::default();
        d.spec.replicas = Some(replicas);
        d.spec.template.metadata = Some(Default::default());
        if let Some(meta) = d.spec.template.metadata.as_mut() {
            meta.labels = Some([(VERSION_LABEL.to_owned(), version.to_owned())].into());
        }
        d.status = Some(DeploymentStatus {
            replicas: Some(replicas),
            ready_replicas: Some(replicas),
            available_replicas: Some(replicas),
            updated_replicas: Some(replicas),
            ..DeploymentStatus::default()
        });
        d
    }

    fn condition<'a>(status: &'a TooGoodToGoStatus, type_: &str) -> &'a Condition {
        match status.conditions.iter().find(|c| c.type_ == type_) {
            Some(c) => c,
            None => panic!("no {type_} condition in {status:?}"),
        }
    }

    #[test]
    fn a_rolled_out_version_is_ready() {
        let cr = sample("minimal.yaml");
        let facts = Facts {
            observed: Observed {
                deployment: Some(ready_deployment("1.0.0", 1)),
                ..Observed::default()
            },
            ..Facts::default()
        };
        let status = compute(&cr, &facts, None, Timestamp::UNIX_EPOCH);
        assert_eq!(status.phase, Some(Phase::Ready));
        assert_eq!(condition(&status, READY).status, "True");
        assert_eq!(condition(&status, PROGRESSING).status, "False");
        assert_eq!(condition(&status, DEGRADED).status, "False");
        assert_eq!(condition(&status, DATABASE_READY).status, "False");
        assert_eq!(status.current_version.as_deref(), Some("1.0.0"));
    }

    #[test]
    fn unchanged_conditions_keep_their_transition_time() {
        let cr = sample("minimal.yaml");
        let facts = Facts::default();
        let first = compute(&cr, &facts, None, Timestamp::UNIX_EPOCH);
        let later = Timestamp::from_second(1_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let second = compute(&cr, &facts, Some(&first), later);
        assert_eq!(
            first, second,
            "recomputing an unchanged status must not change it"
        );
    }

    #[test]
    fn missing_secret_is_degraded_with_the_message() {
        let cr = sample("minimal.yaml");
        let facts = Facts {
            problem: Some(Problem::SecretMissing(
                "Secret \"x\" does not exist".to_owned(),
            )),
            ..Facts::default()
        };
        let status = compute(&cr, &facts, None, Timestamp::UNIX_EPOCH);
        assert_eq!(status.phase, Some(Phase::Degraded));
        let degraded = condition(&status, DEGRADED);
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "SecretMissing")
        );
        let event = transition_event(None, &status);
        assert_eq!(
            event.map(|e| (e.type_, e.reason)),
            Some((EventType::Warning, "SecretMissing".to_owned()))
        );
    }

    #[test]
    fn no_event_without_a_phase_change() {
        let cr = sample("minimal.yaml");
        let status = compute(&cr, &Facts::default(), None, Timestamp::UNIX_EPOCH);
        assert!(transition_event(Some(&status), &status).is_none());
    }
}
