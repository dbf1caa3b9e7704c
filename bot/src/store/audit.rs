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

/// Redacts the payloads of the audit events about a person who erased their data: their own
/// settings, location, favourites, ratings and role choices, and events that name them (staff
/// joined or removed). The skeleton (action, entity, actor id, time) stays, and so do the
/// payloads of events about orders, money, deals and businesses: they hold states and amounts
/// only, and are the bookkeeping. Returns how many events were redacted.
pub async fn redact_for_user(conn: &mut PgConnection, user_id: i64) -> sqlx::Result<u64> {
    let result = sqlx::query(
        "UPDATE audit_events SET before = NULL, after = NULL, redacted_at = now()
         WHERE redacted_at IS NULL AND (before IS NOT NULL OR after IS NOT NULL)
           AND ((entity_type = 'user' AND entity_id = $1::text)
                OR before @> jsonb_build_object('user_id', $1)
                OR after @> jsonb_build_object('user_id', $1)
                OR (actor_id = $1 AND split_part(action, '.', 1)
                        NOT IN ('reservation', 'payment', 'refund', 'offer', 'business')))",
    )
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
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
