//! `/start`, deep links, the role choice and free text.

use teloxide::types::{ChatId, KeyboardButton, KeyboardMarkup, ReplyMarkup};

use super::commands::DeepLink;
use super::{Context, HandlerError};

pub async fn start(
    ctx: &mut Context<'_>,
    chat: ChatId,
    payload: Option<&str>,
) -> Result<(), HandlerError> {
    if let Some(payload) = payload {
        let notice = match DeepLink::parse(payload) {
            DeepLink::BusinessInvite(token) => {
                return super::business::staff::accept(ctx, chat, &token).await;
            }
            DeepLink::Offer(offer_id) => {
                let screen = super::customer::Screen::New(chat);
                let photo =
                    super::customer::browse::show_details(ctx, screen, offer_id, None).await?;
                return super::customer::browse::send_photo(ctx, photo).await;
            }
            DeepLink::Unknown => ctx.texts.deep_link_unknown,
        };
        ctx.send(chat, notice, None);
    }
    if super::business::admin::is_admin(ctx) {
        super::business::publish_chat_commands(
            ctx.app,
            ctx.texts,
            chat.0,
            super::business::ADMIN_COMMANDS,
        )
        .await;
    }
    greet(ctx, chat).await
}

async fn greet(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    let keyboard = KeyboardMarkup::new([[
        KeyboardButton::new(ctx.texts.role_customer),
        KeyboardButton::new(ctx.texts.role_business),
    ]])
    .resize_keyboard()
    .one_time_keyboard();
    let greeting = ctx.texts.greeting(&ctx.user.first_name);
    ctx.send(chat, greeting, Some(ReplyMarkup::Keyboard(keyboard)));
    Ok(())
}

/// Text that is not a command: the role buttons, or a nudge towards what the bot understands.
pub async fn free_text(
    ctx: &mut Context<'_>,
    chat: ChatId,
    text: &str,
) -> Result<(), HandlerError> {
    let remove = Some(ReplyMarkup::kb_remove());
    if text == ctx.texts.role_customer {
        ctx.audit(
            "user.role_chosen",
            "user",
            Some(ctx.user_id().to_string()),
            None,
            Some(serde_json::json!({"role": "customer"})),
        )
        .await?;
        let reply = ctx.texts.customer_chosen;
        ctx.send(chat, reply, remove);
        super::customer::browse::browse(ctx, chat).await?;
    } else if text == ctx.texts.role_business {
        ctx.audit(
            "user.role_chosen",
            "user",
            Some(ctx.user_id().to_string()),
            None,
            Some(serde_json::json!({"role": "business"})),
        )
        .await?;
        super::business::on_business_role(ctx, chat).await?;
    } else if super::business::pickup::on_member_text(ctx, chat, text).await? {
        // A business member sent or forwarded a pickup code.
    } else {
        let reply = ctx.texts.free_text;
        ctx.send(chat, reply, None);
    }
    Ok(())
}
