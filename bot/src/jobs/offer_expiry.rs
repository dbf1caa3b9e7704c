//! Expires offers whose pickup window ended and tells each business what was left. Runs every
//! minute on every replica: `FOR UPDATE SKIP LOCKED` hands each due offer to exactly one runner.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::store::audit::{self, AuditEvent};
use crate::store::outbound::{self, Notice};
use crate::store::{offers, reservations};

const INTERVAL: Duration = Duration::from_secs(60);
/// Offers expired per transaction; a backlog is worked off batch by batch.
const BATCH: i64 = 200;

pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    loop {
        match expire_due(&app.pool, Utc::now()).await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "offers expired"),
            Err(error) => tracing::warn!(%error, "offer expiry run failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

/// Expires every offer whose window ended by `now` (the clock is a parameter so that tests
/// control it). Each batch commits its state changes, audit events and the businesses'
/// summaries together. Returns how many offers this runner expired.
pub async fn expire_due(pool: &PgPool, now: DateTime<Utc>) -> sqlx::Result<usize> {
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        let expired = offers::expire_due(&mut tx, now, BATCH).await?;
        for offer in &expired {
            audit::record(
                &mut tx,
                &AuditEvent {
                    actor_id: None,
                    action: "offer.expired",
                    entity_type: "offer",
                    entity_id: Some(offer.id.to_string()),
                    before: Some(serde_json::json!({ "state": offer.previous_state })),
                    after: Some(serde_json::json!({ "state": "EXPIRED", "units_left": offer.units_available })),
                },
            )
            .await?;
            let (reserved, picked_up) = reservations::tally(&mut tx, offer.id).await?;
            let summary = Notice::ExpiredSummary {
                title: offer.title.clone(),
                reserved,
                picked_up,
                units_left: offer.units_available,
            };
            outbound::enqueue_template(&mut tx, offer.owner_id, summary).await?;
        }
        tx.commit().await?;
        total += expired.len();
        if (expired.len() as i64) < BATCH {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration as Span;

    async fn seed(pool: &PgPool, offers: usize, end: DateTime<Utc>) -> sqlx::Result<i64> {
        sqlx::query("INSERT INTO users (telegram_id, language_code) VALUES (1, 'en')")
            .execute(pool)
            .await?;
        let business_id: i64 = sqlx::query_scalar(
            "INSERT INTO businesses (owner_id, name, street, city, postal_code, latitude,
                 longitude, status)
             VALUES (1, 'Bakery Ada', 'Main Street 1', 'Berlin', '10115', 52.5, 13.4, 'approved')
             RETURNING id",
        )
        .fetch_one(pool)
        .await?;
        for i in 0..offers {
            sqlx::query(
                "INSERT INTO offers (business_id, category, title, description, pickup_start,
                     pickup_end, units_available, price_minor, currency, state, created_by)
                 VALUES ($1, 'bakery', $2, 'bread', $3, $4, $5, 400, 'EUR', $6, 1)",
            )
            .bind(business_id)
            .bind(format!("Bag {i}"))
            .bind(end - Span::hours(2))
            .bind(end)
            .bind(if i % 3 == 2 { 0 } else { 3 })
            .bind(["ACTIVE", "PAUSED", "SOLD_OUT"][i % 3])
            .execute(pool)
            .await?;
        }
        Ok(business_id)
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn only_offers_whose_window_ended_expire_with_a_summary(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let end = DateTime::parse_from_rfc3339("2026-11-29T19:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        seed(&pool, 3, end).await?;

        assert_eq!(
            expire_due(&pool, end - Span::minutes(1)).await?,
            0,
            "still open"
        );
        assert_eq!(expire_due(&pool, end).await?, 3);
        assert_eq!(
            expire_due(&pool, end + Span::minutes(5)).await?,
            0,
            "final states stay"
        );

        let states: Vec<String> = sqlx::query_scalar("SELECT DISTINCT state FROM offers")
            .fetch_all(&pool)
            .await?;
        assert_eq!(states, vec!["EXPIRED".to_owned()]);
        let summaries: Vec<serde_json::Value> = sqlx::query_scalar(
            "SELECT payload FROM outbound_messages WHERE chat_id = 1 ORDER BY id",
        )
        .fetch_all(&pool)
        .await?;
        assert_eq!(summaries.len(), 3);
        assert!(
            summaries[0]["text"]
                .as_str()
                .unwrap_or("")
                .contains("Bag 0")
        );
        let audited: i64 =
            sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'offer.expired'")
                .fetch_one(&pool)
                .await?;
        assert_eq!(audited, 3);
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn the_summary_counts_reserved_and_picked_up_units(pool: PgPool) -> sqlx::Result<()> {
        let end = Utc::now() - Span::minutes(1);
        let business_id = seed(&pool, 1, end).await?;
        sqlx::query("INSERT INTO users (telegram_id) VALUES (100)")
            .execute(&pool)
            .await?;
        for (quantity, state, code) in [
            (2, "PICKED_UP", "AAAA22"),
            (1, "CONFIRMED", "BBBB22"),
            (3, "CANCELLED", "CCCC22"),
        ] {
            sqlx::query(
                "INSERT INTO reservations (offer_id, business_id, customer_id, quantity,
                     unit_price_minor, total_minor, currency, pickup_code, state)
                 SELECT id, $1, 100, $2, 400, 400 * $2, 'EUR', $3, $4 FROM offers",
            )
            .bind(business_id)
            .bind(quantity)
            .bind(code)
            .bind(state)
            .execute(&pool)
            .await?;
        }
        assert_eq!(expire_due(&pool, Utc::now()).await?, 1);
        let summary: serde_json::Value =
            sqlx::query_scalar("SELECT payload FROM outbound_messages WHERE chat_id = 1")
                .fetch_one(&pool)
                .await?;
        let text = summary["text"].as_str().unwrap_or("");
        assert!(
            text.contains("Reserved: 3 · picked up: 2 · left unreserved: 3"),
            "{text}"
        );
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn concurrent_runners_expire_each_offer_exactly_once(pool: PgPool) -> sqlx::Result<()> {
        let end = Utc::now() - Span::minutes(1);
        seed(&pool, 450, end).await?;
        let runners: Vec<_> = (0..4)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move { expire_due(&pool, Utc::now()).await })
            })
            .collect();
        let mut expired = 0;
        for runner in runners {
            expired += runner
                .await
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))??;
        }
        assert_eq!(expired, 450, "every offer expired by exactly one runner");
        let summaries: i64 = sqlx::query_scalar("SELECT count(*) FROM outbound_messages")
            .fetch_one(&pool)
            .await?;
        assert_eq!(summaries, 450, "one summary per offer");
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn the_database_refuses_forbidden_transitions(pool: PgPool) -> sqlx::Result<()> {
        let end = Utc::now() + Span::hours(1);
        seed(&pool, 3, end).await?;
        let forbidden = sqlx::query("UPDATE offers SET state = 'SOLD_OUT' WHERE state = 'PAUSED'")
            .execute(&pool)
            .await;
        assert!(forbidden.is_err(), "PAUSED -> SOLD_OUT is not an edge");
        sqlx::query("UPDATE offers SET state = 'EXPIRED_EARLY'")
            .execute(&pool)
            .await?;
        let revived = sqlx::query("UPDATE offers SET state = 'PAUSED'")
            .execute(&pool)
            .await;
        assert!(revived.is_err(), "final states are final");
        let active_without_units =
            sqlx::query("UPDATE offers SET units_available = 0 WHERE state = 'ACTIVE'")
                .execute(&pool)
                .await;
        assert!(
            active_without_units.is_ok(),
            "no ACTIVE offers are left to violate it"
        );
        let bad_price = sqlx::query("UPDATE offers SET original_minor = 300")
            .execute(&pool)
            .await;
        assert!(
            bad_price.is_err(),
            "the price must stay below the original value"
        );
        Ok(())
    }
}
