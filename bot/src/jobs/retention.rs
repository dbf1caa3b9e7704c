//! Retention: processed inbox rows, finished outbound messages and old audit events are pruned
//! on a schedule. Running it on several replicas at once is harmless (DELETEs are idempotent).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::App;
use sqlx::PgPool;

use crate::config::RetentionConfig;
use crate::store::{audit, conversations, inbox, outbound};

const INTERVAL: Duration = Duration::from_secs(3600);

pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    loop {
        if let Err(error) = prune_once(&app.pool, app.config.retention).await {
            tracing::warn!(%error, "retention run failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

pub async fn prune_once(pool: &PgPool, days: RetentionConfig) -> sqlx::Result<()> {
    let updates = inbox::prune(pool, days.inbox_days).await?;
    let messages = outbound::prune(pool, days.inbox_days).await?;
    let events = audit::prune(pool, days.audit_days).await?;
    let conversations = conversations::prune_expired(pool).await?;
    if updates + messages + events + conversations > 0 {
        tracing::info!(
            updates,
            messages,
            events,
            conversations,
            "retention pruned old rows"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn prunes_only_what_is_older_than_its_retention(pool: PgPool) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO inbox_updates (update_id, ordering_key, payload, processed_at, outcome) VALUES
                 (1, 1, '{}', now() - interval '8 days', 'handled'),
                 (2, 1, '{}', now() - interval '1 day', 'handled'),
                 (3, 1, '{}', NULL, NULL)",
        )
        .execute(&pool)
        .await?;
        sqlx::query(
            "UPDATE inbox_updates SET received_at = now() - interval '30 days' WHERE update_id = 3",
        )
        .execute(&pool)
        .await?;
        sqlx::query(
            "INSERT INTO audit_events (occurred_at, action, entity_type) VALUES
                 (now() - interval '91 days', 'old', 'user'), (now() - interval '89 days', 'recent', 'user')",
        )
        .execute(&pool)
        .await?;
        prune_once(
            &pool,
            RetentionConfig {
                inbox_days: 7,
                audit_days: 90,
            },
        )
        .await?;

        let updates: Vec<i64> =
            sqlx::query_scalar("SELECT update_id FROM inbox_updates ORDER BY 1")
                .fetch_all(&pool)
                .await?;
        assert_eq!(
            updates,
            vec![2, 3],
            "old processed rows go; pending rows stay however old"
        );
        let events: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_events")
            .fetch_all(&pool)
            .await?;
        assert_eq!(events, vec!["recent".to_owned()]);
        Ok(())
    }
}
