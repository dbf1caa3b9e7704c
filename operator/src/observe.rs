//! Observe: read the live owned objects the reconcile decides on (what version runs, how the
//! migration went, the database's state), and plan the rollout from them (pure).

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;

use crate::cache::Reads;

use crate::crd::{Backup, BackupPhase, TooGoodToGo};
use crate::names::Owner;

pub const VERSION_LABEL: &str = "app.kubernetes.io/version";
/// On the bot Deployment while an automatic rollback is in effect: the version rolled back from.
pub const ROLLED_BACK_FROM_ANNOTATION: &str = "toogoodtogo.io/rolled-back-from";

/// The version the live Deployment was rolled back from, if a rollback is in effect.
pub fn rolled_back_from(deployment: &Deployment) -> Option<String> {
    deployment
        .metadata
        .annotations
        .as_ref()?
        .get(ROLLED_BACK_FROM_ANNOTATION)
        .cloned()
}

/// Live objects that steer the reconcile.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub deployment: Option<Deployment>,
    /// The migration Job of `spec.version`.
    pub migration_job: Option<Job>,
    pub postgres: Option<StatefulSet>,
    /// Whether prometheus-operator's ServiceMonitor kind exists (asked only when wanted).
    pub service_monitor_supported: bool,
    /// The pre-deployment `Backup` of `spec.version` (looked at only before its migration).
    pub pre_deployment_backup: Option<Backup>,
    /// The managed database's data volume.
    pub postgres_data_claim: Option<k8s_openapi::api::core::v1::PersistentVolumeClaim>,
    /// The CloudNativePG cluster, when the resource asks for one.
    pub cnpg: Option<crate::cnpg::ClusterState>,
    /// The analysis of `spec.version` after its rollout completed ([`crate::analysis`]).
    pub analysis: Option<crate::analysis::State>,
}

pub async fn observe(reads: &Reads, cr: &TooGoodToGo) -> Result<Observed, kube::Error> {
    let owner = Owner::of(cr);
    let ns = owner.namespace.as_str();
    let deployment = reads.get::<Deployment>(ns, &owner.bot()).await?;
    let running = deployment.as_ref().and_then(running_version);
    // The Job is only looked at while the Deployment does not run spec.version yet.
    let migration_job = if running.as_deref() == Some(cr.spec.version.as_str()) {
        None
    } else {
        reads
            .get::<Job>(ns, &owner.migration_job(&cr.spec.version))
            .await?
    };
    let pre_deployment_backup = if migration_job.is_none()
        && running.is_some()
        && wants_pre_deployment_backup(cr)
    {
        reads
            .get::<Backup>(
                ns,
                &owner.pre_deployment_backup(&cr.spec.version, cr.metadata.generation.unwrap_or(0)),
            )
            .await?
    } else {
        None
    };
    let (postgres, postgres_data_claim) = if cr.spec.database.managed.is_some() {
        (
            reads.get::<StatefulSet>(ns, &owner.postgres()).await?,
            reads
                .get::<k8s_openapi::api::core::v1::PersistentVolumeClaim>(
                    ns,
                    &owner.postgres_data_claim(),
                )
                .await?,
        )
    } else {
        (None, None)
    };
    let wants_monitor = cr
        .spec
        .monitoring
        .as_ref()
        .is_some_and(|m| m.service_monitor);
    let service_monitor_supported = wants_monitor
        && reads
            .kind_installed("monitoring.coreos.com/v1", "ServiceMonitor")
            .await?;
    let cnpg = crate::cnpg::observe(reads, cr).await?;
    Ok(Observed {
        cnpg,
        deployment,
        migration_job,
        postgres,
        service_monitor_supported,
        pre_deployment_backup,
        postgres_data_claim,
        analysis: None,
    })
}

/// Whether a version change is preceded by a backup (`spec.backup.preDeployment`, managed
/// database).
pub fn wants_pre_deployment_backup(cr: &TooGoodToGo) -> bool {
    crate::backups::enabled(cr).is_some_and(|(spec, _)| spec.pre_deployment())
}

/// The version in the Deployment's pod template.
pub fn running_version(deployment: &Deployment) -> Option<String> {
    deployment
        .spec
        .template
        .metadata
        .as_ref()?
        .labels
        .as_ref()?
        .get(VERSION_LABEL)
        .cloned()
}

impl Observed {
    pub fn running_version(&self) -> Option<String> {
        self.deployment.as_ref().and_then(running_version)
    }

    fn postgres_container_image(&self) -> Option<String> {
        let sts = self.postgres.as_ref()?;
        let pod = sts.spec.template.spec.as_ref()?;
        pod.containers.first()?.image.clone()
    }

    pub fn postgres_major(&self) -> Option<String> {
        crate::validate::postgres_major_of_image(&self.postgres_container_image()?)
    }

    pub fn postgres_claim_template_size(&self) -> Option<String> {
        let sts = self.postgres.as_ref()?;
        let claim = sts.spec.volume_claim_templates.as_ref()?.first()?;
        let requests = claim.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?;
        requests.get("storage").map(|q| q.0.clone())
    }

    /// Whether the database the platform runs (the managed StatefulSet, or the CloudNativePG
    /// cluster with its primary in place) accepts connections.
    pub fn postgres_ready(&self) -> bool {
        if let Some(cnpg) = &self.cnpg {
            return cnpg.is_ready();
        }
        self.postgres
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0)
            >= 1
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MigrationState {
    /// The Deployment already runs `spec.version`, or this is a rollback.
    NotNeeded,
    /// The managed database is not ready yet: the Job is not created, so that it does not spend
    /// its retries on a database that is still starting.
    WaitingForDatabase,
    /// The pre-deployment backup is pending or running (or about to be created).
    BackingUp,
    /// A restore is replacing the database: the version change waits for it to end
    /// ([`crate::exclusive`]).
    WaitingForRestore {
        restore: String,
    },
    /// The pre-deployment backup failed: the version change waits for a decision.
    BackupFailed {
        message: String,
    },
    /// The Job is missing or still running.
    Running,
    Succeeded,
    Failed {
        message: String,
    },
}

/// What the reconcile should do about versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloutPlan {
    pub deploy_version: Option<String>,
    pub migrate_version: Option<String>,
    pub migration: MigrationState,
    /// An automatic rollback in effect: (bad version, version running instead).
    pub rollback: Option<(String, String)>,
}

/// Whether the Deployment gave up on its rollout (`ProgressDeadlineExceeded`).
pub fn progress_deadline_exceeded(deployment: &Deployment) -> bool {
    deployment
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| {
            c.type_.as_deref() == Some("Progressing")
                && c.status.as_deref() == Some("False")
                && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        })
}

fn job_state(job: Option<&Job>) -> MigrationState {
    let Some(status) = job.and_then(|j| j.status.as_ref()) else {
        return MigrationState::Running;
    };
    if status.succeeded.unwrap_or(0) > 0 {
        return MigrationState::Succeeded;
    }
    let failed = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Failed" && c.status == "True");
    match failed {
        Some(condition) => MigrationState::Failed {
            message: condition
                .message
                .clone()
                .or_else(|| condition.reason.clone())
                .unwrap_or_else(|| "the migration Job failed".to_owned()),
        },
        None => MigrationState::Running,
    }
}

/// Numeric parts of a dotted version (`1.4.2-rc1` -> `[1, 4, 2]`), for ordering only.
fn numeric_parts(version: &str) -> Option<Vec<u64>> {
    let core = version.trim_start_matches('v');
    let core = core.split(['-', '+']).next()?;
    core.split('.').map(|p| p.parse().ok()).collect()
}

/// True when `wanted` is an older version than `running` (a rollback). Versions that do not
/// compare (e.g. `latest`) count as upgrades, so their migration runs: the safe side.
pub fn is_rollback(wanted: &str, running: &str) -> bool {
    match (numeric_parts(wanted), numeric_parts(running)) {
        (Some(w), Some(r)) => w < r,
        _ => false,
    }
}

/// Plan the rollout: a new version runs its migration Job first and the Deployment moves only
/// when it succeeded; a rollback moves at once (the bot accepts a schema that is ahead).
pub fn plan_rollout(cr: &TooGoodToGo, observed: &Observed) -> RolloutPlan {
    let wanted = cr.spec.version.clone();
    let running = observed.running_version();
    let status = cr.status.clone().unwrap_or_default();
    // A version rolled back from is not tried again until spec.version changes.
    if let Some(rolled_back) = status.rolled_back.as_ref().filter(|r| r.from == wanted) {
        return RolloutPlan {
            deploy_version: Some(rolled_back.to.clone()),
            migrate_version: None,
            migration: MigrationState::NotNeeded,
            rollback: Some((rolled_back.from.clone(), rolled_back.to.clone())),
        };
    }
    // The status may not say so (its write was lost, or it is older than the Deployment): the
    // Deployment records the rollback in the write that did it.
    if let Some(to) = running.clone()
        && observed
            .deployment
            .as_ref()
            .and_then(rolled_back_from)
            .is_some_and(|from| from == wanted && from != to)
    {
        return RolloutPlan {
            deploy_version: Some(to.clone()),
            migrate_version: None,
            migration: MigrationState::NotNeeded,
            rollback: Some((wanted, to)),
        };
    }
    if running.as_deref() == Some(wanted.as_str()) {
        let last_good = status.last_good_version.filter(|good| *good != wanted);
        let failed_analysis = matches!(
            &observed.analysis,
            Some(crate::analysis::State::Failed { version, .. }) if *version == wanted
        );
        if let Some(good) = last_good
            && cr.auto_rollback()
            && (failed_analysis
                || observed
                    .deployment
                    .as_ref()
                    .is_some_and(progress_deadline_exceeded))
        {
            return RolloutPlan {
                deploy_version: Some(good.clone()),
                migrate_version: None,
                migration: MigrationState::NotNeeded,
                rollback: Some((wanted, good)),
            };
        }
        return RolloutPlan {
            deploy_version: Some(wanted),
            migrate_version: None,
            migration: MigrationState::NotNeeded,
            rollback: None,
        };
    }
    if let Some(running) = &running
        && is_rollback(&wanted, running)
    {
        return RolloutPlan {
            deploy_version: Some(wanted),
            migrate_version: None,
            migration: MigrationState::NotNeeded,
            rollback: None,
        };
    }
    // An upgrade of a running platform: first the pre-deployment backup.
    if running.is_some() && observed.migration_job.is_none() && wants_pre_deployment_backup(cr) {
        let status = observed
            .pre_deployment_backup
            .as_ref()
            .and_then(|b| b.status.clone())
            .unwrap_or_default();
        match status.phase {
            Some(BackupPhase::Completed) => {}
            Some(BackupPhase::Failed) => {
                return RolloutPlan {
                    deploy_version: running,
                    migrate_version: None,
                    migration: MigrationState::BackupFailed {
                        message: status.message.unwrap_or_default(),
                    },
                    rollback: None,
                };
            }
            _ => {
                return RolloutPlan {
                    deploy_version: running,
                    migrate_version: None,
                    migration: MigrationState::BackingUp,
                    rollback: None,
                };
            }
        }
    }
    let database_starting = cr.spec.database.external.is_none() && !observed.postgres_ready();
    if observed.migration_job.is_none() && database_starting {
        return RolloutPlan {
            deploy_version: running,
            migrate_version: None,
            migration: MigrationState::WaitingForDatabase,
            rollback: None,
        };
    }
    let migration = job_state(observed.migration_job.as_ref());
    let deploy_version = match migration {
        MigrationState::Succeeded => Some(wanted.clone()),
        _ => running,
    };
    RolloutPlan {
        deploy_version,
        migrate_version: Some(wanted),
        migration,
        rollback: None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
    use k8s_openapi::api::core::v1::PodTemplateSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;
    use crate::testing::sample;

    fn deployment_at(version: &str) -> Deployment {
        let mut d = Deployment::default();
        d.spec.template = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(BTreeMap::from([(
                    VERSION_LABEL.to_owned(),
                    version.to_owned(),
                )])),
                ..ObjectMeta::default()
            }),
            spec: None,
        };
        d
    }

    fn job(succeeded: i32, failed_message: Option<&str>) -> Job {
        Job {
            status: Some(JobStatus {
                succeeded: Some(succeeded),
                conditions: failed_message.map(|m| {
                    vec![JobCondition {
                        type_: "Failed".to_owned(),
                        status: "True".to_owned(),
                        message: Some(m.to_owned()),
                        ..JobCondition::default()
                    }]
                }),
                ..JobStatus::default()
            }),
            ..Job::default()
        }
    }

    /// Without backups: the pre-deployment backup step has tests of its own.
    fn cr_at(version: &str) -> TooGoodToGo {
        let mut cr = sample("minimal.yaml");
        cr.spec.version = version.to_owned();
        cr.spec.backup = Some(crate::crd::BackupSpec {
            enabled: Some(false),
            ..Default::default()
        });
        cr
    }

    fn ready_database() -> Option<StatefulSet> {
        Some(StatefulSet {
            status: Some(k8s_openapi::api::apps::v1::StatefulSetStatus {
                ready_replicas: Some(1),
                ..Default::default()
            }),
            ..StatefulSet::default()
        })
    }

    #[test]
    fn first_deploy_waits_for_the_database_then_for_the_migration() {
        let plan = plan_rollout(&cr_at("1.0.0"), &Observed::default());
        assert_eq!(plan.deploy_version, None);
        assert_eq!(plan.migrate_version, None);
        assert_eq!(plan.migration, MigrationState::WaitingForDatabase);

        let observed = Observed {
            postgres: ready_database(),
            ..Observed::default()
        };
        let plan = plan_rollout(&cr_at("1.0.0"), &observed);
        assert_eq!(plan.deploy_version, None);
        assert_eq!(plan.migrate_version.as_deref(), Some("1.0.0"));
        assert_eq!(plan.migration, MigrationState::Running);
    }

    #[test]
    fn upgrade_keeps_the_old_version_until_the_migration_succeeded() {
        let observed = Observed {
            deployment: Some(deployment_at("1.0.0")),
            postgres: ready_database(),
            ..Observed::default()
        };
        let plan = plan_rollout(&cr_at("1.1.0"), &observed);
        assert_eq!(plan.deploy_version.as_deref(), Some("1.0.0"));
        assert_eq!(plan.migrate_version.as_deref(), Some("1.1.0"));
        let observed = Observed {
            migration_job: Some(job(1, None)),
            ..observed
        };
        let plan = plan_rollout(&cr_at("1.1.0"), &observed);
        assert_eq!(plan.deploy_version.as_deref(), Some("1.1.0"));
        assert_eq!(plan.migration, MigrationState::Succeeded);
    }

    #[test]
    fn failed_migration_keeps_the_old_version() {
        let observed = Observed {
            deployment: Some(deployment_at("1.0.0")),
            migration_job: Some(job(0, Some("BackoffLimitExceeded"))),
            ..Observed::default()
        };
        let plan = plan_rollout(&cr_at("1.1.0"), &observed);
        assert_eq!(plan.deploy_version.as_deref(), Some("1.0.0"));
        assert_eq!(
            plan.migration,
            MigrationState::Failed {
                message: "BackoffLimitExceeded".to_owned()
            }
        );
    }

    #[test]
    fn rollback_runs_no_migration() {
        let observed = Observed {
            deployment: Some(deployment_at("1.2.0")),
            ..Observed::default()
        };
        let plan = plan_rollout(&cr_at("1.1.9"), &observed);
        assert_eq!(plan.deploy_version.as_deref(), Some("1.1.9"));
        assert_eq!(plan.migrate_version, None);
    }

    fn stuck(d: &mut Deployment) {
        d.status = Some(k8s_openapi::api::apps::v1::DeploymentStatus {
            conditions: Some(vec![k8s_openapi::api::apps::v1::DeploymentCondition {
                type_: Some("Progressing".to_owned()),
                status: Some("False".to_owned()),
                reason: Some("ProgressDeadlineExceeded".to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        });
    }

    fn with_status(
        mut cr: TooGoodToGo,
        last_good: &str,
        rolled_back_from: Option<&str>,
    ) -> TooGoodToGo {
        cr.status = Some(crate::crd::TooGoodToGoStatus {
            last_good_version: Some(last_good.to_owned()),
            rolled_back: rolled_back_from.map(|from| crate::crd::RolledBack {
                from: from.to_owned(),
                to: last_good.to_owned(),
                time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                ),
                database: None,
                reason: None,
            }),
            ..Default::default()
        });
        cr
    }

    #[test]
    fn a_stuck_rollout_goes_back_to_the_last_good_version() {
        let mut deployment = deployment_at("1.1.0");
        stuck(&mut deployment);
        let observed = Observed {
            deployment: Some(deployment),
            ..Observed::default()
        };
        let plan = plan_rollout(&with_status(cr_at("1.1.0"), "1.0.0", None), &observed);
        assert_eq!(plan.deploy_version.as_deref(), Some("1.0.0"));
        assert_eq!(plan.migrate_version, None);
        assert_eq!(
            plan.rollback,
            Some(("1.1.0".to_owned(), "1.0.0".to_owned()))
        );
        // Without a good version to go back to, or with autoRollback off, it stays.
        let plan = plan_rollout(&cr_at("1.1.0"), &observed);
        assert_eq!(plan.rollback, None);
        let mut off = with_status(cr_at("1.1.0"), "1.0.0", None);
        off.spec.rollout = Some(crate::crd::RolloutSpec {
            auto_rollback: Some(false),
            ..Default::default()
        });
        assert_eq!(plan_rollout(&off, &observed).rollback, None);
    }

    #[test]
    fn a_rolled_back_version_is_not_retried_but_a_new_one_proceeds() {
        let observed = Observed {
            deployment: Some(deployment_at("1.0.0")),
            postgres: ready_database(),
            ..Observed::default()
        };
        let plan = plan_rollout(
            &with_status(cr_at("1.1.0"), "1.0.0", Some("1.1.0")),
            &observed,
        );
        assert_eq!(plan.deploy_version.as_deref(), Some("1.0.0"));
        assert_eq!(
            plan.migrate_version, None,
            "no migration Job for the bad version"
        );
        let plan = plan_rollout(
            &with_status(cr_at("1.1.1"), "1.0.0", Some("1.1.0")),
            &observed,
        );
        assert_eq!(plan.rollback, None);
        assert_eq!(plan.migrate_version.as_deref(), Some("1.1.1"));
    }

    #[test]
    fn version_ordering() {
        assert!(is_rollback("1.9.0", "1.10.0"));
        assert!(!is_rollback("1.10.0", "1.9.0"));
        assert!(is_rollback("v1.0.0", "1.0.1"));
        assert!(
            !is_rollback("latest", "1.0.0"),
            "unordered versions migrate"
        );
    }
}
