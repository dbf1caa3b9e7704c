//! `toogoodtogo-operator render`: every object the operator would apply, with no cluster.
//!
//! Referenced Secrets come from a directory of Secret manifests or are placeholders; generated
//! values come from the placeholder generator, so the output is stable and holds no real secret.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::build::{self, BuildError, Inputs};
use crate::crd::TooGoodToGo;
use crate::dereference::{self, DereferenceError, SecretMap};
use crate::generator::PlaceholderGenerator;
use crate::validate::{self, ValidationError};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid manifest: {message}")]
    Parse { path: String, message: String },
    #[error("invalid resource: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ValidationError>),
    #[error(transparent)]
    Dereference(#[from] DereferenceError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("cannot write YAML: {0}")]
    Yaml(String),
}

fn read(path: &Path) -> Result<String, RenderError> {
    std::fs::read_to_string(path).map_err(|source| RenderError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Parse a `TooGoodToGo` manifest.
pub fn parse_resource(path: &Path) -> Result<TooGoodToGo, RenderError> {
    serde_saphyr::from_str(&read(path)?).map_err(|e| RenderError::Parse {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Every `*.yaml`/`*.yml` Secret manifest in `dir`, by name.
pub fn load_secrets(dir: &Path) -> Result<SecretMap, RenderError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RenderError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    let mut secrets = BTreeMap::new();
    let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let is_yaml = path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml");
        if !is_yaml {
            continue;
        }
        let secret: Secret =
            serde_saphyr::from_str(&read(&path)?).map_err(|e| RenderError::Parse {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        let secret = normalize_string_data(secret);
        if let Some(name) = secret.metadata.name.clone() {
            secrets.insert(name, secret);
        }
    }
    Ok(SecretMap(secrets))
}

/// The API server folds `stringData` into `data`; do the same for files written by hand.
fn normalize_string_data(mut secret: Secret) -> Secret {
    if let Some(string_data) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(BTreeMap::new);
        for (key, value) in string_data {
            data.insert(key, ByteString(value.into_bytes()));
        }
    }
    secret
}

/// A Secret whose every key holds `placeholder`.
fn placeholder_secret(name: &str, keys: &[String]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(
            keys.iter()
                .map(|k| (k.clone(), ByteString(b"placeholder".to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }
}

/// Placeholders for every referenced Secret, with every key the resource needs.
pub fn placeholder_secrets(cr: &TooGoodToGo) -> SecretMap {
    SecretMap(
        dereference::referenced_secrets(cr)
            .into_iter()
            .map(|need| {
                (
                    need.name.clone(),
                    placeholder_secret(&need.name, &need.keys),
                )
            })
            .collect(),
    )
}

/// Render `cr` to a multi-document YAML stream.
pub async fn render_yaml(cr: &TooGoodToGo, secrets: &SecretMap) -> Result<String, RenderError> {
    validate::validate(cr).map_err(RenderError::Invalid)?;
    let dereferenced = dereference::dereference(cr, secrets, &PlaceholderGenerator).await?;
    let inputs = Inputs::offline(
        cr,
        dereferenced.generated,
        dereferenced.referenced_secrets_digest,
    );
    let desired = build::render(cr, &inputs);
    let mut out = String::new();
    for manifest in desired.manifests()? {
        let value =
            serde_json::to_value(&manifest.object).map_err(|e| RenderError::Yaml(e.to_string()))?;
        out.push_str("---\n");
        out.push_str(
            &serde_saphyr::to_string(&value).map_err(|e| RenderError::Yaml(e.to_string()))?,
        );
    }
    Ok(out)
}
