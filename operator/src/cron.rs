//! Standard five-field cron expressions (minute hour day-of-month month day-of-week, UTC):
//! numbers, `*`, lists `a,b`, ranges `a-b` and steps `*/n`, `a-b/n`. Enough to ask "was a
//! scheduled time passed between two instants", which is all secret rotation needs.

use k8s_openapi::jiff::Timestamp;
use k8s_openapi::jiff::tz::TimeZone;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron expression {expression:?}: {reason}")]
pub struct CronError {
    pub expression: String,
    pub reason: String,
}

/// A parsed expression: the allowed values of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    /// Day-of-month and day-of-week both restricted: cron matches either.
    either_day: bool,
}

fn field(text: &str, min: u32, max: u32) -> Result<Vec<bool>, String> {
    let mut allowed = vec![false; max as usize + 1];
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (
                range,
                step.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("bad step in {part:?}"))?,
            ),
            None => (part, 1),
        };
        let (from, to) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a = a
                .parse::<u32>()
                .map_err(|_| format!("bad range {part:?}"))?;
            let b = b
                .parse::<u32>()
                .map_err(|_| format!("bad range {part:?}"))?;
            (a, b)
        } else {
            let value = range
                .parse::<u32>()
                .map_err(|_| format!("bad value {part:?}"))?;
            (value, if part.contains('/') { max } else { value })
        };
        if from < min || to > max || from > to {
            return Err(format!("{part:?} is outside {min}-{max}"));
        }
        for value in (from..=to).step_by(step as usize) {
            allowed[value as usize] = true;
        }
    }
    Ok(allowed)
}

impl Schedule {
    pub fn parse(expression: &str) -> Result<Self, CronError> {
        let error = |reason: String| CronError {
            expression: expression.to_owned(),
            reason,
        };
        let expanded = match expression.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields.as_slice() else {
            return Err(error(format!("{} fields, expected 5", fields.len())));
        };
        let mut weekdays = field(weekday, 0, 7).map_err(error)?;
        // 7 is Sunday too.
        if weekdays[7] {
            weekdays[0] = true;
        }
        Ok(Self {
            minutes: field(minute, 0, 59).map_err(error)?,
            hours: field(hour, 0, 23).map_err(error)?,
            days: field(day, 1, 31).map_err(error)?,
            months: field(month, 1, 12).map_err(error)?,
            weekdays,
            either_day: *day != "*" && *weekday != "*",
        })
    }

    fn matches(&self, at: Timestamp) -> bool {
        let t = at.to_zoned(TimeZone::UTC);
        let index = |v: i8| usize::try_from(v).unwrap_or(usize::MAX);
        let day = self.days.get(index(t.day())) == Some(&true);
        let weekday = self
            .weekdays
            .get(index(t.weekday().to_sunday_zero_offset()))
            == Some(&true);
        let day_ok = if self.either_day {
            day || weekday
        } else {
            day && weekday
        };
        self.minutes.get(index(t.minute())) == Some(&true)
            && self.hours.get(index(t.hour())) == Some(&true)
            && self.months.get(index(t.month())) == Some(&true)
            && day_ok
    }

    /// Whether a scheduled minute lies in `(after, until]` (seconds since the epoch). Looks at
    /// most a year back.
    pub fn passed_between(&self, after: i64, until: i64) -> bool {
        let start = after.max(until - 366 * 86_400);
        // The first whole minute after `start`.
        let mut minute = (start.div_euclid(60) + 1) * 60;
        while minute <= until {
            if Timestamp::from_second(minute).is_ok_and(|t| self.matches(t)) {
                return true;
            }
            minute += 60;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> i64 {
        rfc3339
            .parse::<Timestamp>()
            .map(|t| t.as_second())
            .unwrap_or_default()
    }

    fn schedule(expression: &str) -> Schedule {
        Schedule::parse(expression).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_daily_schedule_passes_once_a_day() {
        let nightly = schedule("0 3 * * *");
        assert!(nightly.passed_between(at("2026-11-29T02:59:00Z"), at("2026-11-29T03:00:00Z")));
        assert!(!nightly.passed_between(at("2026-11-29T03:00:00Z"), at("2026-11-30T02:59:59Z")));
        assert!(nightly.passed_between(at("2026-11-29T03:00:00Z"), at("2026-11-30T03:00:00Z")));
    }

    #[test]
    fn lists_ranges_steps_and_weekdays() {
        // Mondays (2026-11-30 is a Monday) at 04:30.
        let monday = schedule("30 4 * * 1");
        assert!(!monday.passed_between(at("2026-11-29T00:00:00Z"), at("2026-11-30T04:29:00Z")));
        assert!(monday.passed_between(at("2026-11-29T00:00:00Z"), at("2026-11-30T04:30:00Z")));
        let sunday = schedule("0 0 * * 7");
        assert!(sunday.passed_between(at("2026-11-28T23:00:00Z"), at("2026-11-29T00:00:00Z")));
        let quarterly = schedule("0 0 1 1,4,7,10 *");
        assert!(!quarterly.passed_between(at("2026-01-02T00:00:00Z"), at("2026-03-31T23:59:00Z")));
        assert!(quarterly.passed_between(at("2026-01-02T00:00:00Z"), at("2026-04-01T00:00:00Z")));
        let every_six_hours = schedule("0 */6 * * *");
        assert!(
            every_six_hours.passed_between(at("2026-11-29T05:00:00Z"), at("2026-11-29T06:00:00Z"))
        );
        assert!(
            !every_six_hours.passed_between(at("2026-11-29T06:00:00Z"), at("2026-11-29T11:59:00Z"))
        );
        let weekdays = schedule("0 9 * * 1-5");
        assert!(!weekdays.passed_between(at("2026-11-28T10:00:00Z"), at("2026-11-29T23:00:00Z")));
    }

    #[test]
    fn day_of_month_or_day_of_week_when_both_are_set() {
        // The 15th, or any Monday.
        let either = schedule("0 0 15 * 1");
        assert!(either.passed_between(at("2026-11-29T12:00:00Z"), at("2026-11-30T00:00:00Z")));
        assert!(either.passed_between(at("2026-12-14T12:00:00Z"), at("2026-12-15T00:00:00Z")));
    }

    #[test]
    fn macros_are_understood() {
        assert_eq!(schedule("@daily"), schedule("0 0 * * *"));
        assert_eq!(schedule("@weekly"), schedule("0 0 * * 0"));
    }

    #[test]
    fn bad_expressions_are_refused_with_the_reason() {
        for bad in [
            "",
            "0 3 * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "*/0 * * * *",
            "a * * * *",
            "5-1 * * * *",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Schedule::parse("0 3 * *").err().map(|e| e.reason),
            Some("4 fields, expected 5".to_owned())
        );
    }
}
