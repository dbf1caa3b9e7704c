//! The outbound sender: delivers queued messages within Telegram's limits (about 30 messages/s
//! overall, one per second per chat). One replica sends at a time so that the overall limit
//! holds however many replicas run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use teloxide::RequestError;
use teloxide::prelude::*;
use tokio_util::sync::CancellationToken;

use super::leader;
use crate::app::App;
use crate::metrics::CodeLabels;
use crate::store::outbound::{self, OutboundMessage, QueuedMessage};

const IDLE_POLL: Duration = Duration::from_millis(250);
const PER_CHAT_INTERVAL: Duration = Duration::from_secs(1);
const MAX_ATTEMPTS: i32 = 8;

pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        match leader::try_acquire(&app.pool, leader::OUTBOUND_SENDER).await {
            Ok(Some(mut leadership)) => {
                tracing::info!("this replica sends queued messages");
                let mut sender = Sender::new(&app);
                while !shutdown.is_cancelled() && leadership.still_held().await {
                    let sent = match sender.send_due().await {
                        Ok(sent) => sent,
                        Err(error) => {
                            tracing::warn!(%error, "outbound sender failed");
                            0
                        }
                    };
                    if sent == 0 {
                        sleep_or_cancel(IDLE_POLL, &shutdown).await;
                    }
                }
                leadership.release().await;
            }
            Ok(None) => sleep_or_cancel(Duration::from_secs(5), &shutdown).await,
            Err(error) => {
                tracing::warn!(%error, "outbound sender: no database connection");
                sleep_or_cancel(Duration::from_secs(2), &shutdown).await;
            }
        }
    }
}

async fn sleep_or_cancel(duration: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(duration) => {}
    }
}

struct Sender<'a> {
    app: &'a App,
    interval: Duration,
    next_send: Instant,
    last_per_chat: HashMap<i64, Instant>,
}

impl<'a> Sender<'a> {
    fn new(app: &'a App) -> Self {
        let per_second = app.config.outbound_messages_per_second.max(1);
        Self {
            app,
            interval: Duration::from_secs(1) / per_second,
            next_send: Instant::now(),
            last_per_chat: HashMap::new(),
        }
    }

    /// Sends one batch of due messages; returns how many went out.
    async fn send_due(&mut self) -> sqlx::Result<usize> {
        let now = Instant::now();
        self.last_per_chat
            .retain(|_, at| now.duration_since(*at) < PER_CHAT_INTERVAL);
        let batch = i64::from(self.app.config.outbound_messages_per_second.max(1));
        let mut tx = self.app.pool.begin().await?;
        let due = outbound::due(&mut tx, batch).await?;
        let mut sent = 0;
        for queued in due {
            // A chat that had a message less than a second ago is left for a later round: its
            // first message stays first. (A chat Telegram asked to wait has its first message's
            // retry_at set, so none of its messages is due.)
            if self
                .last_per_chat
                .get(&queued.chat_id)
                .is_some_and(|last| last.elapsed() < PER_CHAT_INTERVAL)
            {
                continue;
            }
            tokio::time::sleep_until(self.next_send.into()).await;
            self.next_send = Instant::now() + self.interval;
            let result = self.deliver(&queued).await;
            self.last_per_chat.insert(queued.chat_id, Instant::now());
            match result {
                Ok(()) => {
                    outbound::mark_sent(&mut tx, queued.id).await?;
                    self.app.metrics.outbound_sent.inc();
                    sent += 1;
                }
                Err(Delivery::Invalid(reason)) => {
                    tracing::warn!(id = queued.id, reason, "dropping an invalid queued message");
                    outbound::mark_dropped(&mut tx, queued.id, &reason).await?;
                }
                Err(Delivery::Failed(error)) => self.on_error(&mut tx, &queued, error).await?,
            }
        }
        tx.commit().await?;
        Ok(sent)
    }

    async fn deliver(&self, queued: &QueuedMessage) -> Result<(), Delivery> {
        let message = queued
            .message
            .as_ref()
            .map_err(|e| Delivery::Invalid(e.clone()))?;
        let chat = ChatId(queued.chat_id);
        let request = match message {
            OutboundMessage::SendMessage {
                text,
                parse_mode,
                reply_markup,
            } => {
                let mut request = self.app.bot.send_message(chat, text.clone());
                if let Some(mode) = parse_mode {
                    request = request.parse_mode(*mode);
                }
                if let Some(markup) = reply_markup {
                    request = request.reply_markup(markup.clone());
                }
                request
            }
        };
        request.await.map(|_| ()).map_err(Delivery::Failed)
    }

    async fn on_error(
        &mut self,
        tx: &mut sqlx::PgConnection,
        queued: &QueuedMessage,
        error: RequestError,
    ) -> sqlx::Result<()> {
        let code = crate::telegram::error_code(&error);
        self.app
            .metrics
            .telegram_api_errors
            .get_or_create(&CodeLabels {
                code: code.to_owned(),
            })
            .inc();
        match &error {
            RequestError::RetryAfter(seconds) => {
                // Flood control: honour the wait for this chat; the others go on (the sender
                // stays under Telegram's overall limit by itself).
                let wait = seconds.duration();
                tracing::warn!(
                    wait_s = wait.as_secs(),
                    chat_id = queued.chat_id,
                    "Telegram flood control; holding the chat's messages"
                );
                let until = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                // Waiting is not failing: a long flood control must not use up the attempts
                // and mark the message failed.
                outbound::retry_later(tx, queued.id, until).await
            }
            RequestError::Api(api) if crate::telegram::is_forbidden(api) => {
                crate::handlers::mark_blocked(tx, queued.chat_id, "send_failed").await?;
                outbound::mark_dropped(tx, queued.id, &error.to_string()).await
            }
            RequestError::Api(_) if code == "400" => {
                outbound::mark_dropped(tx, queued.id, &error.to_string()).await
            }
            _ => {
                let backoff = Duration::from_secs(2u64 << queued.attempts.clamp(0, 8));
                outbound::reschedule(
                    tx,
                    queued.id,
                    Utc::now() + backoff,
                    &error.to_string(),
                    MAX_ATTEMPTS,
                )
                .await
            }
        }
    }
}

enum Delivery {
    Invalid(String),
    Failed(RequestError),
}
