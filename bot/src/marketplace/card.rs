//! The offer card: how a deal reads in a message. One pure renderer, used for the business's
//! preview, /myoffers and the customer side.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::offer::{Category, OfferState};
use super::window::{self, PickupWindow};
use crate::texts::Catalog;

/// Everything the card shows.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferCard<'a> {
    pub business_name: &'a str,
    pub street: &'a str,
    pub postal_code: &'a str,
    pub city: &'a str,
    pub category: Category,
    pub title: &'a str,
    pub description: &'a str,
    pub window: PickupWindow,
    pub units_available: i32,
    pub price_minor: i64,
    pub original_minor: Option<i64>,
    pub currency: &'a str,
    /// `None` for a draft that is not published yet.
    pub state: Option<OfferState>,
    /// The business's rating, once customers rated it.
    pub rating: Option<Rating>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rating {
    pub average: f64,
    pub count: i32,
}

pub fn render(card: &OfferCard<'_>, texts: &Catalog, now: DateTime<Utc>, tz: Tz) -> String {
    let price = texts.money(card.price_minor, card.currency);
    let price_line = match card.original_minor {
        Some(original) => {
            texts.card_price_with_original(&texts.money(original, card.currency), &price)
        }
        None => price,
    };
    let (day, from, to) = window::describe(&card.window, now, tz);
    let rating = card
        .rating
        .map(|r| format!(" · ⭐ {} ({})", texts.one_decimal(r.average), r.count))
        .unwrap_or_default();
    let mut lines = vec![
        format!("{} {}", texts.category_label(card.category), card.title),
        format!(
            "🏪 {}{rating} · {}, {} {}",
            card.business_name, card.street, card.postal_code, card.city
        ),
        format!("💶 {price_line}"),
        format!("🕒 {}", texts.card_pickup(&day, &from, &to)),
        format!("📦 {}", texts.card_units(card.units_available)),
    ];
    if let Some(state) = card.state {
        lines.push(texts.card_state(state).to_owned());
    }
    lines.push(String::new());
    lines.push(card.description.to_owned());
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_shows_the_deals_facts_in_local_time() {
        let start = DateTime::parse_from_rfc3339("2026-11-29T17:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let card = OfferCard {
            business_name: "Bakery Ada",
            street: "Main Street 12",
            postal_code: "10115",
            city: "Berlin",
            category: Category::Bakery,
            title: "Surprise bag",
            description: "Bread and pastries of the day",
            window: PickupWindow {
                start,
                end: start + chrono::Duration::hours(2),
            },
            units_available: 3,
            price_minor: 400,
            original_minor: Some(1200),
            currency: "EUR",
            state: Some(OfferState::Active),
            rating: None,
        };
        let text = render(
            &card,
            crate::texts::english(),
            start - chrono::Duration::hours(5),
            chrono_tz::Europe::Berlin,
        );
        assert!(text.contains("Surprise bag"), "{text}");
        assert!(
            text.contains("Bakery Ada · Main Street 12, 10115 Berlin"),
            "{text}"
        );
        assert!(
            text.contains("worth EUR 12.00, yours for EUR 4.00"),
            "{text}"
        );
        assert!(text.contains("today 18:00–20:00"), "{text}");
        assert!(text.contains("3 left"), "{text}");
        assert!(text.ends_with("Bread and pastries of the day"), "{text}");

        let rated = OfferCard {
            rating: Some(Rating {
                average: 4.5,
                count: 12,
            }),
            ..card
        };
        let text = render(
            &rated,
            crate::texts::english(),
            start,
            chrono_tz::Europe::Berlin,
        );
        assert!(
            text.contains("Bakery Ada · ⭐ 4.5 (12) · Main Street 12"),
            "{text}"
        );
    }
}
