//! The amounts Telegram accepts in an invoice, per currency. Telegram refuses `sendInvoice`
//! below a minimum (about US$1) and above a maximum (about US$10,000) that it publishes per
//! currency in minor units.
//!
//! Source: <https://core.telegram.org/bots/payments/currencies.json> (`min_amount`,
//! `max_amount`). Telegram adjusts them to exchange rates from time to time; refresh this table
//! from that file when it moves. A currency missing here is one Telegram does not invoice in.

use super::input::{Field, Invalid, Problem};

/// (ISO 4217 code, minimum, maximum), in minor units, sorted by code.
const LIMITS: &[(&str, i64, i64)] = &[
    ("AUD", 139, 1_392_750),
    ("BGN", 171, 1_716_850),
    ("CAD", 132, 1_321_950),
    ("CHF", 99, 993_220),
    ("CZK", 2_251, 22_510_978),
    ("DKK", 654, 6_545_403),
    ("EUR", 87, 877_155),
    ("GBP", 75, 757_605),
    ("HUF", 27_844, 278_440_341),
    ("JPY", 109, 1_095_549),
    ("NOK", 851, 8_510_100),
    ("NZD", 146, 1_461_850),
    ("PLN", 376, 3_764_026),
    ("RON", 417, 4_172_003),
    ("SEK", 904, 9_047_896),
    ("USD", 100, 1_000_000),
];

/// Why Telegram would refuse an invoice amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceAmountError {
    #[error("Telegram does not take payments in this currency")]
    UnsupportedCurrency,
    #[error("below Telegram's minimum of {min} minor units")]
    BelowMinimum { min: i64 },
    #[error("above Telegram's maximum of {max} minor units")]
    AboveMaximum { max: i64 },
}

/// Telegram's (minimum, maximum) for `currency`, in minor units.
pub fn limits(currency: &str) -> Option<(i64, i64)> {
    LIMITS
        .binary_search_by(|(code, _, _)| code.cmp(&currency))
        .ok()
        .map(|i| (LIMITS[i].1, LIMITS[i].2))
}

/// Whether Telegram accepts an invoice of `amount_minor` in `currency`.
pub fn check(amount_minor: i64, currency: &str) -> Result<(), InvoiceAmountError> {
    let (min, max) = limits(currency).ok_or(InvoiceAmountError::UnsupportedCurrency)?;
    if amount_minor < min {
        Err(InvoiceAmountError::BelowMinimum { min })
    } else if amount_minor > max {
        Err(InvoiceAmountError::AboveMaximum { max })
    } else {
        Ok(())
    }
}

/// The refusal of a unit price that an in-chat-only business could never invoice.
pub fn price_refusal(price_minor: i64, currency: &str) -> Option<Invalid> {
    let (min, max) = limits(currency)?;
    check(price_minor, currency).err().map(|_| {
        Invalid::new(
            Field::Price,
            Problem::OutsideInvoiceLimits {
                min,
                max,
                digits: super::money::minor_digits(currency),
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_so_that_lookups_find_every_currency() {
        assert!(LIMITS.windows(2).all(|w| w[0].0 < w[1].0));
        for (code, min, max) in LIMITS {
            assert_eq!(limits(code), Some((*min, *max)));
            assert!(min < max, "{code}");
        }
    }

    #[test]
    fn amounts_outside_telegrams_range_are_refused_with_the_limit() {
        assert_eq!(
            check(1, "EUR"),
            Err(InvoiceAmountError::BelowMinimum { min: 87 })
        );
        assert_eq!(check(87, "EUR"), Ok(()));
        assert_eq!(check(450, "EUR"), Ok(()));
        assert_eq!(check(877_155, "EUR"), Ok(()));
        assert_eq!(
            check(877_156, "EUR"),
            Err(InvoiceAmountError::AboveMaximum { max: 877_155 })
        );
        assert_eq!(
            check(500, "XYZ"),
            Err(InvoiceAmountError::UnsupportedCurrency)
        );
    }
}
