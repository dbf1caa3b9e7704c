//! Reservations: their state machine, pickup codes and the rule that decides whether a customer
//! may reserve. Pure; the store applies the decision under the offer's row lock.

use chrono::{DateTime, Utc};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::OfferState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReservationState {
    /// Units held while the customer pays in the chat, until `hold_expires_at`.
    PendingPayment,
    Confirmed,
    PickedUp,
    Cancelled,
    NoShow,
    /// A hold whose payment did not come in time; its units went back.
    Expired,
}

impl ReservationState {
    pub const ALL: [Self; 6] = [
        Self::PendingPayment,
        Self::Confirmed,
        Self::PickedUp,
        Self::Cancelled,
        Self::NoShow,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "PENDING_PAYMENT",
            Self::Confirmed => "CONFIRMED",
            Self::PickedUp => "PICKED_UP",
            Self::Cancelled => "CANCELLED",
            Self::NoShow => "NO_SHOW",
            Self::Expired => "EXPIRED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// The one place that says which transitions exist (the database trigger says the same).
    /// A payment that arrives after its hold lapsed revives the hold when units are left.
    pub fn can_become(self, next: Self) -> bool {
        use ReservationState::*;
        matches!(
            (self, next),
            (PendingPayment, Confirmed | Expired | Cancelled)
                | (Expired, Confirmed)
                | (Confirmed, PickedUp | Cancelled | NoShow)
        )
    }
}

/// How the money of a reservation stands, beside its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// Paid on site (or nothing to pay yet).
    None,
    /// An invoice is out.
    Pending,
    Paid,
    RefundPending,
    Refunded,
    /// Part of the money went back (e.g. a refund made in Stripe's dashboard).
    PartiallyRefunded,
    RefundFailed,
}

impl PaymentStatus {
    pub const ALL: [Self; 7] = [
        Self::None,
        Self::Pending,
        Self::Paid,
        Self::RefundPending,
        Self::Refunded,
        Self::PartiallyRefunded,
        Self::RefundFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Pending => "PENDING",
            Self::Paid => "PAID",
            Self::RefundPending => "REFUND_PENDING",
            Self::Refunded => "REFUNDED",
            Self::PartiallyRefunded => "PARTIALLY_REFUNDED",
            Self::RefundFailed => "REFUND_FAILED",
        }
    }

    /// Whether a payment settled the reservation (it may have been refunded since): another
    /// charge for it cannot buy anything.
    pub fn is_settled(self) -> bool {
        !matches!(self, Self::None | Self::Pending)
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

impl std::fmt::Display for ReservationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Pickup codes avoid characters that read alike (0/O, 1/I): 32 symbols, 6 of them.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
pub const CODE_LENGTH: usize = 6;

/// A new code. It always mixes letters and digits, so that neither a word nor a number (an
/// order number, a postal code) in a forwarded message is mistaken for it.
pub fn new_pickup_code() -> String {
    let mut rng = rand::rng();
    loop {
        let code: String = (0..CODE_LENGTH)
            .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
            .collect();
        if is_code(&code) {
            return code;
        }
    }
}

fn is_code(word: &str) -> bool {
    word.len() == CODE_LENGTH
        && word.bytes().all(|b| CODE_ALPHABET.contains(&b))
        && word.bytes().any(|b| b.is_ascii_digit())
        && word.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Finds a pickup code in what a business member typed or forwarded (the customer's whole
/// confirmation message works): the first well-formed code, in any case.
pub fn find_pickup_code(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::to_ascii_uppercase)
        .find(|word| is_code(word))
}

/// What the offer looks like under its row lock when a reservation is attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    pub state: OfferState,
    pub business_approved: bool,
    pub units_available: i32,
    pub pickup_end: DateTime<Utc>,
    /// Units this customer already holds on the offer.
    pub held_by_customer: i32,
}

/// Why a reservation cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Someone else took the last units.
    SoldOut,
    /// Fewer units than asked are left.
    OnlyLeft(i32),
    /// The customer would hold more than the per-customer cap.
    CapReached { cap: i32, held: i32 },
    /// Paused by the business (or its business is suspended).
    Paused,
    /// The offer ended or its window passed.
    Ended,
}

/// The reservation rule. `cap` is the most units one customer may hold on one offer.
pub fn check(
    offer: &Availability,
    quantity: i32,
    cap: i32,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if offer.state.is_final() || offer.pickup_end <= now {
        return Err(Refusal::Ended);
    }
    if offer.state == OfferState::Paused || !offer.business_approved {
        return Err(Refusal::Paused);
    }
    if offer.state == OfferState::SoldOut || offer.units_available <= 0 {
        return Err(Refusal::SoldOut);
    }
    if offer.held_by_customer + quantity > cap {
        return Err(Refusal::CapReached {
            cap,
            held: offer.held_by_customer,
        });
    }
    if quantity > offer.units_available {
        return Err(Refusal::OnlyLeft(offer.units_available));
    }
    Ok(())
}

/// The largest quantity the selector offers: what is left, within the cap.
pub fn max_quantity(units_available: i32, held_by_customer: i32, cap: i32) -> i32 {
    units_available.min(cap - held_by_customer).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn open(units: i32) -> Availability {
        Availability {
            state: OfferState::Active,
            business_approved: true,
            units_available: units,
            pickup_end: Utc::now() + Duration::hours(2),
            held_by_customer: 0,
        }
    }

    #[test]
    fn exactly_the_documented_reservation_transitions_are_allowed() {
        use ReservationState::*;
        const ALLOWED: &[(ReservationState, ReservationState)] = &[
            (PendingPayment, Confirmed),
            (PendingPayment, Expired),
            (PendingPayment, Cancelled),
            (Expired, Confirmed),
            (Confirmed, PickedUp),
            (Confirmed, Cancelled),
            (Confirmed, NoShow),
        ];
        for from in ReservationState::ALL {
            for to in ReservationState::ALL {
                let allowed = ALLOWED.contains(&(from, to));
                assert_eq!(from.can_become(to), allowed, "{from} -> {to}");
            }
            assert_eq!(ReservationState::parse(from.as_str()), Some(from));
        }
        for status in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(status.as_str()), Some(status));
        }
    }

    #[test]
    fn pickup_codes_are_six_unambiguous_characters() {
        for _ in 0..200 {
            let code = new_pickup_code();
            assert_eq!(code.len(), CODE_LENGTH);
            assert!(!code.contains(['0', 'O', '1', 'I']), "{code}");
            assert_eq!(find_pickup_code(&code), Some(code.clone()));
        }
        assert_ne!(new_pickup_code(), new_pickup_code());
    }

    #[test]
    fn a_code_is_found_in_a_forwarded_confirmation_or_typed_in_lower_case() {
        let forwarded = "✅ Reserved! Order #12\nPickup code: K7M2QX\nBakery Ada, Main Street 12";
        assert_eq!(find_pickup_code(forwarded).as_deref(), Some("K7M2QX"));
        assert_eq!(find_pickup_code(" k7m2qx ").as_deref(), Some("K7M2QX"));
        assert_eq!(find_pickup_code("Bakery"), None, "a word is not a code");
        assert_eq!(
            find_pickup_code("Order #234567, code K7M2QX").as_deref(),
            Some("K7M2QX"),
            "a number is not a code"
        );
        assert_eq!(find_pickup_code("K7M2Q0"), None, "0 is not in the alphabet");
        assert_eq!(find_pickup_code("K7M2QXY"), None, "too long");
    }

    #[test]
    fn a_reservation_within_stock_and_cap_is_allowed() {
        let now = Utc::now();
        assert_eq!(check(&open(3), 3, 5, now), Ok(()));
        assert_eq!(check(&open(3), 4, 5, now), Err(Refusal::OnlyLeft(3)));
        let holding = Availability {
            held_by_customer: 4,
            ..open(10)
        };
        assert_eq!(
            check(&holding, 2, 5, now),
            Err(Refusal::CapReached { cap: 5, held: 4 })
        );
        assert_eq!(check(&holding, 1, 5, now), Ok(()));
    }

    #[test]
    fn unavailable_offers_say_why() {
        let now = Utc::now();
        let sold_out = Availability {
            state: OfferState::SoldOut,
            ..open(0)
        };
        assert_eq!(check(&sold_out, 1, 5, now), Err(Refusal::SoldOut));
        let paused = Availability {
            state: OfferState::Paused,
            ..open(3)
        };
        assert_eq!(check(&paused, 1, 5, now), Err(Refusal::Paused));
        let suspended = Availability {
            business_approved: false,
            ..open(3)
        };
        assert_eq!(check(&suspended, 1, 5, now), Err(Refusal::Paused));
        let passed = Availability {
            pickup_end: now,
            ..open(3)
        };
        assert_eq!(check(&passed, 1, 5, now), Err(Refusal::Ended));
        let ended = Availability {
            state: OfferState::ExpiredEarly,
            ..open(3)
        };
        assert_eq!(check(&ended, 1, 5, now), Err(Refusal::Ended));
    }

    #[test]
    fn the_selector_stops_at_stock_or_cap() {
        assert_eq!(max_quantity(10, 0, 5), 5);
        assert_eq!(max_quantity(2, 0, 5), 2);
        assert_eq!(max_quantity(10, 4, 5), 1);
        assert_eq!(max_quantity(10, 5, 5), 0);
        assert_eq!(max_quantity(0, 0, 5), 0);
    }
}
