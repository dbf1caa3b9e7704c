//! Money, numbers and dates as a language writes them. Day and month names and the decimal and
//! grouping separators come from the POSIX locale named by the language's `locale` message
//! (glibc's locale data, through chrono's `unstable-locales` and `pure-rust-locales`); the
//! patterns (`format-*`) and the place of the currency (`money`) are messages too, so a
//! translator controls them.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use pure_rust_locales::{Locale, locale_match};

use super::args;
use super::fluent::Language;

/// The POSIX locale of a language; British English when it names none that is known.
fn locale(lang: &Language) -> Locale {
    Locale::try_from(lang.text("locale")).unwrap_or(Locale::en_GB)
}

/// `minor` units with `digits` decimals: `1.234,50` (de), `1,234.50` (en).
pub fn decimal(lang: &Language, minor: i64, digits: u32) -> String {
    let locale = locale(lang);
    let point = locale_match!(locale => LC_NUMERIC::DECIMAL_POINT);
    let separator = locale_match!(locale => LC_NUMERIC::THOUSANDS_SEP);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = 10_u64.pow(digits);
    let whole = group(abs / scale, separator);
    if digits == 0 {
        return format!("{sign}{whole}");
    }
    format!(
        "{sign}{whole}{point}{:0width$}",
        abs % scale,
        width = digits as usize
    )
}

/// Digits in groups of three.
fn group(value: u64, separator: &str) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push_str(separator);
        }
        grouped.push(digit);
    }
    grouped
}

/// An amount of money: `EUR 4.50` (en), `4,50 €` (de).
pub fn money(lang: &Language, minor: i64, currency: &str) -> String {
    let digits = crate::marketplace::money::minor_digits(currency);
    let amount = decimal(lang, minor, digits);
    lang.format(
        "money",
        &args!["amount" => amount, "currency" => currency.to_owned()],
    )
}

/// A number with one decimal, e.g. a rating: `4.5` (en), `4,5` (de).
pub fn one_decimal(lang: &Language, value: f64) -> String {
    decimal(lang, (value * 10.0).round() as i64, 1)
}

/// Coordinates as the admins compare them; the same in every language.
pub fn coordinates(latitude: f64, longitude: f64) -> String {
    format!("{latitude:.5}, {longitude:.5}")
}

/// A time of day: `18:30`.
pub fn time(lang: &Language, at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format_localized(lang.text("format-time"), locale(lang))
        .to_string()
}

/// A day with its weekday: `Mon 7 Dec` (en), `Mo., 7. Dez.` (de).
pub fn weekday_date(lang: &Language, date: NaiveDate) -> String {
    date.format_localized(lang.text("format-weekday-date"), locale(lang))
        .to_string()
}

/// A day without the year: `7 Dec` (en), `7. Dez.` (de).
pub fn day_month(lang: &Language, at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format_localized(lang.text("format-day-month"), locale(lang))
        .to_string()
}

/// A day and time: `7 Dec 2026, 18:30` (en), `7. Dez. 2026, 18:30` (de).
pub fn date_time(lang: &Language, at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format_localized(lang.text("format-date-time"), locale(lang))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::texts::for_language;

    fn lang(code: &str) -> &'static Language {
        for_language(Some(code)).lang
    }

    #[test]
    fn money_follows_the_language() {
        assert_eq!(money(lang("en"), 450, "EUR"), "EUR 4.50");
        assert_eq!(money(lang("de"), 450, "EUR"), "4,50 €");
        assert_eq!(money(lang("de"), 123_450, "EUR"), "1.234,50 €");
        assert_eq!(money(lang("en"), 123_450, "EUR"), "EUR 1,234.50");
        assert_eq!(money(lang("de"), 500, "JPY"), "500 JPY");
        assert_eq!(money(lang("en"), -5, "EUR"), "EUR -0.05");
    }

    #[test]
    fn dates_use_the_language_s_names_and_a_24_hour_clock() {
        let monday = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(weekday_date(lang("en"), monday), "Mon 7 Dec");
        assert_eq!(weekday_date(lang("de"), monday), "Mo., 7. Dez.");
        let evening = DateTime::parse_from_rfc3339("2026-12-07T17:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(time(lang("en"), evening, berlin), "18:30");
        assert_eq!(time(lang("de"), evening, berlin), "18:30");
        assert_eq!(
            date_time(lang("de"), evening, berlin),
            "7. Dez. 2026, 18:30"
        );
        assert_eq!(day_month(lang("en"), evening, berlin), "7 Dec");
    }
}
