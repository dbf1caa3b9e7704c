//! Telegram: the Bot API client, update intake (webhook and long polling), webhook
//! registration, and the signed callback-data codec.

pub mod callback;
pub mod polling;
pub mod update;
pub mod webhook;

use std::time::Duration;

use teloxide::prelude::*;
use teloxide::{ApiError, RequestError};

use crate::config::TelegramConfig;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("TELEGRAM_API_URL is not a valid URL: {0}")]
    InvalidApiUrl(String),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// A shared HTTP client with timeouts that suit both API calls and long polling.
pub fn http_client() -> Result<reqwest::Client, ClientError> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        // Long polling waits up to 25 s for updates; anything slower is a dead connection.
        .timeout(Duration::from_secs(40))
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .build()?)
}

/// The teloxide bot for API calls, pointed at `TELEGRAM_API_URL`.
pub fn bot(config: &TelegramConfig, client: reqwest::Client) -> Result<Bot, ClientError> {
    let url = reqwest::Url::parse(&config.api_url)
        .map_err(|_| ClientError::InvalidApiUrl(config.api_url.clone()))?;
    Ok(Bot::with_client(config.token.expose(), client).set_api_url(url))
}

/// The Bot API error code of a failed call, for metrics and logs. teloxide keeps Telegram's
/// description rather than its code, so the code is recovered from the error kind.
pub fn error_code(error: &RequestError) -> &'static str {
    match error {
        RequestError::RetryAfter(_) => "429",
        RequestError::MigrateToChatId(_) => "400",
        RequestError::Api(api) if is_forbidden(api) => "403",
        RequestError::Api(ApiError::InvalidToken) => "401",
        RequestError::Api(ApiError::Unknown(description)) => {
            if description.starts_with("Not Found") {
                "404"
            } else if description.starts_with("Conflict") {
                "409"
            } else if description.starts_with("Internal") || description.starts_with("Bad Gateway")
            {
                "5xx"
            } else {
                "other"
            }
        }
        RequestError::Api(_) => "400",
        RequestError::Network(_) => "network",
        RequestError::InvalidJson { .. } => "invalid_response",
        RequestError::Io(_) => "io",
    }
}

/// Whether Telegram refused the request itself (a 400 Bad Request): repeating it cannot help.
pub fn is_refusal(error: &RequestError) -> bool {
    match error {
        RequestError::Api(ApiError::Unknown(description)) => description.starts_with("Bad Request"),
        RequestError::Api(api) => !is_forbidden(api) && *api != ApiError::InvalidToken,
        _ => false,
    }
}

/// Whether the recipient has blocked the bot (or can no longer be written to).
pub fn is_forbidden(error: &ApiError) -> bool {
    matches!(
        error,
        ApiError::BotBlocked
            | ApiError::UserDeactivated
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::BotKickedFromChannel
            | ApiError::CantInitiateConversation
            | ApiError::CantTalkWithBots
    )
}

/// The wait Telegram asked for with a 429.
pub fn retry_after(error: &RequestError) -> Option<Duration> {
    match error {
        RequestError::RetryAfter(seconds) => Some(seconds.duration()),
        _ => None,
    }
}

/// The longest 429 wait a reply waits out inline. A longer one is returned at once: the handler
/// hands the message to the outbound queue (or the update is retried later from the inbox), so
/// no chat holds a worker, a transaction or a connection while Telegram makes it wait.
pub const MAX_INLINE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Makes an API call, waiting out 429 `retry_after` (up to three times) and counting errors.
pub async fn call_with_retry<T, F, Fut>(
    metrics: &crate::metrics::Metrics,
    mut call: F,
) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RequestError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) => {
                metrics
                    .telegram_api_errors
                    .get_or_create(&crate::metrics::CodeLabels {
                        code: error_code(&error).to_owned(),
                    })
                    .inc();
                match retry_after(&error) {
                    Some(wait) if attempt < 4 && wait <= MAX_INLINE_RETRY_AFTER => {
                        tracing::warn!(
                            wait_ms = wait.as_millis() as u64,
                            attempt,
                            "Telegram asked to retry later"
                        );
                        tokio::time::sleep(wait).await;
                    }
                    _ => return Err(error),
                }
            }
        }
    }
}
