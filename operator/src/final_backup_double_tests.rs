//! `deletionPolicy: Backup` on the API double: the data goes only after the final backup.

use serde_json::json;

use crate::double_tests::{CR, Cluster, group};
use crate::testing::sample;

const DATA: &str = "/api/v1/namespaces/shop/persistentvolumeclaims/data-tgtg-postgres-0";
const CREDENTIALS: &str = "/api/v1/namespaces/shop/secrets/tgtg-postgres-credentials";
const BACKUPS: &str = "/api/v1/namespaces/shop/persistentvolumeclaims/tgtg-backups";

fn final_backup() -> String {
    group("toogoodtogo.io/v1alpha1", "backups", "tgtg-final")
}

async fn deleted_platform() -> Cluster {
    let cluster = Cluster::new();
    let mut cr = serde_json::to_value(sample("production.yaml")).unwrap_or_default();
    cr["spec"]["deletionPolicy"] = json!("Backup");
    cluster.server.create(CR, cr);
    cluster.converge().await;
    assert_eq!(
        cluster.resource()["metadata"]["finalizers"],
        json!(["toogoodtogo.io/final-backup"])
    );
    cluster.server.delete(CR);
    assert!(
        cluster.server.exists(CR),
        "the finalizer holds the deletion"
    );
    cluster.reconcile_ok().await;
    assert!(cluster.server.exists(&final_backup()));
    for kept in [DATA, CREDENTIALS, CR] {
        assert!(
            cluster.server.exists(kept),
            "{kept} is gone before the backup"
        );
    }
    assert!(
        cluster
            .server
            .exists(&group("apps/v1", "statefulsets", "tgtg-postgres")),
        "the database runs for the backup"
    );
    cluster
}

#[tokio::test]
async fn with_deletion_policy_backup_the_data_goes_only_after_the_final_backup() {
    let cluster = deleted_platform().await;
    cluster.reconcile_ok().await;
    assert!(cluster.server.exists(CR), "still backing up");
    cluster.server.edit(&final_backup(), |b| {
        b["status"] = json!({"phase": "Completed",
            "file": "toogoodtogo_20261129_100000.sql.gz"});
    });
    cluster.reconcile_ok().await;
    assert!(!cluster.server.exists(CR));
    assert!(!cluster.server.exists(DATA));
    assert!(!cluster.server.exists(CREDENTIALS));
    assert!(cluster.server.exists(BACKUPS), "the backups stay");
    assert!(cluster.server.exists(&final_backup()));
    assert!(
        cluster
            .events()
            .iter()
            .any(|(_, reason, _)| reason == "FinalBackupCompleted")
    );
}

#[tokio::test]
async fn a_failed_final_backup_holds_the_deletion_until_the_policy_changes() {
    let cluster = deleted_platform().await;
    cluster.server.edit(&final_backup(), |b| {
        b["status"] = json!({"phase": "Failed", "message": "pg_dump: connection refused"});
    });
    cluster.reconcile_ok().await;
    for kept in [CR, DATA, CREDENTIALS] {
        assert!(cluster.server.exists(kept), "{kept}");
    }
    assert!(
        cluster
            .events()
            .iter()
            .any(|(t, reason, note)| t == "Warning"
                && reason == "FinalBackupFailed"
                && note.contains("connection refused")),
        "{:?}",
        cluster.events()
    );
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["deletionPolicy"] = json!("Delete"));
    cluster.reconcile_ok().await;
    assert!(!cluster.server.exists(CR));
    assert!(!cluster.server.exists(DATA));
}

#[tokio::test]
async fn switching_away_from_backup_removes_the_finalizer() {
    let cluster = Cluster::new();
    let mut cr = serde_json::to_value(sample("production.yaml")).unwrap_or_default();
    cr["spec"]["deletionPolicy"] = json!("Backup");
    cluster.server.create(CR, cr);
    cluster.converge().await;
    cluster
        .server
        .edit(CR, |cr| cr["spec"]["deletionPolicy"] = json!("Retain"));
    cluster.reconcile_ok().await;
    assert!(cluster.resource()["metadata"].get("finalizers").is_none());
    cluster.server.delete(CR);
    assert!(!cluster.server.exists(CR), "nothing holds the deletion");
    assert!(
        cluster.server.exists(CREDENTIALS),
        "kept as Retain says (the volume's owner follows the StatefulSet's retention policy)"
    );
}
