//! Payment holds, pickup reminders and no-shows. Every minute, on every replica (`FOR UPDATE
//! SKIP LOCKED` hands each reservation to exactly one runner): holds whose payment did not come
//! in time become EXPIRED and release their units, customers whose pickup window opened are
//! reminded once, and reservations still CONFIRMED when the window ends become NO_SHOW (their
//! units stay consumed).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::store::audit::{self, AuditEvent};
use crate::store::outbound::{self, OutboundMessage};
use crate::store::reservations::{self, Reservation};
use crate::texts::customer::time_of_day;

const INTERVAL: Duration = Duration::from_secs(60);
const BATCH: i64 = 200;

pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let tz = app.config.timezone;
    loop {
        match tick(&app.pool, Utc::now(), tz).await {
            Ok((0, 0)) => {}
            Ok((reminded, no_shows)) => tracing::info!(reminded, no_shows, "pickup job ran"),
            Err(error) => tracing::warn!(%error, "pickup job failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

/// One run at `now` (a parameter so that tests control the clock). Returns how many customers
/// were reminded and how many reservations became NO_SHOW.
pub async fn tick(pool: &PgPool, now: DateTime<Utc>, tz: Tz) -> sqlx::Result<(usize, usize)> {
    run_step(pool, Step::HoldExpired, now, tz).await?;
    let reminded = run_step(pool, Step::Reminder, now, tz).await?;
    let no_shows = run_step(pool, Step::NoShow, now, tz).await?;
    Ok((reminded, no_shows))
}

/// Releases the units of holds whose payment did not come by `now`; returns how many.
pub async fn expire_holds(pool: &PgPool, now: DateTime<Utc>) -> sqlx::Result<usize> {
    run_step(pool, Step::HoldExpired, now, chrono_tz::UTC).await
}

/// What the job does to reservations, one kind at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    HoldExpired,
    Reminder,
    NoShow,
}

impl Step {
    async fn take(
        self,
        conn: &mut PgConnection,
        now: DateTime<Utc>,
    ) -> sqlx::Result<Vec<Reservation>> {
        match self {
            Self::HoldExpired => reservations::expire_holds(conn, now, BATCH).await,
            Self::Reminder => reservations::take_due_reminders(conn, now, BATCH).await,
            Self::NoShow => reservations::mark_no_shows(conn, now, BATCH).await,
        }
    }

    /// The state change to audit: action, state before, state after.
    fn audited(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            Self::HoldExpired => Some(("reservation.hold_expired", "PENDING_PAYMENT", "EXPIRED")),
            Self::NoShow => Some(("reservation.no_show", "CONFIRMED", "NO_SHOW")),
            Self::Reminder => None,
        }
    }

    fn message(self, reservation: &Reservation, tz: Tz) -> String {
        let texts = &crate::texts::for_language(reservation.customer_language.as_deref()).cust;
        match self {
            Self::HoldExpired => texts.hold_expired(reservation),
            Self::Reminder => texts.reminder(reservation, &time_of_day(reservation.pickup_end, tz)),
            Self::NoShow => texts.no_show(reservation),
        }
    }
}

/// Applies a step batch by batch, each batch with its audit events and messages in one
/// transaction. Returns how many reservations it took.
async fn run_step(pool: &PgPool, step: Step, now: DateTime<Utc>, tz: Tz) -> sqlx::Result<usize> {
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        let batch = step.take(&mut tx, now).await?;
        for reservation in &batch {
            if let Some((action, before, after)) = step.audited() {
                audit::record(
                    &mut tx,
                    &AuditEvent {
                        actor_id: None,
                        action,
                        entity_type: "reservation",
                        entity_id: Some(reservation.id.to_string()),
                        before: Some(serde_json::json!({ "state": before })),
                        after: Some(serde_json::json!({
                            "state": after, "quantity": reservation.quantity,
                        })),
                    },
                )
                .await?;
            }
            let text = step.message(reservation, tz);
            outbound::enqueue(
                &mut tx,
                reservation.customer_id,
                &OutboundMessage::text(text),
            )
            .await?;
        }
        tx.commit().await?;
        total += batch.len();
        if (batch.len() as i64) < BATCH {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reservations::{ReserveOutcome, reserve};
    use chrono::Duration;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    /// Two customers hold one unit each of an offer whose window is [start, start + 2 h].
    async fn seed(pool: &PgPool, start: DateTime<Utc>) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO users (telegram_id, first_name, language_code)
             VALUES (1, 'Ada', 'en'), (100, 'Carl', 'en'), (101, 'Dora', 'en')",
        )
        .execute(pool)
        .await?;
        let offer: i64 = sqlx::query_scalar(
            "WITH b AS (
                 INSERT INTO businesses (owner_id, name, street, city, postal_code, latitude,
                     longitude, status)
                 VALUES (1, 'Bakery Ada', 'Main Street 1', 'Berlin', '10115', 52.5, 13.4,
                         'approved')
                 RETURNING id)
             INSERT INTO offers (business_id, category, title, description, pickup_start,
                 pickup_end, units_available, price_minor, currency, created_by)
             SELECT id, 'bakery', 'Surprise bag', '', $1, $2, 5, 400, 'EUR', 1 FROM b
             RETURNING id",
        )
        .bind(start)
        .bind(start + Duration::hours(2))
        .fetch_one(pool)
        .await?;
        let mut conn = pool.acquire().await?;
        for customer in [100, 101] {
            let outcome =
                reserve(&mut conn, offer, customer, 1, 5, start - Duration::hours(1)).await?;
            assert!(matches!(outcome, ReserveOutcome::Reserved { .. }));
        }
        Ok(())
    }

    async fn messages_to(pool: &PgPool, chat: i64) -> sqlx::Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT payload->>'text' FROM outbound_messages WHERE chat_id = $1 ORDER BY id",
        )
        .bind(chat)
        .fetch_all(pool)
        .await
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn customers_are_reminded_once_when_the_window_opens_and_no_shows_follow(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let start = Utc::now() + Duration::hours(3);
        seed(&pool, start).await?;
        // Dora picks up early; only Carl is left to remind and to miss the window.
        sqlx::query("UPDATE reservations SET state = 'PICKED_UP' WHERE customer_id = 101")
            .execute(&pool)
            .await?;

        assert_eq!(
            tick(&pool, start - Duration::minutes(1), BERLIN).await?,
            (0, 0)
        );
        assert_eq!(
            tick(&pool, start + Duration::minutes(1), BERLIN).await?,
            (1, 0)
        );
        assert_eq!(
            tick(&pool, start + Duration::minutes(2), BERLIN).await?,
            (0, 0),
            "once"
        );
        let reminders = messages_to(&pool, 100).await?;
        assert_eq!(reminders.len(), 1);
        assert!(
            reminders[0].starts_with("⏰ Pickup for order #"),
            "{reminders:?}"
        );
        assert!(messages_to(&pool, 101).await?.is_empty());

        let ended = start + Duration::hours(2);
        assert_eq!(tick(&pool, ended, BERLIN).await?, (0, 1));
        let states: Vec<(i64, String)> =
            sqlx::query_as("SELECT customer_id, state FROM reservations ORDER BY customer_id")
                .fetch_all(&pool)
                .await?;
        assert_eq!(
            states,
            [(100, "NO_SHOW".to_owned()), (101, "PICKED_UP".to_owned())]
        );
        let units: i32 = sqlx::query_scalar("SELECT units_available FROM offers")
            .fetch_one(&pool)
            .await?;
        assert_eq!(units, 3, "a no-show's unit stays consumed");
        assert!(messages_to(&pool, 100).await?[1].contains("ended without a pickup"));
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn a_hold_without_payment_expires_and_releases_its_units(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let start = Utc::now() + Duration::hours(3);
        seed(&pool, start).await?;
        let offer: i64 = sqlx::query_scalar("SELECT id FROM offers")
            .fetch_one(&pool)
            .await?;
        let now = Utc::now();
        let mut conn = pool.acquire().await?;
        let held = crate::store::reservations::hold(
            &mut conn,
            offer,
            1,
            3,
            5,
            now,
            now + Duration::minutes(15),
        )
        .await?;
        assert!(matches!(held, ReserveOutcome::Reserved { .. }));
        let units = || async {
            sqlx::query_scalar::<_, i32>("SELECT units_available FROM offers")
                .fetch_one(&pool)
                .await
        };
        assert_eq!(units().await?, 0, "two reserved, three held");
        assert_eq!(expire_holds(&pool, now + Duration::minutes(14)).await?, 0);
        assert_eq!(expire_holds(&pool, now + Duration::minutes(15)).await?, 1);
        assert_eq!(units().await?, 3, "the held units are back");
        let state: String = sqlx::query_scalar("SELECT state FROM offers")
            .fetch_one(&pool)
            .await?;
        assert_eq!(state, "ACTIVE", "a sold-out offer is live again");
        assert_eq!(
            expire_holds(&pool, now + Duration::minutes(30)).await?,
            0,
            "once"
        );
        assert!(messages_to(&pool, 1).await?[0].contains("expired before the payment came"));
        Ok(())
    }
}
