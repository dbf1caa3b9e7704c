//! Conversation state for multi-step dialogues, kept in PostgreSQL so that it survives restarts
//! and works across replicas (Redis is disposable).

use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};
use sqlx::PgConnection;

/// Where a user stands in a dialogue: the flow, its current step and the answers so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation<D> {
    pub flow: String,
    pub step: String,
    pub data: D,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("stored conversation data for flow {flow} does not match its type: {source}")]
    Corrupt {
        flow: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Loads the live conversation of `user_id` in `chat_id`, if any (expired ones count as none).
pub async fn load<D: DeserializeOwned>(
    conn: &mut PgConnection,
    user_id: i64,
    chat_id: i64,
) -> Result<Option<Conversation<D>>, ConversationError> {
    let row: Option<(String, String, serde_json::Value, DateTime<Utc>)> = sqlx::query_as(
        "SELECT flow, step, data, updated_at FROM conversations
         WHERE user_id = $1 AND chat_id = $2 AND expires_at > now()",
    )
    .bind(user_id)
    .bind(chat_id)
    .fetch_optional(conn)
    .await?;
    row.map(|(flow, step, data, updated_at)| {
        let data = serde_json::from_value(data).map_err(|source| ConversationError::Corrupt {
            flow: flow.clone(),
            source,
        })?;
        Ok(Conversation {
            flow,
            step,
            data,
            updated_at,
        })
    })
    .transpose()
}

/// Starts or advances a conversation; it lapses after `ttl_minutes` of silence.
pub async fn save<D: Serialize>(
    conn: &mut PgConnection,
    user_id: i64,
    chat_id: i64,
    flow: &str,
    step: &str,
    data: &D,
    ttl_minutes: i32,
) -> Result<(), ConversationError> {
    let data = serde_json::to_value(data).map_err(|source| ConversationError::Corrupt {
        flow: flow.to_owned(),
        source,
    })?;
    sqlx::query(
        "INSERT INTO conversations (user_id, chat_id, flow, step, data, updated_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, now(), now() + make_interval(mins => $6))
         ON CONFLICT (user_id, chat_id) DO UPDATE SET
             flow = EXCLUDED.flow, step = EXCLUDED.step, data = EXCLUDED.data,
             updated_at = now(), expires_at = EXCLUDED.expires_at",
    )
    .bind(user_id)
    .bind(chat_id)
    .bind(flow)
    .bind(step)
    .bind(sqlx::types::Json(data))
    .bind(ttl_minutes)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends the conversation (finished or cancelled).
pub async fn clear(conn: &mut PgConnection, user_id: i64, chat_id: i64) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM conversations WHERE user_id = $1 AND chat_id = $2")
        .bind(user_id)
        .bind(chat_id)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() > 0)
}

/// Deletes conversations that lapsed.
pub async fn prune_expired(pool: &sqlx::PgPool) -> sqlx::Result<u64> {
    let result = sqlx::query("DELETE FROM conversations WHERE expires_at < now()")
        .execute(pool)
        .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Registration {
        name: String,
        city: Option<String>,
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn a_dialogue_survives_across_connections_until_cleared(
        pool: sqlx::PgPool,
    ) -> Result<(), ConversationError> {
        let mut conn = pool.acquire().await?;
        let answers = Registration {
            name: "Bakery Ada".into(),
            city: None,
        };
        save(&mut conn, 7, 7, "register_business", "city", &answers, 30).await?;

        let mut other = pool.acquire().await?;
        let loaded: Conversation<Registration> = load(&mut other, 7, 7).await?.expect("stored");
        assert_eq!(
            (loaded.flow.as_str(), loaded.step.as_str(), &loaded.data),
            ("register_business", "city", &answers)
        );
        assert!(
            load::<Registration>(&mut other, 7, 8).await?.is_none(),
            "per chat"
        );

        assert!(clear(&mut other, 7, 7).await?);
        assert!(load::<Registration>(&mut conn, 7, 7).await?.is_none());
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn lapsed_and_mistyped_conversations_are_not_resumed(
        pool: sqlx::PgPool,
    ) -> Result<(), ConversationError> {
        let mut conn = pool.acquire().await?;
        save(
            &mut conn,
            1,
            1,
            "flow",
            "step",
            &serde_json::json!({"name": 5}),
            0,
        )
        .await?;
        assert!(
            load::<Registration>(&mut conn, 1, 1).await?.is_none(),
            "a lapsed dialogue is gone"
        );
        assert_eq!(prune_expired(&pool).await?, 1);

        save(
            &mut conn,
            2,
            2,
            "flow",
            "step",
            &serde_json::json!({"name": 5}),
            30,
        )
        .await?;
        let corrupt = load::<Registration>(&mut conn, 2, 2).await;
        assert!(matches!(corrupt, Err(ConversationError::Corrupt { .. })));
        Ok(())
    }
}
