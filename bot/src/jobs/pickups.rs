//! Pickup reminders and no-shows. Every minute, on every replica (`FOR UPDATE SKIP LOCKED`
//! hands each reservation to exactly one runner): customers whose pickup window opened are
//! reminded once, and reservations still CONFIRMED when the window ends become NO_SHOW (their
//! units stay consumed).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::store::audit::{self, AuditEvent};
use crate::store::outbound::{self, OutboundMessage};
use crate::store::reservations;
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
    let mut reminded = 0;
    loop {
        let mut tx = pool.begin().await?;
        let due = reservations::take_due_reminders(&mut tx, now, BATCH).await?;
        for reservation in &due {
            let texts = crate::texts::for_language(reservation.customer_language.as_deref());
            let text = texts
                .cust
                .reminder(reservation, &time_of_day(reservation.pickup_end, tz));
            outbound::enqueue(
                &mut tx,
                reservation.customer_id,
                &OutboundMessage::text(text),
            )
            .await?;
        }
        tx.commit().await?;
        reminded += due.len();
        if (due.len() as i64) < BATCH {
            break;
        }
    }
    let mut no_shows = 0;
    loop {
        let mut tx = pool.begin().await?;
        let missed = reservations::mark_no_shows(&mut tx, now, BATCH).await?;
        for reservation in &missed {
            audit::record(
                &mut tx,
                &AuditEvent {
                    actor_id: None,
                    action: "reservation.no_show",
                    entity_type: "reservation",
                    entity_id: Some(reservation.id.to_string()),
                    before: Some(serde_json::json!({ "state": "CONFIRMED" })),
                    after: Some(serde_json::json!({ "state": "NO_SHOW" })),
                },
            )
            .await?;
            let texts = crate::texts::for_language(reservation.customer_language.as_deref());
            let text = texts.cust.no_show(reservation);
            outbound::enqueue(
                &mut tx,
                reservation.customer_id,
                &OutboundMessage::text(text),
            )
            .await?;
        }
        tx.commit().await?;
        no_shows += missed.len();
        if (missed.len() as i64) < BATCH {
            break;
        }
    }
    Ok((reminded, no_shows))
}
