//! Strings of the customer flows: browsing, reserving, reservations, pickup, favourites,
//! ratings and settings.

use chrono::DateTime;
use chrono_tz::Tz;
use fluent_bundle::FluentArgs;

use super::args;

use crate::marketplace::payment::{CheckoutRefusal, PaymentMode};
use crate::marketplace::reservation::PaymentStatus;
use crate::marketplace::{OfferState, ReservationState};

/// What messages about an order name of it: kept with a queued message, which is rendered when
/// it is sent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrderFacts {
    pub order: i64,
    pub quantity: i32,
    pub title: String,
    pub business: String,
}

impl OrderFacts {
    pub fn of(r: &Reservation) -> Self {
        Self {
            order: r.id,
            quantity: r.quantity,
            title: r.title.clone(),
            business: r.business_name.clone(),
        }
    }
}

/// How the selector tells the customer they will pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HowToPay {
    OnSite,
    InApp,
    Either,
    /// In-app only, but payments are not configured.
    Unavailable,
}

impl HowToPay {
    pub fn in_app(self) -> bool {
        matches!(self, Self::InApp | Self::Either)
    }

    /// The same, with paying in the chat impossible (e.g. an amount Telegram will not invoice).
    pub fn without_in_app(self) -> Self {
        match self {
            Self::Either => Self::OnSite,
            Self::InApp => Self::Unavailable,
            other => other,
        }
    }

    pub fn on_site(self) -> bool {
        matches!(self, Self::OnSite | Self::Either)
    }
}
use crate::store::businesses::{Business, BusinessStatus};
use crate::store::customers::CustomerSettings;
use crate::store::favourites::Favourite;
use crate::store::payments::RefundCause;
use crate::store::reservations::Reservation;

super::strings! {
    /// Strings of the customer flows.
    pub struct CustomerTexts("cust") {
        browse_intro, all_deals_button, ending_soon_button, set_location_button,
        change_location_button, share_location_button, ask_location, location_saved,
        nothing_at_all, nothing_ending_soon, back_to_filters_button,
        back_to_results_button, prev_button, next_button, details_button, browse_button,
        offer_not_found, reserve_button, back_button, own_offer, not_reservable_notice,
        reserved_notice, last_unit_taken, cancel_reservation_button, no_reservations,
        past_reservations, not_your_reservation, cancel_confirm_button, keep_button,
        cannot_cancel_after_window, cancelled_notice, add_favourite_button,
        remove_favourite_button, favourite_added, favourite_removed, no_favourites,
        favourites_title, view_deal_button, already_rated, rate_after_pickup,
        rated_notice, comment_skipped, comment_expected, comment_saved, settings_title,
        business_section, admin_section, notifications_on_button,
        notifications_off_button, quiet_hours_button, quiet_off_button, radius_button,
        ask_radius, saved, back_to_settings_button, pickup_prompt, reservations_button,
        refund_confirm_button, not_refundable, no_reservations_for_offer, language_button,
        ask_language,
    }
}

impl CustomerTexts {
    pub fn nearby_button(&self, radius_km: i32) -> String {
        self.fmt("cust-nearby-button", args!["radius" => radius_km])
    }

    pub fn nothing_nearby(&self, radius_km: i32) -> String {
        self.fmt("cust-nothing-nearby", args!["radius" => radius_km])
    }

    /// "Deal 2 of 7".
    pub fn position(&self, n: i64, total: i64) -> String {
        self.fmt("cust-position", args!["n" => n, "total" => total])
    }

    pub fn away(&self, distance: &str) -> String {
        self.fmt("cust-away", args!["distance" => distance])
    }

    pub fn full_address(&self, street: &str, postal_code: &str, city: &str) -> String {
        self.fmt(
            "cust-full-address",
            args!["street" => street, "postcode" => postal_code, "city" => city],
        )
    }

    pub fn why_not_reservable(&self, state: OfferState, window_passed: bool) -> &'static str {
        match state {
            OfferState::Paused => self.lang.text("cust-not-reservable-paused"),
            OfferState::SoldOut => self.lang.text("cust-not-reservable-sold-out"),
            OfferState::Expired => self.lang.text("cust-not-reservable-window-ended"),
            OfferState::ExpiredEarly => self.lang.text("cust-not-reservable-ended-early"),
            OfferState::Active if window_passed => {
                self.lang.text("cust-not-reservable-window-ended")
            }
            OfferState::Active => self.not_reservable_notice,
        }
    }

    pub fn cap_reached(&self, cap: i32) -> String {
        self.fmt("cust-cap-reached", args!["cap" => cap])
    }

    pub fn only_left(&self, left: i32) -> String {
        self.fmt("cust-only-left", args!["left" => left])
    }

    pub fn reserve_question(
        &self,
        quantity: i32,
        title: &str,
        total: &str,
        left: i32,
        max: i32,
        how_to_pay: HowToPay,
    ) -> String {
        let how = self.lang.text(match how_to_pay {
            HowToPay::OnSite => "cust-pay-on-site",
            HowToPay::InApp => "cust-pay-in-app",
            HowToPay::Either => "cust-pay-either",
            HowToPay::Unavailable => "cust-pay-unavailable",
        });
        self.fmt(
            "cust-reserve-question",
            args![
                "quantity" => quantity,
                "title" => title,
                "total" => total,
                "how" => how,
                "left" => left,
                "max" => max,
            ],
        )
    }

    pub fn pay_now_button(&self, total: &str) -> String {
        self.fmt("cust-pay-now-button", args!["total" => total])
    }

    pub fn invoice_title(&self, title: &str) -> String {
        title.chars().take(32).collect()
    }

    pub fn invoice_description(&self, r: &Reservation, pickup: &str) -> String {
        let text = self.fmt(
            "cust-invoice-description",
            args![
                "quantity" => r.quantity,
                "title" => r.title.as_str(),
                "business" => r.business_name.as_str(),
                "street" => r.street.as_str(),
                "pickup" => pickup,
            ],
        );
        text.chars().take(255).collect()
    }

    pub fn invoice_label(&self, quantity: i32, title: &str) -> String {
        self.fmt(
            "cust-invoice-label",
            args!["quantity" => quantity, "title" => title],
        )
    }

    /// Telegram refused the invoice (or would): the hold is released.
    pub fn invoice_refused(&self, on_site: bool) -> &'static str {
        if on_site {
            self.lang.text("cust-invoice-refused-on-site")
        } else {
            self.lang.text("cust-invoice-refused")
        }
    }

    pub fn invoice_sent(&self, minutes: i64, reservation_id: i64) -> String {
        self.fmt(
            "cust-invoice-sent",
            args!["minutes" => minutes, "order" => reservation_id],
        )
    }

    pub fn checkout_refusal(&self, refusal: CheckoutRefusal) -> &'static str {
        self.lang.text(match refusal {
            CheckoutRefusal::Unknown => "cust-checkout-unknown",
            CheckoutRefusal::AlreadyPaid => "cust-checkout-already-paid",
            CheckoutRefusal::PaymentInFlight => "cust-checkout-payment-in-flight",
            CheckoutRefusal::HoldExpired => "cust-checkout-hold-expired",
            CheckoutRefusal::OfferUnavailable => "cust-checkout-offer-unavailable",
            CheckoutRefusal::PriceChanged => "cust-checkout-price-changed",
            CheckoutRefusal::AmountMismatch => "cust-checkout-amount-mismatch",
        })
    }

    pub fn hold_waiting(&self, r: &Reservation, until: &str) -> String {
        self.fmt(
            "cust-hold-waiting",
            args![
                "order" => r.id,
                "quantity" => r.quantity,
                "title" => r.title.as_str(),
                "business" => r.business_name.as_str(),
                "until" => until,
            ],
        )
    }

    pub fn hold_expired(&self, r: &OrderFacts) -> String {
        self.fmt(
            "cust-hold-expired",
            args!["quantity" => r.quantity, "title" => r.title.as_str(), "order" => r.order],
        )
    }

    pub fn refund_on_its_way(&self, total: &str) -> String {
        self.fmt("cust-refund-on-its-way", args!["total" => total])
    }

    pub fn refund_done(&self, order: Option<i64>, total: &str) -> String {
        match order {
            Some(id) => self.fmt(
                "cust-refund-done-order",
                args!["total" => total, "order" => id],
            ),
            None => self.fmt("cust-refund-done", args!["total" => total]),
        }
    }

    pub fn refund_failed(&self, order: Option<i64>, total: &str) -> String {
        match order {
            Some(id) => self.fmt(
                "cust-refund-failed-order",
                args!["total" => total, "order" => id],
            ),
            None => self.fmt("cust-refund-failed", args!["total" => total]),
        }
    }

    fn order_or_none(&self, order: Option<i64>) -> String {
        match order {
            Some(id) => self.fmt("order-number", args!["id" => id]),
            None => self.lang.text("no-order").to_owned(),
        }
    }

    pub fn refund_failed_admin(
        &self,
        order: Option<i64>,
        charge: &str,
        total: &str,
        error: &str,
    ) -> String {
        self.fmt(
            "cust-refund-failed-admin",
            args![
                "total" => total,
                "order" => self.order_or_none(order),
                "charge" => charge,
                "error" => error,
            ],
        )
    }

    /// A charge that could not buy anything, and why; its refund is on the way.
    pub fn payment_refunding(&self, cause: RefundCause, order: Option<i64>, total: &str) -> String {
        let why = self.lang.text(match cause {
            RefundCause::NothingLeft => "cust-refund-cause-nothing-left",
            RefundCause::AlreadyPaid => "cust-refund-cause-already-paid",
            RefundCause::UnknownHold => "cust-refund-cause-unknown-hold",
            RefundCause::AmountMismatch => "cust-refund-cause-amount-mismatch",
        });
        match order {
            Some(id) => self.fmt(
                "cust-payment-refunding-order",
                args!["total" => total, "order" => id, "why" => why],
            ),
            None => self.fmt(
                "cust-payment-refunding",
                args!["total" => total, "why" => why],
            ),
        }
    }

    /// The business ended a deal early: the reservation is cancelled (and refunded if paid).
    pub fn cancelled_offer_ended(&self, r: &OrderFacts, refunded: Option<&str>) -> String {
        let args = args![
            "business" => r.business.as_str(),
            "title" => r.title.as_str(),
            "order" => r.order,
            "quantity" => r.quantity,
            "total" => refunded.unwrap_or_default(),
        ];
        match refunded {
            Some(_) => self.fmt("cust-cancelled-offer-ended-refunded", args),
            None => self.fmt("cust-cancelled-offer-ended", args),
        }
    }

    pub fn partially_refunded(&self, order: Option<i64>, refunded: &str, total: &str) -> String {
        match order {
            Some(id) => self.fmt(
                "cust-partially-refunded-order",
                args!["refunded" => refunded, "total" => total, "order" => id],
            ),
            None => self.fmt(
                "cust-partially-refunded",
                args!["refunded" => refunded, "total" => total],
            ),
        }
    }

    /// The admins' summary of a reconciliation that found differences.
    pub fn reconciliation_report(&self, report: &crate::reconcile::Report) -> String {
        const SHOWN: usize = 20;
        let mut text = self.fmt(
            "cust-reconciliation-report",
            args![
                "day" => report.day.to_string(),
                "discrepancies" => report.discrepancies.len(),
                "charges" => report.charges,
            ],
        );
        for found in report.discrepancies.iter().take(SHOWN) {
            text.push_str(&format!(
                "\n• {} {}: {}",
                found.kind.as_str(),
                found.charge_id,
                found.detail
            ));
        }
        if report.discrepancies.len() > SHOWN {
            text.push('\n');
            text.push_str(&self.fmt(
                "cust-reconciliation-more",
                args!["more" => report.discrepancies.len() - SHOWN],
            ));
        }
        text
    }

    pub fn partially_refunded_admin(
        &self,
        order: Option<i64>,
        charge: &str,
        refunded: &str,
        total: &str,
    ) -> String {
        self.fmt(
            "cust-partially-refunded-admin",
            args![
                "refunded" => refunded,
                "total" => total,
                "order" => self.order_or_none(order),
                "charge" => charge,
            ],
        )
    }

    pub fn refund_button(&self, r: &Reservation) -> String {
        self.fmt("cust-refund-button", args!["order" => r.id])
    }

    pub fn refund_question(&self, r: &Reservation, total: &str) -> String {
        self.fmt(
            "cust-refund-question",
            args![
                "order" => r.id,
                "quantity" => r.quantity,
                "title" => r.title.as_str(),
                "total" => total,
                "customer" => self.shown_name(&r.customer_name),
            ],
        )
    }

    pub fn business_refund_requested(&self, r: &Reservation, total: &str) -> String {
        self.fmt(
            "cust-business-refund-requested",
            args!["total" => total, "order" => r.id],
        )
    }

    pub fn refunded_by_shop(&self, r: &OrderFacts, total: &str) -> String {
        self.fmt(
            "cust-refunded-by-shop",
            args![
                "business" => r.business.as_str(),
                "order" => r.order,
                "quantity" => r.quantity,
                "title" => r.title.as_str(),
                "total" => total,
            ],
        )
    }

    /// Paying in the chat only is refused: Telegram could not invoice some live deals.
    pub fn in_app_only_refused(&self, deals: usize, limits: Option<(String, String)>) -> String {
        match limits {
            Some((min, max)) => self.fmt(
                "cust-in-app-only-refused",
                args!["min" => min, "max" => max, "deals" => deals],
            ),
            None => self
                .lang
                .text("cust-in-app-unsupported-currency")
                .to_owned(),
        }
    }

    pub fn payment_mode_label(&self, mode: PaymentMode) -> &'static str {
        self.lang.text(match mode {
            PaymentMode::OnSite => "cust-payment-mode-on-site",
            PaymentMode::InApp => "cust-payment-mode-in-app",
            PaymentMode::Both => "cust-payment-mode-both",
        })
    }

    pub fn payment_mode_button(&self, name: &str, mode: PaymentMode) -> String {
        self.fmt(
            "cust-payment-mode-button",
            args!["name" => name, "mode" => self.payment_mode_label(mode)],
        )
    }

    pub fn ask_payment_mode(&self, name: &str, payments_enabled: bool) -> String {
        let question = self.fmt("cust-ask-payment-mode", args!["name" => name]);
        if payments_enabled {
            question
        } else {
            format!(
                "{question}\n\n{}",
                self.lang.text("cust-payments-not-set-up")
            )
        }
    }

    pub fn confirm_reservation_button(&self, quantity: i32) -> String {
        self.fmt(
            "cust-confirm-reservation-button",
            args!["quantity" => quantity],
        )
    }

    /// The customer's confirmation and what /my_reservations shows of an upcoming pickup.
    pub fn confirmation(&self, r: &Reservation, pickup: &str, total: &str) -> String {
        let money = self.fmt(
            match r.payment_status() {
                PaymentStatus::Paid => "cust-money-paid",
                PaymentStatus::RefundPending => "cust-money-refund-pending",
                PaymentStatus::Refunded => "cust-money-refunded",
                PaymentStatus::PartiallyRefunded => "cust-money-partly-refunded",
                _ => "cust-money-to-pay",
            },
            args!["total" => total],
        );
        self.fmt(
            "cust-confirmation",
            args![
                "order" => r.id,
                "code" => r.pickup_code.as_str(),
                "quantity" => r.quantity,
                "title" => r.title.as_str(),
                "business" => r.business_name.as_str(),
                "street" => r.street.as_str(),
                "postcode" => r.postal_code.as_str(),
                "city" => r.city.as_str(),
                "pickup" => pickup,
                "money" => money,
            ],
        )
    }

    fn state_label(&self, state: ReservationState) -> &'static str {
        self.lang.text(match state {
            ReservationState::PendingPayment => "cust-state-pending-payment",
            ReservationState::Expired => "cust-state-expired",
            ReservationState::Confirmed => "cust-state-confirmed",
            ReservationState::PickedUp => "cust-state-picked-up",
            ReservationState::Cancelled => "cust-state-cancelled",
            ReservationState::NoShow => "cust-state-no-show",
        })
    }

    pub fn past_reservation_line(&self, r: &Reservation, tz: Tz) -> String {
        self.fmt(
            "cust-past-reservation-line",
            args![
                "order" => r.id,
                "day" => super::format::day_month(self.lang, r.pickup_end, tz),
                "quantity" => r.quantity,
                "title" => r.title.as_str(),
                "business" => r.business_name.as_str(),
                "state" => self.state_label(r.state()),
            ],
        )
    }

    pub fn cannot_cancel(&self, state: ReservationState) -> &'static str {
        match state {
            ReservationState::PickedUp => self.lang.text("cust-cannot-cancel-picked-up"),
            ReservationState::Cancelled => self.lang.text("cust-cannot-cancel-cancelled"),
            ReservationState::NoShow => self.lang.text("cust-cannot-cancel-no-show"),
            ReservationState::PendingPayment | ReservationState::Expired => {
                self.lang.text("cust-cannot-cancel-unconfirmed")
            }
            ReservationState::Confirmed => self.cannot_cancel_after_window,
        }
    }

    fn order_args<'a>(&self, r: &'a Reservation) -> FluentArgs<'a> {
        args![
            "order" => r.id,
            "quantity" => r.quantity,
            "title" => r.title.as_str(),
            "business" => r.business_name.as_str(),
        ]
    }

    fn facts_args<'a>(&self, r: &'a OrderFacts) -> FluentArgs<'a> {
        args![
            "order" => r.order,
            "quantity" => r.quantity,
            "title" => r.title.as_str(),
            "business" => r.business.as_str(),
        ]
    }

    pub fn cancel_question(&self, r: &Reservation) -> String {
        self.fmt("cust-cancel-question", self.order_args(r))
    }

    pub fn cancelled(&self, r: &Reservation) -> String {
        self.fmt("cust-cancelled", self.order_args(r))
    }

    pub fn business_new_reservation(&self, r: &OrderFacts, total: &str, customer: &str) -> String {
        let mut args = self.facts_args(r);
        args.set("total", total);
        args.set("customer", self.shown_name(customer));
        self.fmt("cust-business-new-reservation", args)
    }

    pub fn business_reservation_cancelled(&self, r: &OrderFacts) -> String {
        self.fmt("cust-business-reservation-cancelled", self.facts_args(r))
    }

    pub fn favourite_line(&self, f: &Favourite) -> String {
        let rating = if f.rating_count > 0 {
            format!(
                " · ⭐ {}",
                super::format::one_decimal(
                    self.lang,
                    f64::from(f.rating_sum) / f64::from(f.rating_count)
                )
            )
        } else {
            String::new()
        };
        let live = match f.live_offers {
            0 => self.lang.text("cust-favourite-no-deal").to_owned(),
            n => self.fmt("cust-favourite-deals-live", args!["count" => n]),
        };
        self.fmt(
            "cust-favourite-line",
            args![
                "name" => f.name.as_str(),
                "rating" => rating,
                "street" => f.street.as_str(),
                "city" => f.city.as_str(),
                "live" => live,
            ],
        )
    }

    pub fn remove_named_favourite_button(&self, name: &str) -> String {
        self.fmt("cust-remove-named-favourite-button", args!["name" => name])
    }

    pub fn favourite_alert(&self, business: &str, card: &str) -> String {
        self.fmt(
            "cust-favourite-alert",
            args!["business" => business, "card" => card],
        )
    }

    pub fn thanks_for_rating(&self, stars: i16) -> String {
        self.fmt(
            "cust-thanks-for-rating",
            args!["stars" => "⭐".repeat(usize::try_from(stars).unwrap_or(0))],
        )
    }

    pub fn comment_too_long(&self, max: usize) -> String {
        self.fmt("cust-comment-too-long", args!["max" => max])
    }

    /// A language's name in that language, as the settings show it.
    pub fn language_name(&self, code: &str) -> &'static str {
        super::for_language(Some(code)).lang.text("language-name")
    }

    pub fn customer_settings(&self, settings: &CustomerSettings, language: &str) -> String {
        let alerts = self.lang.text(if settings.notifications {
            "cust-on"
        } else {
            "cust-off"
        });
        let quiet = settings.quiet_hours.map_or_else(
            || self.lang.text("cust-quiet-none").to_owned(),
            |q| q.describe(),
        );
        let location = self.lang.text(if settings.location.is_some() {
            "cust-location-saved-state"
        } else {
            "cust-location-not-set"
        });
        self.fmt(
            "cust-customer-settings",
            args![
                "alerts" => alerts,
                "quiet" => quiet,
                "radius" => settings.radius_km,
                "location" => location,
                "language" => self.language_name(language),
            ],
        )
    }

    pub fn business_line(&self, business: &Business, role: &str) -> String {
        let status = self.lang.text(match business.status() {
            BusinessStatus::Pending => "cust-business-status-pending",
            BusinessStatus::Approved => "cust-business-status-approved",
            BusinessStatus::Rejected => "cust-business-status-rejected",
            BusinessStatus::Suspended => "cust-business-status-suspended",
        });
        let role = self.lang.text(if role == "owner" {
            "cust-role-owner"
        } else {
            "cust-role-staff"
        });
        self.fmt(
            "cust-business-line",
            args![
                "name" => business.name.as_str(),
                "street" => business.street.as_str(),
                "city" => business.city.as_str(),
                "role" => role,
                "status" => status,
            ],
        )
    }

    pub fn ask_quiet_hours(&self, timezone: &str) -> String {
        self.fmt("cust-ask-quiet-hours", args!["timezone" => timezone])
    }

    pub fn pickup_done(&self, r: &Reservation, total: &str) -> String {
        let mut args = self.order_args(r);
        args.set("total", total);
        args.set("customer", self.shown_name(&r.customer_name));
        self.fmt("cust-pickup-done", args)
    }

    pub fn pickup_unknown(&self, code: &str) -> String {
        self.fmt("cust-pickup-unknown", args!["code" => code])
    }

    pub fn pickup_already(&self, r: &Reservation, tz: Tz) -> String {
        let at = r
            .picked_up_at
            .map(|at| super::format::time(self.lang, at, tz))
            .unwrap_or_default();
        self.fmt("cust-pickup-already", args!["order" => r.id, "at" => at])
    }

    pub fn pickup_not_confirmed(&self, r: &Reservation) -> String {
        self.fmt(
            "cust-pickup-not-confirmed",
            args!["order" => r.id, "state" => self.state_label(r.state())],
        )
    }

    pub fn rate_question(&self, r: &OrderFacts) -> String {
        self.fmt("cust-rate-question", self.facts_args(r))
    }

    pub fn reservations_of_offer(&self, title: &str, lines: &[String]) -> String {
        self.fmt(
            "cust-reservations-of-offer",
            args!["title" => title, "lines" => lines.join("\n")],
        )
    }

    pub fn business_reservation_line(&self, r: &Reservation) -> String {
        let mut args = self.order_args(r);
        args.set("customer", self.shown_name(&r.customer_name));
        args.set("state", self.state_label(r.state()));
        self.fmt("cust-business-reservation-line", args)
    }

    pub fn picked_up_button(&self, r: &Reservation) -> String {
        self.fmt("cust-picked-up-button", args!["order" => r.id])
    }

    pub fn reminder(&self, r: &OrderFacts, pickup_end: &str, street: &str, code: &str) -> String {
        let mut args = self.facts_args(r);
        args.set("until", pickup_end);
        args.set("street", street);
        args.set("code", code);
        self.fmt("cust-reminder", args)
    }

    pub fn no_show(&self, r: &OrderFacts) -> String {
        self.fmt("cust-no-show", self.facts_args(r))
    }

    /// A customer's name as a shop sees it; after they erased their data, that they did.
    fn shown_name<'a>(&self, name: &'a str) -> &'a str {
        if name.trim().is_empty() {
            self.lang.text("cust-erased-customer")
        } else {
            name
        }
    }
}

/// Local time of day, for the reminder, in the reader's language.
pub fn time_of_day(texts: &CustomerTexts, at: DateTime<chrono::Utc>, tz: Tz) -> String {
    super::format::time(texts.lang, at, tz)
}
