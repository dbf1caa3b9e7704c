//! Shared by the sandbox's integration tests: a sandbox on the local servers with user ids no
//! other test uses, and a reader of the page's SSE stream.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::Value;
use toogoodtogo_sandbox::session::UserIds;
use toogoodtogo_sandbox::{Sandbox, SandboxOptions, StorageMode};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T = ()> = std::result::Result<T, Error>;

pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A directory of this test run under the cargo target dir's `sandbox/`, or under /var/tmp when
/// the unprivileged user a private server runs as cannot reach the target dir.
pub fn test_state_dir(name: &str) -> std::path::PathBuf {
    let mut base = toogoodtogo_sandbox::default_state_dir();
    let _ = std::fs::create_dir_all(&base);
    if toogoodtogo_sandbox::postgres::RunAs::for_current_user().is_some_and(|u| !u.can_reach(&base))
    {
        base = std::path::PathBuf::from("/var/tmp/toogoodtogo-sandbox-tests");
    }
    base.join(format!(
        "test-{name}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ))
}

/// Options for the local PostgreSQL and Redis, any free page port, and random user ids: tests
/// share Redis, where rate limits are counted per user.
pub fn options() -> SandboxOptions {
    let mut options = SandboxOptions::new(test_state_dir("local"));
    options.port = 0;
    options.storage = StorageMode::Auto;
    options.database_url = Some(admin_url());
    options.redis_url =
        Some(std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()));
    options.users =
        UserIds::from_base(1_000_000_000 + i64::from(rand::random::<u32>() % 1_000_000_000));
    options.echo_bot_logs = std::env::var_os("TEST_BOT_LOG").is_some();
    options
}

pub async fn start_sandbox() -> Result<Sandbox> {
    Ok(Sandbox::start(options()).await?)
}

/// Reads `/api/events` like the page's EventSource does.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
    ready: VecDeque<Value>,
}

impl EventStream {
    pub async fn open(base_url: &str, after: u64) -> Result<Self> {
        let response = reqwest::Client::new()
            .get(format!("{base_url}/api/events?after={after}"))
            .send()
            .await?
            .error_for_status()?;
        Ok(Self {
            response,
            buffer: String::new(),
            ready: VecDeque::new(),
        })
    }

    /// The next entry, waiting up to 20 s.
    pub async fn next(&mut self) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(entry) = self.ready.pop_front() {
                return Ok(entry);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .map_err(|_| "no event within 20 s")??
                .ok_or("the event stream ended")?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let data: String = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if !data.is_empty() {
                    self.ready.push_back(serde_json::from_str(&data)?);
                }
            }
        }
    }

    /// Skips entries until one matches; the error lists what was skipped.
    pub async fn next_matching(&mut self, matches: impl Fn(&Value) -> bool) -> Result<Value> {
        let mut skipped = Vec::new();
        loop {
            let entry = match self.next().await {
                Ok(entry) => entry,
                Err(error) => return Err(format!("{error}; skipped: {skipped:#?}").into()),
            };
            if matches(&entry) {
                return Ok(entry);
            }
            skipped.push(entry);
        }
    }
}
