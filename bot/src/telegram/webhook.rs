//! Webhook registration with Telegram. `serve` registers at start (idempotent: every replica
//! sends the same URL and secret) and never deletes on shutdown — during a rolling update that
//! would cut off every other replica.

use teloxide::prelude::*;
use teloxide::types::{AllowedUpdate, WebhookInfo};

use crate::config::WebhookConfig;

/// The update kinds the bot handles. Listing them keeps Telegram from sending others.
pub const ALLOWED_UPDATES: &[AllowedUpdate] = &[
    AllowedUpdate::Message,
    AllowedUpdate::EditedMessage,
    AllowedUpdate::CallbackQuery,
    AllowedUpdate::MyChatMember,
    AllowedUpdate::PreCheckoutQuery,
];

/// Telegram's default and our intake's concurrency.
pub const MAX_CONNECTIONS: u8 = 40;

pub async fn register(bot: &Bot, webhook: &WebhookConfig) -> Result<(), teloxide::RequestError> {
    let url = reqwest::Url::parse(&webhook.url).map_err(|e| {
        teloxide::RequestError::Api(teloxide::ApiError::Unknown(format!(
            "invalid WEBHOOK_URL: {e}"
        )))
    })?;
    bot.set_webhook(url)
        .secret_token(webhook.secret_token.expose().to_owned())
        .allowed_updates(ALLOWED_UPDATES.to_vec())
        .max_connections(MAX_CONNECTIONS)
        .await?;
    Ok(())
}

pub async fn delete(bot: &Bot, drop_pending_updates: bool) -> Result<(), teloxide::RequestError> {
    bot.delete_webhook()
        .drop_pending_updates(drop_pending_updates)
        .await?;
    Ok(())
}

pub async fn info(bot: &Bot) -> Result<WebhookInfo, teloxide::RequestError> {
    bot.get_webhook_info().await
}
