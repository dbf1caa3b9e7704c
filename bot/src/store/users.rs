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

/// Records first contact or refreshes the user's names and last-seen time. A user who writes to
/// the bot has evidently unblocked it.
pub async fn record_contact(conn: &mut PgConnection, c: &Contact<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (telegram_id, first_name, last_name, username, language_code)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (telegram_id) DO UPDATE SET
             first_name = EXCLUDED.first_name,
             last_name = EXCLUDED.last_name,
             username = EXCLUDED.username,
             language_code = EXCLUDED.language_code,
             last_seen_at = now(),
             blocked_at = NULL,
             erased_at = NULL",
    )
    .bind(c.telegram_id)
    .bind(c.first_name)
    .bind(c.last_name)
    .bind(c.username)
    .bind(c.language_code)
    .persistent(true)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a user as having blocked the bot. Returns whether this changed anything.
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

/// Erases a user's personal data. The row stays (with no personal fields) so that records that
/// refer to the user keep their integrity.
pub async fn erase_personal_data(conn: &mut PgConnection, telegram_id: i64) -> sqlx::Result<bool> {
    let result = sqlx::query(
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
    Ok(result.rows_affected() > 0)
}
