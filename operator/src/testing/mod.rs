//! Test helpers: samples from `deployment/k8s/examples/`, invalid samples, Secrets, and an
//! in-memory API server that behaves like a real one ([`api_server`]).

pub mod api_server;
pub mod normalise;

use std::path::PathBuf;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::crd::{
    RULE_AUTOSCALING_RANGE, RULE_INGRESS_NEEDS_WEBHOOK, RULE_ONE_DATABASE, RULE_ONE_REDIS,
    RULE_WEBHOOK_FOR_SCALE, TooGoodToGo,
};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn examples_dir() -> PathBuf {
    repo_root().join("deployment/k8s/examples")
}

pub fn invalid_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/invalid")
}

/// File names of the sample CRs, sorted.
pub fn sample_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".yaml"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    assert!(
        !names.is_empty(),
        "no samples in {}",
        examples_dir().display()
    );
    names
}

pub fn sample(name: &str) -> TooGoodToGo {
    let path = examples_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn invalid_sample_value(name: &str) -> serde_json::Value {
    let path = invalid_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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

pub fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }
}
