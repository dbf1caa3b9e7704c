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

pub fn build_generated(ctx: &Context) -> Secret {
    let generated = &ctx.inputs.generated;
    Secret {
        metadata: ctx
            .owner
            .metadata(ctx.owner.generated_secret(), Component::Config),
        type_: Some("Opaque".to_owned()),
        // `data`, not `stringData`: the API server stores only `data`, and comparing like with
        // like is what keeps a converged Secret free of writes.
        data: Some(BTreeMap::from([
            (SECRET_KEY.to_owned(), bytes(&generated.secret_key)),
            (
                WEBHOOK_SECRET_TOKEN.to_owned(),
                bytes(&generated.webhook_secret_token),
            ),
        ])),
        ..Secret::default()
    }
}

pub(crate) fn bytes(value: &str) -> ByteString {
    ByteString(value.as_bytes().to_vec())
}
