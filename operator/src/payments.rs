//! Payments, one step of the reconcile of a `TooGoodToGo` with `spec.stripe`: the Stripe
//! Secret's keys are checked, and the bot's own `payments-check` runs as a Job once per version
//! of that Secret. Together they are the `PaymentsReady` condition:
//!
//! - a key missing from the Secret (or empty): `StripeSecretKeyMissing`, naming the key, the
//!   bot variable it becomes and what does not work without it; no Job runs;
//! - all keys there: the Job `<name>-payments-check-<digest of the Secret's data>` runs
//!   (`PaymentsCheckRunning`), then `PaymentsChecked` or `PaymentsCheckFailed` with what the check
//!   printed. Editing the Secret (a rotation) checks again; the Jobs of earlier keys are deleted.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};

use crate::backups::{
    BackupError, Notice, api_error, is_status, job_failure, job_succeeded, termination_message,
};
use crate::cache::Reads;
use crate::names::Component;
use crate::resources::{self, payments_check};

/// One key of the Stripe Secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StripeKey {
    /// Key in the Secret.
    pub key: &'static str,
    /// The bot's variable (`bot/src/config.rs`).
    pub env: &'static str,
    /// What does not work without it (as `payments-check` says).
    pub without: &'static str,
}

pub const PROVIDER_TOKEN: &str = "providerToken";

/// Every key of the Stripe Secret, in the order the bot's environment lists them.
pub const KEYS: [StripeKey; 3] = [
    StripeKey {
        key: PROVIDER_TOKEN,
        env: "STRIPE_PROVIDER_TOKEN",
        without: "invoices cannot be sent",
    },
    StripeKey {
        key: "apiKey",
        env: "STRIPE_API_KEY",
        without: "refunds cannot be made",
    },
    StripeKey {
        key: "webhookSecret",
        env: "STRIPE_WEBHOOK_SECRET",
        without: "POST /stripe/webhook answers 503",
    },
];

/// The spec field naming the Stripe Secret, in messages.
pub const SECRET_FIELD: &str = "spec.stripe.secretRef";

/// What the dereference step found in the Stripe Secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StripeSecret {
    pub name: String,
    /// Keys absent or empty.
    pub missing: Vec<&'static str>,
    /// Digest of the Secret's data: a new value is a new check.
    pub digest: String,
}

/// Where payments stand: the `PaymentsReady` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payments {
    /// Keys (or the Secret) are missing; the message names them.
    KeysMissing(String),
    /// The check Job runs.
    Checking(String),
    /// The check passed; the message says which Job.
    Ready(String),
    /// The check failed; the message has what it printed.
    CheckFailed(String),
}

/// The message naming missing keys: each with its bot variable and what breaks without it.
pub fn missing_message(secret: &str, missing: &[&str]) -> String {
    let keys: Vec<String> = KEYS
        .iter()
        .filter(|k| missing.contains(&k.key))
        .map(|k| format!("{} ({}: {})", k.key, k.env, k.without))
        .collect();
    format!(
        "Secret {secret:?} named in {SECRET_FIELD} has no {}",
        keys.join(", no ")
    )
}

/// The keys of `KEYS` that `data` lacks or holds empty.
pub fn missing_keys(secret: &crate::cache::Fingerprint) -> Vec<&'static str> {
    KEYS.iter()
        .filter(|k| secret.keys.get(k.key).is_none_or(|(_, empty)| *empty))
        .map(|k| k.key)
        .collect()
}

/// The condition after the dereference step refused the Stripe Secret, if that is what it
/// refused.
pub fn from_dereference_error(error: &crate::dereference::DereferenceError) -> Option<Payments> {
    use crate::dereference::DereferenceError;
    match error {
        DereferenceError::MissingKey { name, key, field } if *field == SECRET_FIELD => Some(
            Payments::KeysMissing(missing_message(name, &[key.as_str()])),
        ),
        DereferenceError::MissingSecret { field, .. } if *field == SECRET_FIELD => {
            Some(Payments::KeysMissing(error.to_string()))
        }
        _ => None,
    }
}

/// The lines of `payments-check`'s output that say what is wrong ("STRIPE_API_KEY: refused:
/// ..."), or the whole tail when none does.
pub fn findings(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let wrong: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("STRIPE_") && !l.ends_with(": set") && !l.contains(": accepted"))
        .collect();
    if wrong.is_empty() {
        lines.join("; ")
    } else {
        wrong.join("; ")
    }
}

/// What the payments step found and did.
#[derive(Clone, Debug)]
pub struct PaymentsFacts {
    pub state: Payments,
    pub writes: Vec<String>,
    pub events: Vec<Notice>,
}

/// Run the payments step. `previous` is the `PaymentsReady` condition's message as the status
/// holds it: a failed check already reported is not looked at again (its pods are not listed on
/// every reconcile), nor announced again.
pub async fn reconcile(
    reads: &Reads,
    ctx: &resources::Context<'_>,
    secret: &StripeSecret,
    version: &str,
    previous_failure: Option<&str>,
) -> Result<PaymentsFacts, BackupError> {
    let mut facts = PaymentsFacts {
        state: Payments::KeysMissing(String::new()),
        writes: Vec::new(),
        events: Vec::new(),
    };
    if !secret.missing.is_empty() {
        facts.state = Payments::KeysMissing(missing_message(&secret.name, &secret.missing));
        return Ok(facts);
    }
    let owner = ctx.owner;
    let name = owner.payments_check_job(&secret.digest);
    let client = reads.client();
    let jobs: Api<Job> = Api::namespaced(client.clone(), &owner.namespace);
    let job = reads
        .get::<Job>(&owner.namespace, &name)
        .await
        .map_err(api_error("read", format!("Job {name}")))?;
    facts.state = match job {
        None => {
            // The checks of earlier keys say nothing about these.
            let earlier = reads
                .list::<Job>(
                    &owner.namespace,
                    &[
                        ("app.kubernetes.io/instance", owner.name.as_str()),
                        (
                            "app.kubernetes.io/component",
                            Component::PaymentsCheck.as_str(),
                        ),
                    ],
                )
                .await
                .map_err(api_error("list", "payments-check Jobs"))?;
            for old in earlier {
                let old_name = old.name_any();
                if old_name == name {
                    continue;
                }
                match jobs.delete(&old_name, &DeleteParams::background()).await {
                    Ok(_) => {
                        reads.deleted("Job", &owner.namespace, &old_name);
                        facts.writes.push(format!("Job/{old_name} (deleted)"));
                    }
                    Err(err) if is_status(&err, 404) => {
                        reads.deleted("Job", &owner.namespace, &old_name);
                    }
                    Err(source) => {
                        return Err(api_error("delete", format!("Job {old_name}"))(source));
                    }
                }
            }
            let job = payments_check::job(ctx, name.clone(), version);
            match jobs.create(&PostParams::default(), &job).await {
                Ok(created) => {
                    reads.wrote(&created);
                    facts.writes.push(format!("Job/{name}"));
                }
                Err(err) if is_status(&err, 409) => {}
                Err(source) => return Err(api_error("create", format!("Job {name}"))(source)),
            }
            Payments::Checking(name)
        }
        Some(job) if job_succeeded(&job) => Payments::Ready(format!(
            "payments-check passed (Job {name}): the provider token is set, Stripe accepts the API key, the webhook secret is set"
        )),
        Some(job) => match job_failure(&job) {
            None => Payments::Checking(name),
            Some(_) if previous_failure.is_some_and(|m| m.contains(name.as_str())) => {
                Payments::CheckFailed(previous_failure.unwrap_or_default().to_owned())
            }
            Some(failure) => {
                let pods: Api<Pod> = Api::namespaced(client.clone(), &owner.namespace);
                let detail = termination_message(&pods, &name, false)
                    .await?
                    .map(|output| findings(&output))
                    .filter(|d| !d.is_empty())
                    .unwrap_or(failure);
                let message = format!(
                    "payments-check failed (Job {name}): {detail}; fix the keys in Secret {} (see kubectl logs job/{name})",
                    secret.name
                );
                facts.events.push(Notice {
                    warning: true,
                    reason: "PaymentsCheckFailed",
                    note: message.clone(),
                    action: "CheckPayments",
                    related: None,
                });
                Payments::CheckFailed(message)
            }
        },
    };
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_key_is_named_with_its_variable_and_what_breaks() {
        assert_eq!(
            missing_message("tgtg-stripe", &["apiKey", "webhookSecret"]),
            "Secret \"tgtg-stripe\" named in spec.stripe.secretRef has no apiKey (STRIPE_API_KEY: refunds cannot be made), no webhookSecret (STRIPE_WEBHOOK_SECRET: POST /stripe/webhook answers 503)"
        );
    }

    #[test]
    fn findings_are_the_lines_that_say_what_is_wrong() {
        let output = "STRIPE_PROVIDER_TOKEN: set\nSTRIPE_API_KEY: refused: 401 Invalid API Key provided\npayments: NOT ready\n";
        assert_eq!(
            findings(output),
            "STRIPE_API_KEY: refused: 401 Invalid API Key provided"
        );
        assert_eq!(findings("error: no route\n"), "error: no route");
    }

    #[test]
    fn the_bot_reads_every_stripe_variable() {
        let config = std::fs::read_to_string(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bot/src/config.rs"),
        )
        .unwrap_or_default();
        for key in KEYS {
            assert!(
                config.contains(&format!("\"{}\"", key.env)),
                "bot/src/config.rs does not read {}",
                key.env
            );
        }
    }
}
