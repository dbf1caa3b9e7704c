//! Small constructors used by offline rendering and tests.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// A Secret whose every key holds `placeholder`.
pub fn secret_with_keys(name: &str, keys: &[&str]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(
            keys.iter()
                .map(|k| ((*k).to_owned(), ByteString(b"placeholder".to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }
}
