//! Per-user rate limiting: a fixed one-minute window counted in Redis, shared by all replicas;
//! an in-process window takes over while Redis is unreachable.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cache::Redis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// The first update over the limit: answer once, politely.
    SlowDown,
    /// Every further update in the window: drop silently.
    Drop,
}

impl Verdict {
    fn for_count(count: u64, limit: u32) -> Self {
        let limit = u64::from(limit);
        if count <= limit {
            Self::Allow
        } else if count == limit + 1 {
            Self::SlowDown
        } else {
            Self::Drop
        }
    }
}

pub struct RateLimiter {
    per_minute: u32,
    redis: Arc<Redis>,
    key_prefix: String,
    local: Mutex<LocalWindow>,
}

#[derive(Default)]
struct LocalWindow {
    minute: u64,
    counts: HashMap<i64, u64>,
}

fn current_minute() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 60)
        .unwrap_or(0)
}

impl RateLimiter {
    /// `per_minute` 0 disables rate limiting.
    pub fn new(per_minute: u32, redis: Arc<Redis>, key_prefix: impl Into<String>) -> Self {
        Self {
            per_minute,
            redis,
            key_prefix: key_prefix.into(),
            local: Mutex::new(LocalWindow::default()),
        }
    }

    pub async fn check(&self, user_id: i64) -> Verdict {
        if self.per_minute == 0 {
            return Verdict::Allow;
        }
        let minute = current_minute();
        let key = format!("{}rl:{user_id}:{minute}", self.key_prefix);
        let mut pipe = redis::pipe();
        pipe.atomic().incr(&key, 1u64).expire(&key, 120).ignore();
        let count = match self.redis.run::<(u64,)>(&pipe).await {
            Ok((count,)) => count,
            Err(error) => {
                tracing::debug!(%error, "rate limit falls back to the in-process window");
                self.count_locally(user_id, minute)
            }
        };
        Verdict::for_count(count, self.per_minute)
    }

    fn count_locally(&self, user_id: i64, minute: u64) -> u64 {
        let mut window = self
            .local
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if window.minute != minute {
            window.minute = minute;
            window.counts.clear();
        }
        let count = window.counts.entry(user_id).or_insert(0);
        *count += 1;
        *count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn answers_once_over_the_limit_then_drops() {
        assert_eq!(Verdict::for_count(3, 3), Verdict::Allow);
        assert_eq!(Verdict::for_count(4, 3), Verdict::SlowDown);
        assert_eq!(Verdict::for_count(5, 3), Verdict::Drop);
    }

    #[tokio::test]
    async fn without_redis_the_in_process_window_limits() {
        // Nothing listens on port 1: Redis never connects.
        let redis = Redis::new(&Secret::new("redis://127.0.0.1:1")).unwrap();
        let limiter = RateLimiter::new(2, redis, "test:");
        let verdicts = [
            limiter.check(9).await,
            limiter.check(9).await,
            limiter.check(9).await,
            limiter.check(9).await,
            limiter.check(10).await,
        ];
        assert_eq!(
            verdicts,
            [
                Verdict::Allow,
                Verdict::Allow,
                Verdict::SlowDown,
                Verdict::Drop,
                Verdict::Allow
            ]
        );
    }
}
