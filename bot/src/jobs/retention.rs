//! Retention: processed inbox rows, finished outbound messages and old audit events are pruned
//! on a schedule. Running it on several replicas at once is harmless (DELETEs are idempotent).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::store::{audit, inbox, outbound};

const INTERVAL: Duration = Duration::from_secs(3600);

pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    loop {
        if let Err(error) = prune_once(&app).await {
            tracing::warn!(%error, "retention run failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

pub async fn prune_once(app: &App) -> sqlx::Result<()> {
    let days = app.config.retention;
    let updates = inbox::prune(&app.pool, days.inbox_days).await?;
    let messages = outbound::prune(&app.pool, days.inbox_days).await?;
    let events = audit::prune(&app.pool, days.audit_days).await?;
    let conversations = sqlx::query("DELETE FROM conversations WHERE expires_at < now()")
        .execute(&app.pool)
        .await?
        .rows_affected();
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
