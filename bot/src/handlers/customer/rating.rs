//! Ratings: after a pickup the customer is asked for 1-5 stars and then, optionally, a comment.
//! Only the reservation's customer can rate it, only once, and only after it was picked up.

use serde::{Deserialize, Serialize};
use teloxide::types::{CallbackQuery, ChatId, InlineKeyboardMarkup};

use super::super::business::dialogue::{self, Answer};
use super::super::{Context, HandlerError};
use super::Screen;
use crate::store::conversations::Conversation;
use crate::store::ratings::{self, RateOutcome};
use crate::telegram::callback::{CallbackCodec, CallbackError};

pub const COMMENT_FLOW: &str = "rating_comment";
const STARS: &str = "rt_stars";
const MAX_COMMENT_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Button {
    pub reservation_id: i64,
    pub stars: i16,
}

impl Button {
    pub fn from_data(data: &crate::telegram::callback::CallbackData) -> Option<Self> {
        match (data.action.as_str(), data.args.as_slice()) {
            (STARS, [reservation_id, stars]) if (1..=5).contains(stars) => Some(Self {
                reservation_id: *reservation_id,
                stars: i16::try_from(*stars).ok()?,
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CommentDraft {
    reservation_id: i64,
}

/// The 1-5 star buttons sent with the "how was it?" question.
pub fn stars_keyboard(
    callbacks: &CallbackCodec,
    reservation_id: i64,
) -> Result<InlineKeyboardMarkup, CallbackError> {
    let buttons = (1..=5_i64)
        .map(|stars| {
            callbacks
                .encode(STARS, &[reservation_id, stars])
                .map(|data| {
                    teloxide::types::InlineKeyboardButton::callback(
                        "⭐".repeat(stars as usize),
                        data,
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Five buttons with up to five stars each read best as two rows.
    let (low, high) = buttons.split_at(3);
    Ok(InlineKeyboardMarkup::new([low.to_vec(), high.to_vec()]))
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let outcome = ratings::rate(ctx.conn, button.reservation_id, user_id, button.stars).await?;
    let texts = &ctx.texts.cust;
    match outcome {
        RateOutcome::Rated => {}
        RateOutcome::AlreadyRated => {
            ctx.answer_callback(query, Some(texts.already_rated));
            return Ok(());
        }
        RateOutcome::NotPickedUp => {
            ctx.answer_callback(query, Some(texts.rate_after_pickup));
            return Ok(());
        }
        RateOutcome::NotYours => {
            ctx.answer_callback(query, Some(texts.not_your_reservation));
            return Ok(());
        }
    }
    ctx.audit(
        "rating.created",
        "reservation",
        Some(button.reservation_id.to_string()),
        None,
        Some(serde_json::json!({ "stars": button.stars })),
    )
    .await?;
    ctx.answer_callback(query, Some(texts.rated_notice));
    let chat = ChatId(user_id);
    dialogue::save(
        ctx,
        chat,
        COMMENT_FLOW,
        "comment",
        &CommentDraft {
            reservation_id: button.reservation_id,
        },
    )
    .await?;
    let text = texts.thanks_for_rating(button.stars);
    Screen::Pressed(query)
        .show(ctx, text, InlineKeyboardMarkup::default())
        .await
}

/// The optional comment after the stars.
pub async fn on_comment(
    ctx: &mut Context<'_>,
    chat: ChatId,
    conversation: Conversation<serde_json::Value>,
    answer: Answer,
) -> Result<bool, HandlerError> {
    let draft = dialogue::data::<CommentDraft>(&conversation);
    let texts = &ctx.texts.cust;
    let comment = match answer {
        Answer::Text(text) => text,
        Answer::Skip | Answer::Cancel | Answer::Back => {
            dialogue::clear(ctx, chat).await?;
            ctx.send(chat, texts.comment_skipped, None);
            return Ok(true);
        }
        Answer::Location { .. } | Answer::Photo { .. } => {
            ctx.send(chat, texts.comment_expected, None);
            return Ok(true);
        }
    };
    let comment = comment.trim();
    if comment.chars().count() > MAX_COMMENT_CHARS {
        ctx.send(chat, texts.comment_too_long(MAX_COMMENT_CHARS), None);
        return Ok(true);
    }
    dialogue::clear(ctx, chat).await?;
    if let Some(draft) = draft {
        ratings::add_comment(ctx.conn, draft.reservation_id, ctx.user_id(), comment).await?;
    }
    ctx.send(chat, texts.comment_saved, None);
    Ok(true)
}
