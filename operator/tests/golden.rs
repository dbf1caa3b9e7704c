//! Golden files of `render` for every sample CR: the exact objects the operator applies.
//! `UPDATE_GOLDEN=1` rewrites them; review the diff like code.

use toogoodtogo_operator::crd::TooGoodToGo;
use toogoodtogo_operator::offline;

mod common;
use common::{examples, golden_dir, update_requested};

#[tokio::test]
async fn render_matches_golden_files() {
    let mut stale = Vec::new();
    for (name, value) in examples() {
        let cr: TooGoodToGo =
            serde_json::from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"));
        let rendered = offline::render_yaml(&cr, &offline::placeholder_secrets(&cr))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let path = golden_dir().join(&name);
        if update_requested() {
            std::fs::write(&path, &rendered).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            continue;
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_default();
        if golden != rendered {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "rendered objects differ from tests/golden for {stale:?}; \
         run `UPDATE_GOLDEN=1 cargo nextest run -p toogoodtogo-operator --test golden` and review the diff"
    );
}

/// The Jobs the operator creates at run time for the production sample: a backup, a prune, a
/// verification (plain and dry run), a restore, the two Jobs of a database password rotation,
/// and the payments check.
#[test]
fn backup_and_restore_jobs_match_golden_file() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use toogoodtogo_operator::build::{GeneratedValues, Inputs, PostgresCredentials};
    use toogoodtogo_operator::crd::BackupKind;
    use toogoodtogo_operator::names::Owner;
    use toogoodtogo_operator::resources::{self, backup, db_rotation, payments_check, restore};

    let (_, value) = examples()
        .into_iter()
        .find(|(name, _)| name == "production.yaml")
        .unwrap_or_else(|| panic!("no production sample"));
    let cr: TooGoodToGo = serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"));
    let inputs = Inputs::offline(
        &cr,
        GeneratedValues {
            secret_key: "k".to_owned(),
            webhook_secret_token: "t".to_owned(),
            secret_key_previous: None,
            webhook_secret_token_previous: None,
            key_ring: Default::default(),
            token_record: Default::default(),
            postgres: Some(PostgresCredentials {
                superuser_password: "s".to_owned(),
                bot_password: "b".to_owned(),
                bot_user: "toogoodtogo".to_owned(),
                pending_password: None,
                record: Default::default(),
                secret_uid: None,
            }),
            redis_password: Some("r".to_owned()),
        },
        "digest".to_owned(),
    );
    let owner = Owner::of(&cr);
    let ctx = resources::Context {
        cr: &cr,
        inputs: &inputs,
        owner: &owner,
    };
    let (Some(spec), Some(managed)) = (cr.spec.backup.as_ref(), cr.spec.database.managed.as_ref())
    else {
        panic!("the production sample has backups and a managed database");
    };
    let owned_by = |kind: &str, name: &str| OwnerReference {
        api_version: "toogoodtogo.io/v1alpha1".to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
        uid: format!("{name}-uid"),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let file = "toogoodtogo_20260101_030000.sql.gz";
    let jobs = [
        backup::backup_job(
            &ctx,
            spec,
            &cr.spec.database,
            "before-import".to_owned(),
            BackupKind::Manual,
            owned_by("Backup", "before-import"),
        ),
        backup::prune_job(
            &ctx,
            spec,
            &cr.spec.database,
            &[file.to_owned()],
            &["tgtg-backup-29410380".to_owned()],
        ),
        restore::verify_job(
            &ctx,
            spec,
            &cr.spec.database,
            "r-verify".to_owned(),
            file,
            false,
            owned_by("Restore", "r"),
        ),
        restore::verify_job(
            &ctx,
            spec,
            &cr.spec.database,
            "check-verify".to_owned(),
            file,
            true,
            owned_by("Restore", "check"),
        ),
        restore::restore_job(
            &ctx,
            spec,
            &cr.spec.database,
            "r-restore".to_owned(),
            file,
            "1.4.2",
            owned_by("Restore", "r"),
        ),
        db_rotation::prepare_job(
            &ctx,
            managed,
            "tgtg-db-prepare-1764374400".to_owned(),
            "toogoodtogo_blue",
        ),
        db_rotation::retire_job(
            &ctx,
            managed,
            "tgtg-db-retire-1764374400".to_owned(),
            "toogoodtogo",
        ),
        payments_check::job(&ctx, owner.payments_check_job("5e0c1d2a3b"), "1.4.2"),
    ];
    let mut rendered = String::new();
    for job in jobs {
        let mut value = serde_json::to_value(&job).unwrap_or_else(|e| panic!("{e}"));
        value["apiVersion"] = "batch/v1".into();
        value["kind"] = "Job".into();
        rendered.push_str("---\n");
        rendered.push_str(&serde_saphyr::to_string(&value).unwrap_or_else(|e| panic!("{e}")));
    }
    let path = golden_dir().join("jobs/production.yaml");
    if update_requested() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(&path, &rendered).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        golden == rendered,
        "{} is stale: run `UPDATE_GOLDEN=1 cargo test -p toogoodtogo-operator --test golden` and review the diff",
        path.display()
    );
}

/// The Jobs of the logical backups of a CloudNativePG cluster (the HA sample): a backup, a
/// verification (plain and dry run) and a restore, all through the `-rw` Service with
/// CloudNativePG's Secrets.
#[test]
fn cloudnativepg_backup_and_restore_jobs_match_golden_file() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use toogoodtogo_operator::build::{GeneratedValues, Inputs};
    use toogoodtogo_operator::crd::BackupKind;
    use toogoodtogo_operator::names::Owner;
    use toogoodtogo_operator::resources::{self, backup, restore};

    let (_, value) = examples()
        .into_iter()
        .find(|(name, _)| name == "ha.yaml")
        .unwrap_or_else(|| panic!("no HA sample"));
    let cr: TooGoodToGo = serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"));
    let inputs = Inputs::offline(
        &cr,
        GeneratedValues {
            secret_key: "k".to_owned(),
            webhook_secret_token: "t".to_owned(),
            secret_key_previous: None,
            webhook_secret_token_previous: None,
            key_ring: Default::default(),
            token_record: Default::default(),
            postgres: None,
            redis_password: Some("r".to_owned()),
        },
        "digest".to_owned(),
    );
    let owner = Owner::of(&cr);
    let ctx = resources::Context {
        cr: &cr,
        inputs: &inputs,
        owner: &owner,
    };
    let Some(spec) = cr.spec.backup.as_ref() else {
        panic!("the HA sample has spec.backup");
    };
    let owned_by = |kind: &str, name: &str| OwnerReference {
        api_version: "toogoodtogo.io/v1alpha1".to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
        uid: format!("{name}-uid"),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let file = "toogoodtogo_20260101_030000.sql.gz";
    let database = &cr.spec.database;
    let jobs = [
        backup::backup_job(
            &ctx,
            spec,
            database,
            "before-import".to_owned(),
            BackupKind::Manual,
            owned_by("Backup", "before-import"),
        ),
        restore::verify_job(
            &ctx,
            spec,
            database,
            "r-verify".to_owned(),
            file,
            false,
            owned_by("Restore", "r"),
        ),
        restore::verify_job(
            &ctx,
            spec,
            database,
            "check-verify".to_owned(),
            file,
            true,
            owned_by("Restore", "check"),
        ),
        restore::restore_job(
            &ctx,
            spec,
            database,
            "r-restore".to_owned(),
            file,
            "1.4.2",
            owned_by("Restore", "r"),
        ),
    ];
    let mut rendered = String::new();
    for job in jobs {
        let mut value = serde_json::to_value(&job).unwrap_or_else(|e| panic!("{e}"));
        value["apiVersion"] = "batch/v1".into();
        value["kind"] = "Job".into();
        rendered.push_str("---\n");
        rendered.push_str(&serde_saphyr::to_string(&value).unwrap_or_else(|e| panic!("{e}")));
    }
    let path = golden_dir().join("jobs/ha.yaml");
    if update_requested() {
        std::fs::write(&path, &rendered).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        golden == rendered,
        "{} is stale: run `UPDATE_GOLDEN=1 cargo test -p toogoodtogo-operator --test golden` and review the diff",
        path.display()
    );
}
