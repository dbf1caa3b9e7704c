//! Group chats and channels the bot is in: remembered so that each is told once that the
//! marketplace works in private chats.

use sqlx::PgConnection;

/// Notes that the bot is in a group; returns whether the group still has to be told that the
/// bot works in private chats only (true once per group).
pub async fn take_first_contact(
    conn: &mut PgConnection,
    chat_id: i64,
    kind: &str,
    title: Option<&str>,
) -> sqlx::Result<bool> {
    let told: Option<i64> = sqlx::query_scalar(
        "INSERT INTO group_chats (chat_id, kind, title, told_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (chat_id) DO UPDATE
             SET kind = EXCLUDED.kind, title = EXCLUDED.title, left_at = NULL,
                 told_at = coalesce(group_chats.told_at, now())
             WHERE group_chats.told_at IS NULL
         RETURNING chat_id",
    )
    .bind(chat_id)
    .bind(kind)
    .bind(title)
    .fetch_optional(conn)
    .await?;
    Ok(told.is_some())
}

/// The bot was removed from a group.
pub async fn left(conn: &mut PgConnection, chat_id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE group_chats SET left_at = now() WHERE chat_id = $1")
        .bind(chat_id)
        .execute(conn)
        .await?;
    Ok(())
}
