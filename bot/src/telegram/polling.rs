//! Long polling feeds the same inbox as the webhook. Telegram allows one poller per bot, so
//! replicas elect one through a PostgreSQL advisory lock held for as long as it polls.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::jobs::leader::{self, Leadership};
use crate::metrics::SourceLabels;
use crate::store::inbox;
use crate::telegram::update::envelope;

const POLL_TIMEOUT_SECS: u32 = 25;

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// Without its URL: the URL holds the bot token.
    #[error("getUpdates failed: {0}")]
    Http(reqwest::Error),
    #[error("Telegram answered getUpdates with {code}: {description}")]
    Api { code: i64, description: String },
    #[error("storing polled updates failed: {0}")]
    Store(#[from] sqlx::Error),
}

impl From<reqwest::Error> for PollError {
    fn from(error: reqwest::Error) -> Self {
        Self::Http(error.without_url())
    }
}

#[derive(Deserialize)]
struct GetUpdatesResponse {
    ok: bool,
    #[serde(default)]
    result: Vec<Box<RawValue>>,
    #[serde(default)]
    error_code: i64,
    #[serde(default)]
    description: String,
}

/// Polls until `shutdown`, while this replica holds the poller lock.
pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        match leader::try_acquire(&app.pool, leader::LONG_POLLING).await {
            Ok(Some(mut leadership)) => {
                tracing::info!("long polling: this replica polls Telegram");
                poll_while_leader(&app, &shutdown, &mut leadership).await;
                leadership.release().await;
            }
            Ok(None) => sleep_or_cancel(Duration::from_secs(5), &shutdown).await,
            Err(error) => {
                tracing::warn!(%error, "long polling: no database connection");
                sleep_or_cancel(Duration::from_secs(2), &shutdown).await;
            }
        }
    }
}

async fn poll_while_leader(app: &App, shutdown: &CancellationToken, leadership: &mut Leadership) {
    let mut offset: Option<i64> = None;
    let mut backoff = Duration::from_millis(500);
    loop {
        if !leadership.still_held().await {
            tracing::warn!("long polling: lost the leader connection");
            return;
        }
        let polled = tokio::select! {
            _ = shutdown.cancelled() => return,
            polled = poll_once(app, offset) => polled,
        };
        match polled {
            Ok(next) => {
                backoff = Duration::from_millis(500);
                if next.is_some() {
                    offset = next;
                }
            }
            Err(error) => {
                if let PollError::Api { code: 409, .. } = error {
                    tracing::error!(%error, "a webhook is set, so long polling cannot run: remove it with `toogoodtogo-bot webhook delete` or set WEBHOOK_URL");
                } else {
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "long polling failed");
                }
                sleep_or_cancel(backoff, shutdown).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                if shutdown.is_cancelled() {
                    return;
                }
            }
        }
    }
}

/// One getUpdates call; stores what arrived and returns the next offset. Telegram forgets
/// updates only once a later call passes an offset beyond them, i.e. after they are stored.
async fn poll_once(app: &App, offset: Option<i64>) -> Result<Option<i64>, PollError> {
    let url = format!(
        "{}/bot{}/getUpdates",
        app.config.telegram.api_url.trim_end_matches('/'),
        app.config.telegram.token.expose()
    );
    let body = serde_json::json!({
        "offset": offset,
        "timeout": POLL_TIMEOUT_SECS,
        "allowed_updates": crate::telegram::webhook::ALLOWED_UPDATES,
    });
    let response: GetUpdatesResponse = app.http.post(&url).json(&body).send().await?.json().await?;
    if !response.ok {
        return Err(PollError::Api {
            code: response.error_code,
            description: response.description,
        });
    }
    let mut batch = Vec::with_capacity(response.result.len());
    let mut max_id = None;
    for raw in &response.result {
        match envelope(raw.get().as_bytes()) {
            Ok(pending) => {
                max_id = max_id.max(Some(pending.update_id));
                batch.push((pending, raw.get().to_owned()));
            }
            Err(error) => tracing::warn!(%error, "long polling: skipping an unreadable update"),
        }
    }
    if batch.is_empty() {
        return Ok(max_id.map(|id| id + 1));
    }
    let claim = app.config.inbox.claim_timeout;
    let new = match inbox::store_batch(&app.pool, &batch, claim).await {
        Ok(new) => new,
        // One payload PostgreSQL refuses must not stop polling: store the others one by one.
        Err(error) if inbox::refuses_payload(&error) => {
            let mut new = Vec::new();
            for (pending, payload) in &batch {
                let row = [(*pending, payload.clone())];
                match inbox::store_batch(&app.pool, &row, claim).await {
                    Ok(stored) => new.extend(stored),
                    Err(error) if inbox::refuses_payload(&error) => {
                        tracing::warn!(%error, update_id = pending.update_id, "long polling: update refused by the database");
                        app.metrics.updates_refused.inc();
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            new
        }
        Err(error) => return Err(error.into()),
    };
    app.metrics
        .updates_received
        .get_or_create(&SourceLabels { source: "polling" })
        .inc_by(new.len() as u64);
    app.metrics
        .updates_duplicate
        .inc_by((batch.len() - new.len()) as u64);
    for update in new {
        app.workers.dispatch(update).await;
    }
    Ok(max_id.map(|id| id + 1))
}

async fn sleep_or_cancel(duration: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(duration) => {}
    }
}
