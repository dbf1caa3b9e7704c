//! What the multi-step business dialogues share: reading an answer from a message, the stored
//! conversation, and refusing an answer with a message that names the field.

use serde::Serialize;
use serde::de::DeserializeOwned;
use teloxide::types::{
    ChatId, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, KeyboardMarkup, Message,
    ReplyMarkup,
};

use super::super::commands::Command;
use super::super::{Context, HandlerError};
use crate::marketplace::Invalid;
use crate::marketplace::input::Field;
use crate::store::conversations::{self, Conversation};
use crate::texts::Catalog;

/// Business dialogues lapse after this long without an answer.
pub const TTL_MINUTES: i32 = 60;

/// One answer in a dialogue.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Text(String),
    Location { latitude: f64, longitude: f64 },
    Photo { file_id: String },
    Back,
    Cancel,
    Skip,
}

impl Answer {
    /// `None` for commands the dialogues do not handle: they are routed as usual.
    pub fn of(message: &Message, texts: &Catalog) -> Option<Self> {
        if let Some(location) = message.location() {
            return Some(Self::Location {
                latitude: location.latitude,
                longitude: location.longitude,
            });
        }
        if let Some(photo) = message.photo().and_then(|sizes| sizes.last()) {
            return Some(Self::Photo {
                file_id: photo.file.id.to_string(),
            });
        }
        let text = message.text()?;
        if text == texts.biz.skip_button {
            return Some(Self::Skip);
        }
        match Command::parse(text) {
            Some(Command::Back) => Some(Self::Back),
            Some(Command::Cancel) => Some(Self::Cancel),
            Some(Command::Skip) => Some(Self::Skip),
            Some(_) => None,
            None => Some(Self::Text(text.to_owned())),
        }
    }
}

/// The user's dialogue in this chat, with its data still as JSON (each flow reads its own).
pub async fn load(
    ctx: &mut Context<'_>,
    chat: ChatId,
) -> Result<Option<Conversation<serde_json::Value>>, HandlerError> {
    let user_id = ctx.user_id();
    Ok(conversations::load(ctx.conn, user_id, chat.0).await?)
}

/// The draft of `flow` in this chat, if that is the dialogue the user is in.
pub async fn load_draft<D: DeserializeOwned>(
    ctx: &mut Context<'_>,
    chat: ChatId,
    flow: &str,
) -> Result<Option<D>, HandlerError> {
    Ok(match load(ctx, chat).await? {
        Some(conversation) if conversation.flow == flow => data(&conversation),
        _ => None,
    })
}

/// The "which field?" menu of a summary card: one button per editable field, each carrying
/// `action` with the user's id and the field's step index.
pub fn field_menu(
    ctx: &Context<'_>,
    action: &str,
    user_id: i64,
    fields: impl Iterator<Item = (usize, Field)>,
) -> Result<InlineKeyboardMarkup, HandlerError> {
    let rows = fields
        .map(|(index, field)| {
            ctx.app
                .callbacks
                .encode(action, &[user_id, index as i64])
                .map(|data| {
                    vec![InlineKeyboardButton::callback(
                        ctx.texts.field_name(field),
                        data,
                    )]
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(InlineKeyboardMarkup::new(rows))
}

/// Reads a flow's data; a draft of an older shape is dropped rather than failing the update.
pub fn data<D: DeserializeOwned>(conversation: &Conversation<serde_json::Value>) -> Option<D> {
    match serde_json::from_value(conversation.data.clone()) {
        Ok(data) => Some(data),
        Err(error) => {
            tracing::warn!(%error, flow = %conversation.flow, "dropping an unreadable dialogue draft");
            None
        }
    }
}

pub async fn save<D: Serialize>(
    ctx: &mut Context<'_>,
    chat: ChatId,
    flow: &str,
    step: &str,
    data: &D,
) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    conversations::save(ctx.conn, user_id, chat.0, flow, step, data, TTL_MINUTES).await?;
    Ok(())
}

pub async fn clear(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    conversations::clear(ctx.conn, user_id, chat.0).await?;
    Ok(())
}

/// Refuses an answer: names the field and what is wrong, with a correct example.
pub async fn refuse(
    ctx: &mut Context<'_>,
    chat: ChatId,
    invalid: Invalid,
) -> Result<(), HandlerError> {
    let text = ctx.texts.invalid(invalid);
    ctx.send(chat, text, None);
    Ok(())
}

/// A one-button reply keyboard offering to skip an optional step.
pub fn skip_keyboard(texts: &Catalog) -> ReplyMarkup {
    ReplyMarkup::Keyboard(
        KeyboardMarkup::new([[KeyboardButton::new(texts.biz.skip_button)]])
            .resize_keyboard()
            .one_time_keyboard(),
    )
}
