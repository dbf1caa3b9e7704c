//! The operator-generated Secret: `SECRET_KEY` and the webhook secret token. The values come from
//! [`GeneratedValues`](crate::build::GeneratedValues), which the dereference step reads back from
//! the live Secret, so a normal reconcile never regenerates them.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

use super::Context;
use crate::names::Component;

pub const SECRET_KEY: &str = "SECRET_KEY";
pub const SECRET_KEY_PREVIOUS: &str = "SECRET_KEY_PREVIOUS";
pub const WEBHOOK_SECRET_TOKEN: &str = "WEBHOOK_SECRET_TOKEN";
pub const WEBHOOK_SECRET_TOKEN_PREVIOUS: &str = "WEBHOOK_SECRET_TOKEN_PREVIOUS";
/// The managed Redis' password: Redis' `requirepass` and the bot's `REDIS_PASSWORD`.
pub const REDIS_PASSWORD: &str = "REDIS_PASSWORD";

pub fn build_generated(ctx: &Context) -> Secret {
    let generated = &ctx.inputs.generated;
    let mut metadata = ctx
        .owner
        .metadata(ctx.owner.generated_secret(), Component::Config);
    // The signing key's rotation state, written with the keys (see crate::secret_key).
    let mut annotations = generated.key_ring.annotations();
    annotations.extend(generated.token_record.annotations());
    if !annotations.is_empty() {
        metadata.annotations = Some(annotations);
    }
    // Written only over the Secret as it was read: a write in between (a second operator
    // replica rotating) makes this one fail with a conflict instead of overwriting it.
    metadata
        .resource_version
        .clone_from(&generated.key_ring.resource_version);
    Secret {
        metadata,
        type_: Some("Opaque".to_owned()),
        // `data`, not `stringData`: the API server stores only `data`, and comparing like with
        // like is what keeps a converged Secret free of writes.
        data: Some({
            let mut data = BTreeMap::from([
                (SECRET_KEY.to_owned(), bytes(&generated.secret_key)),
                (
                    WEBHOOK_SECRET_TOKEN.to_owned(),
                    bytes(&generated.webhook_secret_token),
                ),
            ]);
            // After a rotation: the values before it, which the bot still accepts. Empty (the
            // bot reads that as unset) rather than absent, so that clearing one is a change
            // the apply step writes.
            let previous = |value: &Option<String>| bytes(value.as_deref().unwrap_or_default());
            data.insert(
                SECRET_KEY_PREVIOUS.to_owned(),
                previous(&generated.secret_key_previous),
            );
            data.insert(
                WEBHOOK_SECRET_TOKEN_PREVIOUS.to_owned(),
                previous(&generated.webhook_secret_token_previous),
            );
            data.extend(generated.key_ring.data());
            if let Some(password) = &generated.redis_password {
                data.insert(REDIS_PASSWORD.to_owned(), bytes(password));
            }
            data
        }),
        ..Secret::default()
    }
}

pub(crate) fn bytes(value: &str) -> ByteString {
    ByteString(value.as_bytes().to_vec())
}
