//! Pickup windows, typed in the business's local time (`TIMEZONE`) and stored in UTC.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::input::{Field, Invalid, Problem};

/// How far ahead a pickup window may end.
pub const MAX_AHEAD: Duration = Duration::hours(48);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PickupWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl PickupWindow {
    /// Whether this window covers all of `other` (it starts no later and ends no earlier).
    pub fn contains(&self, other: &Self) -> bool {
        self.start <= other.start && self.end >= other.end
    }

    /// Checks the rules: start < end, end in the future, end at most 48 h ahead.
    pub fn new(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Self, Invalid> {
        let invalid = |problem| Invalid::new(Field::PickupWindow, problem);
        if end <= start {
            return Err(invalid(Problem::EndsBeforeStart));
        }
        if end <= now {
            return Err(invalid(Problem::AlreadyEnded));
        }
        if end > now + MAX_AHEAD {
            return Err(invalid(Problem::TooFarAhead));
        }
        Ok(Self { start, end })
    }

    pub fn is_open_at(&self, now: DateTime<Utc>) -> bool {
        now < self.end
    }
}

/// Parses `today 18:00-20:00`, `tomorrow 8-10:30`, `30.11. 18:00-20:00`, `2026-11-30 18:00-20:00`
/// or just `18:00-20:00` (today) in `tz`.
pub fn parse(input: &str, now: DateTime<Utc>, tz: Tz) -> Result<PickupWindow, Invalid> {
    let format_error = || Invalid::new(Field::PickupWindow, Problem::Format);
    let mut normalized = input.trim().to_lowercase().replace(['–', '—'], "-");
    while let Some(spaced) = normalized.find(" -").or_else(|| normalized.find("- ")) {
        normalized.replace_range(spaced..spaced + 2, "-");
    }
    let (day_part, times) = match normalized.rsplit_once(char::is_whitespace) {
        Some((day, times)) => (day.trim(), times.trim()),
        None => ("", normalized.as_str()),
    };
    let today = now.with_timezone(&tz).date_naive();
    let day = parse_day(day_part, today).ok_or_else(format_error)?;
    let (from, to) = times.split_once('-').ok_or_else(format_error)?;
    let start = parse_time(from).ok_or_else(format_error)?;
    let end = parse_time(to).ok_or_else(format_error)?;
    let start = local(tz, day, start).ok_or_else(format_error)?;
    let end = local(tz, day, end).ok_or_else(format_error)?;
    PickupWindow::new(start, end, now)
}

fn parse_day(text: &str, today: NaiveDate) -> Option<NaiveDate> {
    match text {
        // The words of every language the bot speaks: the example a user copies is in theirs.
        "" | "today" | "heute" => Some(today),
        "tomorrow" | "morgen" => today.succ_opt(),
        other => {
            if let Ok(date) = NaiveDate::parse_from_str(other, "%Y-%m-%d") {
                return Some(date);
            }
            let (day, month) = other.trim_end_matches('.').split_once(['.', '/'])?;
            let date =
                NaiveDate::from_ymd_opt(today.year(), month.parse().ok()?, day.parse().ok()?)?;
            // "2.1." typed on 31 December means next year.
            if date < today {
                NaiveDate::from_ymd_opt(today.year() + 1, date.month(), date.day())
            } else {
                Some(date)
            }
        }
    }
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    let (hour, minute) = text.split_once([':', '.']).unwrap_or((text, "0"));
    if hour.is_empty() || hour.len() > 2 || minute.len() > 2 {
        return None;
    }
    NaiveTime::from_hms_opt(hour.parse().ok()?, minute.parse().ok()?, 0)
}

/// A local wall-clock time as UTC; in a DST gap there is none, in the overlap the earlier wins.
fn local(tz: Tz, day: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&day.and_time(time))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// How a window reads to people: which local day it is on and its times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowDay {
    Today,
    Tomorrow,
    On(NaiveDate),
}

pub fn describe(window: &PickupWindow, now: DateTime<Utc>, tz: Tz) -> (WindowDay, String, String) {
    let start = window.start.with_timezone(&tz);
    let end = window.end.with_timezone(&tz);
    let today = now.with_timezone(&tz).date_naive();
    let day = if start.date_naive() == today {
        WindowDay::Today
    } else if Some(start.date_naive()) == today.succ_opt() {
        WindowDay::Tomorrow
    } else {
        WindowDay::On(start.date_naive())
    };
    (
        day,
        start.format("%H:%M").to_string(),
        end.format("%H:%M").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .map(|t| t.with_timezone(&Utc))
            .unwrap()
    }

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    #[test]
    fn windows_are_read_in_the_configured_time_zone() {
        let now = at("2026-11-29T10:00:00Z"); // 11:00 in Berlin
        let window = parse("today 18:00-20:00", now, BERLIN).unwrap();
        assert_eq!(window.start, at("2026-11-29T17:00:00Z"));
        assert_eq!(window.end, at("2026-11-29T19:00:00Z"));
        let tomorrow = parse("Tomorrow 8-10:30", now, BERLIN).unwrap();
        assert_eq!(tomorrow.start, at("2026-11-30T07:00:00Z"));
        assert_eq!(tomorrow.end, at("2026-11-30T09:30:00Z"));
        assert_eq!(parse("18:00–20:00", now, BERLIN).unwrap(), window);
        assert_eq!(parse("today 18:00 - 20:00", now, BERLIN).unwrap(), window);
        assert_eq!(
            parse("2026-11-29 18:00-20:00", now, BERLIN).unwrap(),
            window
        );
        assert_eq!(parse("29.11. 18:00-20:00", now, BERLIN).unwrap(), window);
        let (day, from, to) = describe(&tomorrow, now, BERLIN);
        assert_eq!(
            (day, from.as_str(), to.as_str()),
            (WindowDay::Tomorrow, "08:00", "10:30")
        );
    }

    #[test]
    fn each_rule_has_its_own_refusal() {
        let now = at("2026-11-29T10:00:00Z");
        let problem = |input| parse(input, now, BERLIN).unwrap_err().problem;
        assert_eq!(problem("today 20:00-18:00"), Problem::EndsBeforeStart);
        assert_eq!(problem("today 18:00-18:00"), Problem::EndsBeforeStart);
        assert_eq!(problem("today 07:00-09:00"), Problem::AlreadyEnded);
        assert_eq!(problem("2026-12-05 18:00-20:00"), Problem::TooFarAhead);
        for bad in [
            "evening",
            "today 18-",
            "today 25:00-26:00",
            "someday 18-20",
            "31.02. 8-9",
        ] {
            assert_eq!(problem(bad), Problem::Format, "{bad:?}");
        }
    }

    #[test]
    fn a_window_may_already_have_started() {
        let now = at("2026-11-29T17:30:00Z");
        let window = parse("today 18:00-20:00", now, BERLIN).unwrap();
        assert!(window.is_open_at(now));
        assert!(!window.is_open_at(at("2026-11-29T19:00:00Z")));
    }
}
