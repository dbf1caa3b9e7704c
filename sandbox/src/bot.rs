//! The real `toogoodtogo-bot` binary as a child process, configured only through its normal
//! environment: long polling against the Telegram fake, payments through the Stripe fake.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::process::{Echo, ManagedProcess};

pub const BOT_BINARY_NAME: &str = "toogoodtogo-bot";

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(
        "the bot binary {0} does not exist: build it first with `cargo build -p toogoodtogo-bot` \
         (`make run` builds it and starts the sandbox)"
    )]
    BinaryMissing(PathBuf),
    #[error("process: {0}")]
    Process(#[from] crate::process::ProcessError),
    #[error("the bot exited ({status}) before it was live; its last output:\n{output}")]
    Exited { status: String, output: String },
    #[error("the bot was not live within {timeout:?}; its last output:\n{output}")]
    NotLive { timeout: Duration, output: String },
    #[error("finding a free port for the bot failed: {0}")]
    Port(#[source] std::io::Error),
}

/// The bot binary next to `executable` (cargo puts all binaries of a profile in one directory;
/// test executables live one level deeper, in `deps/`).
pub fn binary_next_to(executable: &Path) -> PathBuf {
    let mut dir = executable
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(BOT_BINARY_NAME)
}

/// Where the bot binary is: `TOOGOODTOGO_BOT_BIN`, else next to the running executable.
pub fn default_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TOOGOODTOGO_BOT_BIN") {
        return PathBuf::from(path);
    }
    binary_next_to(&std::env::current_exe().unwrap_or_default())
}

pub struct BotSettings {
    pub binary: PathBuf,
    pub database_url: String,
    pub redis_url: String,
    pub telegram_api_url: String,
    pub token: String,
    pub admin_ids: Vec<i64>,
    pub echo_logs: bool,
    /// Payments in the chat, through the Stripe fake; `None` leaves them off.
    pub stripe: Option<StripeSettings>,
}

/// The bot's Stripe settings for the Stripe fake: a test provider token (Telegram only passes it
/// on; the Telegram fake accepts any), the fake's API key and URL, a webhook secret.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub provider_token: String,
    pub api_key: String,
    pub api_url: String,
    pub webhook_secret: String,
}

impl StripeSettings {
    /// Fresh test credentials for a Stripe fake at `api_url` (the fake must be started with
    /// [`Self::api_key`]).
    pub fn for_fake(api_url: String) -> Self {
        let random = || format!("{:032x}", rand::random::<u128>());
        Self {
            provider_token: "284685063:TEST:toogoodtogo-sandbox".to_owned(),
            api_key: format!("sk_test_sandbox_{}", random()),
            api_url,
            webhook_secret: format!("whsec_sandbox_{}", random()),
        }
    }
}

/// Variables passed on from the sandbox's own environment: they tune the bot without
/// changing where it connects.
const PASSED_ON: &[&str] = &[
    "LOG_LEVEL",
    "TIMEZONE",
    "CURRENCY",
    "PAYMENT_HOLD_MINUTES",
    "RATE_LIMIT_PER_MINUTE",
    "RUST_BACKTRACE",
];

/// The bot's environment. It starts empty so that nothing of the caller's production settings
/// leaks in; variables set to "" shadow a `.env` file the bot would otherwise read.
pub fn environment(settings: &BotSettings, port: u16) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = PASSED_ON
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), std::env::var(name).ok()?)))
        .collect();
    let admin_ids = settings
        .admin_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    for (name, value) in [
        ("DATABASE_URL", settings.database_url.clone()),
        ("REDIS_URL", settings.redis_url.clone()),
        ("TELEGRAM_BOT_TOKEN", settings.token.clone()),
        ("TELEGRAM_API_URL", settings.telegram_api_url.clone()),
        ("SECRET_KEY", format!("{:064x}", rand::random::<u128>())),
        ("SECRET_KEY_PREVIOUS", String::new()),
        ("BIND_ADDR", format!("127.0.0.1:{port}")),
        // Long polling: the page's actions become updates in the fake's getUpdates queue.
        ("WEBHOOK_URL", String::new()),
        ("WEBHOOK_SECRET_TOKEN", String::new()),
        ("ADMIN_TELEGRAM_IDS", admin_ids),
        ("MIGRATE_ON_START", "true".to_owned()),
        ("ENVIRONMENT", "sandbox".to_owned()),
        ("LOG_FORMAT", "pretty".to_owned()),
        ("SHUTDOWN_TIMEOUT", "5".to_owned()),
        ("INBOX_WORKERS", "4".to_owned()),
        ("DATABASE_MAX_CONNECTIONS", "16".to_owned()),
    ] {
        vars.insert(name.to_owned(), value);
    }
    // Payments only ever through the sandbox's Stripe fake, never a real provider: without it
    // the variables are set empty (payments off).
    let stripe = settings.stripe.clone();
    for (name, value) in [
        (
            "STRIPE_PROVIDER_TOKEN",
            stripe.as_ref().map(|s| s.provider_token.clone()),
        ),
        ("STRIPE_API_KEY", stripe.as_ref().map(|s| s.api_key.clone())),
        ("STRIPE_API_URL", stripe.as_ref().map(|s| s.api_url.clone())),
        (
            "STRIPE_WEBHOOK_SECRET",
            stripe.as_ref().map(|s| s.webhook_secret.clone()),
        ),
    ] {
        // Empty counts as unset (and shadows a `.env` file).
        vars.insert(name.to_owned(), value.unwrap_or_default());
    }
    vars
}

/// The running bot.
pub struct BotService {
    process: ManagedProcess,
    pub base_url: String,
}

impl BotService {
    /// Starts `serve` and waits until `/live` answers.
    pub async fn start(settings: &BotSettings, working_dir: &Path) -> Result<Self, BotError> {
        if !settings.binary.is_file() {
            return Err(BotError::BinaryMissing(settings.binary.clone()));
        }
        let port = crate::postgres::free_port().map_err(BotError::Port)?;
        let mut command = Command::new(&settings.binary);
        command
            .arg("serve")
            .env_clear()
            .envs(environment(settings, port))
            .current_dir(working_dir);
        let echo = if settings.echo_logs {
            Echo::Log
        } else {
            Echo::Quiet
        };
        let process = ManagedProcess::spawn("bot", command, echo)?;
        let mut bot = Self {
            process,
            base_url: format!("http://127.0.0.1:{port}"),
        };
        bot.wait_until_live(Duration::from_secs(60)).await?;
        Ok(bot)
    }

    async fn wait_until_live(&mut self, timeout: Duration) -> Result<(), BotError> {
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.process.exited() {
                return Err(BotError::Exited {
                    status: status.to_string(),
                    output: self.process.output.text(),
                });
            }
            let live = http
                .get(format!("{}/live", self.base_url))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if live.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(BotError::NotLive {
                    timeout,
                    output: self.process.output.text(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The exit status when the bot has exited on its own.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.process.exited()
    }

    pub fn output(&self) -> String {
        self.process.output.text()
    }

    /// SIGTERM: the bot's graceful shutdown (it finishes updates in hand).
    pub async fn stop(self) -> Result<Option<i32>, BotError> {
        Ok(self.process.stop("TERM", Duration::from_secs(10)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bot_binary_is_found_next_to_binaries_and_test_executables() {
        assert_eq!(
            binary_next_to(Path::new("/t/debug/toogoodtogo-sandbox")),
            PathBuf::from("/t/debug/toogoodtogo-bot")
        );
        assert_eq!(
            binary_next_to(Path::new("/t/debug/deps/sandbox-0123abcd")),
            PathBuf::from("/t/debug/toogoodtogo-bot")
        );
    }

    #[test]
    fn the_bot_long_polls_the_fake_and_pays_only_through_the_stripe_fake() {
        let mut settings = BotSettings {
            binary: PathBuf::from("/bin/true"),
            database_url: "postgres://db".to_owned(),
            redis_url: "redis://r".to_owned(),
            telegram_api_url: "http://127.0.0.1:1".to_owned(),
            token: "1:T".to_owned(),
            admin_ids: vec![3, 4],
            echo_logs: false,
            stripe: None,
        };
        let vars = environment(&settings, 9);
        assert_eq!(vars["WEBHOOK_URL"], "");
        assert_eq!(vars["STRIPE_API_KEY"], "");
        assert_eq!(vars["STRIPE_PROVIDER_TOKEN"], "");
        assert_eq!(vars["STRIPE_API_URL"], "");
        assert_eq!(vars["TELEGRAM_API_URL"], "http://127.0.0.1:1");
        assert_eq!(vars["ADMIN_TELEGRAM_IDS"], "3,4");
        assert_eq!(vars["BIND_ADDR"], "127.0.0.1:9");
        assert!(vars["SECRET_KEY"].len() >= 32);

        settings.stripe = Some(StripeSettings::for_fake("http://127.0.0.1:2".to_owned()));
        let vars = environment(&settings, 9);
        assert_eq!(vars["STRIPE_API_URL"], "http://127.0.0.1:2");
        assert!(vars["STRIPE_API_KEY"].starts_with("sk_test_sandbox_"));
        assert!(vars["STRIPE_PROVIDER_TOKEN"].contains(":TEST:"));
        assert!(vars["STRIPE_WEBHOOK_SECRET"].starts_with("whsec_"));
    }
}
