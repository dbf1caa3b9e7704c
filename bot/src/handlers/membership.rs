//! `my_chat_member`: a user blocking or restarting the bot in a private chat.

use sqlx::PgConnection;
use teloxide::types::ChatMemberUpdated;

use crate::store::{audit, users};

pub async fn handle(
    conn: &mut PgConnection,
    change: &ChatMemberUpdated,
) -> Result<(), sqlx::Error> {
    if !change.chat.is_private() {
        return Ok(());
    }
    let user_id = change.chat.id.0;
    if change.new_chat_member.is_banned() || change.new_chat_member.is_left() {
        super::mark_blocked(conn, user_id, "my_chat_member").await?;
    } else if change.new_chat_member.is_present() && users::mark_unblocked(conn, user_id).await? {
        audit::record(
            conn,
            &audit::AuditEvent {
                actor_id: Some(user_id),
                action: "user.unblocked_bot",
                entity_type: "user",
                entity_id: Some(user_id.to_string()),
                before: None,
                after: None,
            },
        )
        .await?;
    }
    Ok(())
}
