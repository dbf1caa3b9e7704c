//! Validation of what businesses type, one function per field. A refusal names the field and
//! the problem; `texts` turns it into a message with a correct example.

/// A field a business fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    BusinessName,
    Street,
    City,
    PostalCode,
    Phone,
    Logo,
    Location,
    Category,
    Title,
    Description,
    Photo,
    PickupWindow,
    Units,
    Price,
    OriginalValue,
    RejectionReason,
}

/// Why an answer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Shorter or longer than allowed (in characters).
    Length { min: usize, max: usize },
    /// Not in the expected shape (e.g. letters in a postal code, a text instead of a photo).
    Format,
    /// A number that must be at least one.
    NotPositive,
    /// The price must be lower than the original value.
    NotBelowOriginal,
    /// The pickup window ends before (or when) it starts.
    EndsBeforeStart,
    /// The pickup window has already ended.
    AlreadyEnded,
    /// The pickup window ends more than 48 hours from now.
    TooFarAhead,
    /// More than the marketplace accepts (units, amounts).
    TooLarge,
    /// A price Telegram would not invoice (minor units, with the currency's decimals).
    OutsideInvoiceLimits { min: i64, max: i64, digits: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field:?}: {problem:?}")]
pub struct Invalid {
    pub field: Field,
    pub problem: Problem,
}

impl Invalid {
    pub fn new(field: Field, problem: Problem) -> Self {
        Self { field, problem }
    }
}

/// The most units one deal may offer.
pub const MAX_UNITS: i32 = 1_000;

fn text_between(field: Field, input: &str, min: usize, max: usize) -> Result<String, Invalid> {
    // Collapse inner whitespace: phones add stray spaces and newlines.
    let value = input.split_whitespace().collect::<Vec<_>>().join(" ");
    let length = value.chars().count();
    if (min..=max).contains(&length) {
        Ok(value)
    } else {
        Err(Invalid::new(field, Problem::Length { min, max }))
    }
}

pub fn business_name(input: &str) -> Result<String, Invalid> {
    text_between(Field::BusinessName, input, 2, 80)
}

/// Street and house number: some letters and at least one digit.
pub fn street(input: &str) -> Result<String, Invalid> {
    let value = text_between(Field::Street, input, 3, 120)?;
    let has_number = value.chars().any(|c| c.is_ascii_digit());
    let has_letters = value.chars().any(char::is_alphabetic);
    if has_number && has_letters {
        Ok(value)
    } else {
        Err(Invalid::new(Field::Street, Problem::Format))
    }
}

pub fn city(input: &str) -> Result<String, Invalid> {
    let value = text_between(Field::City, input, 2, 80)?;
    if value.chars().any(|c| c.is_ascii_digit()) {
        return Err(Invalid::new(Field::City, Problem::Format));
    }
    Ok(value)
}

/// Postal codes differ by country: 3-10 letters, digits, spaces or dashes with at least one digit.
pub fn postal_code(input: &str) -> Result<String, Invalid> {
    let value = text_between(Field::PostalCode, input, 3, 10)?;
    let allowed = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-');
    if allowed && value.chars().any(|c| c.is_ascii_digit()) {
        Ok(value.to_uppercase())
    } else {
        Err(Invalid::new(Field::PostalCode, Problem::Format))
    }
}

/// International format: an optional `+`, then 6-15 digits (spaces, dashes, parentheses ignored).
pub fn phone(input: &str) -> Result<String, Invalid> {
    let trimmed = input.trim();
    let (plus, rest) = trimmed
        .strip_prefix('+')
        .map_or(("", trimmed), |rest| ("+", rest));
    let mut digits = String::new();
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' | '/' => {}
            _ => return Err(Invalid::new(Field::Phone, Problem::Format)),
        }
    }
    if (6..=15).contains(&digits.len()) {
        Ok(format!("{plus}{digits}"))
    } else {
        Err(Invalid::new(Field::Phone, Problem::Format))
    }
}

pub fn title(input: &str) -> Result<String, Invalid> {
    text_between(Field::Title, input, 3, 60)
}

/// Up to 200 characters; line breaks are kept (they help on a phone screen).
pub fn description(input: &str) -> Result<String, Invalid> {
    let value = input.trim().to_owned();
    let length = value.chars().count();
    if (1..=200).contains(&length) {
        Ok(value)
    } else {
        Err(Invalid::new(
            Field::Description,
            Problem::Length { min: 1, max: 200 },
        ))
    }
}

pub fn units(input: &str, allow_zero: bool) -> Result<i32, Invalid> {
    let value: i64 = input
        .trim()
        .parse()
        .map_err(|_| Invalid::new(Field::Units, Problem::Format))?;
    if value < 0 || (value == 0 && !allow_zero) {
        return Err(Invalid::new(Field::Units, Problem::NotPositive));
    }
    if value > i64::from(MAX_UNITS) {
        return Err(Invalid::new(Field::Units, Problem::TooLarge));
    }
    Ok(value as i32)
}

pub fn rejection_reason(input: &str) -> Result<String, Invalid> {
    text_between(Field::RejectionReason, input, 3, 300)
}

/// Price and original value together: price > 0 and, when an original value is given,
/// price < original.
pub fn price_below_original(price_minor: i64, original_minor: Option<i64>) -> Result<(), Invalid> {
    match original_minor {
        Some(original) if price_minor >= original => Err(Invalid::new(
            Field::OriginalValue,
            Problem::NotBelowOriginal,
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_are_trimmed_and_bounded() {
        assert_eq!(business_name("  Bakery   Ada ").unwrap(), "Bakery Ada");
        assert_eq!(
            business_name("A"),
            Err(Invalid::new(
                Field::BusinessName,
                Problem::Length { min: 2, max: 80 }
            ))
        );
        assert_eq!(street("Main Street 12").unwrap(), "Main Street 12");
        assert_eq!(
            street("Main Street").unwrap_err().problem,
            Problem::Format,
            "house number missing"
        );
        assert_eq!(city("Berlin").unwrap(), "Berlin");
        assert_eq!(city("10115").unwrap_err().problem, Problem::Format);
        assert_eq!(postal_code("sw1a 1aa").unwrap(), "SW1A 1AA");
        assert_eq!(postal_code("Berlin").unwrap_err().problem, Problem::Format);
        assert_eq!(postal_code("12").unwrap_err().field, Field::PostalCode);
    }

    #[test]
    fn phones_keep_digits_and_a_leading_plus() {
        assert_eq!(phone("+49 30 1234-567").unwrap(), "+49301234567");
        assert_eq!(phone("(030) 123 456").unwrap(), "030123456");
        assert_eq!(phone("call me").unwrap_err().field, Field::Phone);
        assert_eq!(phone("123").unwrap_err().problem, Problem::Format);
    }

    #[test]
    fn deal_texts_are_bounded() {
        assert_eq!(title("Surprise bag").unwrap(), "Surprise bag");
        assert_eq!(title("ab").unwrap_err().field, Field::Title);
        assert!(description(&"x".repeat(200)).is_ok());
        assert_eq!(
            description(&"x".repeat(201)),
            Err(Invalid::new(
                Field::Description,
                Problem::Length { min: 1, max: 200 }
            ))
        );
    }

    #[test]
    fn units_are_whole_positive_numbers_unless_an_edit_sets_zero() {
        assert_eq!(units("5", false), Ok(5));
        assert_eq!(units("0", false).unwrap_err().problem, Problem::NotPositive);
        assert_eq!(units("0", true), Ok(0));
        assert_eq!(units("-1", true).unwrap_err().problem, Problem::NotPositive);
        assert_eq!(units("2.5", false).unwrap_err().problem, Problem::Format);
        assert_eq!(units("1001", false).unwrap_err().problem, Problem::TooLarge);
    }

    #[test]
    fn price_must_be_below_the_original_value() {
        assert!(price_below_original(400, Some(1200)).is_ok());
        assert!(price_below_original(400, None).is_ok());
        assert_eq!(
            price_below_original(1200, Some(1200)).unwrap_err().problem,
            Problem::NotBelowOriginal
        );
    }
}
