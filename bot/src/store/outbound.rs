//! The durable outbound queue for messages the bot starts itself (alerts, reminders,
//! notifications, messages about money), and for replies Telegram could not take at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use teloxide::types::{InlineKeyboardMarkup, ParseMode};

pub use crate::texts::notice::{Notice, Template};

/// A queued message. Only what the bot sends on its own initiative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "camelCase")]
pub enum OutboundMessage {
    SendMessage {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parse_mode: Option<ParseMode>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_markup: Option<InlineKeyboardMarkup>,
    },
}

impl OutboundMessage {
    pub fn text(text: impl Into<String>) -> Self {
        Self::SendMessage {
            text: text.into(),
            parse_mode: None,
            reply_markup: None,
        }
    }

    fn method(&self) -> &'static str {
        match self {
            Self::SendMessage { .. } => "sendMessage",
        }
    }
}

#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub id: i64,
    pub chat_id: i64,
    pub message: Result<OutboundMessage, String>,
    pub attempts: i32,
}

/// Queues a message, inside the caller's transaction so that it is sent only if the state change
/// that caused it commits. Returns its id, or 0 if the recipient blocked the bot.
pub async fn enqueue(
    conn: &mut PgConnection,
    chat_id: i64,
    message: &OutboundMessage,
) -> sqlx::Result<i64> {
    insert(conn, chat_id, message, None, None).await
}

/// Queues a message that may go out no earlier than `not_before`, inside the caller's
/// transaction.
pub async fn enqueue_at(
    conn: &mut PgConnection,
    chat_id: i64,
    message: &OutboundMessage,
    not_before: DateTime<Utc>,
) -> sqlx::Result<()> {
    insert(conn, chat_id, message, None, Some(not_before)).await?;
    Ok(())
}

/// Queues a catalogue message, inside the caller's transaction; it is rendered in the language
/// the recipient has when it is sent. The text in their language of now is kept beside it, for a
/// sender that cannot read the template. Returns its id, or 0 if the recipient blocked the bot.
pub async fn enqueue_template(
    conn: &mut PgConnection,
    chat_id: i64,
    template: impl Into<Template>,
) -> sqlx::Result<i64> {
    let template = template.into();
    let texts = crate::texts::for_user(conn, chat_id).await?;
    let rendered = template.render(texts);
    insert(conn, chat_id, &rendered, Some(&template), None).await
}

async fn insert(
    conn: &mut PgConnection,
    chat_id: i64,
    message: &OutboundMessage,
    template: Option<&Template>,
    not_before: Option<DateTime<Utc>>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO outbound_messages (chat_id, method, payload, template, not_before)
         SELECT $1, $2, $3, $4, COALESCE($5, now()) WHERE NOT EXISTS (
             SELECT 1 FROM users WHERE telegram_id = $1 AND blocked_at IS NOT NULL)
         RETURNING id",
    )
    .bind(chat_id)
    .bind(message.method())
    .bind(sqlx::types::Json(message))
    .bind(template.map(sqlx::types::Json))
    .bind(not_before)
    .fetch_optional(conn)
    .await
    .map(|id| id.unwrap_or(0))
}

/// Queues many messages in one statement (an alert's fan-out), each with the time it may go.
pub async fn enqueue_many(
    conn: &mut PgConnection,
    messages: &[(i64, OutboundMessage, DateTime<Utc>)],
) -> sqlx::Result<u64> {
    if messages.is_empty() {
        return Ok(0);
    }
    let chat_ids: Vec<i64> = messages.iter().map(|(chat, _, _)| *chat).collect();
    let methods: Vec<&str> = messages.iter().map(|(_, m, _)| m.method()).collect();
    let payloads: Vec<serde_json::Value> = messages
        .iter()
        .map(|(_, m, _)| serde_json::to_value(m))
        .collect::<Result<_, _>>()
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let not_before: Vec<DateTime<Utc>> = messages.iter().map(|(_, _, at)| *at).collect();
    let inserted = sqlx::query(
        "INSERT INTO outbound_messages (chat_id, method, payload, not_before)
         SELECT m.chat_id, m.method, m.payload, m.not_before
         FROM UNNEST($1::int8[], $2::text[], $3::jsonb[], $4::timestamptz[])
              AS m (chat_id, method, payload, not_before)
         WHERE NOT EXISTS (
             SELECT 1 FROM users WHERE telegram_id = m.chat_id AND blocked_at IS NOT NULL)",
    )
    .bind(chat_ids)
    .bind(methods)
    .bind(payloads)
    .bind(not_before)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected())
}

/// Due messages: the first pending message of each chat, if it is due, oldest first, locked
/// for this sender until its transaction ends. A chat's messages go out in the order of
/// (`not_before`, id), which never changes after enqueueing: a retry only sets `retry_at`, and
/// the chat's later messages wait behind it.
pub async fn due(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<QueuedMessage>> {
    // The recipient's language is read as the batch is taken: a template renders in the
    // language they have now, not the one they had when it was queued.
    let rows: Vec<DueRow> = sqlx::query_as(
        "SELECT m.id, m.chat_id, m.payload, m.template, m.attempts,
                (SELECT u.language_code FROM users u WHERE u.telegram_id = m.chat_id) AS language
         FROM outbound_messages m
         WHERE m.id IN (SELECT DISTINCT ON (chat_id) id FROM outbound_messages
                        WHERE status = 'pending'
                        ORDER BY chat_id, not_before, id)
           AND m.not_before <= now() AND (m.retry_at IS NULL OR m.retry_at <= now())
         ORDER BY m.not_before, m.id
         LIMIT $1
         FOR UPDATE OF m SKIP LOCKED",
    )
    .bind(limit)
    .persistent(true)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(DueRow::render).collect())
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: i64,
    chat_id: i64,
    payload: serde_json::Value,
    template: Option<serde_json::Value>,
    attempts: i32,
    language: Option<String>,
}

impl DueRow {
    /// The message to send now: the template in the recipient's language, or the stored text
    /// (rows queued as finished text, and templates this version cannot read).
    fn render(self) -> QueuedMessage {
        let template =
            self.template
                .and_then(|value| match serde_json::from_value::<Template>(value) {
                    Ok(template) => Some(template),
                    Err(error) => {
                        tracing::warn!(
                            id = self.id,
                            %error,
                            "queued message's template unreadable; sending its stored text"
                        );
                        None
                    }
                });
        let message = match template {
            Some(template) => {
                Ok(template.render(crate::texts::for_language(self.language.as_deref())))
            }
            None => serde_json::from_value(self.payload).map_err(|e| e.to_string()),
        };
        QueuedMessage {
            id: self.id,
            chat_id: self.chat_id,
            message,
            attempts: self.attempts,
        }
    }
}

pub async fn mark_sent(conn: &mut PgConnection, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE outbound_messages SET status = 'sent', sent_at = now(), attempts = attempts + 1 WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives a message up for good (recipient blocked the bot, or the message is invalid).
pub async fn mark_dropped(conn: &mut PgConnection, id: i64, reason: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE outbound_messages SET status = 'dropped', last_error = $2, attempts = attempts + 1 WHERE id = $1")
        .bind(id)
        .bind(reason)
        .execute(conn)
        .await?;
    Ok(())
}

/// Drops every pending message to a chat that blocked the bot.
pub async fn drop_pending_for_chat(conn: &mut PgConnection, chat_id: i64) -> sqlx::Result<u64> {
    let result = sqlx::query(
        "UPDATE outbound_messages SET status = 'dropped', last_error = 'recipient blocked the bot'
         WHERE chat_id = $1 AND status = 'pending'",
    )
    .bind(chat_id)
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// Tries again at `retry_at` after a failure (network, 5xx); fails for good after
/// `max_attempts`. The chat's later messages wait behind it.
pub async fn reschedule(
    conn: &mut PgConnection,
    id: i64,
    retry_at: DateTime<Utc>,
    error: &str,
    max_attempts: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbound_messages SET
             attempts = attempts + 1, last_error = $3, retry_at = $2,
             status = CASE WHEN attempts + 1 >= $4 THEN 'failed' ELSE 'pending' END
         WHERE id = $1",
    )
    .bind(id)
    .bind(retry_at)
    .bind(error)
    .bind(max_attempts)
    .execute(conn)
    .await?;
    Ok(())
}

/// Holds a message (and its chat's later ones) back until `retry_at`, without counting an
/// attempt: Telegram's flood control asked to wait.
pub async fn retry_later(
    conn: &mut PgConnection,
    id: i64,
    retry_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE outbound_messages SET retry_at = $2 WHERE id = $1")
        .bind(id)
        .bind(retry_at)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn depth(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM outbound_messages WHERE status = 'pending'")
        .fetch_one(pool)
        .await
}

/// Deletes sent/dropped/failed messages older than `days`.
pub async fn prune(pool: &PgPool, days: u32) -> sqlx::Result<u64> {
    let result = sqlx::query(
        "DELETE FROM outbound_messages
         WHERE status <> 'pending' AND created_at < now() - make_interval(days => $1)",
    )
    .bind(days as i32)
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::users::{self, Contact, ERASED_NAME};
    use crate::texts::customer::OrderFacts;

    async fn user(
        conn: &mut PgConnection,
        id: i64,
        name: &str,
        language: &str,
    ) -> sqlx::Result<()> {
        let contact = Contact {
            telegram_id: id,
            first_name: name,
            last_name: None,
            username: None,
            language_code: Some(language),
        };
        users::record_contact(conn, &contact).await?;
        Ok(())
    }

    fn new_reservation(customer: &str) -> Notice {
        Notice::NewReservation {
            order: OrderFacts {
                order: 41,
                quantity: 2,
                title: "Bread bag".into(),
                business: "Corner Bakery".into(),
            },
            customer: customer.into(),
            amount_minor: 450,
            currency: "EUR".into(),
        }
    }

    fn sent_text(queued: &QueuedMessage) -> String {
        match &queued.message {
            Ok(OutboundMessage::SendMessage { text, .. }) => text.clone(),
            Err(error) => panic!("message not sendable: {error}"),
        }
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn a_template_is_rendered_in_the_language_the_recipient_has_when_it_is_sent(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let mut conn = pool.acquire().await?;
        user(&mut conn, 21, "Greta", "de").await?;
        user(&mut conn, 22, "Amy", "en").await?;
        enqueue_template(&mut conn, 21, new_reservation("Ada")).await?;
        enqueue_template(&mut conn, 22, new_reservation("Ada")).await?;
        // The text of the moment it was queued is kept beside the template.
        let stored: String =
            sqlx::query_scalar("SELECT payload->>'text' FROM outbound_messages WHERE chat_id = 21")
                .fetch_one(&pool)
                .await?;
        assert!(stored.starts_with("🛒 Neue Reservierung #41"), "{stored}");

        users::set_language(&mut conn, 21, "en").await?;
        users::set_language(&mut conn, 22, "de").await?;
        let due_now = due(&mut conn, 10).await?;
        let text_for = |chat: i64| {
            due_now
                .iter()
                .find(|m| m.chat_id == chat)
                .map(sent_text)
                .unwrap_or_default()
        };
        assert_eq!(
            text_for(21),
            "🛒 New reservation #41: 2 × Bread bag for Ada (EUR 4.50, paid on site). They show \
             their pickup code at the counter: send it to me to confirm the pickup."
        );
        assert!(
            text_for(22).starts_with("🛒 Neue Reservierung #41: 2 × Bread bag für Ada (4,50 €"),
            "{}",
            text_for(22)
        );
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn buttons_of_a_template_are_rendered_in_the_recipients_language(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let mut conn = pool.acquire().await?;
        user(&mut conn, 23, "Bo", "en").await?;
        let approved = Template::from(Notice::ChangeAccepted {
            name: "Bo's Deli".into(),
        })
        .with_button("biz-post-deal-now-button", "start:1".into());
        enqueue_template(&mut conn, 23, approved).await?;
        users::set_language(&mut conn, 23, "de").await?;
        let queued = due(&mut conn, 10).await?;
        let Some(Ok(OutboundMessage::SendMessage {
            reply_markup: Some(markup),
            ..
        })) = queued.first().map(|m| &m.message)
        else {
            panic!("no message with buttons: {queued:?}");
        };
        let german = crate::texts::for_language(Some("de"))
            .biz
            .post_deal_now_button;
        assert_eq!(markup.inline_keyboard[0][0].text, german);
        assert_ne!(
            german,
            crate::texts::english().biz.post_deal_now_button,
            "the label is translated"
        );
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn an_unknown_template_sends_its_stored_text_and_another_language_reads_english(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let mut conn = pool.acquire().await?;
        // Queued by a version that knew a message this one does not.
        let unknown: i64 = sqlx::query_scalar(
            "INSERT INTO outbound_messages (chat_id, method, payload, template)
             VALUES (24, 'sendMessage', '{\"method\": \"sendMessage\", \"text\": \"Your deal is ready\"}',
                     '{\"notice\": {\"id\": \"no-such-message\", \"args\": {}}}')
             RETURNING id",
        )
        .fetch_one(&pool)
        .await?;
        user(&mut conn, 25, "Zoe", "fr").await?;
        enqueue_template(
            &mut conn,
            25,
            Notice::ApplicationExpiring {
                name: "Zoe's".into(),
            },
        )
        .await?;
        let due_now = due(&mut conn, 10).await?;
        assert_eq!(due_now.len(), 2);
        assert_eq!(due_now[0].id, unknown);
        assert_eq!(sent_text(&due_now[0]), "Your deal is ready");
        assert_eq!(
            sent_text(&due_now[1]),
            crate::texts::english().application_expiring("Zoe's")
        );
        mark_sent(&mut conn, unknown).await?;
        assert_eq!(depth(&pool).await?, 1, "the unknown one went out");
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn erasing_a_customer_redacts_their_name_in_a_queued_template(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let mut conn = pool.acquire().await?;
        user(&mut conn, 26, "Shop", "en").await?;
        user(&mut conn, 27, "Adaline", "en").await?;
        let id = enqueue_template(&mut conn, 26, new_reservation("Adaline")).await?;
        users::record_mention(&mut conn, id, 27).await?;
        users::erase_personal_data(&mut conn, 27).await?;
        let queued = due(&mut conn, 10).await?;
        let text = sent_text(&queued[0]);
        assert!(!text.contains("Adaline"), "{text}");
        assert!(text.contains(ERASED_NAME), "{text}");
        let template: String =
            sqlx::query_scalar("SELECT template::text FROM outbound_messages WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await?;
        assert!(!template.contains("Adaline"), "{template}");
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn blocked_users_get_nothing_queued(pool: PgPool) -> sqlx::Result<()> {
        let mut conn = pool.acquire().await?;
        crate::store::users::mark_blocked(&mut conn, 5).await?;
        assert_eq!(
            enqueue(&mut conn, 5, &OutboundMessage::text("hi")).await?,
            0
        );
        assert!(enqueue(&mut conn, 6, &OutboundMessage::text("hi")).await? > 0);
        assert_eq!(depth(&pool).await?, 1);
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn a_chats_messages_keep_their_order_through_retries(pool: PgPool) -> sqlx::Result<()> {
        let mut conn = pool.acquire().await?;
        let first = enqueue(&mut conn, 7, &OutboundMessage::text("first")).await?;
        let second = enqueue(&mut conn, 7, &OutboundMessage::text("second")).await?;
        let other = enqueue(&mut conn, 8, &OutboundMessage::text("other chat")).await?;
        let heads: Vec<i64> = due(&mut conn, 10).await?.iter().map(|m| m.id).collect();
        assert_eq!(heads, [first, other], "one message per chat, the oldest");

        // The first one fails and is retried later: the second waits behind it.
        reschedule(
            &mut conn,
            first,
            Utc::now() + chrono::Duration::hours(1),
            "502",
            8,
        )
        .await?;
        mark_sent(&mut conn, other).await?;
        assert!(
            due(&mut conn, 10).await?.is_empty(),
            "the second overtook the first"
        );

        // Flood control on the first: the same.
        retry_later(&mut conn, first, Utc::now() - chrono::Duration::seconds(1)).await?;
        let heads: Vec<i64> = due(&mut conn, 10).await?.iter().map(|m| m.id).collect();
        assert_eq!(heads, [first]);
        mark_sent(&mut conn, first).await?;
        let heads: Vec<i64> = due(&mut conn, 10).await?.iter().map(|m| m.id).collect();
        assert_eq!(heads, [second]);
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn due_messages_round_trip_and_fail_after_max_attempts(pool: PgPool) -> sqlx::Result<()> {
        let mut conn = pool.acquire().await?;
        let message = OutboundMessage::text("deal alert");
        let id = enqueue(&mut conn, 6, &message).await?;
        let due_now = due(&mut conn, 10).await?;
        assert_eq!(due_now.len(), 1);
        assert_eq!(due_now[0].message.as_ref().ok(), Some(&message));

        reschedule(
            &mut conn,
            id,
            Utc::now() + chrono::Duration::hours(1),
            "network",
            2,
        )
        .await?;
        assert!(due(&mut conn, 10).await?.is_empty(), "not before its time");
        reschedule(&mut conn, id, Utc::now(), "network", 2).await?;
        let status: String =
            sqlx::query_scalar("SELECT status FROM outbound_messages WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await?;
        assert_eq!(status, "failed");
        Ok(())
    }
}
