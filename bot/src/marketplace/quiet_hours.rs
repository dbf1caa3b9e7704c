//! Quiet hours: a daily span in the bot's TIMEZONE during which alerts wait. A span may cross
//! midnight (22:00–07:00).

use chrono::{DateTime, Duration, Timelike, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// Minutes after local midnight.
    pub start_minute: i32,
    pub end_minute: i32,
}

impl QuietHours {
    /// The presets /settings offers.
    pub const PRESETS: [Self; 3] = [
        Self::new(22 * 60, 7 * 60),
        Self::new(23 * 60, 8 * 60),
        Self::new(21 * 60, 9 * 60),
    ];

    pub const fn new(start_minute: i32, end_minute: i32) -> Self {
        Self {
            start_minute,
            end_minute,
        }
    }

    pub fn from_columns(start: Option<i32>, end: Option<i32>) -> Option<Self> {
        match (start, end) {
            (Some(start), Some(end)) if start != end => Some(Self::new(start, end)),
            _ => None,
        }
    }

    fn contains(self, minute: i32) -> bool {
        if self.start_minute < self.end_minute {
            (self.start_minute..self.end_minute).contains(&minute)
        } else {
            minute >= self.start_minute || minute < self.end_minute
        }
    }

    /// When an alert raised at `now` may be sent: now, or when the quiet hours end.
    pub fn release_time(self, now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let local = now.with_timezone(&tz);
        let minute = (local.hour() * 60 + local.minute()) as i32;
        if !self.contains(minute) {
            return now;
        }
        let wait = (self.end_minute - minute).rem_euclid(24 * 60);
        // Whole minutes from the start of the current minute.
        now - Duration::seconds(i64::from(local.second())) + Duration::minutes(i64::from(wait))
    }

    /// "22:00–07:00".
    pub fn describe(self) -> String {
        format!(
            "{:02}:{:02}–{:02}:{:02}",
            self.start_minute / 60,
            self.start_minute % 60,
            self.end_minute / 60,
            self.end_minute % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn berlin(hour: u32, minute: u32) -> DateTime<Utc> {
        chrono_tz::Europe::Berlin
            .with_ymd_and_hms(2026, 11, 29, hour, minute, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn alerts_outside_quiet_hours_go_at_once() {
        let quiet = QuietHours::new(22 * 60, 7 * 60);
        let noon = berlin(12, 0);
        assert_eq!(quiet.release_time(noon, chrono_tz::Europe::Berlin), noon);
        assert_eq!(
            quiet.release_time(berlin(7, 0), chrono_tz::Europe::Berlin),
            berlin(7, 0)
        );
    }

    #[test]
    fn alerts_in_quiet_hours_wait_for_their_end_across_midnight() {
        let quiet = QuietHours::new(22 * 60, 7 * 60);
        let late = berlin(23, 30);
        assert_eq!(
            quiet.release_time(late, chrono_tz::Europe::Berlin),
            late + Duration::minutes(7 * 60 + 30)
        );
        let early = berlin(6, 15);
        assert_eq!(
            quiet.release_time(early, chrono_tz::Europe::Berlin),
            berlin(7, 0)
        );
    }

    #[test]
    fn daytime_spans_work_too() {
        let quiet = QuietHours::new(13 * 60, 15 * 60);
        assert_eq!(
            quiet.release_time(berlin(14, 0), chrono_tz::Europe::Berlin),
            berlin(15, 0)
        );
        assert_eq!(
            quiet.release_time(berlin(15, 0), chrono_tz::Europe::Berlin),
            berlin(15, 0)
        );
        assert_eq!(QuietHours::from_columns(Some(60), Some(60)), None);
        assert_eq!(quiet.describe(), "13:00–15:00");
    }
}
