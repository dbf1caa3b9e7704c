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

#[cfg(test)]
mod tests {
    use super::*;

    async fn event(
        conn: &mut PgConnection,
        actor: Option<i64>,
        action: &str,
        entity: (&str, &str),
        after: Value,
    ) -> sqlx::Result<()> {
        record(
            conn,
            &AuditEvent {
                actor_id: actor,
                action,
                entity_type: entity.0,
                entity_id: Some(entity.1.to_owned()),
                before: None,
                after: Some(after),
            },
        )
        .await
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn a_persons_details_are_redacted_and_the_bookkeeping_stays(
        pool: sqlx::PgPool,
    ) -> sqlx::Result<()> {
        let mut conn = pool.acquire().await?;
        let location = serde_json::json!({ "latitude": 52.5, "longitude": 13.4 });
        event(
            &mut conn,
            Some(7),
            "customer.location_set",
            ("user", "7"),
            location,
        )
        .await?;
        let stars = serde_json::json!({ "stars": 4 });
        event(
            &mut conn,
            Some(7),
            "rating.created",
            ("reservation", "1"),
            stars,
        )
        .await?;
        let joined = serde_json::json!({ "user_id": 7, "role": "staff" });
        event(
            &mut conn,
            Some(7),
            "business.staff_joined",
            ("business", "3"),
            joined,
        )
        .await?;
        let paid = serde_json::json!({ "state": "CONFIRMED", "total_minor": 450 });
        event(
            &mut conn,
            Some(7),
            "payment.received",
            ("reservation", "1"),
            paid,
        )
        .await?;
        let other = serde_json::json!({ "latitude": 1.0 });
        event(
            &mut conn,
            Some(8),
            "customer.location_set",
            ("user", "8"),
            other,
        )
        .await?;

        assert_eq!(redact_for_user(&mut conn, 7).await?, 3);
        assert_eq!(redact_for_user(&mut conn, 7).await?, 0, "once");
        let kept: Vec<(String, bool, bool)> = sqlx::query_as(
            "SELECT action, after IS NOT NULL, redacted_at IS NOT NULL FROM audit_events
             ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await?;
        assert_eq!(
            kept,
            [
                ("customer.location_set".to_owned(), false, true),
                ("rating.created".to_owned(), false, true),
                ("business.staff_joined".to_owned(), false, true),
                ("payment.received".to_owned(), true, false),
                ("customer.location_set".to_owned(), true, false),
            ]
        );
        Ok(())
    }
}
