//! Redis for the sandbox: one that already answers, a private `redis-server`, or none (the bot's
//! documented degraded mode: rate limiting runs in-process).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::process::{Echo, ManagedProcess, find_executable};

pub const DEFAULT_LOCAL_ADDR: &str = "127.0.0.1:6379";

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("{action} failed: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    #[error("process: {0}")]
    Process(#[from] crate::process::ProcessError),
    #[error("the private Redis did not answer within {timeout:?}:\n{output}")]
    NotStarted { timeout: Duration, output: String },
}

/// Whether a Redis server at `addr` (host:port) answers PING without a password.
pub async fn answers(addr: &str) -> bool {
    let ping = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        stream.write_all(b"PING\r\n").await.ok()?;
        let mut reply = [0u8; 16];
        let read = stream.read(&mut reply).await.ok()?;
        reply.get(..read).map(|r| r.starts_with(b"+PONG"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), ping).await,
        Ok(Some(true))
    )
}

/// The `redis-server` binary, if installed.
pub fn find_server() -> Option<PathBuf> {
    find_executable(
        "redis-server",
        &[PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")],
    )
}

/// A `redis-server` the sandbox started; nothing is persisted (Redis only holds rate-limit
/// counters).
pub struct PrivateRedis {
    process: ManagedProcess,
    pub port: u16,
}

impl PrivateRedis {
    pub async fn start(binary: &Path, dir: &Path) -> Result<Self, RedisError> {
        std::fs::create_dir_all(dir).map_err(|source| RedisError::Io {
            action: format!("creating {}", dir.display()),
            source,
        })?;
        let port = crate::postgres::free_port().map_err(|source| RedisError::Io {
            action: "finding a free port".to_owned(),
            source,
        })?;
        let mut command = Command::new(binary);
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir)
            .current_dir(dir);
        let mut process = ManagedProcess::spawn("redis", command, Echo::Quiet)?;
        let addr = format!("127.0.0.1:{port}");
        let timeout = Duration::from_secs(10);
        let deadline = tokio::time::Instant::now() + timeout;
        while !answers(&addr).await {
            if process.exited().is_some() || tokio::time::Instant::now() > deadline {
                return Err(RedisError::NotStarted {
                    timeout,
                    output: process.output.text(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self { process, port })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub async fn stop(self) -> Result<(), RedisError> {
        self.process.stop("TERM", Duration::from_secs(10)).await?;
        Ok(())
    }
}
