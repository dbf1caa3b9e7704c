//! `deletionPolicy: Backup`: a final backup before the data goes.
//!
//! While the policy is `Backup` (and backups are on) the resource carries the finalizer
//! [`FINALIZER`]. Deleting it then does not delete anything at once: the garbage collector waits
//! for the finalizer, so the database keeps running, and the operator creates the `Backup`
//! `<name>-final`. When that backup has completed the finalizer goes and the owned objects follow,
//! the database volume and its credentials Secret with them (as under `Delete`); the backup volume
//! and the `Backup` resources stay, as always. A final backup that fails, or cannot be taken
//! (backups turned off), holds the deletion with a Warning Event saying so: switching the
//! policy to `Delete` or `Retain` lets it finish.

use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tracing::info;

use crate::backups::{BackupError, Notice, api_error, is_status};
use crate::crd::{
    Backup, BackupKind, BackupPhase, BackupResourceSpec, DeletionPolicy, TooGoodToGo,
};
use crate::names::{Component, Owner};

pub const FINALIZER: &str = "toogoodtogo.io/final-backup";
/// Marks the `Backup` taken before the resource was deleted.
pub const FINAL_ANNOTATION: &str = "toogoodtogo.io/final-backup";

pub fn has_finalizer(cr: &TooGoodToGo) -> bool {
    cr.finalizers().iter().any(|f| f == FINALIZER)
}

/// Whether the resource should carry the finalizer now.
pub fn wanted(cr: &TooGoodToGo) -> bool {
    cr.deletion_policy() == DeletionPolicy::Backup && cr.spec.database.external.is_none()
}

pub fn backup_name(owner: &Owner) -> String {
    format!("{}-final", owner.name)
}

/// Add or remove the finalizer, conditional on the resourceVersion read (a 409 means the
/// resource changed: the reconcile starts again). Returns whether it wrote.
pub async fn set_finalizer(
    api: &Api<TooGoodToGo>,
    cr: &TooGoodToGo,
    present: bool,
) -> Result<bool, kube::Error> {
    if has_finalizer(cr) == present {
        return Ok(false);
    }
    let mut finalizers: Vec<String> = cr
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    if present {
        finalizers.push(FINALIZER.to_owned());
    }
    let patch = json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": cr.resource_version(),
    }});
    api.patch(
        &cr.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    info!(present, "final-backup finalizer");
    Ok(true)
}

/// Where the final backup stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// Created now, or still running.
    Running,
    Completed {
        file: String,
    },
    /// The deletion waits for a decision.
    Blocked(Box<Notice>),
}

/// Create the final `Backup` unless it exists, and report how far it is.
pub async fn ensure(client: &Client, cr: &TooGoodToGo) -> Result<Progress, BackupError> {
    let owner = Owner::of(cr);
    if crate::backups::enabled(cr).is_none() {
        return Ok(Progress::Blocked(Box::new(Notice {
            warning: true,
            reason: "FinalBackupImpossible",
            note: "deletionPolicy is Backup but backups are turned off, so no final backup can be taken; the deletion waits: turn backups on, or set deletionPolicy to Delete (or Retain) to let it finish".to_owned(),
            action: "Delete",
            related: None,
        })));
    }
    let name = backup_name(&owner);
    let api: Api<Backup> = Api::namespaced(client.clone(), &owner.namespace);
    let existing = api
        .get_opt(&name)
        .await
        .map_err(api_error("read", format!("Backup {name}")))?;
    let Some(backup) = existing else {
        let mut backup = Backup::new(
            &name,
            BackupResourceSpec {
                toogoodtogo: owner.name.clone(),
                kind: BackupKind::Manual,
                job_name: None,
            },
        );
        backup.metadata = owner.metadata(name.clone(), Component::Backup);
        // It outlives the resource, as every backup does.
        backup.metadata.owner_references = None;
        backup
            .annotations_mut()
            .insert(FINAL_ANNOTATION.to_owned(), "true".to_owned());
        match api.create(&PostParams::default(), &backup).await {
            Ok(_) => info!(backup = %name, "final backup requested"),
            Err(err) if is_status(&err, 409) => {}
            Err(source) => return Err(api_error("create", format!("Backup {name}"))(source)),
        }
        return Ok(Progress::Running);
    };
    let status = backup.status.clone().unwrap_or_default();
    Ok(match status.phase {
        Some(BackupPhase::Completed) => Progress::Completed {
            file: status.file.unwrap_or_default(),
        },
        Some(BackupPhase::Failed) => Progress::Blocked(Box::new(Notice {
            warning: true,
            reason: "FinalBackupFailed",
            note: format!(
                "the final backup {name} failed ({}); the deletion waits and nothing was deleted: delete the Backup {name} to try again, or set deletionPolicy to Delete (or Retain) to let it finish",
                status.message.unwrap_or_default()
            ),
            action: "Delete",
            related: Some(backup.object_ref(&())),
        })),
        _ => Progress::Running,
    })
}

#[cfg(test)]
#[path = "final_backup_double_tests.rs"]
mod double_tests;
