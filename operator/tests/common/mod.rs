//! Shared by the integration tests: samples, invalid samples, golden-file switch.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use toogoodtogo_operator::crd::{
    RULE_AUTOSCALING_RANGE, RULE_INGRESS_NEEDS_WEBHOOK, RULE_ONE_DATABASE, RULE_ONE_REDIS,
    RULE_WEBHOOK_FOR_SCALE,
};

/// Set `UPDATE_GOLDEN=1` to rewrite golden files and `crds/` instead of comparing.
pub fn update_requested() -> bool {
    std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1")
}

pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deployment/k8s/examples")
}

pub fn invalid_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/invalid")
}

pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

pub fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every sample CR as (file name, JSON value), sorted by name.
pub fn examples() -> Vec<(String, Value)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no samples in {}",
        examples_dir().display()
    );
    paths
        .iter()
        .map(|p| {
            (
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                read_yaml(p),
            )
        })
        .collect()
}

/// Invalid samples that only a CEL rule rejects, with the rule's message.
pub const INVALID_CEL_SAMPLES: &[(&str, &str)] = &[
    ("both-databases.yaml", RULE_ONE_DATABASE),
    ("managed-and-cloudnativepg.yaml", RULE_ONE_DATABASE),
    ("no-redis.yaml", RULE_ONE_REDIS),
    ("replicas-without-webhook.yaml", RULE_WEBHOOK_FOR_SCALE),
    ("autoscaling-without-webhook.yaml", RULE_WEBHOOK_FOR_SCALE),
    ("autoscaling-min-above-max.yaml", RULE_AUTOSCALING_RANGE),
    ("ingress-without-webhook.yaml", RULE_INGRESS_NEEDS_WEBHOOK),
];

/// Invalid samples that the OpenAPI schema itself rejects (types, ranges, patterns, required).
/// Each with a fragment of the expected error (instance path and message).
pub const INVALID_SCHEMA_SAMPLES: &[(&str, &str)] = &[
    (
        "negative-replicas.yaml",
        "/spec/replicas: -1 is less than the minimum of 0",
    ),
    (
        "missing-telegram.yaml",
        "/spec: \"telegram\" is a required property",
    ),
    ("bad-version.yaml", "/spec/version: \".1 0\" does not match"),
    (
        "image-digest-not-sha256.yaml",
        "/spec/imageDigests/1.0.0: \"latest\" does not match",
    ),
    (
        "bad-postgres-version.yaml",
        "/spec/database/managed/version: \"9\" is not one of",
    ),
    (
        "bad-storage-size.yaml",
        "/spec/database/managed/storage/size: \"lots\" does not match",
    ),
    (
        "cloudnativepg-no-instances.yaml",
        "/spec/database/cloudNativePG/instances: 0 is less than the minimum of 1",
    ),
];
