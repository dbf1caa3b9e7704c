//! Where the webhook token's two-roll rotation stands, recorded on the generated Secret with the
//! tokens it is about.
//!
//! The phase decides what a reconcile does with the values: `Announcing` keeps the new token in
//! `WEBHOOK_SECRET_TOKEN_PREVIOUS` (accepted, not registered), `Swapping` makes it the registered
//! one. A swap repeated because its status write was lost would swap the tokens back, so the
//! Secret records the phase in the same write as the values (`Idle` after a swap), and it wins
//! over the status, except that the status may be one step ahead (Announcing -> Swapping is
//! decided after the Secret was written).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::crd::{SecretRotationStatus, WebhookRotationPhase};

pub const PHASE_ANNOTATION: &str = "toogoodtogo.io/webhook-token-rotation";
pub const ROTATED_AT_ANNOTATION: &str = "toogoodtogo.io/webhook-token-rotated-at";
pub const TRIGGER_ANNOTATION: &str = "toogoodtogo.io/webhook-token-trigger";
const IDLE: &str = "Idle";
const ANNOUNCING: &str = "Announcing";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// None: a Secret written before records existed (the status is all there is).
    pub announcing: Option<bool>,
    pub rotated_at: Option<i64>,
    /// The `toogoodtogo.io/rotate` value the last announcement acted on.
    pub trigger: Option<String>,
}

impl Record {
    pub fn read(secret: Option<&Secret>) -> Self {
        let annotations = secret.and_then(|s| s.metadata.annotations.as_ref());
        let get = |key: &str| annotations.and_then(|a| a.get(key));
        Self {
            announcing: get(PHASE_ANNOTATION).map(|p| p == ANNOUNCING),
            rotated_at: get(ROTATED_AT_ANNOTATION)
                .and_then(|t| t.parse::<Timestamp>().ok())
                .map(|t| t.as_second()),
            trigger: get(TRIGGER_ANNOTATION).cloned(),
        }
    }

    pub fn annotations(&self) -> BTreeMap<String, String> {
        let mut annotations = BTreeMap::new();
        if let Some(announcing) = self.announcing {
            let phase = if announcing { ANNOUNCING } else { IDLE };
            annotations.insert(PHASE_ANNOTATION.to_owned(), phase.to_owned());
        }
        if let Some(at) = self.rotated_at.and_then(|s| Timestamp::from_second(s).ok()) {
            annotations.insert(ROTATED_AT_ANNOTATION.to_owned(), at.to_string());
        }
        if let Some(trigger) = &self.trigger {
            annotations.insert(TRIGGER_ANNOTATION.to_owned(), trigger.clone());
        }
        annotations
    }

    /// Correct the status's view of the rotation by what the Secret recorded.
    pub fn merge(&self, status: &mut SecretRotationStatus) {
        if let Some(at) = self.rotated_at
            && status
                .webhook_secret_token
                .as_ref()
                .is_none_or(|t| t.0.as_second() < at)
            && let Ok(at) = Timestamp::from_second(at)
        {
            status.webhook_secret_token = Some(Time(at));
        }
        status.webhook_rotation = match (self.announcing, status.webhook_rotation) {
            (None, phase) => phase,
            (Some(false), _) => None,
            (Some(true), Some(WebhookRotationPhase::Swapping)) => {
                Some(WebhookRotationPhase::Swapping)
            }
            (Some(true), _) => Some(WebhookRotationPhase::Announcing),
        };
    }

    /// Record the phase the reconcile leaves in the values.
    pub fn record(
        &mut self,
        phase: Option<WebhookRotationPhase>,
        swapped_at: Option<i64>,
        trigger: Option<&str>,
    ) {
        let announcing = phase.is_some();
        if announcing
            && self.announcing != Some(true)
            && let Some(trigger) = trigger
        {
            self.trigger = Some(trigger.to_owned());
        }
        self.announcing = Some(announcing);
        if let Some(at) = swapped_at {
            self.rotated_at = Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swap_whose_status_write_was_lost_is_not_done_again() {
        let record = Record {
            announcing: Some(false),
            rotated_at: Some(1_800_000_000),
            trigger: Some("t".to_owned()),
        };
        let mut status = SecretRotationStatus {
            webhook_rotation: Some(WebhookRotationPhase::Swapping),
            ..SecretRotationStatus::default()
        };
        record.merge(&mut status);
        assert_eq!(status.webhook_rotation, None);
        assert_eq!(
            status.webhook_secret_token.map(|t| t.0.as_second()),
            Some(1_800_000_000)
        );
    }

    #[test]
    fn the_status_may_be_one_step_ahead_and_old_secrets_trust_the_status() {
        let announcing = Record {
            announcing: Some(true),
            ..Record::default()
        };
        for (status, merged) in [
            (None, Some(WebhookRotationPhase::Announcing)),
            (
                Some(WebhookRotationPhase::Swapping),
                Some(WebhookRotationPhase::Swapping),
            ),
        ] {
            let mut s = SecretRotationStatus {
                webhook_rotation: status,
                ..SecretRotationStatus::default()
            };
            announcing.merge(&mut s);
            assert_eq!(s.webhook_rotation, merged);
        }
        let mut s = SecretRotationStatus {
            webhook_rotation: Some(WebhookRotationPhase::Swapping),
            ..SecretRotationStatus::default()
        };
        Record::default().merge(&mut s);
        assert_eq!(s.webhook_rotation, Some(WebhookRotationPhase::Swapping));
    }
}
