//! Telegram users as the bot knows them.

use sqlx::PgConnection;

/// The fields of a Telegram user that the bot records on contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact<'a> {
    pub telegram_id: i64,
    pub first_name: &'a str,
    pub last_name: Option<&'a str>,
    pub username: Option<&'a str>,
    pub language_code: Option<&'a str>,
}

/// Records first contact or refreshes the user's names and last-seen time, and returns the
/// language the bot writes to them in. A user who writes to the bot has evidently unblocked it.
/// An unchanged user seen within the last minute is not rewritten: `last_seen_at` is kept to the
/// minute, which spares a row version per update.
///
/// The language is Telegram's `language_code` at first contact (again after an erasure), and
/// afterwards what the user chose in /settings: a later `language_code` does not replace it.
pub async fn record_contact(
    conn: &mut PgConnection,
    c: &Contact<'_>,
) -> sqlx::Result<Option<String>> {
    // One round trip: the upsert's row when it wrote one, else the row as it was.
    let language: Option<Option<String>> = sqlx::query_scalar(
        "WITH recorded AS (
             INSERT INTO users (telegram_id, first_name, last_name, username, language_code)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (telegram_id) DO UPDATE SET
                 first_name = EXCLUDED.first_name,
                 last_name = EXCLUDED.last_name,
                 username = EXCLUDED.username,
                 language_code = COALESCE(users.language_code, EXCLUDED.language_code),
                 last_seen_at = now(),
                 blocked_at = NULL,
                 erased_at = NULL
             WHERE users.last_seen_at < now() - interval '1 minute'
                OR users.blocked_at IS NOT NULL
                OR users.erased_at IS NOT NULL
                OR (users.language_code IS NULL AND EXCLUDED.language_code IS NOT NULL)
                OR (users.first_name, users.last_name, users.username)
                   IS DISTINCT FROM
                   (EXCLUDED.first_name, EXCLUDED.last_name, EXCLUDED.username)
             RETURNING language_code
         )
         SELECT language_code FROM recorded
         UNION ALL
         SELECT language_code FROM users
          WHERE telegram_id = $1 AND NOT EXISTS (SELECT 1 FROM recorded)",
    )
    .bind(c.telegram_id)
    .bind(c.first_name)
    .bind(c.last_name)
    .bind(c.username)
    .bind(c.language_code)
    .persistent(true)
    .fetch_optional(conn)
    .await?;
    Ok(language.flatten())
}

/// The language a user chose in /settings.
pub async fn set_language(
    conn: &mut PgConnection,
    telegram_id: i64,
    language: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET language_code = $2 WHERE telegram_id = $1")
        .bind(telegram_id)
        .bind(language)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks a user as having blocked the bot. Returns whether this changed anything.
/// The language the bot writes to a user in: chosen in /settings, else Telegram's at first
/// contact.
pub async fn language(conn: &mut PgConnection, telegram_id: i64) -> sqlx::Result<Option<String>> {
    let language: Option<Option<String>> =
        sqlx::query_scalar("SELECT language_code FROM users WHERE telegram_id = $1")
            .bind(telegram_id)
            .fetch_optional(conn)
            .await?;
    Ok(language.flatten())
}

pub async fn mark_blocked(conn: &mut PgConnection, telegram_id: i64) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO users (telegram_id, blocked_at) VALUES ($1, now())
         ON CONFLICT (telegram_id) DO UPDATE SET blocked_at = now()
         WHERE users.blocked_at IS NULL",
    )
    .bind(telegram_id)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Clears the blocked mark (the user restarted the bot). Returns whether this changed anything.
pub async fn mark_unblocked(conn: &mut PgConnection, telegram_id: i64) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE users SET blocked_at = NULL WHERE telegram_id = $1 AND blocked_at IS NOT NULL",
    )
    .bind(telegram_id)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() > 0)
}

pub async fn is_blocked(conn: &mut PgConnection, telegram_id: i64) -> sqlx::Result<bool> {
    let blocked: Option<bool> =
        sqlx::query_scalar("SELECT blocked_at IS NOT NULL FROM users WHERE telegram_id = $1")
            .bind(telegram_id)
            .fetch_optional(conn)
            .await?;
    Ok(blocked.unwrap_or(false))
}

/// What stands where an erased person's name was, in messages to others.
pub const ERASED_NAME: &str = "(customer erased their data)";

/// Records that a queued message names `user_id`, so that erasing their data redacts it.
pub async fn record_mention(
    conn: &mut PgConnection,
    message_id: i64,
    user_id: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE outbound_messages SET about_user = $2 WHERE id = $1")
        .bind(message_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Erases a user's personal data. The row stays (with no personal fields) so that records that
/// refer to the user keep their integrity. What stays, and why, is what `/privacy` says:
/// reservations, payments and star ratings (bookkeeping of orders), the businesses they own
/// (the business's records, not the person's), and the skeleton of audit events.
pub async fn erase_personal_data(conn: &mut PgConnection, telegram_id: i64) -> sqlx::Result<bool> {
    let name: Option<String> =
        sqlx::query_scalar("SELECT first_name FROM users WHERE telegram_id = $1 FOR UPDATE")
            .bind(telegram_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(name) = name else {
        return Ok(false);
    };
    // Messages to others that name the person (a shop's "new reservation", an owner's "joined
    // as staff"): their name is replaced, queued or already sent (sent rows are kept until the
    // retention prunes them).
    if !name.trim().is_empty() {
        sqlx::query(
            "UPDATE outbound_messages SET payload = jsonb_set(payload, '{text}',
                 to_jsonb(replace(payload->>'text', $2, $3)))
             WHERE about_user = $1 AND payload ? 'text'",
        )
        .bind(telegram_id)
        .bind(&name)
        .bind(ERASED_NAME)
        .execute(&mut *conn)
        .await?;
        // A message rendered when it is sent carries the name among its arguments.
        sqlx::query(
            "UPDATE outbound_messages SET template = jsonb_set(template, '{notice,args}',
                 COALESCE((SELECT jsonb_object_agg(arg.key, CASE jsonb_typeof(arg.value)
                               WHEN 'string' THEN to_jsonb(replace(arg.value #>> '{}', $2, $3))
                               ELSE arg.value END)
                           FROM jsonb_each(template->'notice'->'args') AS arg), '{}'::jsonb))
             WHERE about_user = $1 AND jsonb_typeof(template->'notice'->'args') = 'object'",
        )
        .bind(telegram_id)
        .bind(&name)
        .bind(ERASED_NAME)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "UPDATE users SET first_name = '', last_name = NULL, username = NULL,
             language_code = NULL, erased_at = now()
         WHERE telegram_id = $1",
    )
    .bind(telegram_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM conversations WHERE user_id = $1")
        .bind(telegram_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM outbound_messages WHERE chat_id = $1 AND status = 'pending'")
        .bind(telegram_id)
        .execute(&mut *conn)
        .await?;
    // Where the customer searches from, whom they follow and what they wrote about shops are
    // theirs; reservations and star ratings stay as the businesses' records.
    sqlx::query("DELETE FROM customer_settings WHERE user_id = $1")
        .bind(telegram_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM favourites WHERE user_id = $1")
        .bind(telegram_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE ratings SET comment = NULL WHERE customer_id = $1")
        .bind(telegram_id)
        .execute(&mut *conn)
        .await?;
    // Acting for someone else's business ends: staff who erased themselves are not staff of
    // anyone any more. A business they own stays with its owner (the business's records).
    sqlx::query("DELETE FROM business_members WHERE user_id = $1 AND role = 'staff'")
        .bind(telegram_id)
        .execute(&mut *conn)
        .await?;
    crate::store::audit::redact_for_user(conn, telegram_id).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada(first_name: &str) -> Contact<'_> {
        Contact {
            telegram_id: 1,
            first_name,
            last_name: None,
            username: Some("ada"),
            language_code: Some("en"),
        }
    }

    async fn row(conn: &mut PgConnection) -> sqlx::Result<(String, bool, bool)> {
        sqlx::query_as(
            "SELECT first_name, blocked_at IS NOT NULL, erased_at IS NOT NULL FROM users WHERE telegram_id = 1",
        )
        .fetch_one(conn)
        .await
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn contact_refreshes_names_and_clears_blocked_and_erased(
        pool: sqlx::PgPool,
    ) -> sqlx::Result<()> {
        let mut conn = pool.acquire().await?;
        record_contact(&mut conn, &ada("Ada")).await?;
        record_contact(&mut conn, &ada("Ada L.")).await?;
        assert_eq!(row(&mut conn).await?, ("Ada L.".to_owned(), false, false));

        assert!(mark_blocked(&mut conn, 1).await?);
        assert!(!mark_blocked(&mut conn, 1).await?, "already blocked");
        assert!(is_blocked(&mut conn, 1).await?);
        record_contact(&mut conn, &ada("Ada L.")).await?;
        assert!(
            !is_blocked(&mut conn, 1).await?,
            "writing again unblocks at once"
        );

        crate::store::customers::set_location(
            &mut conn,
            1,
            crate::marketplace::geo::Point {
                latitude: 52.52,
                longitude: 13.405,
            },
        )
        .await?;
        assert!(erase_personal_data(&mut conn, 1).await?);
        assert_eq!(row(&mut conn).await?, (String::new(), false, true));
        assert_eq!(
            crate::store::customers::get(&mut conn, 1).await?.location,
            None,
            "the saved location goes too"
        );
        record_contact(&mut conn, &ada("Ada")).await?;
        assert_eq!(row(&mut conn).await?, ("Ada".to_owned(), false, false));
        Ok(())
    }
}
