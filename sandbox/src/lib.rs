//! The sandbox: the real bot binary, the Telegram fake, the Stripe fake and a chat page in one
//! process tree, so that anyone can try the bot in a browser without a Telegram token or internet
//! access.
//!
//! The bot runs unchanged (long polling against the fake through `TELEGRAM_API_URL`, refunds
//! against the Stripe fake through `STRIPE_API_URL`); the page's actions become real updates in
//! the fake's getUpdates queue (paying an invoice: the pre_checkout_query and successful_payment
//! updates Telegram would send), and the fake's event stream feeds the page. Storage is the caller's PostgreSQL/Redis (in a fresh database of the sandbox's own)
//! or private servers started from the installed binaries.

pub mod bot;
pub mod demo;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod session;
pub mod web;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use toogoodtogo_tests::stripe_fake::StripeFake;
use toogoodtogo_tests::telegram_fake::{BOT_USERNAME, FakeTelegram};

use crate::bot::{BotService, BotSettings, StripeSettings};
use crate::postgres::{PostgresBinaries, PrivatePostgres, RunAs, SandboxDatabase};
use crate::redis::PrivateRedis;
use crate::session::{Session, UserIds};

/// The token the bot uses with the fake (any well-formed token works; there is no Telegram).
pub const SANDBOX_TOKEN: &str = "100000001:SANDBOX-token-for-the-telegram-fake";

/// Where private servers keep their data when the state directory is out of reach for the
/// unprivileged user they run as (e.g. a target directory under `/root`).
const FALLBACK_STATE_DIR: &str = "/var/tmp/toogoodtogo-sandbox";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageMode {
    /// `DATABASE_URL`/`REDIS_URL`, or servers on the default local ports, else private ones.
    Auto,
    /// Always private servers started from the installed binaries.
    Private,
}

#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Port of the page on 127.0.0.1 (0: any free port).
    pub port: u16,
    pub storage: StorageMode,
    /// A server to create the sandbox's database on (`DATABASE_URL`).
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    /// Keep the sandbox's database on exit.
    pub keep: bool,
    pub demo_data: bool,
    /// Private servers' data lives here (`<target>/sandbox`).
    pub state_dir: PathBuf,
    pub bot_binary: PathBuf,
    pub users: UserIds,
    /// Log the bot's output lines.
    pub echo_bot_logs: bool,
}

impl SandboxOptions {
    pub fn new(state_dir: PathBuf) -> Self {
        Self {
            port: 8080,
            storage: StorageMode::Auto,
            database_url: None,
            redis_url: None,
            keep: false,
            demo_data: true,
            state_dir,
            bot_binary: bot::default_binary(),
            users: UserIds::from_base(1000),
            echo_bot_logs: false,
        }
    }
}

/// `<target>/sandbox` for an executable in `<target>/<profile>/` (or its `deps/`).
pub fn default_state_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.pop();
    dir.join("sandbox")
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on 127.0.0.1:{port} ({source}); pass another --port")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "DATABASE_URL does not answer; start that server or unset DATABASE_URL to let the sandbox pick storage"
    )]
    GivenDatabaseDown,
    #[error(transparent)]
    Postgres(#[from] postgres::PostgresError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Bot(#[from] bot::BotError),
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    #[error("{action} failed: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
}

/// What the sandbox started and must stop, in the order it stops them.
#[derive(Default)]
struct Resources {
    bot: Option<BotService>,
    database: Option<SandboxDatabase>,
    keep_database: bool,
    redis: Option<PrivateRedis>,
    postgres: Option<PrivatePostgres>,
}

impl Resources {
    async fn release(&mut self) -> Vec<String> {
        let mut report = Vec::new();
        if let Some(bot) = self.bot.take()
            && let Err(error) = bot.stop().await
        {
            tracing::warn!(%error, "stopping the bot");
        }
        if let Some(database) = self.database.take() {
            if self.keep_database {
                report.push(format!(
                    "kept database {} ({})",
                    database.name,
                    redact(&database.url)
                ));
            } else {
                match database.drop_database().await {
                    Ok(()) => report.push(format!("dropped database {}", database.name)),
                    Err(error) => {
                        report.push(format!(
                            "could not drop database {}: {error}",
                            database.name
                        ));
                    }
                }
            }
        }
        if let Some(redis) = self.redis.take() {
            match redis.stop().await {
                Ok(()) => report.push("stopped the private Redis".to_owned()),
                Err(error) => report.push(format!("stopping the private Redis: {error}")),
            }
        }
        if let Some(postgres) = self.postgres.take() {
            let dir = postgres.dir.display().to_string();
            match postgres.stop().await {
                Ok(()) => report.push(format!(
                    "stopped the private PostgreSQL (data kept in {dir})"
                )),
                Err(error) => report.push(format!("stopping the private PostgreSQL: {error}")),
            }
        }
        report
    }
}

impl Drop for Resources {
    /// The path taken when a sandbox is dropped without [`Sandbox::shutdown`] (a failed test, a
    /// panic): its database is dropped all the same; the processes die with their handles.
    fn drop(&mut self) {
        let Some(database) = self.database.take() else {
            return;
        };
        if self.keep_database {
            return;
        }
        // Drop runs outside async code; a short-lived runtime on its own thread does the I/O.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(database.drop_database()).ok()
        });
        let _ = dropped.join();
    }
}

/// A URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A running sandbox. Stop it with [`Sandbox::shutdown`]; dropping it kills its processes
/// without cleaning up.
pub struct Sandbox {
    /// The page, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    pub addr: SocketAddr,
    pub session: Arc<Session>,
    pub fake: Arc<FakeTelegram>,
    /// The Stripe fake the bot refunds through; paying on the page registers charges in it.
    pub stripe: Arc<StripeFake>,
    pub database_name: String,
    pub database_url: String,
    /// What the sandbox did about storage and demo data, one line each (printed at start).
    pub storage_report: Vec<String>,
    pub private_postgres_dir: Option<PathBuf>,
    resources: Resources,
    stop_server: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    forwarder: JoinHandle<()>,
}

impl Sandbox {
    pub async fn start(options: SandboxOptions) -> Result<Self, SandboxError> {
        if !options.bot_binary.is_file() {
            return Err(bot::BotError::BinaryMissing(options.bot_binary.clone()).into());
        }
        // The page's port first: a taken port should fail before any server starts.
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
            .await
            .map_err(|source| SandboxError::Bind {
                port: options.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            port: options.port,
            source,
        })?;
        let mut resources = Resources::default();
        resources.keep_database = options.keep;
        match start_services(&options, &mut resources).await {
            Ok(started) => Ok(Self::serve(listener, addr, started, resources)),
            Err(error) => {
                for line in resources.release().await {
                    tracing::info!("{line}");
                }
                Err(error)
            }
        }
    }

    fn serve(
        listener: tokio::net::TcpListener,
        addr: SocketAddr,
        started: Started,
        resources: Resources,
    ) -> Self {
        let (stop_server, stopped) = oneshot::channel::<()>();
        let app = web::router(web::WebState {
            session: Arc::clone(&started.session),
            bot_username: BOT_USERNAME.to_owned(),
            storage_summary: started.storage_report.join("\n"),
        });
        let server = tokio::spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(error) = serving.await {
                tracing::error!(%error, "the page's server stopped");
            }
        });
        Self {
            url: format!("http://{addr}"),
            addr,
            session: started.session,
            fake: started.fake,
            stripe: started.stripe,
            database_name: started.database_name,
            database_url: started.database_url,
            storage_report: started.storage_report,
            private_postgres_dir: resources.postgres.as_ref().map(|p| p.dir.clone()),
            resources,
            stop_server: Some(stop_server),
            server,
            forwarder: started.forwarder,
        }
    }

    /// The bot's HTTP base URL (`/health`, `/metrics`).
    pub fn bot_url(&self) -> Option<String> {
        self.resources.bot.as_ref().map(|b| b.base_url.clone())
    }

    /// The bot's last output lines.
    pub fn bot_output(&self) -> String {
        self.resources
            .bot
            .as_ref()
            .map(BotService::output)
            .unwrap_or_default()
    }

    /// The exit status when the bot has died on its own.
    pub fn bot_exited(&mut self) -> Option<std::process::ExitStatus> {
        self.resources.bot.as_mut().and_then(BotService::exited)
    }

    /// Stops everything it started; returns what it did, one line each.
    pub async fn shutdown(mut self) -> Vec<String> {
        if let Some(stop) = self.stop_server.take() {
            let _ = stop.send(());
        }
        // Open event streams keep the graceful shutdown waiting; they are cut after a moment.
        if tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.server)
            .await
            .is_err()
        {
            self.server.abort();
        }
        let report = self.resources.release().await;
        self.forwarder.abort();
        report
    }
}

struct Started {
    session: Arc<Session>,
    fake: Arc<FakeTelegram>,
    stripe: Arc<StripeFake>,
    forwarder: JoinHandle<()>,
    database_name: String,
    database_url: String,
    storage_report: Vec<String>,
}

async fn start_services(
    options: &SandboxOptions,
    resources: &mut Resources,
) -> Result<Started, SandboxError> {
    let mut report = Vec::new();
    let admin_url = choose_postgres(options, resources, &mut report).await?;
    let database = SandboxDatabase::create(&admin_url).await?;
    report.push(format!(
        "created database {} for this session ({})",
        database.name,
        if options.keep {
            "kept on exit: --keep"
        } else {
            "dropped on exit; --keep keeps it"
        }
    ));
    let database_name = database.name.clone();
    let database_url = database.url.clone();
    resources.database = Some(database);
    let redis_url = choose_redis(options, resources, &mut report).await?;

    let fake =
        Arc::new(
            FakeTelegram::start(SANDBOX_TOKEN)
                .await
                .map_err(|source| SandboxError::Io {
                    action: "starting the Telegram fake".to_owned(),
                    source,
                })?,
        );
    let stripe_settings = StripeSettings::for_fake(String::new());
    let stripe = Arc::new(
        StripeFake::start(&stripe_settings.api_key)
            .await
            .map_err(|source| SandboxError::Io {
                action: "starting the Stripe fake".to_owned(),
                source,
            })?,
    );
    let stripe_settings = StripeSettings {
        api_url: stripe.url(),
        ..stripe_settings
    };
    report.push(format!(
        "payments: in the chat through the Stripe fake on {} (a test provider token; Pay on an \
         invoice sends the bot Telegram's pre_checkout_query and successful_payment)",
        stripe.url()
    ));
    let session = Session::new(Arc::clone(&fake), Arc::clone(&stripe), options.users);
    // Subscribed before the bot starts, so that no answer is missed.
    let forwarder = session::forward_chat_events(Arc::clone(&session), fake.subscribe());

    let settings = BotSettings {
        binary: options.bot_binary.clone(),
        database_url: database_url.clone(),
        redis_url,
        telegram_api_url: fake.url(),
        token: SANDBOX_TOKEN.to_owned(),
        admin_ids: vec![options.users.admin],
        echo_logs: options.echo_bot_logs,
        stripe: Some(stripe_settings),
    };
    let working_dir = std::env::temp_dir();
    let bot = match BotService::start(&settings, &working_dir).await {
        Ok(bot) => bot,
        Err(error) => {
            forwarder.abort();
            return Err(error.into());
        }
    };
    resources.bot = Some(bot);
    // After the bot is live: it has migrated the fresh database.
    let demo_settings = demo::DemoSettings::new(options.users);
    match demo::seed_demo_data(&database_url, options.demo_data, &demo_settings).await {
        Ok(outcome) => report.push(outcome.describe(&options.users)),
        Err(error) => {
            forwarder.abort();
            return Err(error.into());
        }
    }
    Ok(Started {
        session,
        fake,
        stripe,
        forwarder,
        database_name,
        database_url,
        storage_report: report,
    })
}

/// Picks the PostgreSQL server and returns an admin URL on it.
async fn choose_postgres(
    options: &SandboxOptions,
    resources: &mut Resources,
    report: &mut Vec<String>,
) -> Result<String, SandboxError> {
    if options.storage == StorageMode::Auto {
        if let Some(url) = &options.database_url {
            if !postgres::answers(url).await {
                return Err(SandboxError::GivenDatabaseDown);
            }
            report.push(format!(
                "PostgreSQL: the server of DATABASE_URL ({})",
                redact(url)
            ));
            return Ok(url.clone());
        }
        if postgres::answers(postgres::DEFAULT_LOCAL_URL).await {
            report.push(format!(
                "PostgreSQL: the local server on the default port ({})",
                postgres::DEFAULT_LOCAL_URL
            ));
            return Ok(postgres::DEFAULT_LOCAL_URL.to_owned());
        }
        report.push(
            "PostgreSQL: none given in DATABASE_URL and none on 127.0.0.1:5432, so a private one"
                .to_owned(),
        );
    }
    let binaries = PostgresBinaries::find()?;
    let run_as = RunAs::for_current_user();
    let dir = private_dir(&options.state_dir, "postgres", run_as, report)?;
    let server = PrivatePostgres::start(&binaries, &dir, run_as).await?;
    report.push(format!(
        "PostgreSQL: private server {} on 127.0.0.1:{} from {}, data in {} ({}{})",
        binaries.postgres.display(),
        server.port,
        binaries.initdb.parent().unwrap_or(Path::new("")).display(),
        server.dir.display(),
        if server.reused {
            "reused"
        } else {
            "new cluster"
        },
        if run_as.is_some() {
            ", running as user nobody because initdb refuses root"
        } else {
            ""
        }
    ));
    let url = server.url("postgres");
    resources.postgres = Some(server);
    Ok(url)
}

/// The state directory's `name` subdirectory, or the fallback one when the unprivileged user
/// cannot reach it.
fn private_dir(
    state_dir: &Path,
    name: &str,
    run_as: Option<RunAs>,
    report: &mut Vec<String>,
) -> Result<PathBuf, SandboxError> {
    std::fs::create_dir_all(state_dir).map_err(|source| SandboxError::Io {
        action: format!("creating {}", state_dir.display()),
        source,
    })?;
    match run_as {
        Some(user) if !user.can_reach(state_dir) => {
            let fallback = Path::new(FALLBACK_STATE_DIR).join(name);
            report.push(format!(
                "{} is out of reach for user nobody; using {} instead",
                state_dir.display(),
                fallback.display()
            ));
            Ok(fallback)
        }
        _ => Ok(state_dir.join(name)),
    }
}

/// Picks Redis and returns the URL for the bot.
async fn choose_redis(
    options: &SandboxOptions,
    resources: &mut Resources,
    report: &mut Vec<String>,
) -> Result<String, SandboxError> {
    if options.storage == StorageMode::Auto {
        if let Some(url) = &options.redis_url {
            report.push(format!("Redis: REDIS_URL ({})", redact(url)));
            return Ok(url.clone());
        }
        if redis::answers(redis::DEFAULT_LOCAL_ADDR).await {
            report.push(format!(
                "Redis: the local server on {}",
                redis::DEFAULT_LOCAL_ADDR
            ));
            return Ok(format!("redis://{}", redis::DEFAULT_LOCAL_ADDR));
        }
    }
    if let Some(binary) = redis::find_server() {
        let dir = options.state_dir.join("redis");
        let server = PrivateRedis::start(&binary, &dir).await?;
        report.push(format!(
            "Redis: private {} on 127.0.0.1:{} (nothing persisted)",
            binary.display(),
            server.port
        ));
        let url = server.url();
        resources.redis = Some(server);
        return Ok(url);
    }
    // A port nobody listens on: the bot reports "degraded" and rate-limits in-process.
    let port = postgres::free_port().map_err(|source| SandboxError::Io {
        action: "finding a free port".to_owned(),
        source,
    })?;
    report.push(
        "Redis: none found (no redis-server installed); the bot runs in its degraded mode \
         (health \"degraded\", rate limiting in-process)"
            .to_owned(),
    );
    Ok(format!("redis://127.0.0.1:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact("postgres://postgres:secret@127.0.0.1:5/db"),
            "postgres://postgres:***@127.0.0.1:5/db"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5/db"),
            "postgres://postgres@127.0.0.1:5/db"
        );
    }
}
