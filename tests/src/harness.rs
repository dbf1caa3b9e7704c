//! Runs the real `toogoodtogo-bot` binary as a separate process against a fresh PostgreSQL
//! database, real Redis and the Telegram fake, and gives tests the handles they need.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

pub const TEST_TOKEN: &str = "123456789:TEST-token-for-the-fake";
pub const TEST_SECRET_KEY: &str = "test-secret-key-0123456789abcdef0123456789";
pub const WEBHOOK_SECRET: &str = "webhook-secret-current";
pub const WEBHOOK_SECRET_PREVIOUS: &str = "webhook-secret-previous";

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The server the tests create their databases on.
pub fn admin_database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The bot binary next to the running test executable (`target/<profile>/`), unless
/// `TOOGOODTOGO_BOT_BIN` names another.
pub fn bot_binary() -> PathBuf {
    if let Ok(path) = std::env::var("TOOGOODTOGO_BOT_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("toogoodtogo-bot")
}

/// A fresh database, dropped when the value is dropped.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    admin_url: String,
}

fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

impl TestDatabase {
    pub async fn create() -> Result<Self, Error> {
        let admin_url = admin_database_url();
        let name = format!(
            "tgtg_test_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let admin = sqlx::PgPool::connect(&admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(Self {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        })
    }

    pub async fn pool(&self) -> Result<sqlx::PgPool, Error> {
        Ok(sqlx::postgres::PgPoolOptions::new()
            .max_connections(60)
            .connect(&self.url)
            .await?)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs outside async code; a short-lived runtime on its own thread does the I/O.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let admin = sqlx::PgPool::connect(&admin_url).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&admin)
                .await
                .ok()
            })
        });
        let _ = dropped.join();
    }
}

/// A free loopback port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Environment for one bot process. Starts from working defaults for tests.
#[derive(Debug, Clone)]
pub struct BotEnv {
    pub vars: BTreeMap<String, String>,
    pub port: u16,
}

impl BotEnv {
    /// Webhook mode against the fake, with a fresh port.
    pub fn new(database_url: &str, telegram_url: &str) -> Self {
        let port = free_port();
        let mut vars = BTreeMap::new();
        for (k, v) in [
            ("DATABASE_URL", database_url.to_owned()),
            ("REDIS_URL", redis_url()),
            ("TELEGRAM_BOT_TOKEN", TEST_TOKEN.to_owned()),
            ("TELEGRAM_API_URL", telegram_url.to_owned()),
            ("SECRET_KEY", TEST_SECRET_KEY.to_owned()),
            ("BIND_ADDR", format!("127.0.0.1:{port}")),
            ("WEBHOOK_URL", format!("http://127.0.0.1:{port}/webhook")),
            ("WEBHOOK_SECRET_TOKEN", WEBHOOK_SECRET.to_owned()),
            (
                "WEBHOOK_SECRET_TOKEN_PREVIOUS",
                WEBHOOK_SECRET_PREVIOUS.to_owned(),
            ),
            ("MIGRATE_ON_START", "true".to_owned()),
            ("INBOX_CLAIM_TIMEOUT", "2".to_owned()),
            ("SHUTDOWN_TIMEOUT", "10".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
            ("LOG_LEVEL", "info".to_owned()),
            ("ENVIRONMENT", "test".to_owned()),
        ] {
            vars.insert(k.to_owned(), v);
        }
        Self { vars, port }
    }

    pub fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        self.vars.insert(key.to_owned(), value.into());
        self
    }

    pub fn remove(mut self, key: &str) -> Self {
        self.vars.remove(key);
        self
    }

    /// Long polling: no webhook.
    pub fn polling(self) -> Self {
        self.remove("WEBHOOK_URL")
            .remove("WEBHOOK_SECRET_TOKEN")
            .remove("WEBHOOK_SECRET_TOKEN_PREVIOUS")
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Output of a finished bot command.
#[derive(Debug)]
pub struct CommandOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a bot subcommand to completion with exactly `vars` as its environment.
pub async fn run_command(
    args: &[&str],
    vars: &BTreeMap<String, String>,
) -> Result<CommandOutput, Error> {
    let output = Command::new(bot_binary())
        .args(args)
        .env_clear()
        .envs(vars)
        .kill_on_drop(true)
        .output()
        .await?;
    Ok(CommandOutput {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// A running bot process. Killed when dropped.
pub struct BotProcess {
    child: Child,
    pub env: BotEnv,
    log: Arc<Mutex<String>>,
    http: reqwest::Client,
}

impl BotProcess {
    /// Starts `serve` and waits until `/live` answers.
    pub async fn start(env: BotEnv) -> Result<Self, Error> {
        let mut child = Command::new(bot_binary())
            .arg("serve")
            .env_clear()
            .envs(&env.vars)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(stderr) = child.stderr.take() {
            let log = Arc::clone(&log);
            let echo = std::env::var_os("TEST_BOT_LOG").is_some();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if echo {
                        eprintln!("[bot] {line}");
                    }
                    if let Ok(mut log) = log.lock() {
                        log.push_str(&line);
                        log.push('\n');
                    }
                }
            });
        }
        let mut bot = Self {
            child,
            env,
            log,
            http: reqwest::Client::new(),
        };
        bot.wait_until_live(Duration::from_secs(40)).await?;
        Ok(bot)
    }

    async fn wait_until_live(&mut self, timeout: Duration) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!(
                    "bot exited with {status} before it was live:\n{}",
                    self.log()
                )
                .into());
            }
            if let Ok(response) = self.get("/live").await
                && response.status().is_success()
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("bot not live within {timeout:?}:\n{}", self.log()).into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.env.base_url())
    }

    pub fn webhook(&self) -> crate::driver::WebhookClient {
        crate::driver::WebhookClient::new(self.url("/webhook"), WEBHOOK_SECRET)
    }

    pub async fn get(&self, path: &str) -> reqwest::Result<reqwest::Response> {
        self.http
            .get(self.url(path))
            .timeout(Duration::from_secs(10))
            .send()
            .await
    }

    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGKILL: no chance to finish anything.
    pub async fn kill9(&mut self) -> Result<(), Error> {
        self.child.kill().await?;
        Ok(())
    }

    /// SIGTERM: the graceful shutdown path.
    pub async fn terminate(&mut self) -> Result<(), Error> {
        let pid = self.pid().ok_or("bot already exited")?;
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        if !status.success() {
            return Err("kill -TERM failed".into());
        }
        Ok(())
    }

    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<Option<i32>, Error> {
        let status = tokio::time::timeout(timeout, self.child.wait()).await??;
        Ok(status.code())
    }
}

/// A TCP proxy that a test can cut and restore, to make a dependency unreachable for real.
pub struct TcpProxy {
    pub addr: SocketAddr,
    /// Where new connections go; [`Self::retarget`] moves it (a failover's switch).
    target: Arc<Mutex<SocketAddr>>,
    enabled: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_connections();
    }
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let enabled = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let target = Arc::new(Mutex::new(target));
        let accept = {
            let enabled = Arc::clone(&enabled);
            let connections = Arc::clone(&connections);
            let target = Arc::clone(&target);
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !enabled.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let Ok(target) = target.lock().map(|t| *t) else {
                        continue;
                    };
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    if let Ok(mut list) = connections.lock() {
                        list.retain(|t| !t.is_finished());
                        list.push(task);
                    }
                }
            })
        };
        Ok(Self {
            addr,
            target,
            enabled,
            connections,
            accept,
        })
    }

    /// Sends new connections to `target` from now on (open ones stay where they are).
    pub fn retarget(&self, target: SocketAddr) {
        if let Ok(mut current) = self.target.lock() {
            *current = target;
        }
    }

    fn cut_connections(&self) {
        if let Ok(mut list) = self.connections.lock() {
            for task in list.drain(..) {
                task.abort();
            }
        }
    }

    /// Refuses new connections and drops the open ones.
    pub fn cut(&self) {
        self.enabled.store(false, Ordering::SeqCst);
        self.cut_connections();
    }

    pub fn restore(&self) {
        self.enabled.store(true, Ordering::SeqCst);
    }

    /// A postgres:// URL that goes through this proxy.
    pub fn postgres_url(&self, database_url: &str) -> String {
        let (scheme, rest) = database_url
            .split_once("://")
            .unwrap_or(("postgres", database_url));
        let (auth, host_and_path) = rest
            .rsplit_once('@')
            .map_or((None, rest), |(a, h)| (Some(a), h));
        let path = host_and_path.find('/').map_or("", |i| &host_and_path[i..]);
        match auth {
            Some(auth) => format!("{scheme}://{auth}@{}{path}", self.addr),
            None => format!("{scheme}://{}{path}", self.addr),
        }
    }
}

/// Polls `check` every 50 ms until it returns something or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Everything one end-to-end test needs: a fresh database, the Telegram fake and an update
/// factory. Bots are started from it with [`Stack::env`].
pub struct Stack {
    pub fake: crate::telegram_fake::FakeTelegram,
    pub updates: crate::driver::UpdateFactory,
    pub pool: sqlx::PgPool,
    pub db: TestDatabase,
}

impl Stack {
    pub async fn new() -> Result<Self, Error> {
        let db = TestDatabase::create().await?;
        let pool = db.pool().await?;
        let fake = crate::telegram_fake::FakeTelegram::start(TEST_TOKEN).await?;
        Ok(Self {
            fake,
            updates: crate::driver::UpdateFactory::starting_at(
                i64::from(rand::random::<u16>()) * 1000,
            ),
            pool,
            db,
        })
    }

    pub fn env(&self) -> BotEnv {
        BotEnv::new(&self.db.url, &self.fake.url())
    }

    pub async fn start_bot(&self) -> Result<BotProcess, Error> {
        BotProcess::start(self.env()).await
    }

    /// Waits until `count` updates have been processed, committed, and their replies handed to
    /// Telegram (replies go out after the commit), so checks of the database and of the fake's
    /// transcripts see everything the updates did.
    pub async fn wait_until_processed(&self, count: i64) -> Result<(), Error> {
        self.wait_for_updates(
            count,
            "SELECT count(*) FROM inbox_updates WHERE replied_at IS NOT NULL",
        )
        .await
    }

    /// Waits until `count` updates have been processed and committed, whether or not their
    /// replies went out (use it while Telegram hangs or fails).
    pub async fn wait_until_committed(&self, count: i64) -> Result<(), Error> {
        self.wait_for_updates(
            count,
            "SELECT count(*) FROM inbox_updates WHERE processed_at IS NOT NULL",
        )
        .await
    }

    async fn wait_for_updates(&self, count: i64, query: &'static str) -> Result<(), Error> {
        let done = eventually(Duration::from_secs(20), || async {
            let processed: i64 = sqlx::query_scalar(query).fetch_one(&self.pool).await.ok()?;
            (processed >= count).then_some(())
        })
        .await;
        done.ok_or_else(|| format!("{count} update(s) not processed in time").into())
    }
}

/// A user id no other test uses (tests share Redis, where rate limits are kept per user).
pub fn unique_user(first_name: &str) -> crate::driver::TestUser {
    let id = 1_000_000_000 + i64::from(rand::random::<u32>() % 1_000_000_000);
    crate::driver::TestUser::new(id, first_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_swap_only_the_database_name() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
    }
}
