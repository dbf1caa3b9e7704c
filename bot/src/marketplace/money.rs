//! Money as integer minor units of an ISO 4217 currency, never floating point.

use super::input::{Field, Invalid, Problem};

/// The largest amount accepted for one unit, in major units (a guard against typos).
const MAX_MAJOR: i64 = 100_000;

/// Digits after the decimal point in `currency` (ISO 4217 minor units).
pub fn minor_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// Parses an amount such as `4`, `4.5`, `4,50` or `EUR 4.50` into minor units. Must be > 0.
pub fn parse_amount(input: &str, currency: &str, field: Field) -> Result<i64, Invalid> {
    let format_error = || Invalid::new(field, Problem::Format);
    let cleaned = input.trim();
    let cleaned = cleaned
        .strip_prefix(currency)
        .or_else(|| cleaned.strip_suffix(currency))
        .unwrap_or(cleaned)
        .trim()
        .trim_start_matches(['€', '$', '£'])
        .trim_end_matches(['€', '$', '£'])
        .trim();
    let (whole, fraction) = match cleaned.split_once(['.', ',']) {
        Some((_, "")) => return Err(format_error()),
        Some((whole, fraction)) => (whole, fraction),
        None => (cleaned, ""),
    };
    let digits = minor_digits(currency) as usize;
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || fraction.len() > digits {
        return Err(format_error());
    }
    if whole.len() > 7 {
        return Err(Invalid::new(field, Problem::TooLarge));
    }
    let whole: i64 = whole.parse().map_err(|_| format_error())?;
    if whole > MAX_MAJOR {
        return Err(Invalid::new(field, Problem::TooLarge));
    }
    let scale = 10_i64.pow(digits as u32);
    let fraction_value: i64 = if fraction.is_empty() {
        0
    } else {
        let padded = format!("{fraction:0<digits$}");
        padded.parse().map_err(|_| format_error())?
    };
    let minor = whole * scale + fraction_value;
    if minor <= 0 {
        return Err(Invalid::new(field, Problem::NotPositive));
    }
    Ok(minor)
}

/// `EUR 4.50`, `JPY 500`.
pub fn format_amount(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    if digits == 0 {
        return format!("{currency} {minor}");
    }
    let scale = 10_i64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = scale.unsigned_abs();
    format!(
        "{currency} {sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = digits as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_to_minor_units_without_floats() {
        let parse = |s| parse_amount(s, "EUR", Field::Price);
        assert_eq!(parse("4"), Ok(400));
        assert_eq!(parse("4.5"), Ok(450));
        assert_eq!(parse("4,50"), Ok(450));
        assert_eq!(parse("EUR 12.99"), Ok(1299));
        assert_eq!(parse("€3"), Ok(300));
        assert_eq!(parse("0.10"), Ok(10));
        assert_eq!(parse("0").unwrap_err().problem, Problem::NotPositive);
        for bad in ["", "abc", "4.555", "-4", "4.", "1.2.3", " . "] {
            assert_eq!(parse(bad).unwrap_err().problem, Problem::Format, "{bad:?}");
        }
        assert_eq!(parse("100001").unwrap_err().problem, Problem::TooLarge);
        assert_eq!(parse_amount("500", "JPY", Field::Price), Ok(500));
        assert!(parse_amount("5.5", "JPY", Field::Price).is_err());
        assert_eq!(parse_amount("1.234", "KWD", Field::Price), Ok(1234));
    }

    #[test]
    fn amounts_format_with_the_currency_code() {
        assert_eq!(format_amount(450, "EUR"), "EUR 4.50");
        assert_eq!(format_amount(5, "EUR"), "EUR 0.05");
        assert_eq!(format_amount(1200, "USD"), "USD 12.00");
        assert_eq!(format_amount(500, "JPY"), "JPY 500");
        assert_eq!(format_amount(1234, "KWD"), "KWD 1.234");
    }
}
