//! Whether an automatic rollback also restores the database (`restoreDatabaseOnRollback`).
//!
//! A restore throws away everything written since the pre-deployment backup, including what the
//! healthy old pods wrote meanwhile (orders, payments). That is worth it only when the new
//! version may have damaged the data: its pods ran its code and crashed or never became ready.
//! A rollout that stalled because no pod could be scheduled (capacity) or the image could not be
//! pulled never ran the new code against the database: the Deployment goes back, the database
//! stays. Without positive evidence (no pod seen, pods still being created) the database stays
//! too: losing data is the worse mistake.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::{Api, Client, Resource, ResourceExt};
use tracing::{info, warn};

use crate::backups::{BackupError, Notice, api_error};
use crate::crd::{Backup, BackupKind, Restore};
use crate::names::{Component, Owner};
use crate::observe::VERSION_LABEL;
use crate::restores;

/// Why the pods of a version did not become available.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// Its pods ran and crashed, restarted, or failed readiness: the version is to blame.
    NewVersion(String),
    /// Its code never ran (no capacity, image not pulled, nothing seen): the version is not
    /// shown to be at fault.
    NotTheVersion(String),
}

/// Image pull failures as the kubelet reports them in a waiting container's reason.
const IMAGE_PULL_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RegistryUnavailable",
];

fn containers(pod: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    let status = pod.status.as_ref();
    status
        .and_then(|s| s.init_container_statuses.as_ref())
        .into_iter()
        .flatten()
        .chain(
            status
                .and_then(|s| s.container_statuses.as_ref())
                .into_iter()
                .flatten(),
        )
}

/// What one container shows against its code, if anything.
fn blames(pod: &str, c: &ContainerStatus) -> Option<String> {
    let waiting = c
        .state
        .as_ref()
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.as_deref());
    if waiting == Some("CrashLoopBackOff") {
        return Some(format!(
            "container {} of pod {pod} is crash-looping ({} restarts)",
            c.name, c.restart_count
        ));
    }
    if c.restart_count > 0 {
        return Some(format!(
            "container {} of pod {pod} restarted {} times",
            c.name, c.restart_count
        ));
    }
    if let Some(terminated) = c.state.as_ref().and_then(|s| s.terminated.as_ref())
        && terminated.exit_code != 0
    {
        return Some(format!(
            "container {} of pod {pod} exited with code {}",
            c.name, terminated.exit_code
        ));
    }
    let running = c.state.as_ref().is_some_and(|s| s.running.is_some());
    if running && !c.ready {
        return Some(format!(
            "container {} of pod {pod} runs but fails its readiness probe",
            c.name
        ));
    }
    None
}

/// Why the pods of `version` (the new ReplicaSet's) did not become available. Evidence against
/// the code wins over everything else: one crash-looping pod is enough, whatever the others do.
pub fn classify(version: &str, pods: &[Pod]) -> Cause {
    let mut image = None;
    let mut capacity = None;
    for pod in pods {
        let name = pod.name_any();
        for c in containers(pod) {
            if let Some(blame) = blames(&name, c) {
                return Cause::NewVersion(blame);
            }
            let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
            if let Some(w) = waiting
                && w.reason
                    .as_deref()
                    .is_some_and(|r| IMAGE_PULL_REASONS.contains(&r))
            {
                image.get_or_insert_with(|| {
                    format!(
                        "the image of pod {name} could not be pulled ({}{})",
                        w.reason.as_deref().unwrap_or_default(),
                        w.message
                            .as_deref()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    )
                });
            }
        }
        let unscheduled = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False");
        if let Some(condition) = unscheduled {
            capacity.get_or_insert_with(|| {
                format!(
                    "pod {name} could not be scheduled ({}{})",
                    condition.reason.as_deref().unwrap_or("Unschedulable"),
                    condition
                        .message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                )
            });
        }
    }
    Cause::NotTheVersion(image.or(capacity).unwrap_or_else(|| {
        format!("no pod of version {version} was seen crashing or failing readiness")
    }))
}

/// The pods of the bot's `version`: the new ReplicaSet's (its pod template carries the version).
pub async fn pods_of_version(
    client: &Client,
    owner: &Owner,
    version: &str,
) -> Result<Vec<Pod>, BackupError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &owner.namespace);
    let mut selector: Vec<String> = owner
        .selector_labels(Component::Bot)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    selector.push(format!("{VERSION_LABEL}={version}"));
    Ok(api
        .list(&ListParams::default().labels(&selector.join(",")))
        .await
        .map_err(api_error("list", "Pods"))?
        .items)
}

/// The newest pre-deployment backup taken before the upgrade to `version`.
pub async fn pre_deployment_backup_of(
    client: &Client,
    owner: &Owner,
    version: &str,
) -> Result<Option<Backup>, BackupError> {
    let backups: Api<Backup> = Api::namespaced(client.clone(), &owner.namespace);
    Ok(backups
        .list(&ListParams::default())
        .await
        .map_err(api_error("list", "Backups"))?
        .items
        .into_iter()
        .filter(|b| b.spec.toogoodtogo == owner.name && b.spec.kind == BackupKind::PreDeployment)
        .filter(|b| {
            b.annotations()
                .get(crate::backups::VERSION_ANNOTATION)
                .map(String::as_str)
                == Some(version)
        })
        .max_by_key(|b| {
            (
                b.metadata.creation_timestamp.as_ref().map(|t| t.0),
                b.name_any(),
            )
        }))
}

/// When the dump of a backup was taken: its Job's start (the dump is a snapshot from then).
fn taken_at(backup: &Backup) -> Option<Timestamp> {
    let status = backup.status.as_ref();
    status
        .and_then(|s| s.start_time.as_ref())
        .or_else(|| status.and_then(|s| s.completion_time.as_ref()))
        .or(backup.metadata.creation_timestamp.as_ref())
        .map(|t| t.0)
}

/// What the rollback did about the database.
#[derive(Clone, Debug, Default)]
pub struct RollbackDatabase {
    /// For the RolledBack condition and `status.rolledBack.database`.
    pub note: Option<String>,
    /// Published before anything is done.
    pub events: Vec<Notice>,
    /// The Restore to create, after the Events are out.
    pub restore: Option<Restore>,
}

/// Decide whether the rollback from `from` to `to` restores the pre-deployment backup, and say
/// what the restore would discard. `failed_analysis` is the evidence of a version that ran and
/// failed its updates ([`crate::analysis`]): to blame, whatever its pods look like now.
pub async fn decide(
    client: &Client,
    owner: &Owner,
    from: &str,
    to: &str,
    failed_analysis: Option<&str>,
    now: Timestamp,
) -> Result<RollbackDatabase, BackupError> {
    let mut out = RollbackDatabase::default();
    let Some(backup) = pre_deployment_backup_of(client, owner, from).await? else {
        info!(
            version = from,
            "no pre-deployment backup to restore after the rollback"
        );
        out.note = Some(format!(
            "the database was not restored: there is no pre-deployment backup of version {from}"
        ));
        return Ok(out);
    };
    let backup_name = backup.name_any();
    let restore_name = restores::rollback_restore_name(&backup_name);
    // The decision was taken before (a reconcile that wrote the Restore and then lost its
    // status write): the new version's pods are gone by now, so it is not taken again.
    let restores_api: Api<Restore> = Api::namespaced(client.clone(), &owner.namespace);
    if restores_api
        .get_opt(&restore_name)
        .await
        .map_err(api_error("read", format!("Restore {restore_name}")))?
        .is_some()
    {
        out.note = Some(format!(
            "the database is restored from the pre-deployment backup {backup_name} (Restore {restore_name})"
        ));
        return Ok(out);
    }
    let cause = match failed_analysis {
        Some(evidence) => Cause::NewVersion(evidence.to_owned()),
        None => classify(from, &pods_of_version(client, owner, from).await?),
    };
    match cause {
        Cause::NewVersion(evidence) => {
            let since = taken_at(&backup);
            let window = since.map_or_else(
                || "since that backup".to_owned(),
                |t| {
                    let minutes = now.as_second().saturating_sub(t.as_second()) / 60;
                    format!("from {t} to {now} (about {minutes} minutes)")
                },
            );
            warn!(version = from, backup = %backup_name, %evidence, "restoring the database after the rollback");
            out.events.push(Notice {
                warning: true,
                reason: "RestoringDatabase",
                note: format!(
                    "version {from} is to blame ({evidence}): restoring the pre-deployment backup {backup_name}; everything written to the database {window} is discarded, including what version {to} wrote meanwhile"
                ),
                action: "Rollback",
                related: Some(backup.object_ref(&())),
            });
            out.note = Some(format!(
                "the database is restored from the pre-deployment backup {backup_name} (Restore {restore_name}): {evidence}"
            ));
            out.restore = Some(restores::rollback_restore(owner, &backup_name));
        }
        Cause::NotTheVersion(reason) => {
            info!(version = from, %reason, "rollback without restoring the database");
            out.events.push(Notice {
                warning: true,
                reason: "RollbackWithoutRestore",
                note: format!(
                    "the database was not restored: {reason}; version {from} did not run against it long enough to be blamed, so nothing written since the pre-deployment backup {backup_name} is discarded"
                ),
                action: "Rollback",
                related: Some(backup.object_ref(&())),
            });
            out.note = Some(format!(
                "the database was not restored: {reason} (not the version's fault)"
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateRunning, ContainerStateWaiting, PodCondition, PodStatus,
    };

    use super::*;

    fn pod(status: PodStatus) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some("tgtg-bot-1".to_owned());
        pod.status = Some(status);
        pod
    }

    fn container(state: ContainerState, ready: bool, restarts: i32) -> PodStatus {
        PodStatus {
            container_statuses: Some(vec![ContainerStatus {
                name: "bot".to_owned(),
                state: Some(state),
                ready,
                restart_count: restarts,
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }
    }

    fn waiting(reason: &str) -> ContainerState {
        ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.to_owned()),
                message: None,
            }),
            ..ContainerState::default()
        }
    }

    fn running() -> ContainerState {
        ContainerState {
            running: Some(ContainerStateRunning::default()),
            ..ContainerState::default()
        }
    }

    #[test]
    fn crashes_and_failed_readiness_blame_the_version() {
        for status in [
            container(waiting("CrashLoopBackOff"), false, 4),
            container(running(), true, 2),
            container(running(), false, 0),
        ] {
            assert!(
                matches!(
                    classify("1.5.0", &[pod(status.clone())]),
                    Cause::NewVersion(_)
                ),
                "{status:?}"
            );
        }
    }

    #[test]
    fn capacity_image_pull_and_no_evidence_do_not() {
        let unschedulable = PodStatus {
            phase: Some("Pending".to_owned()),
            conditions: Some(vec![PodCondition {
                type_: "PodScheduled".to_owned(),
                status: "False".to_owned(),
                reason: Some("Unschedulable".to_owned()),
                message: Some("0/3 nodes are available: 3 Insufficient memory.".to_owned()),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        };
        let cause = classify("1.5.0", &[pod(unschedulable)]);
        assert!(
            matches!(&cause, Cause::NotTheVersion(m) if m.contains("Insufficient memory")),
            "{cause:?}"
        );
        for reason in ["ErrImagePull", "ImagePullBackOff"] {
            let cause = classify("1.5.0", &[pod(container(waiting(reason), false, 0))]);
            assert!(
                matches!(&cause, Cause::NotTheVersion(m) if m.contains(reason)),
                "{cause:?}"
            );
        }
        assert!(matches!(classify("1.5.0", &[]), Cause::NotTheVersion(_)));
        let creating = container(waiting("ContainerCreating"), false, 0);
        assert!(matches!(
            classify("1.5.0", &[pod(creating)]),
            Cause::NotTheVersion(_)
        ));
    }

    #[test]
    fn one_crashing_pod_outweighs_unschedulable_ones() {
        let pending = PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "PodScheduled".to_owned(),
                status: "False".to_owned(),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        };
        let pods = [
            pod(pending),
            pod(container(waiting("CrashLoopBackOff"), false, 3)),
        ];
        assert!(matches!(classify("1.5.0", &pods), Cause::NewVersion(_)));
    }
}

#[cfg(test)]
#[path = "rollback_double_tests.rs"]
mod double_tests;
