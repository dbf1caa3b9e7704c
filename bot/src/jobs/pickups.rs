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
use crate::metrics::JobLabels;
use crate::store::audit::{self, AuditEvent};
use crate::store::outbound::{self, Notice};
use crate::store::reservations::{self, Due, Reservation};
use crate::texts::customer::OrderFacts;

const INTERVAL: Duration = Duration::from_secs(60);
const BATCH: i64 = 200;

pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let tz = app.config.timezone;
    loop {
        let ran = tick(&app.pool, Utc::now(), tz).await;
        if ran.failed > 0 {
            app.metrics
                .job_row_failures
                .get_or_create(&JobLabels { job: "pickups" })
                .inc_by(ran.failed as u64);
        }
        if ran.reminded + ran.no_shows + ran.expired_holds + ran.failed > 0 {
            tracing::info!(
                expired_holds = ran.expired_holds,
                reminded = ran.reminded,
                no_shows = ran.no_shows,
                failed = ran.failed,
                "pickup job ran"
            );
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ran {
    pub expired_holds: usize,
    pub reminded: usize,
    pub no_shows: usize,
    /// Reservations (or whole batches, when the database was unreachable) that failed; they
    /// stay due and are tried again on the next run.
    pub failed: usize,
}

/// One run at `now` (a parameter so that tests control the clock). Each step and each
/// reservation is independent: one that fails is logged, counted and retried next time, and
/// the rest of the run proceeds.
pub async fn tick(pool: &PgPool, now: DateTime<Utc>, tz: Tz) -> Ran {
    let mut ran = Ran::default();
    for due in [Due::LapsedHold, Due::Reminder, Due::NoShow] {
        let (done, failed) = run_step(pool, due, now, tz).await;
        ran.failed += failed;
        match due {
            Due::LapsedHold => ran.expired_holds = done,
            Due::Reminder => ran.reminded = done,
            Due::NoShow => ran.no_shows = done,
        }
    }
    ran
}

/// Releases the units of holds whose payment did not come by `now`; returns how many.
pub async fn expire_holds(pool: &PgPool, now: DateTime<Utc>) -> usize {
    run_step(pool, Due::LapsedHold, now, chrono_tz::UTC).await.0
}

/// The state change to audit: action, state before, state after.
fn audited(due: Due) -> Option<(&'static str, &'static str, &'static str)> {
    match due {
        Due::LapsedHold => Some(("reservation.hold_expired", "PENDING_PAYMENT", "EXPIRED")),
        Due::NoShow => Some(("reservation.no_show", "CONFIRMED", "NO_SHOW")),
        Due::Reminder => None,
    }
}

fn message(due: Due, reservation: &Reservation, tz: Tz) -> Notice {
    let order = OrderFacts::of(reservation);
    match due {
        Due::LapsedHold => Notice::HoldExpired { order },
        Due::Reminder => Notice::Reminder {
            order,
            pickup_end: reservation.pickup_end,
            timezone: tz.name().to_owned(),
            street: reservation.street.clone(),
            code: reservation.pickup_code.clone(),
        },
        Due::NoShow => Notice::NoShow { order },
    }
}

/// Applies a step batch by batch; every reservation in its own savepoint with its audit event
/// and message, so that one that fails is rolled back alone. Returns how many reservations it
/// changed and how many failed.
async fn run_step(pool: &PgPool, due: Due, now: DateTime<Utc>, tz: Tz) -> (usize, usize) {
    let mut done = 0;
    let mut failed = 0;
    // Rows that failed in this run are not claimed again until the next one.
    let mut skip = std::collections::HashSet::new();
    loop {
        match run_batch(pool, due, now, tz, &mut skip).await {
            Ok(batch) => {
                done += batch.done;
                failed += batch.failed;
                if batch.claimed < BATCH as usize || batch.done == 0 {
                    return (done, failed);
                }
            }
            Err(error) => {
                tracing::warn!(?due, %error, "pickup job step failed; retried next run");
                return (done, failed + 1);
            }
        }
    }
}

struct Batch {
    claimed: usize,
    done: usize,
    failed: usize,
}

async fn run_batch(
    pool: &PgPool,
    due: Due,
    now: DateTime<Utc>,
    tz: Tz,
    skip: &mut std::collections::HashSet<i64>,
) -> sqlx::Result<Batch> {
    let mut tx = pool.begin().await?;
    let claimed = reservations::claim_due(&mut tx, due, now, BATCH).await?;
    let mut batch = Batch {
        claimed: claimed.len(),
        done: 0,
        failed: 0,
    };
    for id in claimed {
        if skip.contains(&id) {
            continue;
        }
        let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
        match apply_one(&mut savepoint, due, id, now, tz).await {
            Ok(applied) => {
                savepoint.commit().await?;
                batch.done += usize::from(applied);
            }
            Err(error) => {
                savepoint.rollback().await?;
                tracing::error!(?due, reservation_id = id, %error, "pickup job could not process a reservation");
                skip.insert(id);
                batch.failed += 1;
            }
        }
    }
    tx.commit().await?;
    Ok(batch)
}

async fn apply_one(
    conn: &mut PgConnection,
    due: Due,
    id: i64,
    now: DateTime<Utc>,
    tz: Tz,
) -> sqlx::Result<bool> {
    let Some(reservation) = reservations::apply_due(conn, due, id, now).await? else {
        return Ok(false);
    };
    if let Some((action, before, after)) = audited(due) {
        audit::record(
            conn,
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
    let notice = message(due, &reservation, tz);
    outbound::enqueue_template(conn, reservation.customer_id, notice).await?;
    Ok(true)
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

    /// User 1 holds the three units left, for 15 minutes from `now`.
    async fn hold_the_rest(pool: &PgPool, now: DateTime<Utc>) -> sqlx::Result<()> {
        let offer: i64 = sqlx::query_scalar("SELECT id FROM offers")
            .fetch_one(pool)
            .await?;
        let mut conn = pool.acquire().await?;
        let until = now + Duration::minutes(15);
        let held = crate::store::reservations::hold(&mut conn, offer, 1, 3, 5, now, until).await?;
        assert!(matches!(held, ReserveOutcome::Reserved { .. }));
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

        let ran = |reminded, no_shows| Ran {
            reminded,
            no_shows,
            ..Ran::default()
        };
        assert_eq!(
            tick(&pool, start - Duration::minutes(1), BERLIN).await,
            ran(0, 0)
        );
        assert_eq!(
            tick(&pool, start + Duration::minutes(1), BERLIN).await,
            ran(1, 0)
        );
        assert_eq!(
            tick(&pool, start + Duration::minutes(2), BERLIN).await,
            ran(0, 0),
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
        assert_eq!(tick(&pool, ended, BERLIN).await, ran(0, 1));
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
        let now = Utc::now();
        hold_the_rest(&pool, now).await?;
        let units = || async {
            sqlx::query_scalar::<_, i32>("SELECT units_available FROM offers")
                .fetch_one(&pool)
                .await
        };
        assert_eq!(units().await?, 0, "two reserved, three held");
        assert_eq!(expire_holds(&pool, now + Duration::minutes(14)).await, 0);
        assert_eq!(expire_holds(&pool, now + Duration::minutes(15)).await, 1);
        assert_eq!(units().await?, 3, "the held units are back");
        let state: String = sqlx::query_scalar("SELECT state FROM offers")
            .fetch_one(&pool)
            .await?;
        assert_eq!(state, "ACTIVE", "a sold-out offer is live again");
        assert_eq!(
            expire_holds(&pool, now + Duration::minutes(30)).await,
            0,
            "once"
        );
        assert!(messages_to(&pool, 1).await?[0].contains("expired before the payment came"));
        Ok(())
    }

    /// A hold lapses on an offer that sold out and whose window ended before the expiry job
    /// ended it: its units come back without breaking the offer's state/units invariant.
    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn a_hold_lapsing_on_a_sold_out_offer_past_its_window_returns_its_units(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let start = Utc::now() + Duration::hours(3);
        seed(&pool, start).await?;
        let now = Utc::now();
        hold_the_rest(&pool, now).await?;
        let state: String = sqlx::query_scalar("SELECT state FROM offers")
            .fetch_one(&pool)
            .await?;
        assert_eq!(state, "SOLD_OUT");

        let after_window = start + Duration::hours(3);
        let ran = tick(&pool, after_window, BERLIN).await;
        assert_eq!(ran.failed, 0, "{ran:?}");
        assert_eq!(ran.expired_holds, 1);
        assert_eq!(ran.no_shows, 2, "the rest of the tick ran");
        let (state, units): (String, i32) =
            sqlx::query_as("SELECT state, units_available FROM offers")
                .fetch_one(&pool)
                .await?;
        assert_eq!((state.as_str(), units), ("ACTIVE", 3));
        Ok(())
    }

    /// One reservation the database refuses to change does not stop the others: it is counted,
    /// left due, and done on a later run once the problem is gone.
    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn one_failing_reservation_does_not_stop_the_rest_of_the_tick(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let start = Utc::now() + Duration::hours(3);
        seed(&pool, start).await?;
        sqlx::query(
            "CREATE FUNCTION refuse_carl() RETURNS trigger AS $$
             BEGIN
                 IF NEW.customer_id = 100 THEN RAISE EXCEPTION 'refused for the test'; END IF;
                 RETURN NEW;
             END $$ LANGUAGE plpgsql",
        )
        .execute(&pool)
        .await?;
        sqlx::query(
            "CREATE TRIGGER refuse_carl BEFORE UPDATE ON reservations
             FOR EACH ROW EXECUTE FUNCTION refuse_carl()",
        )
        .execute(&pool)
        .await?;
        let ended = start + Duration::hours(2);
        let ran = tick(&pool, ended, BERLIN).await;
        assert_eq!((ran.no_shows, ran.failed), (1, 1), "{ran:?}");
        let states: Vec<(i64, String)> =
            sqlx::query_as("SELECT customer_id, state FROM reservations ORDER BY customer_id")
                .fetch_all(&pool)
                .await?;
        assert_eq!(
            states,
            [(100, "CONFIRMED".to_owned()), (101, "NO_SHOW".to_owned())]
        );
        assert_eq!(
            messages_to(&pool, 100).await?.len(),
            0,
            "nothing said for a rollback"
        );

        sqlx::query("DROP TRIGGER refuse_carl ON reservations")
            .execute(&pool)
            .await?;
        let ran = tick(&pool, ended, BERLIN).await;
        assert_eq!((ran.no_shows, ran.failed), (1, 0), "{ran:?}");
        Ok(())
    }
}
