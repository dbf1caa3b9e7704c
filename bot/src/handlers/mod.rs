//! Update handlers: one module per flow, routed from here. Every handler runs inside the
//! update's processing transaction, so its database writes commit together with the inbox mark.

mod account;
pub mod business;
mod commands;
pub mod customer;
mod groups;
mod membership;
mod start;

use sqlx::PgConnection;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{CallbackQuery, Message, MessageId, ReplyMarkup, UpdateKind, User};

use crate::app::App;
use crate::ratelimit::Verdict;
use crate::store::conversations::ConversationError;
use crate::store::inbox::Outcome;
use crate::store::{audit, users};
use crate::telegram::call_with_retry;
use crate::telegram::callback::CallbackData;
use crate::texts::{self, Catalog};

pub use commands::{BOT_COMMANDS, Command};

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("Telegram API: {0}")]
    Telegram(#[from] RequestError),
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    #[error("button data: {0}")]
    Callback(#[from] crate::telegram::callback::CallbackError),
    #[error("cannot learn the bot's username from getMe: {0}")]
    BotIdentity(String),
}

/// What a handler works with: the application, the processing transaction, and who wrote.
pub struct Context<'a> {
    pub app: &'a App,
    pub conn: &'a mut PgConnection,
    pub user: &'a User,
    pub texts: &'static Catalog,
}

impl Context<'_> {
    pub fn user_id(&self) -> i64 {
        self.user.id.0 as i64
    }

    /// An inline button whose press comes back as `action` with `args`, signed by the codec.
    pub fn button(
        &self,
        label: &str,
        action: &str,
        args: &[i64],
    ) -> Result<teloxide::types::InlineKeyboardButton, HandlerError> {
        Ok(teloxide::types::InlineKeyboardButton::callback(
            label.to_owned(),
            self.app.callbacks.encode(action, args)?,
        ))
    }

    /// Sends a reply at once. A recipient who blocked the bot is marked blocked and the reply is
    /// dropped. When Telegram makes the chat wait longer than a reply may (a 429), the reply goes
    /// through the outbound queue instead, as do the chat's next replies until the wait is over,
    /// so that the chat keeps its order and holds no worker meanwhile.
    pub async fn send(
        &mut self,
        chat_id: ChatId,
        text: impl Into<String>,
        markup: Option<ReplyMarkup>,
    ) -> Result<Option<Message>, HandlerError> {
        let text = text.into();
        if let Some(until) = self.app.chat_held_until(chat_id.0) {
            self.queue(chat_id, text, inline_keyboard(markup), until)
                .await?;
            return Ok(None);
        }
        let bot = &self.app.bot;
        let sent = call_with_retry(&self.app.metrics, || {
            let mut request = bot.send_message(chat_id, text.clone());
            if let Some(markup) = &markup {
                request = request.reply_markup(markup.clone());
            }
            request.into_future()
        })
        .await;
        match sent {
            Err(RequestError::RetryAfter(wait)) => {
                let until = self.hold(chat_id, wait.duration());
                self.queue(chat_id, text, inline_keyboard(markup), until)
                    .await?;
                Ok(None)
            }
            other => self.delivered(chat_id, other).await,
        }
    }

    /// Sends a photo (by Telegram file id) with a caption at once (only the caption, through
    /// the outbound queue, while Telegram makes the chat wait).
    pub async fn send_photo(
        &mut self,
        chat_id: ChatId,
        file_id: &str,
        caption: impl Into<String>,
    ) -> Result<Option<Message>, HandlerError> {
        let caption = caption.into();
        if let Some(until) = self.app.chat_held_until(chat_id.0) {
            self.queue(chat_id, caption, None, until).await?;
            return Ok(None);
        }
        let bot = &self.app.bot;
        let photo =
            teloxide::types::InputFile::file_id(teloxide::types::FileId(file_id.to_owned()));
        let sent = call_with_retry(&self.app.metrics, || {
            bot.send_photo(chat_id, photo.clone())
                .caption(caption.clone())
                .into_future()
        })
        .await;
        match sent {
            Err(RequestError::RetryAfter(wait)) => {
                let until = self.hold(chat_id, wait.duration());
                self.queue(chat_id, caption, None, until).await?;
                Ok(None)
            }
            other => self.delivered(chat_id, other).await,
        }
    }

    /// Replaces the text (and inline keyboard) of a message the bot sent. While Telegram makes
    /// the chat wait, the new text comes as a new message through the outbound queue.
    pub async fn edit(
        &mut self,
        chat_id: ChatId,
        message_id: MessageId,
        text: impl Into<String>,
        markup: Option<teloxide::types::InlineKeyboardMarkup>,
    ) -> Result<Option<Message>, HandlerError> {
        let text = text.into();
        if let Some(until) = self.app.chat_held_until(chat_id.0) {
            self.queue(chat_id, text, markup, until).await?;
            return Ok(None);
        }
        let bot = &self.app.bot;
        let edited = call_with_retry(&self.app.metrics, || {
            let mut request = bot.edit_message_text(chat_id, message_id, text.clone());
            if let Some(markup) = &markup {
                request = request.reply_markup(markup.clone());
            }
            request.into_future()
        })
        .await;
        match edited {
            // Pressing the same button twice edits to the same text: nothing to do.
            Err(RequestError::Api(teloxide::ApiError::MessageNotModified)) => Ok(None),
            Err(RequestError::RetryAfter(wait)) => {
                let until = self.hold(chat_id, wait.duration());
                self.queue(chat_id, text, markup, until).await?;
                Ok(None)
            }
            other => self.delivered(chat_id, other).await,
        }
    }

    /// Acknowledges a button press, optionally with a short notice.
    pub async fn answer_callback(
        &mut self,
        query: &CallbackQuery,
        notice: Option<&str>,
    ) -> Result<(), HandlerError> {
        let bot = &self.app.bot;
        let result = call_with_retry(&self.app.metrics, || {
            let mut request = bot.answer_callback_query(query.id.clone());
            if let Some(notice) = notice {
                request = request.text(notice.to_owned());
            }
            request.into_future()
        })
        .await;
        match result {
            Ok(_) => Ok(()),
            // A query older than Telegram's limit can no longer be answered; the press is still handled.
            Err(RequestError::Api(teloxide::ApiError::InvalidQueryId)) => Ok(()),
            // The spinner on the button stops by itself; not worth holding the chat for.
            Err(RequestError::RetryAfter(wait)) => {
                tracing::info!(
                    wait_s = wait.duration().as_secs(),
                    "button press left unanswered: Telegram asked to wait"
                );
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Holds a chat's replies in the outbound queue for `wait`; returns until when.
    fn hold(&self, chat_id: ChatId, wait: std::time::Duration) -> chrono::DateTime<chrono::Utc> {
        let until = chrono::Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
        tracing::info!(
            chat_id = chat_id.0,
            wait_s = wait.as_secs(),
            "Telegram asked a chat to wait; its replies go through the outbound queue"
        );
        self.app.hold_chat(chat_id.0, until);
        until
    }

    /// Queues a reply for `not_before`, in the update's transaction (it goes out only if the update's
    /// changes commit).
    async fn queue(
        &mut self,
        chat_id: ChatId,
        text: String,
        markup: Option<teloxide::types::InlineKeyboardMarkup>,
        not_before: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), HandlerError> {
        let message = crate::store::outbound::OutboundMessage::SendMessage {
            text,
            parse_mode: None,
            reply_markup: markup,
        };
        crate::store::outbound::enqueue_at(self.conn, chat_id.0, &message, not_before).await?;
        Ok(())
    }

    async fn delivered(
        &mut self,
        chat_id: ChatId,
        result: Result<Message, RequestError>,
    ) -> Result<Option<Message>, HandlerError> {
        match result {
            Ok(message) => Ok(Some(message)),
            Err(RequestError::Api(api)) if crate::telegram::is_forbidden(&api) => {
                mark_blocked(self.conn, chat_id.0, "send_failed").await?;
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    pub async fn audit(
        &mut self,
        action: &str,
        entity_type: &str,
        entity_id: Option<String>,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<(), HandlerError> {
        let actor_id = Some(self.user_id());
        audit::record(
            self.conn,
            &audit::AuditEvent {
                actor_id,
                action,
                entity_type,
                entity_id,
                before,
                after,
            },
        )
        .await?;
        Ok(())
    }
}

/// The inline keyboard of a reply, the only kind the outbound queue carries.
fn inline_keyboard(markup: Option<ReplyMarkup>) -> Option<teloxide::types::InlineKeyboardMarkup> {
    match markup {
        Some(ReplyMarkup::InlineKeyboard(keyboard)) => Some(keyboard),
        _ => None,
    }
}

/// Marks a user blocked, drops their queued messages, and audits the change once.
pub async fn mark_blocked(
    conn: &mut PgConnection,
    telegram_id: i64,
    reason: &str,
) -> Result<(), sqlx::Error> {
    if users::mark_blocked(conn, telegram_id).await? {
        crate::store::outbound::drop_pending_for_chat(conn, telegram_id).await?;
        audit::record(
            conn,
            &audit::AuditEvent {
                actor_id: Some(telegram_id),
                action: "user.blocked_bot",
                entity_type: "user",
                entity_id: Some(telegram_id.to_string()),
                before: None,
                after: Some(serde_json::json!({ "reason": reason })),
            },
        )
        .await?;
    }
    Ok(())
}

/// Routes one update. Returns how processing ended.
pub async fn handle(
    app: &App,
    conn: &mut PgConnection,
    update: &Update,
) -> Result<Outcome, HandlerError> {
    if let UpdateKind::MyChatMember(change) = &update.kind {
        if !change.chat.is_private() {
            return groups::on_membership(app, conn, change).await;
        }
        membership::handle(conn, change).await?;
        return Ok(Outcome::Handled);
    }
    let Some(user) = update.from() else {
        return Ok(Outcome::Ignored);
    };
    if user.is_bot {
        return Ok(Outcome::Ignored);
    }
    users::record_contact(
        conn,
        &users::Contact {
            telegram_id: user.id.0 as i64,
            first_name: &user.first_name,
            last_name: user.last_name.as_deref(),
            username: user.username.as_deref(),
            language_code: user.language_code.as_deref(),
        },
    )
    .await?;
    let mut ctx = Context {
        app,
        conn,
        user,
        texts: texts::for_language(user.language_code.as_deref()),
    };
    // Money is never rate-limited: Telegram charged the customer already, or waits for an answer.
    let payment = match &update.kind {
        UpdateKind::PreCheckoutQuery(_) => true,
        UpdateKind::Message(message) => message.successful_payment().is_some(),
        _ => false,
    };
    if let Some(chat) = update.chat()
        && !chat.is_private()
        && !payment
    {
        return groups::on_update(&mut ctx, &update.kind, chat).await;
    }
    let verdict = if payment {
        Verdict::Allow
    } else {
        app.rate_limiter.check(ctx.user_id()).await
    };
    match verdict {
        Verdict::Allow => {}
        Verdict::SlowDown => {
            app.metrics.rate_limited.inc();
            if let Some(chat) = update.chat() {
                let text = ctx.texts.slow_down;
                ctx.send(chat.id, text, None).await?;
            }
            return Ok(Outcome::RateLimited);
        }
        Verdict::Drop => {
            app.metrics.rate_limited.inc();
            return Ok(Outcome::RateLimited);
        }
    }
    match &update.kind {
        UpdateKind::Message(message) => on_message(&mut ctx, message).await,
        UpdateKind::CallbackQuery(query) => on_callback(&mut ctx, query).await,
        UpdateKind::PreCheckoutQuery(query) => {
            customer::payment::on_pre_checkout(&mut ctx, query).await?;
            Ok(Outcome::Handled)
        }
        _ => Ok(Outcome::Ignored),
    }
}

/// A message while the user is in a dialogue. Returns whether a dialogue took it; other
/// messages are routed as usual.
async fn on_dialogue_message(
    ctx: &mut Context<'_>,
    message: &Message,
) -> Result<bool, HandlerError> {
    use business::dialogue::{self, Answer};
    let chat = message.chat.id;
    let Some(answer) = Answer::of(message, ctx.texts) else {
        return Ok(false);
    };
    let Some(conversation) = dialogue::load(ctx, chat).await? else {
        return Ok(false);
    };
    match conversation.flow.as_str() {
        business::registration::FLOW => {
            business::registration::on_answer(ctx, chat, conversation, answer).await
        }
        business::deal::FLOW => business::deal::on_answer(ctx, chat, conversation, answer).await,
        business::offers::EDIT_FLOW => {
            business::offers::on_edit_answer(ctx, chat, conversation, answer).await
        }
        business::admin::REJECT_FLOW => {
            business::admin::on_reject_reason(ctx, chat, conversation, answer).await
        }
        business::profile::FLOW => {
            business::profile::on_answer(ctx, chat, conversation, answer).await
        }
        customer::rating::COMMENT_FLOW => {
            customer::rating::on_comment(ctx, chat, conversation, answer).await
        }
        _ => Ok(false),
    }
}

async fn on_message(ctx: &mut Context<'_>, message: &Message) -> Result<Outcome, HandlerError> {
    let chat = message.chat.id;
    if let Some(paid) = message.successful_payment() {
        customer::payment::on_successful_payment(ctx, chat, paid).await?;
        return Ok(Outcome::Handled);
    }
    if on_dialogue_message(ctx, message).await? {
        return Ok(Outcome::Handled);
    }
    if let Some(location) = message.location() {
        let at = crate::marketplace::geo::Point {
            latitude: location.latitude,
            longitude: location.longitude,
        };
        customer::browse::on_location(ctx, chat, at).await?;
        return Ok(Outcome::Handled);
    }
    let Some(text) = message.text() else {
        let reply = ctx.texts.unsupported_update;
        ctx.send(chat, reply, None).await?;
        return Ok(Outcome::Handled);
    };
    match Command::parse(text) {
        Some(Command::Start(payload)) => start::start(ctx, chat, payload.as_deref()).await?,
        Some(Command::Help) => {
            let reply = ctx.texts.help;
            ctx.send(chat, reply, None).await?;
        }
        Some(Command::Privacy) => {
            let reply = ctx.texts.privacy;
            ctx.send(chat, reply, None).await?;
        }
        Some(Command::DeleteMyData) => account::ask_to_delete(ctx, chat).await?,
        Some(Command::RegisterBusiness) => business::registration::start(ctx, chat).await?,
        Some(Command::NewDeal) => business::deal::new_deal(ctx, chat).await?,
        Some(Command::MyOffers) => business::offers::my_offers(ctx, chat).await?,
        Some(Command::InviteStaff) => business::staff::invite(ctx, chat).await?,
        Some(Command::Pending) => business::admin::pending(ctx, chat).await?,
        Some(Command::Pickup(code)) => {
            business::pickup::command(ctx, chat, code.as_deref()).await?
        }
        Some(Command::Browse) => customer::browse::browse(ctx, chat).await?,
        Some(Command::MyReservations) => customer::reservations::my_reservations(ctx, chat).await?,
        Some(Command::Favourites) => customer::favourites::list(ctx, chat).await?,
        Some(Command::Settings) => customer::settings::settings(ctx, chat).await?,
        Some(Command::Back | Command::Cancel | Command::Skip) => {
            let reply = ctx.texts.biz.no_dialogue;
            ctx.send(chat, reply, None).await?;
        }
        Some(Command::Unknown(_)) => {
            let reply = ctx.texts.unknown_command;
            ctx.send(chat, reply, None).await?;
        }
        None => start::free_text(ctx, chat, text).await?,
    }
    Ok(Outcome::Handled)
}

async fn on_callback(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
) -> Result<Outcome, HandlerError> {
    let decoded = query
        .data
        .as_deref()
        .map(|data| ctx.app.callbacks.decode(data));
    let data = match decoded {
        Some(Ok(data)) => data,
        Some(Err(error)) => {
            tracing::warn!(%error, user_id = ctx.user_id(), "refused button data");
            let notice = ctx.texts.button_no_longer_valid;
            ctx.answer_callback(query, Some(notice)).await?;
            return Ok(Outcome::Handled);
        }
        None => {
            ctx.answer_callback(query, None).await?;
            return Ok(Outcome::Ignored);
        }
    };
    route_button(ctx, query, &data).await?;
    Ok(Outcome::Handled)
}

async fn route_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    data: &CallbackData,
) -> Result<(), HandlerError> {
    if let Some(button) = business::Button::from_data(data) {
        return business::on_button(ctx, query, button).await;
    }
    if let Some(button) = customer::Button::from_data(data) {
        return customer::on_button(ctx, query, button).await;
    }
    match account::Button::from_data(data) {
        Some(button) => account::on_button(ctx, query, button).await,
        None => {
            let notice = ctx.texts.button_no_longer_valid;
            ctx.answer_callback(query, Some(notice)).await
        }
    }
}
