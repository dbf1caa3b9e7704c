//! Rotation of the generated `SECRET_KEY` and webhook secret token (pure).
//!
//! A secret is due when the `toogoodtogo.io/rotate` annotation has a value not acted on yet (all
//! chosen secrets), or when it is older than `spec.secretRotation.intervalDays` (its age counts
//! from its last rotation, else from the resource's creation). A rotated secret keeps its old
//! value as `*_PREVIOUS`, which the bot still accepts (callback buttons signed before, webhook
//! calls in flight), until a day after the rotation. Both rotate in two rolls: the new value is
//! first accepted by every pod, then used (`SECRET_KEY`: [`crate::secret_key`], whose state lives
//! in the generated Secret; the webhook token: `status.secretRotation.webhookRotation`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::build::GeneratedValues;
use crate::crd::{ROTATE_ANNOTATION, SecretRotationStatus, TooGoodToGo, WebhookRotationPhase};
use crate::generator::SecretGenerator;
use crate::resources::secret::{SECRET_KEY, WEBHOOK_SECRET_TOKEN};
use crate::secret_key::{self, KeyRing};

/// How long the value before a rotation stays accepted.
pub const GRACE_SECONDS: i64 = 86_400;

/// What a reconcile rotates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub secret_key: bool,
    pub webhook_secret_token: bool,
    /// The managed database's password (carried out by [`crate::db_rotation`]).
    pub database_password: bool,
    /// The annotation value this plan acts on.
    pub trigger: Option<String>,
    /// Why, for the Event: `annotation toogoodtogo.io/rotate` or `older than N days`.
    pub reason: String,
}

impl Plan {
    pub fn rotates(&self) -> bool {
        self.secret_key || self.webhook_secret_token
    }
}

/// When rotations are due.
enum Cadence {
    Interval(i32),
    Schedule(Box<crate::cron::Schedule>),
}

impl Cadence {
    /// Due now for a secret last rotated (or created) at `since`.
    fn due(&self, since: i64, now: i64) -> bool {
        match self {
            Self::Interval(days) => now - since >= i64::from(*days) * 86_400,
            Self::Schedule(schedule) => schedule.passed_between(since, now),
        }
    }
}

fn seconds(time: Option<&Time>) -> Option<i64> {
    time.map(|t| t.0.as_second())
}

/// The rotation state recorded with the secrets themselves, which wins over the status (a status
/// write can be lost, or read from an older copy).
#[derive(Clone, Copy, Debug, Default)]
pub struct Stored<'a> {
    pub key_ring: Option<&'a KeyRing>,
    pub database: Option<&'a crate::db_rotation::Record>,
    pub token: Option<&'a crate::webhook_token::Record>,
}

/// Which secrets are due now.
pub fn plan(
    cr: &TooGoodToGo,
    previous: Option<&SecretRotationStatus>,
    stored: Stored<'_>,
    now: i64,
) -> Plan {
    let ring = stored.key_ring;
    let database = stored.database;
    let spec = cr.spec.secret_rotation.clone().unwrap_or_default();
    let webhook = cr.spec.telegram.webhook.is_some();
    let wants_key = spec.secret_key.unwrap_or(true);
    let wants_token = spec.webhook_secret_token.unwrap_or(true) && webhook;
    let wants_database =
        spec.database_password.unwrap_or(false) && cr.spec.database.managed.is_some();
    let previous = previous.cloned().unwrap_or_default();

    let trigger = cr
        .annotations()
        .get(ROTATE_ANNOTATION)
        .filter(|v| !v.is_empty())
        .filter(|v| previous.last_trigger.as_ref() != Some(*v))
        .cloned();
    let key_acted_on = ring.and_then(|r| r.trigger.as_ref());
    if trigger.is_some() {
        return Plan {
            secret_key: wants_key && key_acted_on != trigger.as_ref(),
            database_password: wants_database
                && database.and_then(|d| d.trigger.as_ref()) != trigger.as_ref(),
            webhook_secret_token: wants_token
                && stored.token.and_then(|t| t.trigger.as_ref()) != trigger.as_ref(),
            trigger,
            reason: format!("annotation {ROTATE_ANNOTATION}"),
        };
    }
    let created = seconds(cr.metadata.creation_timestamp.as_ref());
    let schedule = spec
        .schedule
        .as_deref()
        .and_then(|s| crate::cron::Schedule::parse(s).ok());
    let cadence = match (spec.interval_days, schedule) {
        (Some(days), _) => Cadence::Interval(days),
        (None, Some(schedule)) => Cadence::Schedule(Box::new(schedule)),
        (None, None) => return Plan::default(),
    };
    let reason = match &cadence {
        Cadence::Interval(days) => format!("older than {days} days"),
        Cadence::Schedule(_) => format!("schedule {}", spec.schedule.clone().unwrap_or_default()),
    };
    let due = |last: Option<&Time>| {
        seconds(last)
            .or(created)
            .is_some_and(|since| cadence.due(since, now))
    };
    let key_rotated = [
        seconds(previous.secret_key.as_ref()),
        ring.and_then(|r| r.rotated_at),
    ]
    .into_iter()
    .flatten()
    .max()
    .and_then(|s| Timestamp::from_second(s).ok())
    .map(Time);
    Plan {
        secret_key: wants_key && due(key_rotated.as_ref()),
        webhook_secret_token: wants_token && due(previous.webhook_secret_token.as_ref()),
        database_password: wants_database && due(previous.database_password.as_ref()),
        trigger: None,
        reason,
    }
}

/// Seconds from `now` until something rotation-related falls due within `horizon` seconds: the
/// next scheduled rotation, or the end of a previous value's grace period (which drops it). None
/// when nothing falls due in that window, or when a rotation is due already (it is in progress).
pub fn next_due(
    cr: &TooGoodToGo,
    previous: Option<&SecretRotationStatus>,
    stored: Stored<'_>,
    now: i64,
    horizon: i64,
) -> Option<i64> {
    let ring = stored.key_ring;
    let due = |t: i64| {
        let p = plan(cr, previous, stored, t);
        p.rotates() || p.database_password
    };
    // Once due, a rotation stays due: the first due second is found by bisection.
    let rotation = (!due(now) && due(now + horizon)).then(|| {
        let (mut before, mut at) = (now, now + horizon);
        while at - before > 1 {
            let middle = before + (at - before) / 2;
            if due(middle) {
                at = middle;
            } else {
                before = middle;
            }
        }
        at - now
    });
    let grace_ends = previous
        .into_iter()
        .flat_map(|p| [p.secret_key.as_ref(), p.webhook_secret_token.as_ref()])
        .flatten()
        .map(|rotated| rotated.0.as_second())
        .chain(
            ring.into_iter()
                .flat_map(|r| r.retired.iter().map(|k| k.retired_at)),
        )
        .map(|rotated| rotated + GRACE_SECONDS - now)
        .filter(|delay| *delay > 0 && *delay <= horizon);
    rotation.into_iter().chain(grace_ends).min()
}

/// The generated values and rotation status after carrying out `plan`: rotated values move to
/// `*_PREVIOUS`, and previous values whose grace period ended are dropped. `key_announced`: every
/// bot pod accepts the announced `SECRET_KEY`, which may sign now. Returns the names of the
/// rotated secrets ([`secret_key::NEXT_KEY`] for a newly announced signing key).
pub fn rotate(
    plan: &Plan,
    mut generated: GeneratedValues,
    previous: Option<&SecretRotationStatus>,
    generator: &dyn SecretGenerator,
    now: Timestamp,
    key_announced: bool,
) -> (GeneratedValues, SecretRotationStatus, Vec<&'static str>) {
    let mut status = previous.cloned().unwrap_or_default();
    let mut rotated = Vec::new();
    let expired =
        |at: Option<&Time>| seconds(at).is_some_and(|at| now.as_second() - at >= GRACE_SECONDS);
    let step = secret_key::step(
        &mut generated.secret_key,
        &mut generated.key_ring,
        plan.secret_key,
        plan.trigger.as_deref(),
        key_announced,
        || generator.generate(SECRET_KEY),
        now.as_second(),
    );
    generated.secret_key_previous = generated.key_ring.bot_previous();
    match step {
        secret_key::Step::Announced => rotated.push(secret_key::NEXT_KEY),
        secret_key::Step::Swapped => {
            status.secret_key = Some(Time(now));
            rotated.push(SECRET_KEY);
        }
        secret_key::Step::Nothing => {}
    }
    match status.webhook_rotation {
        // Every pod accepts the new token: make it the one the bot registers.
        Some(WebhookRotationPhase::Swapping) => {
            if let Some(fresh) = generated.webhook_secret_token_previous.take() {
                generated.webhook_secret_token_previous = Some(std::mem::replace(
                    &mut generated.webhook_secret_token,
                    fresh,
                ));
                rotated.push(WEBHOOK_SECRET_TOKEN);
            }
            status.webhook_rotation = None;
            status.webhook_secret_token = Some(Time(now));
        }
        Some(WebhookRotationPhase::Announcing) => {}
        // First announce the new token (accepted, not yet registered), so that no pod ever
        // rejects what Telegram sends.
        None if plan.webhook_secret_token => {
            generated.webhook_secret_token_previous =
                Some(generator.generate(WEBHOOK_SECRET_TOKEN));
            status.webhook_rotation = Some(WebhookRotationPhase::Announcing);
        }
        None if expired(status.webhook_secret_token.as_ref()) => {
            generated.webhook_secret_token_previous = None;
        }
        None => {}
    }
    if let Some(trigger) = &plan.trigger {
        status.last_trigger = Some(trigger.clone());
    }
    (generated, status, rotated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::PlaceholderGenerator;
    use crate::testing::sample;

    const DAY: i64 = 86_400;
    const CREATED: i64 = 1_700_000_000;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn cr(interval_days: Option<i32>, annotation: Option<&str>) -> TooGoodToGo {
        let mut cr = sample("production.yaml");
        cr.metadata.creation_timestamp = Some(Time(at(CREATED)));
        cr.spec.secret_rotation = interval_days.map(|days| crate::crd::SecretRotationSpec {
            interval_days: Some(days),
            ..Default::default()
        });
        if let Some(value) = annotation {
            cr.metadata.annotations =
                Some([(ROTATE_ANNOTATION.to_owned(), value.to_owned())].into());
        }
        cr
    }

    fn values() -> GeneratedValues {
        GeneratedValues {
            secret_key: "key-1".to_owned(),
            webhook_secret_token: "token-1".to_owned(),
            secret_key_previous: None,
            webhook_secret_token_previous: None,
            key_ring: Default::default(),
            token_record: Default::default(),
            postgres: None,
            redis_password: None,
        }
    }

    #[test]
    fn the_next_due_rotation_is_found_to_the_second() {
        let mut cr = cr(None, None);
        cr.spec.secret_rotation = Some(crate::crd::SecretRotationSpec {
            schedule: Some("0 4 * * *".to_owned()),
            ..Default::default()
        });
        // 03:58:30 UTC on a day after the resource was created.
        let day_start = CREATED - CREATED % DAY + 10 * DAY;
        let now = day_start + 3 * 3600 + 58 * 60 + 30;
        let rotated = crate::crd::SecretRotationStatus {
            secret_key: Some(Time(at(now - 3600))),
            webhook_secret_token: Some(Time(at(now - 3600))),
            ..Default::default()
        };
        let next = next_due(&cr, Some(&rotated), Stored::default(), now, 300);
        assert!(next.is_some_and(|d| (90..=150).contains(&d)), "{next:?}");
        assert_eq!(
            next_due(&cr, Some(&rotated), Stored::default(), now - 3600, 300),
            None
        );
        // A previous value's grace period ends in 100 s.
        let earlier = now - 3600;
        let grace = crate::crd::SecretRotationStatus {
            secret_key: Some(Time(at(earlier - GRACE_SECONDS + 100))),
            webhook_secret_token: Some(Time(at(earlier - GRACE_SECONDS + 100))),
            ..Default::default()
        };
        assert_eq!(
            next_due(&cr, Some(&grace), Stored::default(), earlier, 300),
            Some(100)
        );
    }

    #[test]
    fn nothing_is_due_without_an_interval_or_a_new_annotation() {
        assert!(
            !plan(
                &cr(None, None),
                None,
                Stored::default(),
                CREATED + 400 * DAY
            )
            .rotates()
        );
        assert!(
            !plan(
                &cr(Some(30), None),
                None,
                Stored::default(),
                CREATED + 29 * DAY
            )
            .rotates()
        );
    }

    #[test]
    fn the_interval_counts_from_creation_then_from_the_last_rotation() {
        let due = plan(
            &cr(Some(30), None),
            None,
            Stored::default(),
            CREATED + 30 * DAY,
        );
        assert!(due.secret_key && due.webhook_secret_token);
        let status = SecretRotationStatus {
            secret_key: Some(Time(at(CREATED + 30 * DAY))),
            webhook_secret_token: Some(Time(at(CREATED + 30 * DAY))),
            ..SecretRotationStatus::default()
        };
        assert!(
            !plan(
                &cr(Some(30), None),
                Some(&status),
                Stored::default(),
                CREATED + 59 * DAY
            )
            .rotates()
        );
        assert!(
            plan(
                &cr(Some(30), None),
                Some(&status),
                Stored::default(),
                CREATED + 60 * DAY
            )
            .rotates()
        );
    }

    #[test]
    fn a_schedule_rotates_once_each_time_it_passes() {
        let mut cr = cr(None, None);
        cr.spec.secret_rotation = Some(crate::crd::SecretRotationSpec {
            schedule: Some("0 4 1 * *".to_owned()),
            ..Default::default()
        });
        // CREATED is 2023-11-14T22:13:20Z; the 1st of December 04:00 is the next run.
        let first_run = 1_701_403_200;
        assert!(!plan(&cr, None, Stored::default(), first_run - 60).rotates());
        let due = plan(&cr, None, Stored::default(), first_run);
        assert!(due.secret_key && due.webhook_secret_token);
        assert_eq!(due.reason, "schedule 0 4 1 * *");
        let status = SecretRotationStatus {
            secret_key: Some(Time(at(first_run))),
            webhook_secret_token: Some(Time(at(first_run))),
            ..SecretRotationStatus::default()
        };
        assert!(!plan(&cr, Some(&status), Stored::default(), first_run + 20 * DAY).rotates());
        assert!(plan(&cr, Some(&status), Stored::default(), first_run + 31 * DAY).rotates());
    }

    #[test]
    fn a_new_annotation_value_rotates_once() {
        let cr = cr(None, Some("2026-11-29"));
        let first = plan(&cr, None, Stored::default(), CREATED);
        assert!(first.secret_key && first.webhook_secret_token);
        let (_, status, _) = rotate(
            &first,
            values(),
            None,
            &PlaceholderGenerator,
            at(CREATED),
            false,
        );
        assert_eq!(status.last_trigger.as_deref(), Some("2026-11-29"));
        assert!(!plan(&cr, Some(&status), Stored::default(), CREATED + 10).rotates());
    }

    #[test]
    fn only_the_chosen_secrets_rotate_and_the_token_only_with_a_webhook() {
        let mut only_token = cr(Some(1), None);
        if let Some(spec) = only_token.spec.secret_rotation.as_mut() {
            spec.secret_key = Some(false);
        }
        let due = plan(&only_token, None, Stored::default(), CREATED + DAY);
        assert!(!due.secret_key && due.webhook_secret_token);
        let mut polling = cr(Some(1), None);
        polling.spec.telegram.webhook = None;
        let due = plan(&polling, None, Stored::default(), CREATED + DAY);
        assert!(due.secret_key && !due.webhook_secret_token);
    }

    #[test]
    fn a_rotation_keeps_the_old_value_as_previous_for_a_day() {
        let due = plan(&cr(None, Some("now")), None, Stored::default(), CREATED);
        let (announced, status, rotated) = rotate(
            &due,
            values(),
            None,
            &PlaceholderGenerator,
            at(CREATED),
            false,
        );
        // Both new values are first only accepted: the old key signs, the old token is
        // registered...
        assert_eq!(rotated, [secret_key::NEXT_KEY]);
        assert_eq!(announced.secret_key, "key-1");
        assert_eq!(
            announced.secret_key_previous.as_deref(),
            Some("generated-secret-key")
        );
        assert_eq!(announced.webhook_secret_token, "token-1");
        assert_eq!(
            announced.webhook_secret_token_previous.as_deref(),
            Some("generated-webhook-secret-token")
        );
        assert_eq!(
            status.webhook_rotation,
            Some(WebhookRotationPhase::Announcing)
        );
        // ...and once every pod accepts them, they change places.
        let swapping = SecretRotationStatus {
            webhook_rotation: Some(WebhookRotationPhase::Swapping),
            ..status
        };
        let (generated, status, rotated) = rotate(
            &Plan::default(),
            announced,
            Some(&swapping),
            &PlaceholderGenerator,
            at(CREATED),
            true,
        );
        assert_eq!(rotated, [SECRET_KEY, WEBHOOK_SECRET_TOKEN]);
        assert_eq!(generated.secret_key, "generated-secret-key");
        assert_eq!(generated.secret_key_previous.as_deref(), Some("key-1"));
        assert_eq!(
            generated.webhook_secret_token,
            "generated-webhook-secret-token"
        );
        assert_eq!(
            generated.webhook_secret_token_previous.as_deref(),
            Some("token-1")
        );
        assert_eq!(status.webhook_rotation, None);

        let idle = Plan::default();
        let (kept, _, _) = rotate(
            &idle,
            generated.clone(),
            Some(&status),
            &PlaceholderGenerator,
            at(CREATED + DAY - 1),
            false,
        );
        assert_eq!(kept, generated, "within the grace period nothing changes");
        let (dropped, _, rotated) = rotate(
            &idle,
            generated,
            Some(&status),
            &PlaceholderGenerator,
            at(CREATED + DAY),
            false,
        );
        assert!(rotated.is_empty());
        assert_eq!(dropped.secret_key_previous, None);
        assert_eq!(dropped.webhook_secret_token_previous, None);
        assert_eq!(dropped.secret_key, "generated-secret-key");
    }

    #[test]
    fn a_previous_value_set_by_hand_is_kept_for_a_day() {
        let mut by_hand = values();
        let since = CREATED + 100 * DAY;
        by_hand.secret_key_previous = Some("older".to_owned());
        by_hand.key_ring = KeyRing::read(None, Some("older".to_owned()), Some(since));
        let (kept, _, _) = rotate(
            &Plan::default(),
            by_hand.clone(),
            None,
            &PlaceholderGenerator,
            at(since + DAY - 1),
            false,
        );
        assert_eq!(kept, by_hand);
        let (dropped, _, _) = rotate(
            &Plan::default(),
            by_hand,
            None,
            &PlaceholderGenerator,
            at(since + DAY),
            false,
        );
        assert_eq!(dropped.secret_key_previous, None);
    }
}
