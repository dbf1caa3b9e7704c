//! Groups and channels. The marketplace works in private chats only: reservations, pickup codes
//! and business tools are personal, and a group shares one ordering key (so one member's
//! updates would no longer be serialised). A group is told once, with a link to a private
//! chat; buttons pressed in a group only get a notice, and nothing is ever edited into a group
//! message.

use teloxide::types::{CallbackQuery, Chat, ChatMemberUpdated, UpdateKind};

use super::{Context, HandlerError};
use crate::app::App;
use crate::store::groups;
use crate::store::inbox::Outcome;
use crate::store::outbound::{self, OutboundMessage};

/// The bot was added to or removed from a group or channel.
pub async fn on_membership(
    app: &App,
    conn: &mut sqlx::PgConnection,
    change: &ChatMemberUpdated,
) -> Result<Outcome, HandlerError> {
    if change.new_chat_member.is_present() {
        let texts = crate::texts::for_language(change.from.language_code.as_deref());
        tell_once(app, conn, &change.chat, texts).await?;
    } else {
        groups::left(conn, change.chat.id.0).await?;
    }
    Ok(Outcome::Handled)
}

/// Any other update from a group or channel.
pub async fn on_update(
    ctx: &mut Context<'_>,
    kind: &UpdateKind,
    chat: &Chat,
) -> Result<Outcome, HandlerError> {
    match kind {
        UpdateKind::CallbackQuery(query) => {
            answer_button(ctx, query).await?;
            Ok(Outcome::Handled)
        }
        UpdateKind::Message(_) => {
            tell_once(ctx.app, ctx.conn, chat, ctx.texts).await?;
            Ok(Outcome::Handled)
        }
        _ => Ok(Outcome::Ignored),
    }
}

async fn answer_button(ctx: &mut Context<'_>, query: &CallbackQuery) -> Result<(), HandlerError> {
    let notice = ctx.texts.private_chat_only_notice;
    ctx.answer_callback(query, Some(notice));
    Ok(())
}

async fn tell_once(
    app: &App,
    conn: &mut sqlx::PgConnection,
    chat: &Chat,
    texts: &'static crate::texts::Catalog,
) -> Result<(), HandlerError> {
    let kind = if chat.is_channel() {
        "channel"
    } else if chat.is_supergroup() {
        "supergroup"
    } else {
        "group"
    };
    if !groups::take_first_contact(conn, chat.id.0, kind, chat.title()).await? {
        return Ok(());
    }
    let username = super::business::bot_username(app).await?;
    let text = texts.private_chat_only(&format!("https://t.me/{username}?start"));
    outbound::enqueue(conn, chat.id.0, &OutboundMessage::text(text)).await?;
    tracing::info!(
        chat_id = chat.id.0,
        kind,
        "told a group that the bot works in private chats"
    );
    Ok(())
}
