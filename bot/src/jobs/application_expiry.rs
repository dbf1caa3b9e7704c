//! Business applications no admin decided expire after 14 days, so that a stale (or squatting)
//! application cannot hold a name and address forever. The owner is told a day before, and when
//! it expired. Runs every few minutes on every replica: `FOR UPDATE SKIP LOCKED` hands each
//! application to exactly one runner.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::store::audit::{self, AuditEvent};
use crate::store::businesses::{self, BusinessStatus};
use crate::store::outbound::{self, Notice};

const INTERVAL: Duration = Duration::from_secs(300);

pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    loop {
        match run_once(&app.pool, Utc::now()).await {
            Ok((0, 0)) => {}
            Ok((warned, expired)) => tracing::info!(warned, expired, "business applications aged"),
            Err(error) => tracing::warn!(%error, "application expiry run failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

/// Warns the owners of applications that expire within a day and expires those older than
/// [`businesses::APPLICATION_VALID_DAYS`] (the clock is a parameter so that tests control it).
/// The changes, audit events and the owners' messages commit together. Returns how many were
/// warned and expired.
pub async fn run_once(pool: &PgPool, now: DateTime<Utc>) -> sqlx::Result<(usize, usize)> {
    let mut tx = pool.begin().await?;
    let warned = businesses::warn_before_expiry(&mut tx, now).await?;
    for business in &warned {
        let notice = Notice::ApplicationExpiring {
            name: business.name.clone(),
        };
        outbound::enqueue_template(&mut tx, business.owner_id, notice).await?;
    }
    // The reason is stored with the business (like an admin's) in the default language.
    let reason = crate::texts::for_language(None)
        .biz
        .application_expired_reason;
    let expired = businesses::expire_applications(&mut tx, now, reason).await?;
    for business in &expired {
        audit::record(
            &mut tx,
            &AuditEvent {
                actor_id: None,
                action: "business.application_expired",
                entity_type: "business",
                entity_id: Some(business.id.to_string()),
                before: Some(serde_json::json!({ "status": "pending" })),
                after: Some(serde_json::json!({ "status": "rejected", "reason": "expired" })),
            },
        )
        .await?;
        let notice = Notice::decision(business, BusinessStatus::Pending);
        outbound::enqueue_template(&mut tx, business.owner_id, notice).await?;
    }
    tx.commit().await?;
    Ok((warned.len(), expired.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration as Span;

    async fn application(pool: &PgPool, owner: i64, created: DateTime<Utc>) -> sqlx::Result<i64> {
        application_in(pool, owner, created, "en").await
    }

    async fn application_in(
        pool: &PgPool,
        owner: i64,
        created: DateTime<Utc>,
        language: &str,
    ) -> sqlx::Result<i64> {
        sqlx::query("INSERT INTO users (telegram_id, language_code) VALUES ($1, $2)")
            .bind(owner)
            .bind(language)
            .execute(pool)
            .await?;
        sqlx::query_scalar(
            "INSERT INTO businesses (owner_id, name, street, city, postal_code, latitude,
                 longitude, created_at)
             VALUES ($1, 'Bakery Ada', 'Main Street 1', 'Berlin', '10115', 52.5, 13.4, $2)
             RETURNING id",
        )
        .bind(owner)
        .bind(created)
        .fetch_one(pool)
        .await
    }

    async fn state(pool: &PgPool, id: i64) -> sqlx::Result<(String, bool)> {
        sqlx::query_as("SELECT status, expiry_warned_at IS NOT NULL FROM businesses WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
    }

    async fn messages(pool: &PgPool, chat: i64) -> sqlx::Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT payload->>'text' FROM outbound_messages WHERE chat_id = $1 ORDER BY id",
        )
        .bind(chat)
        .fetch_all(pool)
        .await
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn applications_are_warned_a_day_before_and_expire_after_fourteen_days(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let now = Utc::now();
        // Same name and address: applications no longer block each other.
        let fresh = application(&pool, 1, now - Span::days(3)).await?;
        let old = application(&pool, 2, now - Span::days(13) - Span::hours(1)).await?;

        assert_eq!(run_once(&pool, now).await?, (1, 0));
        assert_eq!(state(&pool, old).await?, ("pending".to_owned(), true));
        assert_eq!(state(&pool, fresh).await?, ("pending".to_owned(), false));
        assert_eq!(run_once(&pool, now).await?, (0, 0), "told once");
        assert!(messages(&pool, 2).await?[0].starts_with("⏳ Your application for Bakery Ada"));

        assert_eq!(run_once(&pool, now + Span::days(1)).await?, (0, 1));
        assert_eq!(state(&pool, old).await?.0, "rejected");
        let told = messages(&pool, 2).await?;
        assert_eq!(told.len(), 2);
        assert!(
            told[1].contains("No admin decided within 14 days"),
            "{told:?}"
        );
        assert_eq!(state(&pool, fresh).await?.0, "pending");
        assert!(messages(&pool, 1).await?.is_empty());
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn a_german_owner_is_warned_and_told_of_the_expiry_in_german(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let now = Utc::now();
        application_in(&pool, 3, now - Span::days(13) - Span::hours(1), "de").await?;
        run_once(&pool, now).await?;
        run_once(&pool, now + Span::days(1)).await?;
        let told = messages(&pool, 3).await?;
        assert!(
            told[0].starts_with("⏳ Deine Anmeldung für Bakery Ada wartet seit 13 Tagen"),
            "{told:?}"
        );
        assert!(
            told[1].starts_with("Leider wurde Bakery Ada nicht freigegeben.")
                && told[1].contains("Grund: Kein Admin hat innerhalb von 14 Tagen entschieden"),
            "{told:?}"
        );
        Ok(())
    }
}
