//! Whether the controller's watches work. The controller retries a failing watch (a revoked
//! permission, an API server that refuses it) forever with backoff, and its periodic re-checks go
//! on meanwhile, so the process looks busy while it no longer sees any change: `/healthz` fails
//! once watch errors have followed each other for [`UNHEALTHY_AFTER`], so the kubelet restarts
//! the operator and the failure is visible.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long watch errors must follow each other before `/healthz` fails.
pub const UNHEALTHY_AFTER: Duration = Duration::from_secs(300);
/// Errors further apart than this are separate incidents (the watcher's backoff stays well
/// below it while it retries).
pub const STREAK_GAP: Duration = Duration::from_secs(90);

#[derive(Debug, Default)]
pub struct WatchHealth {
    /// (first, last) error of the current streak.
    streak: Mutex<Option<(Instant, Instant)>>,
}

impl WatchHealth {
    /// A watch failed at `now`.
    pub fn error(&self, now: Instant) {
        if let Ok(mut streak) = self.streak.lock() {
            *streak = match *streak {
                Some((first, last)) if now.saturating_duration_since(last) <= STREAK_GAP => {
                    Some((first, now))
                }
                _ => Some((now, now)),
            };
        }
    }

    /// Whether the watches work at `now`: no streak of errors lasting [`UNHEALTHY_AFTER`] that
    /// is still going on.
    pub fn healthy(&self, now: Instant) -> bool {
        let Ok(streak) = self.streak.lock() else {
            return false;
        };
        match *streak {
            Some((first, last)) => {
                now.saturating_duration_since(last) > STREAK_GAP
                    || last.saturating_duration_since(first) < UNHEALTHY_AFTER
            }
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_errors_for_five_minutes_in_a_row_are_unhealthy_until_they_stop() {
        let health = WatchHealth::default();
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        assert!(health.healthy(start));
        // The watcher retries every 30 s.
        for s in (0..=270).step_by(30) {
            health.error(at(s));
            assert!(health.healthy(at(s)), "{s} s of errors");
        }
        health.error(at(300));
        assert!(!health.healthy(at(300)), "five minutes of errors");
        assert!(!health.healthy(at(360)));
        // No error for longer than the gap: the watch works again.
        assert!(health.healthy(at(300 + 91)));
        // A new error starts a new streak.
        health.error(at(600));
        assert!(health.healthy(at(600)));
    }
}
