//! In-chat payments: a business's payment mode, the invoice payload that names a hold, the
//! pre-checkout rule and the refund retry schedule. Pure; handlers and jobs apply them.

use chrono::{DateTime, Duration, Utc};

use super::OfferState;
use super::reservation::{PaymentStatus, ReservationState};

/// How a business takes money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentMode {
    OnSite,
    InApp,
    Both,
}

impl PaymentMode {
    pub const ALL: [Self; 3] = [Self::OnSite, Self::InApp, Self::Both];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnSite => "on_site",
            Self::InApp => "in_app",
            Self::Both => "both",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == value)
    }

    pub fn in_app(self) -> bool {
        matches!(self, Self::InApp | Self::Both)
    }

    pub fn on_site(self) -> bool {
        matches!(self, Self::OnSite | Self::Both)
    }
}

/// How long pre-checkout extends a hold: the customer is paying right now.
pub const CHECKOUT_EXTENSION: Duration = Duration::minutes(5);

/// How long after a checkout was approved a second checkout of the same hold counts as a
/// payment already in flight (Telegram charges within seconds of the approval).
pub const CHECKOUT_IN_FLIGHT: Duration = Duration::seconds(30);

/// The invoice payload: which hold the money is for.
pub fn invoice_payload(reservation_id: i64) -> String {
    format!("hold:{reservation_id}")
}

pub fn parse_invoice_payload(payload: &str) -> Option<i64> {
    payload
        .strip_prefix("hold:")?
        .parse()
        .ok()
        .filter(|id| *id > 0)
}

/// What pre-checkout knows about the hold and its offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub customer_id: i64,
    pub state: ReservationState,
    pub payment_status: PaymentStatus,
    pub hold_expires_at: Option<DateTime<Utc>>,
    /// When pre-checkout last approved paying this hold.
    pub checkout_approved_at: Option<DateTime<Utc>>,
    pub total_minor: i64,
    pub unit_price_minor: i64,
    pub currency: String,
    pub offer_state: OfferState,
    pub offer_price_minor: i64,
    pub pickup_end: DateTime<Utc>,
    pub business_approved: bool,
}

/// Why a checkout is refused; each has a message for the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutRefusal {
    /// No such hold, or somebody else's.
    Unknown,
    AlreadyPaid,
    /// Another checkout of this hold was approved moments ago: its charge is on the way.
    PaymentInFlight,
    HoldExpired,
    /// Paused, ended, suspended or past its window.
    OfferUnavailable,
    /// The business changed the price since the hold was made.
    PriceChanged,
    /// The invoice does not match the hold (amount or currency).
    AmountMismatch,
}

/// The pre-checkout rule: the hold exists, is the payer's, has not expired, its offer is still
/// available at the same price, and the amount and currency match.
pub fn check_checkout(
    hold: &Hold,
    payer_id: i64,
    total_amount: i64,
    currency: &str,
    now: DateTime<Utc>,
) -> Result<(), CheckoutRefusal> {
    if hold.customer_id != payer_id {
        return Err(CheckoutRefusal::Unknown);
    }
    if hold.payment_status.is_settled() || hold.state == ReservationState::Confirmed {
        return Err(CheckoutRefusal::AlreadyPaid);
    }
    if hold
        .checkout_approved_at
        .is_some_and(|at| now - at < CHECKOUT_IN_FLIGHT)
    {
        return Err(CheckoutRefusal::PaymentInFlight);
    }
    let lapsed = hold.hold_expires_at.is_none_or(|at| at <= now);
    if hold.state != ReservationState::PendingPayment || lapsed {
        return Err(CheckoutRefusal::HoldExpired);
    }
    let offer_open = matches!(hold.offer_state, OfferState::Active | OfferState::SoldOut)
        && hold.pickup_end > now
        && hold.business_approved;
    if !offer_open {
        return Err(CheckoutRefusal::OfferUnavailable);
    }
    if hold.offer_price_minor != hold.unit_price_minor {
        return Err(CheckoutRefusal::PriceChanged);
    }
    if hold.total_minor != total_amount || hold.currency != currency {
        return Err(CheckoutRefusal::AmountMismatch);
    }
    Ok(())
}

/// Refund attempts before a refund is given up as failed (and surfaced to people).
pub const MAX_REFUND_ATTEMPTS: i32 = 8;

/// When to try a failed refund request again: 2, 4, 8 ... seconds, at most five minutes.
pub fn refund_backoff(attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 9) as u32;
    Duration::seconds(2_i64.pow(exponent)).min(Duration::minutes(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(now: DateTime<Utc>) -> Hold {
        Hold {
            customer_id: 7,
            state: ReservationState::PendingPayment,
            payment_status: PaymentStatus::Pending,
            hold_expires_at: Some(now + Duration::minutes(10)),
            checkout_approved_at: None,
            total_minor: 900,
            unit_price_minor: 450,
            currency: "EUR".to_owned(),
            offer_state: OfferState::SoldOut,
            offer_price_minor: 450,
            pickup_end: now + Duration::hours(2),
            business_approved: true,
        }
    }

    #[test]
    fn a_valid_hold_checks_out_even_when_it_took_the_last_units() {
        let now = Utc::now();
        assert_eq!(check_checkout(&hold(now), 7, 900, "EUR", now), Ok(()));
    }

    #[test]
    fn each_problem_has_its_refusal() {
        let now = Utc::now();
        let base = hold(now);
        assert_eq!(
            check_checkout(&base, 8, 900, "EUR", now),
            Err(CheckoutRefusal::Unknown)
        );
        let expired = Hold {
            hold_expires_at: Some(now),
            ..base.clone()
        };
        assert_eq!(
            check_checkout(&expired, 7, 900, "EUR", now),
            Err(CheckoutRefusal::HoldExpired)
        );
        let released = Hold {
            state: ReservationState::Expired,
            ..base.clone()
        };
        assert_eq!(
            check_checkout(&released, 7, 900, "EUR", now),
            Err(CheckoutRefusal::HoldExpired)
        );
        let paused = Hold {
            offer_state: OfferState::Paused,
            ..base.clone()
        };
        assert_eq!(
            check_checkout(&paused, 7, 900, "EUR", now),
            Err(CheckoutRefusal::OfferUnavailable)
        );
        let repriced = Hold {
            offer_price_minor: 500,
            ..base.clone()
        };
        assert_eq!(
            check_checkout(&repriced, 7, 900, "EUR", now),
            Err(CheckoutRefusal::PriceChanged)
        );
        assert_eq!(
            check_checkout(&base, 7, 901, "EUR", now),
            Err(CheckoutRefusal::AmountMismatch)
        );
        assert_eq!(
            check_checkout(&base, 7, 900, "USD", now),
            Err(CheckoutRefusal::AmountMismatch)
        );
        let in_flight = Hold {
            checkout_approved_at: Some(now - Duration::seconds(5)),
            ..base.clone()
        };
        assert_eq!(
            check_checkout(&in_flight, 7, 900, "EUR", now),
            Err(CheckoutRefusal::PaymentInFlight)
        );
        let declined_earlier = Hold {
            checkout_approved_at: Some(now - CHECKOUT_IN_FLIGHT),
            ..base.clone()
        };
        assert_eq!(
            check_checkout(&declined_earlier, 7, 900, "EUR", now),
            Ok(()),
            "a checkout whose charge never came can be tried again"
        );
        for settled in [
            PaymentStatus::Paid,
            PaymentStatus::RefundPending,
            PaymentStatus::Refunded,
            PaymentStatus::PartiallyRefunded,
            PaymentStatus::RefundFailed,
        ] {
            let paid = Hold {
                state: ReservationState::Cancelled,
                payment_status: settled,
                ..base.clone()
            };
            assert_eq!(
                check_checkout(&paid, 7, 900, "EUR", now),
                Err(CheckoutRefusal::AlreadyPaid),
                "{settled:?}"
            );
        }
    }

    #[test]
    fn payloads_name_their_hold_and_nothing_else() {
        assert_eq!(parse_invoice_payload(&invoice_payload(42)), Some(42));
        assert_eq!(parse_invoice_payload("hold:-1"), None);
        assert_eq!(parse_invoice_payload("offer:42"), None);
    }

    #[test]
    fn refund_retries_back_off_up_to_five_minutes() {
        assert_eq!(refund_backoff(1), Duration::seconds(2));
        assert_eq!(refund_backoff(3), Duration::seconds(8));
        assert_eq!(refund_backoff(20), Duration::minutes(5));
    }

    #[test]
    fn payment_modes_say_where_money_is_taken() {
        assert!(PaymentMode::Both.in_app() && PaymentMode::Both.on_site());
        assert!(!PaymentMode::OnSite.in_app());
        assert!(!PaymentMode::InApp.on_site());
        for mode in PaymentMode::ALL {
            assert_eq!(PaymentMode::parse(mode.as_str()), Some(mode));
        }
    }
}
