//! `/delete_my_data`: erase a user's personal data after an explicit confirmation.

use teloxide::types::{
    CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, MaybeInaccessibleMessage,
    ReplyMarkup,
};

use super::{Context, HandlerError};
use crate::store::users;
use crate::telegram::callback::CallbackData;

const CONFIRM: &str = "erase_yes";
const CANCEL: &str = "erase_no";

/// The buttons of the confirmation, bound to the user who asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Confirm { user_id: i64 },
    Cancel { user_id: i64 },
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        match (data.action.as_str(), data.args.as_slice()) {
            (CONFIRM, [user_id]) => Some(Self::Confirm { user_id: *user_id }),
            (CANCEL, [user_id]) => Some(Self::Cancel { user_id: *user_id }),
            _ => None,
        }
    }

    fn user_id(self) -> i64 {
        match self {
            Self::Confirm { user_id } | Self::Cancel { user_id } => user_id,
        }
    }
}

pub async fn ask_to_delete(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let codec = &ctx.app.callbacks;
    let keyboard = InlineKeyboardMarkup::new([[
        InlineKeyboardButton::callback(
            ctx.texts.delete_confirm_yes,
            codec.encode(CONFIRM, &[user_id])?,
        ),
        InlineKeyboardButton::callback(
            ctx.texts.delete_confirm_no,
            codec.encode(CANCEL, &[user_id])?,
        ),
    ]]);
    let question = ctx.texts.delete_confirm;
    ctx.send(chat, question, Some(ReplyMarkup::InlineKeyboard(keyboard)));
    Ok(())
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    // Someone else's confirmation (e.g. forwarded into a group) is not theirs to press.
    if button.user_id() != ctx.user_id() {
        let notice = ctx.texts.button_no_longer_valid;
        {
            ctx.answer_callback(query, Some(notice));
            return Ok(());
        }
    }
    let result = match button {
        Button::Confirm { user_id } => {
            if users::erase_personal_data(ctx.conn, user_id).await? {
                ctx.audit(
                    "user.personal_data_erased",
                    "user",
                    Some(user_id.to_string()),
                    None,
                    None,
                )
                .await?;
                ctx.texts.delete_done
            } else {
                ctx.texts.delete_nothing
            }
        }
        Button::Cancel { .. } => ctx.texts.delete_cancelled,
    };
    ctx.answer_callback(query, None);
    if let Some(MaybeInaccessibleMessage::Regular(message)) = &query.message {
        ctx.edit(message.chat.id, message.id, result, None);
    } else {
        let chat = ChatId(ctx.user_id());
        ctx.send(chat, result, None);
    }
    Ok(())
}
