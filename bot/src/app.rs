//! The running service: shared state and the `serve` life cycle (start, run, drain).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use teloxide::prelude::*;
use teloxide::types::BotCommand;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cache::{CacheError, Redis};
use crate::config::Config;
use crate::intake::Intake;
use crate::metrics::{Metrics, StateLabels};
use crate::ratelimit::RateLimiter;
use crate::store::{self, StoreError, inbox, outbound};
use crate::telegram::callback::CallbackCodec;
use crate::telegram::{self, ClientError};
use crate::workers::{self, Workers};

/// How long `serve` waits for PostgreSQL at start before giving up.
pub const DATABASE_START_TIMEOUT: Duration = Duration::from_secs(30);

/// The version reported everywhere: the git tag at build time, else `v<crate version>`.
pub const VERSION: &str = env!("TOOGOODTOGO_VERSION");

pub struct App {
    pub config: Config,
    pub pool: sqlx::PgPool,
    pub redis: Arc<Redis>,
    pub bot: Bot,
    pub http: reqwest::Client,
    pub metrics: Metrics,
    pub callbacks: CallbackCodec,
    pub rate_limiter: RateLimiter,
    pub workers: Workers,
    pub intake: Intake,
    pub started: Instant,
    pub version: &'static str,
    /// Set at shutdown: `/ready` answers 503 from then on.
    pub draining: AtomicBool,
    /// Chats whose replies go through the outbound queue until then, because Telegram answered
    /// one with a 429 longer than a reply may wait. Wall-clock times, so that every held reply
    /// of a chat is queued for the same instant and keeps its order.
    pub held_chats: std::sync::Mutex<std::collections::HashMap<i64, DateTime<Utc>>>,
}

impl App {
    /// Holds a chat's replies in the outbound queue until `until`.
    pub fn hold_chat(&self, chat_id: i64, until: DateTime<Utc>) {
        if let Ok(mut held) = self.held_chats.lock() {
            let now = Utc::now();
            held.retain(|_, at| *at > now);
            held.insert(chat_id, until);
        }
    }

    /// Until when a chat's replies go through the outbound queue, if they do.
    pub fn chat_held_until(&self, chat_id: i64) -> Option<DateTime<Utc>> {
        let held = self.held_chats.lock().ok()?;
        held.get(&chat_id).copied().filter(|at| *at > Utc::now())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the database schema is behind this release ({0}). Run `toogoodtogo-bot migrate` first, or set MIGRATE_ON_START=true"
    )]
    SchemaBehind(String),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Telegram(#[from] ClientError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP server failed: {0}")]
    Http(#[source] std::io::Error),
}

impl App {
    pub async fn refresh_gauges(&self) {
        if let Ok(backlog) = inbox::backlog(&self.pool).await {
            self.metrics.inbox_backlog.set(backlog);
        }
        if let Ok(depth) = outbound::depth(&self.pool).await {
            self.metrics.outbound_queue_depth.set(depth);
        }
        let size = i64::from(self.pool.size());
        let idle = self.pool.num_idle() as i64;
        let pool = &self.metrics.db_pool_connections;
        pool.get_or_create(&StateLabels { state: "idle" }).set(idle);
        pool.get_or_create(&StateLabels { state: "in_use" })
            .set(size - idle);
        pool.get_or_create(&StateLabels { state: "max" })
            .set(i64::from(self.config.database.max_connections));
    }
}

/// Runs the service until SIGTERM/SIGINT, then drains within `SHUTDOWN_TIMEOUT`.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let pool = store::connect(
        &config.database.url,
        config.database.max_connections,
        DATABASE_START_TIMEOUT,
    )
    .await?;
    let schema = store::schema_status(&pool).await?;
    if schema.is_behind() {
        if config.migrate_on_start {
            tracing::info!(status = %schema.summary(), "applying migrations (MIGRATE_ON_START)");
            store::migrate(&pool).await?;
        } else {
            return Err(ServeError::SchemaBehind(schema.summary()));
        }
    }
    if !schema.ahead.is_empty() {
        tracing::warn!(status = %schema.summary(), "a newer release migrated this database; running with the schema ahead");
    }

    let shutdown = CancellationToken::new();
    let redis = Redis::new(&config.redis_url)?;
    redis.connect_in_background(shutdown.child_token());
    let http = telegram::http_client()?;
    let bot = telegram::bot(&config.telegram, http.clone())?;
    let (workers, receivers) = Workers::new(config.inbox.workers, pool.clone());
    // The intake outlives the workers: it is the last to stop taking updates.
    let mut intake_tasks = JoinSet::new();
    let intake = Intake::start(pool.clone(), &mut intake_tasks);
    let app = Arc::new(App {
        callbacks: CallbackCodec::new(
            config.secret_key.clone(),
            config.secret_keys_previous.clone(),
        ),
        rate_limiter: RateLimiter::new(config.rate_limit_per_minute, Arc::clone(&redis), "tgtg:"),
        metrics: Metrics::new(VERSION),
        started: Instant::now(),
        version: VERSION,
        draining: AtomicBool::new(false),
        held_chats: std::sync::Mutex::new(std::collections::HashMap::new()),
        pool,
        redis,
        bot,
        http,
        workers,
        intake,
        config,
    });

    let mut tasks = JoinSet::new();
    workers::spawn(&app, receivers, &shutdown, &mut tasks);
    tasks.spawn(crate::jobs::outbound::run(
        Arc::clone(&app),
        shutdown.child_token(),
    ));
    tasks.spawn(crate::jobs::retention::run(
        Arc::clone(&app),
        shutdown.child_token(),
    ));
    tasks.spawn(crate::jobs::offer_expiry::run(
        Arc::clone(&app),
        shutdown.child_token(),
    ));
    tasks.spawn(crate::jobs::application_expiry::run(
        Arc::clone(&app),
        shutdown.child_token(),
    ));
    tasks.spawn(crate::jobs::pickups::run(
        Arc::clone(&app),
        shutdown.child_token(),
    ));
    tasks.spawn(crate::refunds::run(
        Arc::clone(&app),
        shutdown.child_token(),
    ));
    tasks.spawn(crate::reconcile::run(
        Arc::clone(&app),
        shutdown.child_token(),
    ));
    match &app.config.webhook {
        Some(_) => {
            tokio::spawn(register_webhook(Arc::clone(&app), shutdown.child_token()));
        }
        None => {
            tasks.spawn(telegram::polling::run(
                Arc::clone(&app),
                shutdown.child_token(),
            ));
        }
    }
    tokio::spawn(publish_commands(Arc::clone(&app)));
    app.refresh_gauges().await;

    let addr = app.config.bind_addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    tracing::info!(%addr, version = VERSION, mode = if app.config.webhook.is_some() { "webhook" } else { "long polling" }, "serving");

    // The HTTP server keeps answering while the instance drains: /ready says 503 and webhooks
    // are still stored (unclaimed, for other replicas), so nothing Telegram sends is refused.
    let http_stop = CancellationToken::new();
    let server = axum::serve(listener, crate::http::router(Arc::clone(&app)))
        .with_graceful_shutdown(http_stop.clone().cancelled_owned())
        .into_future();
    let mut server = tokio::spawn(server);
    let early_exit = tokio::select! {
        _ = wait_for_signal() => None,
        result = &mut server => Some(result),
    };
    if let Some(result) = early_exit {
        shutdown.cancel();
        return match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(ServeError::Http(error)),
            Err(join) => Err(ServeError::Http(std::io::Error::other(join))),
        };
    }
    tracing::info!("shutdown requested: draining");
    app.draining.store(true, Ordering::Relaxed);
    shutdown.cancel();

    let timeout = app.config.shutdown_timeout;
    let drained = tokio::time::timeout(timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    match drained {
        Ok(()) => tracing::info!("in-flight work finished"),
        Err(_) => tracing::warn!(
            timeout_s = timeout.as_secs_f64(),
            "work still running at SHUTDOWN_TIMEOUT; its updates stay in the inbox"
        ),
    }
    http_stop.cancel();
    let served = match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(std::io::Error::other(join)),
        Err(_) => Ok(()),
    };
    tracing::info!("stopped");
    app.pool.close().await;
    served.map_err(ServeError::Http)
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

/// Registers the webhook, retrying in the background while Telegram is unreachable.
async fn register_webhook(app: Arc<App>, shutdown: CancellationToken) {
    let Some(webhook) = &app.config.webhook else {
        return;
    };
    let mut delay = Duration::from_secs(1);
    loop {
        match telegram::webhook::register(&app.bot, webhook).await {
            Ok(()) => {
                tracing::info!(url = %webhook.url, "webhook registered");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, retry_in_s = delay.as_secs(), "webhook registration failed");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(60));
    }
}

/// Publishes the command menu: the English one for every language, and one per translation for
/// users whose Telegram speaks it. Failures only cost the menu, so they are logged.
async fn publish_commands(app: Arc<App>) {
    for language in crate::texts::languages() {
        let texts = crate::texts::for_language(Some(language));
        let commands: Vec<BotCommand> = crate::handlers::BOT_COMMANDS
            .iter()
            .map(|command| BotCommand::new(*command, texts.command_description(command)))
            .collect();
        let request = app.bot.set_my_commands(commands);
        let result = if language == crate::texts::fluent::FALLBACK {
            request.await
        } else {
            request.language_code(language).await
        };
        if let Err(error) = result {
            tracing::warn!(%error, language, "could not publish the command menu");
        }
    }
}
