//! Redis: disposable, ephemeral state (rate-limit counters). The bot keeps serving while Redis is
//! down, so the connection is made in the background and every call is bounded in time.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio_util::sync::CancellationToken;

use crate::config::Secret;

/// How long any single Redis call may take before the caller falls back.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("invalid REDIS_URL: {0}")]
    InvalidUrl(#[source] redis::RedisError),
    #[error("Redis is not connected")]
    NotConnected,
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Redis error: {0}")]
    Redis(#[from] redis::RedisError),
}

pub struct Redis {
    client: redis::Client,
    manager: OnceLock<ConnectionManager>,
}

impl Redis {
    pub fn new(url: &Secret) -> Result<Arc<Self>, CacheError> {
        let client = redis::Client::open(url.expose()).map_err(CacheError::InvalidUrl)?;
        Ok(Arc::new(Self {
            client,
            manager: OnceLock::new(),
        }))
    }

    /// Connects in the background, retrying until it succeeds or `shutdown`. Once connected, the
    /// connection manager reconnects on its own.
    pub fn connect_in_background(self: &Arc<Self>, shutdown: CancellationToken) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(2)))
                .set_response_timeout(Some(Duration::from_secs(1)))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_secs(2));
            let mut delay = Duration::from_millis(500);
            loop {
                let attempt = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    attempt = this.client.get_connection_manager_with_config(config.clone()) => attempt,
                };
                match attempt {
                    Ok(manager) => {
                        let _ = this.manager.set(manager);
                        tracing::info!("connected to Redis");
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "Redis not reachable; rate limiting runs in-process");
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(delay) => {}
                        }
                        delay = (delay * 2).min(Duration::from_secs(10));
                    }
                }
            }
        });
    }

    pub fn connection(&self) -> Result<ConnectionManager, CacheError> {
        self.manager.get().cloned().ok_or(CacheError::NotConnected)
    }

    /// Runs a command with the call timeout.
    pub async fn run<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Pipeline,
    ) -> Result<T, CacheError> {
        let mut conn = self.connection()?;
        match tokio::time::timeout(CALL_TIMEOUT, cmd.query_async(&mut conn)).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(CacheError::Timeout(CALL_TIMEOUT)),
        }
    }

    /// Round-trip time of a PING.
    pub async fn ping(&self, timeout: Duration) -> Result<Duration, CacheError> {
        let mut conn = self.connection()?;
        let started = Instant::now();
        let ping = async { redis::cmd("PING").query_async::<String>(&mut conn).await };
        match tokio::time::timeout(timeout, ping).await {
            Ok(Ok(_)) => Ok(started.elapsed()),
            Ok(Err(error)) => Err(error.into()),
            Err(_) => Err(CacheError::Timeout(timeout)),
        }
    }
}
