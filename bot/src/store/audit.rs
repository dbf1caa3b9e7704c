//! Audit events: one row (and one structured log line) per state change.

use serde_json::Value;
use sqlx::PgConnection;

#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub actor_id: Option<i64>,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub async fn record(conn: &mut PgConnection, event: &AuditEvent<'_>) -> sqlx::Result<()> {
    tracing::info!(
        target: "audit",
        actor_id = event.actor_id,
        action = event.action,
        entity_type = event.entity_type,
        entity_id = event.entity_id.as_deref(),
        before = event.before.as_ref().map(|v| v.to_string()),
        after = event.after.as_ref().map(|v| v.to_string()),
        "audit event"
    );
    sqlx::query(
        "INSERT INTO audit_events (actor_id, action, entity_type, entity_id, before, after)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event.actor_id)
    .bind(event.action)
    .bind(event.entity_type)
    .bind(event.entity_id.as_deref())
    .bind(event.before.as_ref().map(sqlx::types::Json))
    .bind(event.after.as_ref().map(sqlx::types::Json))
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes audit events older than `days`; returns how many.
pub async fn prune(pool: &sqlx::PgPool, days: u32) -> sqlx::Result<u64> {
    let result = sqlx::query(
        "DELETE FROM audit_events WHERE occurred_at < now() - make_interval(days => $1)",
    )
    .bind(days as i32)
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}
