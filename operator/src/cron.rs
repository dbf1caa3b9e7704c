//! Cron expressions as a Kubernetes CronJob reads them: five fields (minute hour day-of-month
//! month day-of-week, UTC), numbers and names (`MON`, `JAN`), `*`, lists, ranges, steps, `?`, and
//! the `@daily` family; day-of-month and day-of-week both restricted means either. Parsing and
//! the search for the next run are croner's; this module only refuses what croner accepts but a
//! CronJob would not (seconds, years, `L`, `W`, `#`), so that a schedule the operator accepts is
//! one the API server accepts too.

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron expression {expression:?}: {reason}")]
pub struct CronError {
    pub expression: String,
    pub reason: String,
}

/// A parsed expression.
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
}

const NAMES: [&str; 19] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", "SUN",
    "MON", "TUE", "WED", "THU", "FRI", "SAT",
];

/// croner's extensions that robfig/cron (the CronJob controller's parser) does not know.
fn extension_in(field: &str) -> Option<char> {
    let mut rest = field.to_ascii_uppercase();
    for name in NAMES {
        rest = rest.replace(name, "");
    }
    rest.chars().find(|c| matches!(c, 'L' | 'W' | '#'))
}

impl Schedule {
    pub fn parse(expression: &str) -> Result<Self, CronError> {
        let error = |reason: String| CronError {
            expression: expression.to_owned(),
            reason,
        };
        let trimmed = expression.trim();
        if !trimmed.starts_with('@') {
            let fields: Vec<&str> = trimmed.split_whitespace().collect();
            if fields.len() != 5 {
                return Err(error(format!("{} fields, expected 5", fields.len())));
            }
            if let Some(extension) = fields.iter().find_map(|f| extension_in(f)) {
                return Err(error(format!(
                    "{extension:?} is not understood by CronJobs"
                )));
            }
        }
        CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(trimmed)
            .map(|cron| Self { cron })
            .map_err(|e| error(e.to_string()))
    }

    /// Whether a scheduled minute lies in `(after, until]` (seconds since the epoch). Looks at
    /// most a year back.
    pub fn passed_between(&self, after: i64, until: i64) -> bool {
        let start = after.max(until - 366 * 86_400);
        let Some(start) = DateTime::<Utc>::from_timestamp(start, 0) else {
            return false;
        };
        self.cron
            .find_next_occurrence(&start, false)
            .is_ok_and(|next| next.timestamp() <= until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .map(|t| t.timestamp())
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
    fn macros_and_names_are_understood_as_cronjobs_understand_them() {
        let daily = schedule("@daily");
        assert!(daily.passed_between(at("2026-11-29T23:59:00Z"), at("2026-11-30T00:00:00Z")));
        assert!(!daily.passed_between(at("2026-11-30T00:00:00Z"), at("2026-11-30T23:59:00Z")));
        // 2026-11-30 is a Monday; names are case-insensitive as in robfig/cron.
        let monday_in_november = schedule("30 4 * nov mon");
        assert!(
            monday_in_november
                .passed_between(at("2026-11-29T00:00:00Z"), at("2026-11-30T04:30:00Z"))
        );
        assert!(
            !monday_in_november
                .passed_between(at("2026-12-01T00:00:00Z"), at("2026-12-07T04:29:00Z"))
        );
        assert!(
            schedule("0 3 ? * SUN")
                .passed_between(at("2026-11-28T12:00:00Z"), at("2026-11-29T03:00:00Z"))
        );
    }

    #[test]
    fn a_schedule_that_never_comes_within_a_year_never_passes() {
        // February 30th.
        let never = schedule("0 0 30 2 *");
        assert!(!never.passed_between(at("2026-01-01T00:00:00Z"), at("2026-12-31T00:00:00Z")));
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
            // croner's extensions a CronJob refuses.
            "0 3 L * *",
            "0 3 15W * *",
            "0 3 * * 5#2",
            "0 0 3 * * *",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Schedule::parse("0 3 * *").err().map(|e| e.reason),
            Some("4 fields, expected 5".to_owned())
        );
    }
}
