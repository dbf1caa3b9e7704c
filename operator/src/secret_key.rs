//! Two-phase rotation of `SECRET_KEY`, the key that signs callback buttons.
//!
//! A button signed by one pod is pressed on any other, so a new key must be accepted everywhere
//! before any pod signs with it:
//!
//! 1. **Announcing**: the new key is generated and every pod is rolled onto a configuration that
//!    accepts it; the old key still signs.
//! 2. **Swap**: once that roll is complete, the new key signs and the old one joins the retired
//!    keys, each accepted until its grace period ([`crate::rotation::GRACE_SECONDS`]) has ended.
//!    A rotation within the grace period of the last one keeps both old keys.
//!
//! The state lives in the generated Secret itself (the retired keys and the announced key in its
//! data, the times and the trigger acted on in its annotations), so it is written in the same
//! request as the keys: a reconcile that crashes before its status write, or one working from an
//! older copy of the resource, finds the rotation already done and does not repeat it.
//!
//! The bot reads one signing key (`SECRET_KEY`) and accepts `SECRET_KEY_PREVIOUS` and the
//! comma-separated `SECRET_KEYS_PREVIOUS`. `SECRET_KEY_PREVIOUS` gets the announced key while
//! announcing (it must be accepted by every pod before the swap), otherwise the newest retired
//! key; `SECRET_KEYS_PREVIOUS` the other retired keys, newest first, each until its grace period
//! ends (the ring itself, with the retirement times, is `SECRET_KEYS_RETIRED`).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::rotation::GRACE_SECONDS;

/// The announced key (phase 1), accepted but not yet signing.
pub const NEXT_KEY: &str = "SECRET_KEY_NEXT";
/// The retired keys with their retirement time, newest first (JSON).
pub const RETIRED_KEY: &str = "SECRET_KEYS_RETIRED";
/// The accepted keys besides `SECRET_KEY_PREVIOUS`, as the bot reads them (comma-separated,
/// newest first); the Secret's key and the bot's environment variable have this name.
pub const ACCEPTED_KEYS: &str = "SECRET_KEYS_PREVIOUS";
/// When the last swap happened (RFC 3339): the age the rotation interval counts from.
pub const ROTATED_AT_ANNOTATION: &str = "toogoodtogo.io/secret-key-rotated-at";
/// When the key being announced was generated; present only while announcing.
pub const ANNOUNCED_AT_ANNOTATION: &str = "toogoodtogo.io/secret-key-announced-at";
/// The `toogoodtogo.io/rotate` value the last rotation acted on.
pub const TRIGGER_ANNOTATION: &str = "toogoodtogo.io/secret-key-trigger";

/// One key that signed before, accepted until `retired_at` + the grace period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retired {
    pub key: String,
    /// Seconds since the epoch.
    pub retired_at: i64,
}

/// Every key besides the signing one, and where the rotation stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyRing {
    /// Announced, accepted everywhere after the current roll, not signing yet.
    pub next: Option<String>,
    /// Newest first.
    pub retired: Vec<Retired>,
    pub rotated_at: Option<i64>,
    pub announced_at: Option<i64>,
    /// The `toogoodtogo.io/rotate` value acted on.
    pub trigger: Option<String>,
    /// The Secret's resourceVersion when read: its next write is conditional on it, so two
    /// operator replicas cannot both announce (or one swap over the other's announcement).
    pub resource_version: Option<String>,
}

fn text(secret: Option<&Secret>, key: &str) -> Option<String> {
    let ByteString(bytes) = secret?.data.as_ref()?.get(key)?;
    String::from_utf8(bytes.clone())
        .ok()
        .filter(|v| !v.is_empty())
}

fn annotation_time(secret: Option<&Secret>, key: &str) -> Option<i64> {
    secret?
        .metadata
        .annotations
        .as_ref()?
        .get(key)?
        .parse::<Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

fn format_time(second: i64) -> String {
    Timestamp::from_second(second)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_string()
}

impl KeyRing {
    /// The ring as stored in the generated Secret. A Secret written before rings existed has only
    /// `SECRET_KEY_PREVIOUS`: it becomes the one retired key, retired at `legacy_rotated_at` (the
    /// status's rotation time), so its grace period is kept.
    pub fn read(
        secret: Option<&Secret>,
        previous: Option<String>,
        legacy_rotated_at: Option<i64>,
    ) -> Self {
        let retired_json = text(secret, RETIRED_KEY);
        let mut retired: Vec<Retired> = retired_json
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default();
        let next = text(secret, NEXT_KEY);
        let rotated_at = annotation_time(secret, ROTATED_AT_ANNOTATION).or(legacy_rotated_at);
        if retired_json.is_none()
            && next.is_none()
            && let Some(previous) = previous
        {
            retired.push(Retired {
                key: previous,
                retired_at: rotated_at.unwrap_or_else(|| Timestamp::now().as_second()),
            });
        }
        Self {
            next,
            retired,
            rotated_at,
            announced_at: annotation_time(secret, ANNOUNCED_AT_ANNOTATION),
            trigger: secret
                .and_then(|s| s.metadata.annotations.as_ref())
                .and_then(|a| a.get(TRIGGER_ANNOTATION))
                .cloned(),
            resource_version: secret.and_then(|s| s.metadata.resource_version.clone()),
        }
    }

    /// The one extra key the bot accepts (`SECRET_KEY_PREVIOUS`): the announced key while
    /// announcing (every pod must accept it before any signs with it), else the newest retired.
    pub fn bot_previous(&self) -> Option<String> {
        self.next
            .clone()
            .or_else(|| self.retired.first().map(|r| r.key.clone()))
    }

    /// The other keys the bot accepts (`SECRET_KEYS_PREVIOUS`): every retired key besides the
    /// one in `SECRET_KEY_PREVIOUS`, newest first, comma-separated.
    pub fn bot_accepted(&self) -> String {
        let previous = self.bot_previous();
        self.retired
            .iter()
            .map(|r| r.key.as_str())
            .filter(|key| Some(*key) != previous.as_deref())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The Secret's data entries of the ring; empty values (not absent ones) so that clearing
    /// one is a change the apply step writes.
    pub fn data(&self) -> BTreeMap<String, ByteString> {
        let retired = if self.retired.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&self.retired).unwrap_or_default()
        };
        BTreeMap::from([
            (
                NEXT_KEY.to_owned(),
                ByteString(self.next.clone().unwrap_or_default().into_bytes()),
            ),
            (RETIRED_KEY.to_owned(), ByteString(retired.into_bytes())),
            (
                ACCEPTED_KEYS.to_owned(),
                ByteString(self.bot_accepted().into_bytes()),
            ),
        ])
    }

    /// The Secret's annotations of the ring.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        let mut annotations = BTreeMap::new();
        if let Some(at) = self.rotated_at {
            annotations.insert(ROTATED_AT_ANNOTATION.to_owned(), format_time(at));
        }
        if let Some(at) = self.announced_at {
            annotations.insert(ANNOUNCED_AT_ANNOTATION.to_owned(), format_time(at));
        }
        if let Some(trigger) = &self.trigger {
            annotations.insert(TRIGGER_ANNOTATION.to_owned(), trigger.clone());
        }
        annotations
    }
}

/// What one reconcile did to the signing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Nothing,
    /// A new key is announced: the pods roll onto accepting it.
    Announced,
    /// The announced key signs now; the old one is retired.
    Swapped,
}

/// Advance the rotation (pure). `due`: a rotation is asked for (`trigger`: by this annotation
/// value); `announced_everywhere`: every bot pod runs a configuration that accepts the announced
/// key. Keys whose grace period has ended are dropped.
pub fn step(
    signing: &mut String,
    ring: &mut KeyRing,
    due: bool,
    trigger: Option<&str>,
    announced_everywhere: bool,
    generate: impl FnOnce() -> String,
    now: i64,
) -> Step {
    ring.retired
        .retain(|r| now.saturating_sub(r.retired_at) < GRACE_SECONDS);
    match ring.next.take() {
        Some(next) if announced_everywhere => {
            let old = std::mem::replace(signing, next);
            ring.retired.insert(
                0,
                Retired {
                    key: old,
                    retired_at: now,
                },
            );
            ring.rotated_at = Some(now);
            ring.announced_at = None;
            Step::Swapped
        }
        Some(next) => {
            ring.next = Some(next);
            Step::Nothing
        }
        None if due => {
            ring.next = Some(generate());
            ring.announced_at = Some(now);
            if let Some(trigger) = trigger {
                ring.trigger = Some(trigger.to_owned());
            }
            Step::Announced
        }
        None => Step::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_800_000_000;

    fn rotate_fully(signing: &mut String, ring: &mut KeyRing, fresh: &str, now: i64) {
        let announced = step(signing, ring, true, None, false, || fresh.to_owned(), now);
        assert_eq!(announced, Step::Announced);
        assert_eq!(
            ring.bot_previous().as_deref(),
            Some(fresh),
            "accepted first"
        );
        let swapped = step(signing, ring, false, None, true, String::new, now + 60);
        assert_eq!(swapped, Step::Swapped);
        assert_eq!(signing, fresh);
    }

    #[test]
    fn a_new_key_signs_only_after_every_pod_accepts_it() {
        let mut signing = "k0".to_owned();
        let mut ring = KeyRing::default();
        assert_eq!(
            step(
                &mut signing,
                &mut ring,
                true,
                Some("t1"),
                false,
                || "k1".to_owned(),
                T
            ),
            Step::Announced
        );
        assert_eq!(signing, "k0", "the old key still signs during the roll");
        assert_eq!(ring.bot_previous().as_deref(), Some("k1"));
        assert_eq!(ring.trigger.as_deref(), Some("t1"));
        // Not rolled out yet: nothing moves, however often it is asked.
        for _ in 0..3 {
            assert_eq!(
                step(
                    &mut signing,
                    &mut ring,
                    true,
                    None,
                    false,
                    || "kx".to_owned(),
                    T + 10
                ),
                Step::Nothing
            );
        }
        assert_eq!(ring.next.as_deref(), Some("k1"));
        assert_eq!(
            step(
                &mut signing,
                &mut ring,
                false,
                None,
                true,
                String::new,
                T + 20
            ),
            Step::Swapped
        );
        assert_eq!(signing, "k1");
        assert_eq!(ring.bot_previous().as_deref(), Some("k0"));
        assert_eq!(ring.rotated_at, Some(T + 20));
        assert_eq!(ring.announced_at, None);
    }

    #[test]
    fn two_rotations_within_the_grace_period_keep_both_old_keys_until_each_ends() {
        let mut signing = "k0".to_owned();
        let mut ring = KeyRing::default();
        rotate_fully(&mut signing, &mut ring, "k1", T);
        rotate_fully(&mut signing, &mut ring, "k2", T + 3600);
        let keys: Vec<&str> = ring.retired.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["k1", "k0"]);
        // k0 retired at T+60: gone a day later; k1 stays until its own day is over.
        step(
            &mut signing,
            &mut ring,
            false,
            None,
            false,
            String::new,
            T + 60 + GRACE_SECONDS,
        );
        let keys: Vec<&str> = ring.retired.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["k1"]);
        step(
            &mut signing,
            &mut ring,
            false,
            None,
            false,
            String::new,
            T + 3660 + GRACE_SECONDS,
        );
        assert!(ring.retired.is_empty());
        assert_eq!(signing, "k2");
    }

    #[test]
    fn the_ring_round_trips_through_the_secret() {
        let mut ring = KeyRing {
            next: Some("k2".to_owned()),
            retired: vec![Retired {
                key: "k0".to_owned(),
                retired_at: T,
            }],
            rotated_at: Some(T),
            announced_at: Some(T + 5),
            trigger: Some("now".to_owned()),
            resource_version: None,
        };
        let mut secret = Secret {
            data: Some(ring.data()),
            ..Secret::default()
        };
        secret.metadata.annotations = Some(ring.annotations());
        assert_eq!(KeyRing::read(Some(&secret), None, None), ring);
        ring.next = None;
        ring.announced_at = None;
        secret.data = Some(ring.data());
        secret.metadata.annotations = Some(ring.annotations());
        assert_eq!(
            KeyRing::read(Some(&secret), Some("k0".to_owned()), None),
            ring
        );
    }

    #[test]
    fn a_secret_from_before_rings_keeps_its_previous_key_for_its_grace_period() {
        let ring = KeyRing::read(None, Some("old".to_owned()), Some(T));
        assert_eq!(
            ring.retired,
            [Retired {
                key: "old".to_owned(),
                retired_at: T
            }]
        );
        assert_eq!(ring.bot_previous().as_deref(), Some("old"));
    }
}

#[cfg(test)]
#[path = "secret_key_double_tests.rs"]
mod double_tests;
