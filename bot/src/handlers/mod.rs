//! Update handlers: one module per flow, routed from here. Every handler runs inside the
//! update's processing transaction, so its database writes commit together with the inbox mark;
//! its replies are collected and sent after that commit (see [`crate::replies`]).

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
use crate::replies::Reply;
use crate::store::conversations::ConversationError;
use crate::store::inbox::Outcome;
use crate::store::{audit, users};
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
    /// Replies produced so far, sent after the update commits.
    pub replies: &'a mut Vec<Reply>,
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

    /// Replies with a message. Replies are sent once the update's changes have committed
    /// (see [`crate::replies`]).
    pub fn send(&mut self, chat_id: ChatId, text: impl Into<String>, markup: Option<ReplyMarkup>) {
        self.replies.push(Reply::Message {
            chat: chat_id,
            text: text.into(),
            markup,
        });
    }

    /// Replies with a photo (by Telegram file id) and a caption.
    pub fn send_photo(&mut self, chat_id: ChatId, file_id: &str, caption: impl Into<String>) {
        self.replies.push(Reply::Photo {
            chat: chat_id,
            file_id: file_id.to_owned(),
            caption: caption.into(),
        });
    }

    /// Replaces the text (and inline keyboard) of a message the bot sent.
    pub fn edit(
        &mut self,
        chat_id: ChatId,
        message_id: MessageId,
        text: impl Into<String>,
        markup: Option<teloxide::types::InlineKeyboardMarkup>,
    ) {
        self.replies.push(Reply::Edit {
            chat: chat_id,
            message_id,
            text: text.into(),
            markup,
        });
    }

    /// Acknowledges a button press, optionally with a short notice.
    pub fn answer_callback(&mut self, query: &CallbackQuery, notice: Option<&str>) {
        self.replies.push(Reply::ButtonAnswer {
            query_id: query.id.clone(),
            notice: notice.map(str::to_owned),
        });
    }

    /// Answers a pre-checkout query: go ahead, or stop with the reason shown to the payer.
    pub fn answer_checkout(
        &mut self,
        query_id: teloxide::types::PreCheckoutQueryId,
        refusal: Option<String>,
    ) {
        self.replies
            .push(Reply::CheckoutAnswer { query_id, refusal });
    }

    /// Records the outcome of a Bot API call the handler made itself (an invoice): a recipient
    /// who blocked the bot is marked blocked, in the update's transaction.
    pub(crate) async fn delivered(
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
    replies: &mut Vec<Reply>,
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
    let language = users::record_contact(
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
        texts: texts::for_language(language.as_deref()),
        replies,
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
                ctx.send(chat.id, text, None);
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
        ctx.send(chat, reply, None);
        return Ok(Outcome::Handled);
    };
    match Command::parse(text) {
        Some(Command::Start(payload)) => start::start(ctx, chat, payload.as_deref()).await?,
        Some(Command::Help) => {
            let reply = ctx.texts.help;
            ctx.send(chat, reply, None);
        }
        Some(Command::Privacy) => {
            let reply = ctx.texts.privacy;
            ctx.send(chat, reply, None);
        }
        Some(Command::DeleteMyData) => account::ask_to_delete(ctx, chat).await?,
        Some(Command::RegisterBusiness) => business::registration::start(ctx, chat).await?,
        Some(Command::NewDeal) => business::deal::new_deal(ctx, chat).await?,
        Some(Command::MyOffers) => business::offers::my_offers(ctx, chat).await?,
        Some(Command::InviteStaff) => business::staff::invite(ctx, chat).await?,
        Some(Command::Staff) => business::staff::list(ctx, chat).await?,
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
            ctx.send(chat, reply, None);
        }
        Some(Command::Unknown(_)) => {
            let reply = ctx.texts.unknown_command;
            ctx.send(chat, reply, None);
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
            ctx.answer_callback(query, Some(notice));
            return Ok(Outcome::Handled);
        }
        None => {
            ctx.answer_callback(query, None);
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
            ctx.answer_callback(query, Some(notice));
            Ok(())
        }
    }
}
