//! Replies to an update. A handler only collects them; the worker sends them after the update's
//! transaction has committed. So a reply never shows state that was rolled back (a pickup code
//! for a reservation that does not exist, "Paid" for an order that is not), and an update that
//! fails and is retried does not repeat what it already said.
//!
//! Delivery guarantees, by kind:
//! - Replies (messages, photos, edits) are sent at most once directly. A reply Telegram could
//!   not take (5xx, network) or made wait (a 429 longer than a reply may wait) goes to the
//!   durable outbound queue, which retries it: from then on it is at least once. A crash between
//!   the commit and the send loses the reply; the user's next action shows the current state.
//! - Messages about money and messages to other people go through the outbound queue inside the
//!   transaction (at least once, exactly the committed state).
//! - Answers to button presses and to pre-checkout queries are sent once or not at all: Telegram
//!   stops waiting for them after a few seconds, so there is nothing to retry.

use std::collections::HashSet;

use chrono::Utc;
use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{
    CallbackQueryId, InlineKeyboardMarkup, InputFile, MessageId, PreCheckoutQueryId, ReplyMarkup,
};

use crate::app::App;
use crate::store::outbound::{self, OutboundMessage};
use crate::telegram::call_with_retry;

/// A reply a handler produced, sent after its update commits.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Message {
        chat: ChatId,
        text: String,
        markup: Option<ReplyMarkup>,
    },
    /// A photo by Telegram file id, with a caption.
    Photo {
        chat: ChatId,
        file_id: String,
        caption: String,
    },
    /// New text (and inline keyboard) for a message the bot sent.
    Edit {
        chat: ChatId,
        message_id: MessageId,
        text: String,
        markup: Option<InlineKeyboardMarkup>,
    },
    /// Stops the spinner on a pressed button, optionally with a short notice.
    ButtonAnswer {
        query_id: CallbackQueryId,
        notice: Option<String>,
    },
    /// Lets a checkout go ahead (`refusal: None`) or stops it with the reason shown to the payer.
    CheckoutAnswer {
        query_id: PreCheckoutQueryId,
        refusal: Option<String>,
    },
}

impl Reply {
    fn chat(&self) -> Option<ChatId> {
        match self {
            Self::Message { chat, .. } | Self::Photo { chat, .. } | Self::Edit { chat, .. } => {
                Some(*chat)
            }
            Self::ButtonAnswer { .. } | Self::CheckoutAnswer { .. } => None,
        }
    }

    /// What the outbound queue sends instead when this reply cannot go out now: the text as a
    /// new message (an edit's message may be gone by then; a photo keeps its caption).
    fn queued(&self) -> Option<OutboundMessage> {
        let (text, reply_markup) = match self {
            Self::Message { text, markup, .. } => (text, inline_keyboard(markup.clone())),
            Self::Photo { caption, .. } => (caption, None),
            Self::Edit { text, markup, .. } => (text, markup.clone()),
            Self::ButtonAnswer { .. } | Self::CheckoutAnswer { .. } => return None,
        };
        Some(OutboundMessage::SendMessage {
            text: text.clone(),
            parse_mode: None,
            reply_markup,
        })
    }
}

/// The inline keyboard of a reply, the only kind the outbound queue carries.
fn inline_keyboard(markup: Option<ReplyMarkup>) -> Option<InlineKeyboardMarkup> {
    match markup {
        Some(ReplyMarkup::InlineKeyboard(keyboard)) => Some(keyboard),
        _ => None,
    }
}

/// How long a reply Telegram failed to take waits in the outbound queue before its retry.
const RETRY_AFTER_FAILURE: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

/// Sends the replies of one committed update, in order. Never fails: what cannot be sent is
/// queued, dropped with a log line, or (a recipient who blocked the bot) recorded.
pub async fn deliver(app: &App, replies: Vec<Reply>) {
    // A chat that blocked the bot gets none of the update's later replies.
    let mut blocked: HashSet<ChatId> = HashSet::new();
    for reply in replies {
        if reply.chat().is_some_and(|chat| blocked.contains(&chat)) {
            continue;
        }
        if let Some(chat) = reply.chat()
            && let Some(until) = app.chat_held_until(chat.0)
        {
            queue(app, chat, &reply, until).await;
            continue;
        }
        let Err(error) = send(app, &reply).await else {
            continue;
        };
        match (&error, reply.chat()) {
            (RequestError::Api(ApiError::MessageNotModified | ApiError::InvalidQueryId), _) => {}
            (RequestError::RetryAfter(wait), Some(chat)) => {
                let until =
                    Utc::now() + chrono::Duration::from_std(wait.duration()).unwrap_or_default();
                tracing::info!(
                    chat_id = chat.0,
                    wait_s = wait.duration().as_secs(),
                    "Telegram asked a chat to wait; its replies go through the outbound queue"
                );
                app.hold_chat(chat.0, until);
                queue(app, chat, &reply, until).await;
            }
            (RequestError::Api(api), Some(chat)) if crate::telegram::is_forbidden(api) => {
                blocked.insert(chat);
                if let Err(error) = mark_blocked(app, chat).await {
                    tracing::warn!(%error, chat_id = chat.0, "could not record that a user blocked the bot");
                }
            }
            (error, Some(chat)) if !crate::telegram::is_refusal(error) => {
                tracing::warn!(%error, chat_id = chat.0, "reply not taken; the outbound queue retries it");
                queue(app, chat, &reply, Utc::now() + RETRY_AFTER_FAILURE).await;
            }
            (error, chat) => {
                tracing::warn!(%error, chat_id = chat.map(|c| c.0), "reply dropped");
            }
        }
    }
}

async fn send(app: &App, reply: &Reply) -> Result<(), RequestError> {
    let bot = &app.bot;
    let metrics = &app.metrics;
    match reply {
        Reply::Message { chat, text, markup } => {
            call_with_retry(metrics, || {
                let mut request = bot.send_message(*chat, text.clone());
                if let Some(markup) = markup {
                    request = request.reply_markup(markup.clone());
                }
                request.into_future()
            })
            .await?;
        }
        Reply::Photo {
            chat,
            file_id,
            caption,
        } => {
            let photo = InputFile::file_id(teloxide::types::FileId(file_id.clone()));
            call_with_retry(metrics, || {
                bot.send_photo(*chat, photo.clone())
                    .caption(caption.clone())
                    .into_future()
            })
            .await?;
        }
        Reply::Edit {
            chat,
            message_id,
            text,
            markup,
        } => {
            call_with_retry(metrics, || {
                let mut request = bot.edit_message_text(*chat, *message_id, text.clone());
                if let Some(markup) = markup {
                    request = request.reply_markup(markup.clone());
                }
                request.into_future()
            })
            .await?;
        }
        Reply::ButtonAnswer { query_id, notice } => {
            call_with_retry(metrics, || {
                let mut request = bot.answer_callback_query(query_id.clone());
                if let Some(notice) = notice {
                    request = request.text(notice.clone());
                }
                request.into_future()
            })
            .await?;
        }
        Reply::CheckoutAnswer { query_id, refusal } => {
            call_with_retry(metrics, || {
                let mut request =
                    bot.answer_pre_checkout_query(query_id.clone(), refusal.is_none());
                if let Some(reason) = refusal {
                    request = request.error_message(reason.clone());
                }
                request.into_future()
            })
            .await?;
        }
    }
    Ok(())
}

async fn queue(app: &App, chat: ChatId, reply: &Reply, not_before: chrono::DateTime<Utc>) {
    let Some(message) = reply.queued() else {
        return;
    };
    let queued = async {
        let mut conn = app.pool.acquire().await?;
        outbound::enqueue_at(&mut conn, chat.0, &message, not_before).await
    };
    if let Err(error) = queued.await {
        tracing::warn!(%error, chat_id = chat.0, "could not queue a reply; it is lost");
    }
}

async fn mark_blocked(app: &App, chat: ChatId) -> sqlx::Result<()> {
    let mut tx = app.pool.begin().await?;
    crate::handlers::mark_blocked(&mut tx, chat.0, "send_failed").await?;
    tx.commit().await
}
