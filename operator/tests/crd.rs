//! The generated CRD is current, every sample satisfies it, and invalid samples are refused by
//! the OpenAPI schema or by its CEL rules, evaluated as the API server would.

use std::path::PathBuf;

use kube::CustomResourceExt;
use serde_json::Value;
use toogoodtogo_operator::crd::{self, RULE_POSTGRES_MAJOR_IMMUTABLE, TooGoodToGo};

mod common;
use common::{INVALID_CEL_SAMPLES, INVALID_SCHEMA_SAMPLES, examples, read_yaml, update_requested};

fn crd_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../crds")
        .join(crd::CRD_FILE)
}

fn open_api_schema() -> Value {
    let crd = TooGoodToGo::crd();
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .map(serde_json::to_value);
    match schema {
        Some(Ok(schema)) => schema,
        other => panic!("the derived CRD has no usable openAPIV3Schema: {other:?}"),
    }
}

fn schema_errors(instance: &Value) -> Vec<String> {
    let validator = match jsonschema::draft4::new(&open_api_schema()) {
        Ok(v) => v,
        Err(e) => panic!("the CRD schema is not a valid JSON schema: {e}"),
    };
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn cel_errors(instance: &Value, old: Option<&Value>) -> Vec<String> {
    match kube::core::cel::Validator::new().validate(&open_api_schema(), instance, old) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .into_vec()
            .iter()
            .map(|e| e.message.clone())
            .collect(),
    }
}

#[test]
fn crds_directory_is_current() {
    let files = match crd::crd_files() {
        Ok(files) => files,
        Err(e) => panic!("cannot serialize the CRDs: {e}"),
    };
    let dir = crd_path().parent().map(PathBuf::from).unwrap_or_default();
    let mut names: Vec<String> = files.iter().map(|(name, _)| name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "backups.toogoodtogo.io.yaml",
            "restores.toogoodtogo.io.yaml",
            crd::CRD_FILE
        ]
    );
    for (name, generated) in files {
        let path = dir.join(&name);
        if update_requested() {
            if let Err(e) = std::fs::write(&path, &generated) {
                panic!("cannot write {}: {e}", path.display());
            }
            continue;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "{} is stale: run `UPDATE_GOLDEN=1 cargo nextest run -p toogoodtogo-operator`",
            path.display(),
        );
    }
}

#[test]
fn backup_and_restore_crds_have_their_short_names_and_category() {
    use toogoodtogo_operator::crd::{Backup, Restore};
    let backup = Backup::crd();
    assert_eq!(
        backup.spec.names.short_names,
        Some(vec!["tgtgbackup".to_owned()])
    );
    assert_eq!(
        backup.spec.names.categories,
        Some(vec!["toogoodtogo-all".to_owned()])
    );
    let restore = Restore::crd();
    assert_eq!(
        restore.spec.names.short_names,
        Some(vec!["tgtgrestore".to_owned()])
    );
    assert_eq!(
        restore.spec.names.categories,
        Some(vec!["toogoodtogo-all".to_owned()])
    );
}

/// kubectl expands a category to every kind in it: a category spelled like a kind's singular,
/// plural or short name makes `kubectl get toogoodtogo NAME` fail with "you must specify only one
/// resource".
#[test]
fn no_category_is_also_the_name_of_a_kind() {
    use toogoodtogo_operator::crd::{Backup, Restore, TooGoodToGo};
    let crds = [TooGoodToGo::crd(), Backup::crd(), Restore::crd()];
    let mut names = Vec::new();
    for crd in &crds {
        let n = &crd.spec.names;
        names.push(n.plural.clone());
        names.extend(n.singular.clone());
        names.push(n.kind.to_ascii_lowercase());
        names.extend(n.short_names.clone().unwrap_or_default());
    }
    for crd in &crds {
        let categories = crd.spec.names.categories.clone().unwrap_or_default();
        assert!(!categories.is_empty(), "{}", crd.spec.names.kind);
        for category in categories {
            assert!(
                !names.contains(&category),
                "category {category} of {} is also a resource name",
                crd.spec.names.kind
            );
        }
    }
}

#[test]
fn a_restore_names_exactly_one_source() {
    use toogoodtogo_operator::crd::{RULE_ONE_RESTORE_SOURCE, Restore};
    let schema = Restore::crd().spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .map(serde_json::to_value);
    let Some(Ok(schema)) = schema else {
        panic!("the Restore CRD has no schema");
    };
    let restore = |spec: Value| {
        serde_json::json!({"apiVersion": "toogoodtogo.io/v1alpha1", "kind": "Restore",
            "metadata": {"name": "r"}, "spec": spec})
    };
    let errors = |instance: &Value| match kube::core::cel::Validator::new()
        .validate(&schema, instance, None)
    {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .into_vec()
            .iter()
            .map(|e| e.message.clone())
            .collect(),
    };
    let both = restore(serde_json::json!({"toogoodtogo": "tgtg", "backup": "b",
        "file": "toogoodtogo_20260101_030000.sql.gz"}));
    assert_eq!(errors(&both), vec![RULE_ONE_RESTORE_SOURCE.to_owned()]);
    let neither = restore(serde_json::json!({"toogoodtogo": "tgtg"}));
    assert_eq!(errors(&neither), vec![RULE_ONE_RESTORE_SOURCE.to_owned()]);
    let one = restore(serde_json::json!({"toogoodtogo": "tgtg", "backup": "b"}));
    assert_eq!(errors(&one), Vec::<String>::new());
}

#[test]
fn crd_has_printer_columns_short_name_and_status() {
    let crd = TooGoodToGo::crd();
    assert_eq!(crd.spec.names.short_names, Some(vec!["tgtg".to_owned()]));
    let version = &crd.spec.versions[0];
    assert!(
        version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    );
    let columns: Vec<String> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(columns, ["Version", "Ready", "Phase", "Age"]);
}

#[test]
fn every_sample_satisfies_the_schema_and_its_cel_rules() {
    for (name, sample) in examples() {
        assert_eq!(schema_errors(&sample), Vec::<String>::new(), "{name}");
        assert_eq!(cel_errors(&sample, None), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn invalid_samples_are_refused_by_the_schema() {
    for (file, expected) in INVALID_SCHEMA_SAMPLES {
        let errors = schema_errors(&read_yaml(&common::invalid_dir().join(file)));
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{file}: expected an error containing {expected:?}, got {errors:?}"
        );
    }
}

#[test]
fn invalid_samples_are_refused_by_cel_with_a_clear_message() {
    for (file, message) in INVALID_CEL_SAMPLES {
        let sample = read_yaml(&common::invalid_dir().join(file));
        assert_eq!(
            schema_errors(&sample),
            Vec::<String>::new(),
            "{file} should pass the schema"
        );
        let errors = cel_errors(&sample, None);
        assert!(
            errors.iter().any(|e| e == message),
            "{file}: expected {message:?}, got {errors:?}"
        );
    }
}

#[test]
fn managed_postgres_major_version_cannot_change_in_place() {
    let old = examples()
        .into_iter()
        .find(|(name, _)| name == "minimal.yaml")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let mut new = old.clone();
    new["spec"]["database"]["managed"]["version"] = "17".into();
    assert_eq!(
        cel_errors(&new, None),
        Vec::<String>::new(),
        "a new resource may pick any version"
    );
    assert_eq!(
        cel_errors(&new, Some(&old)),
        vec![RULE_POSTGRES_MAJOR_IMMUTABLE.to_owned()]
    );
    let mut resized = old.clone();
    resized["spec"]["database"]["managed"]["storage"]["size"] = "50Gi".into();
    assert_eq!(
        cel_errors(&resized, Some(&old)),
        Vec::<String>::new(),
        "other fields may change"
    );
}
