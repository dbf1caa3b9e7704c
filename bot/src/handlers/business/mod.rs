//! The supply side: business registration, admin approval, staff, posting deals and managing
//! their life cycle. Every command and button asks [`access`] whether the presser's role at the
//! time of the press allows its [`Action`] (the table is `marketplace::permissions`).

pub mod admin;
pub mod deal;
pub mod dialogue;
pub mod offers;
pub mod pickup;
pub mod profile;
pub mod registration;
pub mod staff;

use std::sync::OnceLock;

use teloxide::prelude::*;
use teloxide::types::{BotCommand, BotCommandScope, CallbackQuery, ChatId, MenuButton, Recipient};

use super::{Context, HandlerError};
use crate::app::App;
use crate::marketplace::permissions::{self, Access, Action};
use crate::telegram::callback::CallbackData;

/// Every business button: its action and the ids it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Registration(registration::Button),
    Admin(admin::Button),
    Deal(deal::Button),
    Offer(offers::Button),
    Pickup(pickup::Button),
    Profile(profile::Button),
    Staff(staff::Button),
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        registration::Button::from_data(data)
            .map(Self::Registration)
            .or_else(|| admin::Button::from_data(data).map(Self::Admin))
            .or_else(|| deal::Button::from_data(data).map(Self::Deal))
            .or_else(|| offers::Button::from_data(data).map(Self::Offer))
            .or_else(|| pickup::Button::from_data(data).map(Self::Pickup))
            .or_else(|| profile::Button::from_data(data).map(Self::Profile))
            .or_else(|| staff::Button::from_data(data).map(Self::Staff))
    }
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    match button {
        Button::Registration(button) => registration::on_button(ctx, query, button).await,
        Button::Admin(button) => admin::on_button(ctx, query, button).await,
        Button::Deal(button) => deal::on_button(ctx, query, button).await,
        Button::Offer(button) => offers::on_button(ctx, query, button).await,
        Button::Pickup(button) => pickup::on_button(ctx, query, button).await,
        Button::Profile(button) => profile::on_button(ctx, query, button).await,
        Button::Staff(button) => staff::on_button(ctx, query, button).await,
    }
}

/// The one permission check of the supply side: what the presser may do for the business now.
/// Their membership is share-locked until the update commits, so a concurrent removal either
/// came first (and is seen) or waits for this press.
pub async fn access(
    ctx: &mut Context<'_>,
    business_id: i64,
    action: Action,
) -> Result<Access, HandlerError> {
    let user_id = ctx.user_id();
    let access = Access::decide(role_now(ctx, business_id).await?, action);
    if !matches!(access, Access::Allowed(_)) {
        tracing::warn!(
            user_id,
            business_id,
            ?action,
            ?access,
            "business action refused"
        );
    }
    Ok(access)
}

/// The presser's role for the business now (admins included), share-locked as [`access`] says.
pub async fn role_now(
    ctx: &mut Context<'_>,
    business_id: i64,
) -> Result<Option<permissions::Role>, HandlerError> {
    let member = crate::store::staff::role_for_press(ctx.conn, business_id, ctx.user_id()).await?;
    Ok(permissions::effective_role(member, admin::is_admin(ctx)))
}

/// The sentence a refused press or command is answered with.
pub fn refusal(ctx: &Context<'_>, access: Access, action: Action) -> &'static str {
    match access {
        Access::OwnerOnly => ctx.texts.biz.owner_only(action),
        Access::NotMember | Access::Allowed(_) => match action {
            Action::EditBusiness | Action::InviteStaff | Action::ManageStaff => {
                ctx.texts.biz.not_your_business
            }
            _ => ctx.texts.biz.not_your_offer,
        },
    }
}

/// Answers a refused button press with its sentence; returns whether the press may go on.
pub async fn permit_press(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    business_id: i64,
    action: Action,
) -> Result<bool, HandlerError> {
    let access = access(ctx, business_id, action).await?;
    if matches!(access, Access::Allowed(_)) {
        return Ok(true);
    }
    let notice = refusal(ctx, access, action);
    ctx.answer_callback(query, Some(notice));
    Ok(false)
}

/// "I'm a business": registration for newcomers, the business commands for members.
/// A unit price of a business that takes money in the chat only must be one Telegram can
/// invoice; businesses that also take money at the counter may sell for less.
pub async fn in_app_price_refusal(
    ctx: &mut Context<'_>,
    business_id: i64,
    price_minor: i64,
) -> Result<Option<crate::marketplace::Invalid>, HandlerError> {
    let mode = crate::store::payments::payment_mode(ctx.conn, business_id).await?;
    if mode.on_site() {
        return Ok(None);
    }
    let currency = &ctx.app.config.currency;
    Ok(crate::marketplace::invoice_limits::price_refusal(
        price_minor,
        currency,
    ))
}

pub async fn on_business_role(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let memberships = crate::store::businesses::of_member(ctx.conn, user_id).await?;
    if memberships.is_empty() {
        return registration::start(ctx, chat).await;
    }
    let text = ctx.texts.biz.welcome_back_business;
    ctx.send(chat, text, Some(teloxide::types::ReplyMarkup::kb_remove()));
    Ok(())
}

/// The message a pressed button belongs to, to edit it in place.
pub fn pressed_message(query: &CallbackQuery) -> Option<(ChatId, teloxide::types::MessageId)> {
    match &query.message {
        Some(teloxide::types::MaybeInaccessibleMessage::Regular(message)) => {
            Some((message.chat.id, message.id))
        }
        _ => None,
    }
}

/// The text of the message a pressed button belongs to.
pub fn pressed_text(query: &CallbackQuery) -> String {
    match &query.message {
        Some(teloxide::types::MaybeInaccessibleMessage::Regular(message)) => {
            message.text().unwrap_or_default().to_owned()
        }
        _ => String::new(),
    }
}

/// Replaces the pressed button's message, or sends a new one when it is no longer accessible.
pub async fn replace_pressed(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    text: String,
    markup: Option<teloxide::types::InlineKeyboardMarkup>,
) -> Result<(), HandlerError> {
    match pressed_message(query) {
        Some((chat, message_id)) => {
            ctx.edit(chat, message_id, text, markup);
        }
        None => {
            let chat = ChatId(ctx.user_id());
            ctx.send(
                chat,
                text,
                markup.map(teloxide::types::ReplyMarkup::InlineKeyboard),
            );
        }
    }
    Ok(())
}

static BOT_USERNAME: OnceLock<String> = OnceLock::new();

/// The bot's username for share links (from getMe, asked once per process). Only `username` is
/// read from the answer, so API servers that omit getMe's optional capability flags are fine.
pub async fn bot_username(app: &App) -> Result<&'static str, HandlerError> {
    if let Some(name) = BOT_USERNAME.get() {
        return Ok(name);
    }
    #[derive(serde::Deserialize)]
    struct GetMe {
        result: Me,
    }
    #[derive(serde::Deserialize)]
    struct Me {
        username: String,
    }
    let telegram = &app.config.telegram;
    // The URL holds the token: it is never logged.
    let url = format!(
        "{}/bot{}/getMe",
        telegram.api_url.trim_end_matches('/'),
        telegram.token.expose()
    );
    let me: GetMe = app
        .http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| HandlerError::BotIdentity(e.without_url().to_string()))?
        .json()
        .await
        .map_err(|e| HandlerError::BotIdentity(e.without_url().to_string()))?;
    Ok(BOT_USERNAME.get_or_init(|| me.result.username))
}

pub fn share_link(bot_username: &str, offer_id: i64) -> String {
    format!("https://t.me/{bot_username}?start=offer_{offer_id}")
}

/// The commands a business member sees in their chat's menu; the descriptions are the
/// `command-*` messages of the chat's language.
pub const BUSINESS_COMMANDS: &[&str] = &[
    "newdeal",
    "myoffers",
    "pickup",
    "invite_staff",
    "staff",
    "register_business",
    "help",
];

/// The commands a staff member sees: deals only, not the business itself.
pub const STAFF_COMMANDS: &[&str] = &["newdeal", "myoffers", "pickup", "help"];

/// The commands an admin sees in their chat's menu.
pub const ADMIN_COMMANDS: &[&str] = &["pending", "newdeal", "myoffers", "help"];

/// A role's commands followed by everyone's (a chat scope replaces the default menu, and a
/// business owner is a customer too), each command once.
pub fn menu_for(role_commands: &[&'static str]) -> Vec<&'static str> {
    let mut menu: Vec<&str> = Vec::new();
    for command in role_commands.iter().chain(super::BOT_COMMANDS) {
        if !menu.contains(command) {
            menu.push(command);
        }
    }
    menu
}

/// Shows a chat its role's command menu (setMyCommands for that chat's scope). A failure only
/// costs the menu, so it is logged rather than failing the update.
pub async fn publish_chat_commands(
    app: &App,
    texts: &crate::texts::Catalog,
    chat_id: i64,
    role_commands: &[&'static str],
) {
    let commands: Vec<BotCommand> = menu_for(role_commands)
        .into_iter()
        .map(|command| BotCommand::new(command, texts.command_description(command)))
        .collect();
    let scope = BotCommandScope::Chat {
        chat_id: Recipient::Id(ChatId(chat_id)),
    };
    if let Err(error) = app.bot.set_my_commands(commands).scope(scope).await {
        tracing::warn!(%error, chat_id, "could not publish the chat's command menu");
    }
    // The menu button next to the input field opens that command list.
    let menu = app
        .bot
        .set_chat_menu_button()
        .chat_id(ChatId(chat_id))
        .menu_button(MenuButton::Commands)
        .await;
    if let Err(error) = menu {
        tracing::warn!(%error, chat_id, "could not set the chat's menu button");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_links_open_the_offer_deep_link() {
        assert_eq!(
            share_link("TooGoodToGoTestBot", 42),
            "https://t.me/TooGoodToGoTestBot?start=offer_42"
        );
    }

    #[test]
    fn a_role_menu_adds_the_everyday_commands_once() {
        let menu = menu_for(BUSINESS_COMMANDS);
        assert_eq!(menu[0], "newdeal");
        for command in ["start", "help", "privacy", "register_business"] {
            assert_eq!(
                menu.iter().filter(|c| **c == command).count(),
                1,
                "{command}"
            );
        }
    }

    #[test]
    fn command_menus_are_valid_for_telegram() {
        for command in BUSINESS_COMMANDS
            .iter()
            .chain(ADMIN_COMMANDS)
            .chain(STAFF_COMMANDS)
            .chain(crate::handlers::BOT_COMMANDS)
        {
            assert!((1..=32).contains(&command.len()));
            assert!(command.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            for language in crate::texts::languages() {
                let description =
                    crate::texts::for_language(Some(language)).command_description(command);
                assert!(
                    (1..=256).contains(&description.chars().count()),
                    "{language}: {command}"
                );
                assert_ne!(description, crate::texts::message_id("command", command));
            }
        }
    }
}
