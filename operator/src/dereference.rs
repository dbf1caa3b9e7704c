//! Dereference: load the Secrets a resource refers to and the operator's own generated Secrets.
//!
//! Referenced Secrets are only checked and digested here (their values reach the bot through
//! `secretKeyRef`s); generated values are read back so a reconcile never regenerates them.

use std::collections::BTreeMap;
use std::future::Future;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::build::{GeneratedValues, PostgresCredentials};
use crate::cache::{Fingerprint, Reads};
use crate::crd::TooGoodToGo;
use crate::digest;
use crate::generator::SecretGenerator;
use crate::names::{BOT_DATABASE_USER, Owner};
use crate::resources::pod::{
    POSTGRES_BOT_PASSWORD_KEY, POSTGRES_PENDING_PASSWORD_KEY, POSTGRES_SUPERUSER_PASSWORD_KEY,
    POSTGRES_USER_KEY,
};
use crate::resources::secret::{
    REDIS_PASSWORD, SECRET_KEY, SECRET_KEY_PREVIOUS, WEBHOOK_SECRET_TOKEN,
    WEBHOOK_SECRET_TOKEN_PREVIOUS,
};

/// Where Secrets are read from: the API server, the controller's watches, or a directory for
/// offline rendering.
pub trait SecretSource: Sync {
    fn secret(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Secret>, kube::Error>> + Send;

    /// A Secret the user owns: only its keys and value digests are needed.
    fn fingerprint(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Fingerprint>, kube::Error>> + Send {
        async move {
            Ok(self
                .secret(name)
                .await?
                .map(|s| Fingerprint::of(&s.data.unwrap_or_default())))
        }
    }
}

/// The Secrets of one namespace through the controller's watches ([`Reads`]).
pub struct WatchedSecrets<'a> {
    pub reads: &'a Reads,
    pub namespace: &'a str,
}

impl SecretSource for WatchedSecrets<'_> {
    async fn secret(&self, name: &str) -> Result<Option<Secret>, kube::Error> {
        match self.reads.get::<Secret>(self.namespace, name).await? {
            Some(secret) => Ok(Some(secret)),
            None if !self.reads.watching(self.namespace) => Ok(None),
            // The operator's own Secrets are watched by its label; one recreated without it
            // is still found, so its values are never taken for missing and regenerated.
            None => {
                Api::<Secret>::namespaced(self.reads.client().clone(), self.namespace)
                    .get_opt(name)
                    .await
            }
        }
    }

    async fn fingerprint(&self, name: &str) -> Result<Option<Fingerprint>, kube::Error> {
        self.reads.fingerprint(self.namespace, name).await
    }
}

impl SecretSource for Api<Secret> {
    async fn secret(&self, name: &str) -> Result<Option<Secret>, kube::Error> {
        self.get_opt(name).await
    }
}

/// Secrets held in memory (offline `render --secrets DIR`, tests).
#[derive(Clone, Debug, Default)]
pub struct SecretMap(pub BTreeMap<String, Secret>);

impl SecretSource for SecretMap {
    async fn secret(&self, name: &str) -> Result<Option<Secret>, kube::Error> {
        Ok(self.0.get(name).cloned())
    }
}

/// A Secret the resource needs, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretNeed {
    pub name: String,
    /// Keys that must be present.
    pub keys: Vec<String>,
    /// Spec field that names it, for messages.
    pub field: &'static str,
}

/// Every Secret named in the spec.
pub fn referenced_secrets(cr: &TooGoodToGo) -> Vec<SecretNeed> {
    let spec = &cr.spec;
    let mut needs = vec![SecretNeed {
        name: spec.telegram.token_secret_ref.name.clone(),
        keys: vec![spec.telegram.token_secret_ref.key.clone()],
        field: "spec.telegram.tokenSecretRef",
    }];
    if let Some(external) = &spec.database.external {
        needs.push(SecretNeed {
            name: external.url_secret_ref.name.clone(),
            keys: vec![external.url_secret_ref.key.clone()],
            field: "spec.database.external.urlSecretRef",
        });
    }
    if let Some(external) = &spec.redis.external {
        needs.push(SecretNeed {
            name: external.url_secret_ref.name.clone(),
            keys: vec![external.url_secret_ref.key.clone()],
            field: "spec.redis.external.urlSecretRef",
        });
    }
    if let Some(stripe) = &spec.stripe {
        needs.push(SecretNeed {
            name: stripe.secret_ref.name.clone(),
            // The provider token is what `spec.stripe` is for; the other keys cost only their
            // feature, which the PaymentsReady condition reports (crate::payments).
            keys: vec![crate::payments::PROVIDER_TOKEN.to_owned()],
            field: crate::payments::SECRET_FIELD,
        });
    }
    needs
}

#[derive(Debug, thiserror::Error)]
pub enum DereferenceError {
    #[error("Secret {name:?} named in {field} does not exist")]
    MissingSecret { name: String, field: &'static str },
    #[error("Secret {name:?} named in {field} has no key {key:?}")]
    MissingKey {
        name: String,
        key: String,
        field: &'static str,
    },
    #[error("cannot read Secret {name:?}: {source}")]
    Api {
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl DereferenceError {
    /// Missing inputs are the user's to fix; API errors are transient.
    pub fn is_missing_input(&self) -> bool {
        !matches!(self, Self::Api { .. })
    }
}

/// What dereferencing produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dereferenced {
    pub generated: GeneratedValues,
    pub referenced_secrets_digest: String,
    /// Whether the generated Secrets must be created (first reconcile).
    pub generated_fresh: bool,
    /// A managed database's credentials Secret does not exist (its passwords were generated now).
    pub postgres_credentials_missing: bool,
    /// The Stripe Secret's keys, with `spec.stripe`.
    pub stripe: Option<crate::payments::StripeSecret>,
}

async fn read(source: &impl SecretSource, name: &str) -> Result<Option<Secret>, DereferenceError> {
    source
        .secret(name)
        .await
        .map_err(|source| DereferenceError::Api {
            name: name.to_owned(),
            source,
        })
}

fn value(secret: Option<&Secret>, key: &str) -> Option<String> {
    let data = secret?.data.as_ref()?;
    let ByteString(bytes) = data.get(key)?;
    String::from_utf8(bytes.clone())
        .ok()
        .filter(|v| !v.is_empty())
}

/// Load and check everything the resource refers to. Missing referenced Secrets are reported
/// one at a time, first in spec order, so the message names exactly what to create.
pub async fn dereference(
    cr: &TooGoodToGo,
    source: &impl SecretSource,
    generator: &dyn SecretGenerator,
) -> Result<Dereferenced, DereferenceError> {
    let owner = Owner::of(cr);
    let mut digest_material = String::new();
    let mut stripe = None;
    for need in referenced_secrets(cr) {
        let fingerprint = source
            .fingerprint(&need.name)
            .await
            .map_err(|source| DereferenceError::Api {
                name: need.name.clone(),
                source,
            })?
            .ok_or_else(|| DereferenceError::MissingSecret {
                name: need.name.clone(),
                field: need.field,
            })?;
        for key in &need.keys {
            if !fingerprint.keys.contains_key(key) {
                return Err(DereferenceError::MissingKey {
                    name: need.name.clone(),
                    key: key.clone(),
                    field: need.field,
                });
            }
        }
        let mut material = need.name.clone();
        for (key, (value_digest, _)) in &fingerprint.keys {
            material.push('\n');
            material.push_str(key);
            material.push('=');
            material.push_str(value_digest);
        }
        material.push('\n');
        if need.field == crate::payments::SECRET_FIELD {
            stripe = Some(crate::payments::StripeSecret {
                name: need.name.clone(),
                missing: crate::payments::missing_keys(&fingerprint),
                digest: digest::short_hex(material.as_bytes()),
            });
        }
        digest_material.push_str(&material);
    }

    let generated_secret = read(source, &owner.generated_secret()).await?;
    let mut fresh = false;
    let mut existing_or_new = |secret: Option<&Secret>, key: &str| {
        value(secret, key).unwrap_or_else(|| {
            fresh = true;
            generator.generate(key)
        })
    };
    let secret_key = existing_or_new(generated_secret.as_ref(), SECRET_KEY);
    let webhook_secret_token = existing_or_new(generated_secret.as_ref(), WEBHOOK_SECRET_TOKEN);
    // Generated with a managed Redis only: an external one has its password in its URL.
    let redis_password = cr
        .spec
        .redis
        .managed
        .is_some()
        .then(|| existing_or_new(generated_secret.as_ref(), REDIS_PASSWORD));
    let mut postgres_credentials_missing = false;
    let postgres = if cr.spec.database.managed.is_some() {
        let credentials = read(source, &owner.postgres_credentials()).await?;
        postgres_credentials_missing = credentials.is_none();
        Some(PostgresCredentials {
            superuser_password: existing_or_new(
                credentials.as_ref(),
                POSTGRES_SUPERUSER_PASSWORD_KEY,
            ),
            bot_password: existing_or_new(credentials.as_ref(), POSTGRES_BOT_PASSWORD_KEY),
            bot_user: value(credentials.as_ref(), POSTGRES_USER_KEY)
                .unwrap_or_else(|| BOT_DATABASE_USER.to_owned()),
            pending_password: value(credentials.as_ref(), POSTGRES_PENDING_PASSWORD_KEY),
            record: crate::db_rotation::Record::read(credentials.as_ref()),
            secret_uid: credentials.as_ref().and_then(|s| s.metadata.uid.clone()),
        })
    } else {
        None
    };

    Ok(Dereferenced {
        generated: GeneratedValues {
            secret_key,
            webhook_secret_token,
            secret_key_previous: value(generated_secret.as_ref(), SECRET_KEY_PREVIOUS),
            token_record: crate::webhook_token::Record::read(generated_secret.as_ref()),
            key_ring: crate::secret_key::KeyRing::read(
                generated_secret.as_ref(),
                value(generated_secret.as_ref(), SECRET_KEY_PREVIOUS),
                cr.status
                    .as_ref()
                    .and_then(|s| s.secret_rotation.as_ref())
                    .and_then(|r| r.secret_key.as_ref())
                    .map(|t| t.0.as_second()),
            ),
            webhook_secret_token_previous: value(
                generated_secret.as_ref(),
                WEBHOOK_SECRET_TOKEN_PREVIOUS,
            ),
            postgres,
            redis_password,
        },
        referenced_secrets_digest: digest::short_hex(digest_material.as_bytes()),
        generated_fresh: fresh,
        postgres_credentials_missing,
        stripe,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::PlaceholderGenerator;
    use crate::testing::{sample, secret};

    #[tokio::test]
    async fn missing_token_secret_is_named() {
        let cr = sample("minimal.yaml");
        let err = dereference(&cr, &SecretMap::default(), &PlaceholderGenerator)
            .await
            .err();
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            message,
            "Secret \"tgtg-telegram\" named in spec.telegram.tokenSecretRef does not exist"
        );
    }

    #[tokio::test]
    async fn missing_key_is_named() {
        let cr = sample("minimal.yaml");
        let secrets = SecretMap(
            [(
                "tgtg-telegram".to_owned(),
                secret("tgtg-telegram", &[("other", "x")]),
            )]
            .into(),
        );
        let err = dereference(&cr, &secrets, &PlaceholderGenerator)
            .await
            .err();
        assert!(
            matches!(err, Some(DereferenceError::MissingKey { ref key, .. }) if key == "token")
        );
    }

    #[tokio::test]
    async fn generated_values_are_read_back_not_regenerated() {
        let cr = sample("minimal.yaml");
        let secrets = SecretMap(
            [
                (
                    "tgtg-telegram".to_owned(),
                    secret("tgtg-telegram", &[("token", "123:abc")]),
                ),
                (
                    "tgtg-generated".to_owned(),
                    secret(
                        "tgtg-generated",
                        &[
                            ("SECRET_KEY", "kept"),
                            ("WEBHOOK_SECRET_TOKEN", "kept-too"),
                            ("REDIS_PASSWORD", "kept-as-well"),
                        ],
                    ),
                ),
                (
                    "tgtg-postgres-credentials".to_owned(),
                    secret(
                        "tgtg-postgres-credentials",
                        &[("password", "p1"), ("superuser-password", "p2")],
                    ),
                ),
            ]
            .into(),
        );
        let out = dereference(&cr, &secrets, &PlaceholderGenerator).await.ok();
        let generated = out.as_ref().map(|d| d.generated.clone());
        assert_eq!(
            generated.as_ref().map(|g| g.secret_key.as_str()),
            Some("kept")
        );
        assert_eq!(
            generated.as_ref().map(|g| g.webhook_secret_token.as_str()),
            Some("kept-too")
        );
        assert_eq!(out.map(|d| d.generated_fresh), Some(false));
    }

    #[tokio::test]
    async fn editing_a_referenced_secret_changes_the_digest() {
        let cr = sample("minimal.yaml");
        let with_token = |token: &str| {
            SecretMap(
                [(
                    "tgtg-telegram".to_owned(),
                    secret("tgtg-telegram", &[("token", token)]),
                )]
                .into(),
            )
        };
        let a = dereference(&cr, &with_token("1:a"), &PlaceholderGenerator)
            .await
            .ok();
        let b = dereference(&cr, &with_token("1:b"), &PlaceholderGenerator)
            .await
            .ok();
        assert!(a.is_some() && b.is_some());
        assert_ne!(
            a.map(|d| d.referenced_secrets_digest),
            b.map(|d| d.referenced_secrets_digest)
        );
    }
}
