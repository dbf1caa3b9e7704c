//! ConfigMap with the bot's non-secret settings, loaded with `envFrom`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use super::Context;
use crate::names::{BOT_DATABASE, BOT_PORT, Component, POSTGRES_PORT, REDIS_PORT, WEBHOOK_PATH};

pub fn build(ctx: &Context) -> ConfigMap {
    let spec = &ctx.cr.spec;
    let config = spec.config.clone().unwrap_or_default();
    let mut data = BTreeMap::from([
        ("BIND_ADDR".to_owned(), format!("0.0.0.0:{BOT_PORT}")),
        (
            "ENVIRONMENT".to_owned(),
            config
                .environment
                .map_or("production", |e| e.as_str())
                .to_owned(),
        ),
        (
            "LOG_FORMAT".to_owned(),
            config.log_format.map_or("json", |f| f.as_str()).to_owned(),
        ),
        (
            "TIMEZONE".to_owned(),
            config.timezone.unwrap_or_else(|| "UTC".to_owned()),
        ),
        (
            "SHUTDOWN_TIMEOUT".to_owned(),
            config.shutdown_timeout_seconds.unwrap_or(25).to_string(),
        ),
    ]);
    if !spec.telegram.admin_ids.is_empty() {
        let ids: Vec<String> = spec.telegram.admin_ids.iter().map(i64::to_string).collect();
        data.insert("ADMIN_TELEGRAM_IDS".to_owned(), ids.join(","));
    }
    if let Some(api_url) = &spec.telegram.api_url {
        data.insert("TELEGRAM_API_URL".to_owned(), api_url.clone());
    }
    if let Some(webhook) = &spec.telegram.webhook {
        data.insert(
            "WEBHOOK_URL".to_owned(),
            format!("https://{}{WEBHOOK_PATH}", webhook.host),
        );
    }
    if let Some(units) = config.reservation_max_units {
        data.insert("RESERVATION_MAX_UNITS".to_owned(), units.to_string());
    }
    if let Some(stripe) = &spec.stripe {
        data.insert(
            "CURRENCY".to_owned(),
            stripe.currency.clone().unwrap_or_else(|| "EUR".to_owned()),
        );
        if let Some(minutes) = stripe.hold_minutes {
            data.insert("PAYMENT_HOLD_MINUTES".to_owned(), minutes.to_string());
        }
    }
    if spec.database.managed.is_some() {
        data.insert("POSTGRES_HOST".to_owned(), ctx.owner.postgres());
        data.insert("POSTGRES_PORT".to_owned(), POSTGRES_PORT.to_string());
        data.insert("POSTGRES_DB".to_owned(), BOT_DATABASE.to_owned());
    }
    if spec.redis.managed.is_some() {
        // Host and port here, the password from the generated Secret: the bot builds the URL.
        data.insert("REDIS_HOST".to_owned(), ctx.owner.redis());
        data.insert("REDIS_PORT".to_owned(), REDIS_PORT.to_string());
    }
    ConfigMap {
        metadata: ctx
            .owner
            .metadata(ctx.owner.config_map(), Component::Config),
        data: Some(data),
        ..ConfigMap::default()
    }
}
