//! Strings of the customer flows: browsing, reserving, reservations, pickup, favourites,
//! ratings and settings.

use chrono::DateTime;
use chrono_tz::Tz;

use crate::marketplace::payment::{CheckoutRefusal, PaymentMode};
use crate::marketplace::reservation::PaymentStatus;
use crate::marketplace::{OfferState, ReservationState};

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

pub struct CustomerTexts {
    pub browse_intro: &'static str,
    pub all_deals_button: &'static str,
    pub ending_soon_button: &'static str,
    pub set_location_button: &'static str,
    pub change_location_button: &'static str,
    pub share_location_button: &'static str,
    pub ask_location: &'static str,
    pub location_saved: &'static str,
    pub nothing_at_all: &'static str,
    pub nothing_ending_soon: &'static str,
    pub back_to_filters_button: &'static str,
    pub back_to_results_button: &'static str,
    pub prev_button: &'static str,
    pub next_button: &'static str,
    pub details_button: &'static str,
    pub browse_button: &'static str,
    pub offer_not_found: &'static str,
    pub reserve_button: &'static str,
    pub back_button: &'static str,
    pub own_offer: &'static str,
    pub not_reservable_notice: &'static str,
    pub reserved_notice: &'static str,
    pub last_unit_taken: &'static str,
    pub cancel_reservation_button: &'static str,
    pub no_reservations: &'static str,
    pub past_reservations: &'static str,
    pub not_your_reservation: &'static str,
    pub cancel_confirm_button: &'static str,
    pub keep_button: &'static str,
    pub cannot_cancel_after_window: &'static str,
    pub cancelled_notice: &'static str,
    pub add_favourite_button: &'static str,
    pub remove_favourite_button: &'static str,
    pub favourite_added: &'static str,
    pub favourite_removed: &'static str,
    pub no_favourites: &'static str,
    pub favourites_title: &'static str,
    pub view_deal_button: &'static str,
    pub already_rated: &'static str,
    pub rate_after_pickup: &'static str,
    pub rated_notice: &'static str,
    pub comment_skipped: &'static str,
    pub comment_expected: &'static str,
    pub comment_saved: &'static str,
    pub settings_title: &'static str,
    pub business_section: &'static str,
    pub admin_section: &'static str,
    pub notifications_on_button: &'static str,
    pub notifications_off_button: &'static str,
    pub quiet_hours_button: &'static str,
    pub quiet_off_button: &'static str,
    pub radius_button: &'static str,
    pub ask_radius: &'static str,
    pub saved: &'static str,
    pub back_to_settings_button: &'static str,
    pub pickup_prompt: &'static str,
    pub reservations_button: &'static str,
    pub refund_confirm_button: &'static str,
    pub not_refundable: &'static str,
    pub no_reservations_for_offer: &'static str,
}

pub const EN: CustomerTexts = CustomerTexts {
    browse_intro: "🔎 What are you looking for? Deals are ranked by distance, then by the end \
                   of their pickup window.",
    all_deals_button: "🛍 All deals",
    ending_soon_button: "⏰ Ending soon",
    set_location_button: "📍 Set my location",
    change_location_button: "📍 Change my location",
    share_location_button: "📍 Share my location",
    ask_location: "To find deals near you I need your location once: tap “📍 Share my \
                   location” below (or attach a location pin). You can change it any time in \
                   /settings.",
    location_saved: "📍 Location saved. Here is what's near you:",
    nothing_at_all: "No deals can be reserved right now. Add shops to /favourites to hear the \
                     moment they post one.",
    nothing_ending_soon: "Nothing ends within the next two hours. Try All deals.",
    back_to_filters_button: "🔙 Back to filters",
    back_to_results_button: "⬅️ Back to results",
    prev_button: "⬅️ Prev",
    next_button: "Next ➡️",
    details_button: "ℹ️ Details",
    browse_button: "🔎 Browse deals",
    offer_not_found: "That deal is not available.",
    reserve_button: "🛒 Reserve",
    back_button: "⬅️ Back",
    own_offer: "That's a deal of your own business: customers reserve it.",
    not_reservable_notice: "This deal can't be reserved right now.",
    reserved_notice: "Reserved ✅",
    last_unit_taken: "That was the last unit and someone just reserved it.",
    cancel_reservation_button: "❌ Cancel reservation",
    no_reservations: "You have no reservations yet. /browse finds deals near you.",
    past_reservations: "🗂 Past reservations:",
    not_your_reservation: "That reservation isn't yours.",
    cancel_confirm_button: "Yes, cancel it",
    keep_button: "No, keep it",
    cannot_cancel_after_window: "The pickup window has ended: this reservation can no longer \
                                 be cancelled.",
    cancelled_notice: "Reservation cancelled.",
    add_favourite_button: "⭐ Add to favourites",
    remove_favourite_button: "💔 Remove from favourites",
    favourite_added: "Added to favourites: you'll hear when they post a deal.",
    favourite_removed: "Removed from favourites.",
    no_favourites: "No favourites yet. Open a deal's details and tap “⭐ Add to favourites” to \
                    hear the moment that shop posts a deal.",
    favourites_title: "⭐ Your favourites — you get an alert when they post a deal:",
    view_deal_button: "👀 View deal",
    already_rated: "You already rated this pickup. Thank you!",
    rate_after_pickup: "You can rate once you've picked up your order.",
    rated_notice: "Thanks for rating!",
    comment_skipped: "Thanks! Your rating is saved.",
    comment_expected: "Send your comment as text, or /skip.",
    comment_saved: "Thanks! Your comment is saved.",
    settings_title: "⚙️ Settings",
    business_section: "🏪 Your businesses",
    admin_section: "🛡 Admin: /pending shows applications waiting for approval.",
    notifications_on_button: "🔔 Turn alerts on",
    notifications_off_button: "🔕 Turn alerts off",
    quiet_hours_button: "🌙 Quiet hours",
    quiet_off_button: "No quiet hours",
    radius_button: "📏 Nearby radius",
    ask_radius: "How far may Nearby deals be?",
    saved: "Saved ✅",
    back_to_settings_button: "⬅️ Back to settings",
    pickup_prompt: "Send me the customer's pickup code (6 characters, e.g. K7M2QX), or forward \
                    their confirmation message.",
    reservations_button: "📋 Reservations",
    refund_confirm_button: "Yes, refund",
    not_refundable: "Only paid orders can be refunded, once.",
    no_reservations_for_offer: "No reservations for this deal yet.",
};

impl CustomerTexts {
    pub fn nearby_button(&self, radius_km: i32) -> String {
        format!("📍 Nearby (within {radius_km} km)")
    }

    pub fn nothing_nearby(&self, radius_km: i32) -> String {
        format!(
            "No deals within {radius_km} km right now. Try a wider radius in /settings, all \
             deals, or add shops to /favourites to hear the moment they post one."
        )
    }

    /// "Deal 2 of 7".
    pub fn position(&self, n: i64, total: i64) -> String {
        format!("Deal {n} of {total}")
    }

    pub fn away(&self, distance: &str) -> String {
        format!("{distance} away")
    }

    pub fn full_address(&self, street: &str, postal_code: &str, city: &str) -> String {
        format!("📍 {street}, {postal_code} {city}")
    }

    pub fn why_not_reservable(&self, state: OfferState, window_passed: bool) -> &'static str {
        match state {
            OfferState::Paused => "⏸ The shop paused this deal for now: it can't be reserved.",
            OfferState::SoldOut => "🔴 Sold out: every unit is reserved.",
            OfferState::Expired => "⚪️ The pickup window has ended.",
            OfferState::ExpiredEarly => "⚪️ The shop ended this deal.",
            OfferState::Active if window_passed => "⚪️ The pickup window has ended.",
            OfferState::Active => "This deal can't be reserved right now.",
        }
    }

    pub fn cap_reached(&self, cap: i32) -> String {
        format!("You can hold at most {cap} units of one deal.")
    }

    pub fn only_left(&self, left: i32) -> String {
        format!("Only {left} left: choose again.")
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
        let how = match how_to_pay {
            HowToPay::OnSite => "Pay on site at pickup.",
            HowToPay::InApp => "Pay in the chat now.",
            HowToPay::Either => "Pay in the chat now or on site at pickup.",
            HowToPay::Unavailable => {
                "This shop takes payment in the chat, which is not available right now: please \
                 try again later."
            }
        };
        format!(
            "Reserve {quantity} × {title} for {total}? {how}\n\n\
             {left} left · up to {max} for you"
        )
    }

    pub fn pay_now_button(&self, total: &str) -> String {
        format!("💳 Pay {total} now")
    }

    pub fn invoice_title(&self, title: &str) -> String {
        title.chars().take(32).collect()
    }

    pub fn invoice_description(&self, r: &Reservation, pickup: &str) -> String {
        let text = format!(
            "{} × {} at {}, {}. {pickup}. Pickup code after payment.",
            r.quantity, r.title, r.business_name, r.street
        );
        text.chars().take(255).collect()
    }

    pub fn invoice_label(&self, quantity: i32, title: &str) -> String {
        format!("{quantity} × {title}")
    }

    /// Telegram refused the invoice (or would): the hold is released.
    pub fn invoice_refused(&self, on_site: bool) -> &'static str {
        if on_site {
            "💳 Paying in the chat is not possible for this order. Nothing was charged and \
             nothing is held: reserve it to pay at the counter instead."
        } else {
            "💳 Paying in the chat is not possible for this order. Nothing was charged and \
             nothing is held."
        }
    }

    pub fn invoice_sent(&self, minutes: i64, reservation_id: i64) -> String {
        format!(
            "💳 Invoice sent below: pay within {minutes} minutes to keep your units \
             (order #{reservation_id})."
        )
    }

    pub fn checkout_refusal(&self, refusal: CheckoutRefusal) -> &'static str {
        match refusal {
            CheckoutRefusal::Unknown => "This order is not valid anymore. Please reserve again.",
            CheckoutRefusal::AlreadyPaid => "This order is already paid.",
            CheckoutRefusal::PaymentInFlight => {
                "A payment for this order is already on its way. If it did not go through, try \
                 again in a minute."
            }
            CheckoutRefusal::HoldExpired => {
                "Your hold expired and the units went back. Please reserve again."
            }
            CheckoutRefusal::OfferUnavailable => "This deal is no longer available.",
            CheckoutRefusal::PriceChanged => {
                "The price of this deal changed. Please reserve again to see the new price."
            }
            CheckoutRefusal::AmountMismatch => {
                "The amount does not match your order. Please reserve again."
            }
        }
    }

    pub fn hold_waiting(&self, r: &Reservation, until: &str) -> String {
        format!(
            "💳 Order #{}: {} × {} at {} is held for you until {until}. Pay the invoice in this \
             chat to confirm it; unpaid, the units go back.",
            r.id, r.quantity, r.title, r.business_name
        )
    }

    pub fn hold_expired(&self, r: &Reservation) -> String {
        format!(
            "⌛ Your hold on {} × {} (order #{}) expired before the payment came: the units are \
             available again.",
            r.quantity, r.title, r.id
        )
    }

    pub fn refund_on_its_way(&self, total: &str) -> String {
        format!("Your payment of {total} is being refunded.")
    }

    pub fn refund_done(&self, order: Option<i64>, total: &str) -> String {
        match order {
            Some(id) => format!("↩️ The refund of {total} for order #{id} is complete."),
            None => format!("↩️ The refund of your payment of {total} is complete."),
        }
    }

    pub fn refund_failed(&self, order: Option<i64>, total: &str) -> String {
        let what = match order {
            Some(id) => format!("{total} for order #{id}"),
            None => format!("your payment of {total}"),
        };
        format!("⚠️ We could not refund {what} yet. Our team has been told and will sort it out.")
    }

    pub fn refund_failed_admin(
        &self,
        order: Option<i64>,
        charge: &str,
        total: &str,
        error: &str,
    ) -> String {
        let order = order
            .map(|id| format!("order #{id}"))
            .unwrap_or_else(|| "no order".to_owned());
        format!(
            "⚠️ Refund of {total} ({order}, charge {charge}) failed: {error}\n\
             Retry it from /payments."
        )
    }

    /// A charge that could not buy anything, and why; its refund is on the way.
    pub fn payment_refunding(&self, cause: RefundCause, order: Option<i64>, total: &str) -> String {
        let order = order
            .map(|id| format!(" for order #{id}"))
            .unwrap_or_default();
        let why = match cause {
            RefundCause::NothingLeft => {
                "it arrived after your hold lapsed, and the deal is no longer available"
            }
            RefundCause::AlreadyPaid => "this order was already paid (it was paid twice)",
            RefundCause::UnknownHold => "it does not belong to an order of yours",
            RefundCause::AmountMismatch => "the amount does not match the order",
        };
        format!(
            "↩️ Your payment of {total}{order} cannot be used: {why}. It is being refunded in \
             full; we'll tell you when the refund is complete."
        )
    }

    /// The business ended a deal early: the reservation is cancelled (and refunded if paid).
    pub fn cancelled_offer_ended(&self, r: &Reservation, refunded: Option<&str>) -> String {
        let money = refunded
            .map(|total| format!(" Your {total} is being refunded in full."))
            .unwrap_or_default();
        format!(
            "❌ {} ended “{}” early, so your order #{} ({} × {}) is cancelled.{money}",
            r.business_name, r.title, r.id, r.quantity, r.title
        )
    }

    pub fn partially_refunded(&self, order: Option<i64>, refunded: &str, total: &str) -> String {
        let order = order
            .map(|id| format!(" for order #{id}"))
            .unwrap_or_default();
        format!("↩️ {refunded} of your payment of {total}{order} has been refunded.")
    }

    /// The admins' summary of a reconciliation that found differences.
    pub fn reconciliation_report(&self, report: &crate::reconcile::Report) -> String {
        const SHOWN: usize = 20;
        let mut text = format!(
            "⚠️ Payments of {} differ from Stripe: {} discrepancy(ies) in {} charge(s).",
            report.day,
            report.discrepancies.len(),
            report.charges
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
            text.push_str(&format!(
                "\n… and {} more (payment_discrepancies).",
                report.discrepancies.len() - SHOWN
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
        let order = order
            .map(|id| format!("order #{id}"))
            .unwrap_or_else(|| "no order".to_owned());
        format!("ℹ️ Partial refund: {refunded} of {total} ({order}, charge {charge}).")
    }

    pub fn refund_button(&self, r: &Reservation) -> String {
        format!("↩️ Refund #{}", r.id)
    }

    pub fn refund_question(&self, r: &Reservation, total: &str) -> String {
        format!(
            "Refund order #{} ({} × {}, {total}) to {}? A confirmed reservation is cancelled; its \
             units are not offered again.",
            r.id,
            r.quantity,
            r.title,
            shown_name(&r.customer_name)
        )
    }

    pub fn business_refund_requested(&self, r: &Reservation, total: &str) -> String {
        format!("↩️ Refund of {total} for order #{} requested.", r.id)
    }

    pub fn refunded_by_shop(&self, r: &Reservation, total: &str) -> String {
        format!(
            "↩️ {} refunded order #{} ({} × {}): {total} is on its way back to you.",
            r.business_name, r.id, r.quantity, r.title
        )
    }

    /// Paying in the chat only is refused: Telegram could not invoice some live deals.
    pub fn in_app_only_refused(&self, deals: usize, limits: Option<(String, String)>) -> String {
        match limits {
            Some((min, max)) => format!(
                "⚠️ Telegram takes payments in the chat only between {min} and {max}, and {deals} \
                 of your open deals are priced outside that. Choose “in the chat or at the \
                 counter”, or change their prices first."
            ),
            None => "⚠️ Telegram does not take payments in the chat in this marketplace's \
                     currency."
                .to_owned(),
        }
    }

    pub fn payment_mode_label(&self, mode: PaymentMode) -> &'static str {
        match mode {
            PaymentMode::OnSite => "at the counter",
            PaymentMode::InApp => "in the chat",
            PaymentMode::Both => "in the chat or at the counter",
        }
    }

    pub fn payment_mode_button(&self, name: &str, mode: PaymentMode) -> String {
        format!("💳 {name}: payment {}", self.payment_mode_label(mode))
    }

    pub fn ask_payment_mode(&self, name: &str, payments_enabled: bool) -> String {
        let note = if payments_enabled {
            ""
        } else {
            "\n\nPaying in the chat is not set up on this bot yet: until it is, customers \
             reserve and pay at the counter."
        };
        format!("How do customers of {name} pay?{note}")
    }

    pub fn confirm_reservation_button(&self, quantity: i32) -> String {
        format!("✅ Reserve {quantity}")
    }

    /// The customer's confirmation and what /my_reservations shows of an upcoming pickup.
    pub fn confirmation(&self, r: &Reservation, pickup: &str, total: &str) -> String {
        format!(
            "✅ Reserved! Order #{id}\n\
             🔑 Pickup code: {code}\n\n\
             {quantity} × {title}\n\
             🏪 {business}, {street}, {postal_code} {city}\n\
             🕒 {pickup}\n\
             💶 {money}\n\n\
             Show the pickup code at the counter during the pickup window. Can't make it? \
             Cancel before the window ends so someone else can rescue it.",
            id = r.id,
            code = r.pickup_code,
            quantity = r.quantity,
            title = r.title,
            business = r.business_name,
            street = r.street,
            postal_code = r.postal_code,
            city = r.city,
            money = match r.payment_status() {
                PaymentStatus::Paid => format!("Paid: {total}"),
                PaymentStatus::RefundPending => format!("Refund of {total} on its way"),
                PaymentStatus::Refunded => format!("Refunded: {total}"),
                PaymentStatus::PartiallyRefunded => format!("Paid: {total}, partly refunded"),
                _ => format!("To pay at pickup: {total}"),
            },
        )
    }

    fn state_label(&self, state: ReservationState) -> &'static str {
        match state {
            ReservationState::PendingPayment => "waiting for payment",
            ReservationState::Expired => "not paid in time",
            ReservationState::Confirmed => "confirmed",
            ReservationState::PickedUp => "picked up",
            ReservationState::Cancelled => "cancelled",
            ReservationState::NoShow => "not picked up",
        }
    }

    pub fn past_reservation_line(&self, r: &Reservation, tz: Tz) -> String {
        let day = r.pickup_end.with_timezone(&tz).format("%d.%m.");
        format!(
            "• #{} {day} {} × {} at {} — {}",
            r.id,
            r.quantity,
            r.title,
            r.business_name,
            self.state_label(r.state())
        )
    }

    pub fn cannot_cancel(&self, state: ReservationState) -> &'static str {
        match state {
            ReservationState::PickedUp => "This order was already picked up.",
            ReservationState::Cancelled => "This reservation is already cancelled.",
            ReservationState::NoShow => "The pickup window has ended.",
            ReservationState::PendingPayment | ReservationState::Expired => {
                "This order is not confirmed: there is nothing to cancel."
            }
            ReservationState::Confirmed => {
                "The pickup window has ended: this reservation can no longer be cancelled."
            }
        }
    }

    pub fn cancel_question(&self, r: &Reservation) -> String {
        format!(
            "Cancel order #{} ({} × {} at {})? The units go back to the shop for someone else.",
            r.id, r.quantity, r.title, r.business_name
        )
    }

    pub fn cancelled(&self, r: &Reservation) -> String {
        format!(
            "❌ Order #{} ({} × {}) is cancelled. Thanks for letting the shop know!",
            r.id, r.quantity, r.title
        )
    }

    pub fn business_new_reservation(&self, r: &Reservation, total: &str) -> String {
        format!(
            "🛒 New reservation #{}: {} × {} for {} ({total}, paid on site). They show their \
             pickup code at the counter: send it to me to confirm the pickup.",
            r.id,
            r.quantity,
            r.title,
            shown_name(&r.customer_name)
        )
    }

    pub fn business_reservation_cancelled(&self, r: &Reservation) -> String {
        format!(
            "↩️ Reservation #{} was cancelled: {} × {} are available again.",
            r.id, r.quantity, r.title
        )
    }

    pub fn favourite_line(&self, f: &Favourite) -> String {
        let rating = if f.rating_count > 0 {
            format!(
                " · ⭐ {:.1}",
                f64::from(f.rating_sum) / f64::from(f.rating_count)
            )
        } else {
            String::new()
        };
        let live = match f.live_offers {
            0 => "no deal right now".to_owned(),
            1 => "1 deal live".to_owned(),
            n => format!("{n} deals live"),
        };
        format!("• {}{rating} — {}, {} · {live}", f.name, f.street, f.city)
    }

    pub fn remove_named_favourite_button(&self, name: &str) -> String {
        format!("💔 Remove {name}")
    }

    pub fn favourite_alert(&self, business: &str, card: &str) -> String {
        format!("🔔 {business} just posted a deal:\n\n{card}")
    }

    pub fn thanks_for_rating(&self, stars: i16) -> String {
        format!(
            "{} Thank you! Anything to add? Send a short comment now, or /skip.",
            "⭐".repeat(usize::try_from(stars).unwrap_or(0))
        )
    }

    pub fn comment_too_long(&self, max: usize) -> String {
        format!("That's a bit long: at most {max} characters, please.")
    }

    pub fn customer_settings(&self, settings: &CustomerSettings) -> String {
        let alerts = if settings.notifications { "on" } else { "off" };
        let quiet = settings
            .quiet_hours
            .map_or_else(|| "none".to_owned(), |q| q.describe());
        let location = if settings.location.is_some() {
            "saved"
        } else {
            "not set"
        };
        format!(
            "🛒 As a customer\n\
             • Alerts from favourites: {alerts}\n\
             • Quiet hours: {quiet}\n\
             • Nearby radius: {} km\n\
             • Location: {location}",
            settings.radius_km
        )
    }

    pub fn business_line(&self, business: &Business, role: &str) -> String {
        let status = match business.status() {
            BusinessStatus::Pending => "waiting for approval",
            BusinessStatus::Approved => "approved",
            BusinessStatus::Rejected => "rejected",
            BusinessStatus::Suspended => "suspended",
        };
        let role = if role == "owner" { "owner" } else { "staff" };
        format!(
            "• {} — {}, {} ({role}, {status})",
            business.name, business.street, business.city
        )
    }

    pub fn ask_quiet_hours(&self, timezone: &str) -> String {
        format!("During quiet hours alerts wait until the morning. Times are in {timezone}.")
    }

    pub fn pickup_done(&self, r: &Reservation, total: &str) -> String {
        format!(
            "✅ Order #{} picked up: {} × {} for {}. Collect {total}.",
            r.id,
            r.quantity,
            r.title,
            shown_name(&r.customer_name)
        )
    }

    pub fn pickup_unknown(&self, code: &str) -> String {
        format!(
            "⚠️ No reservation of your business has the pickup code {code}. Check the code with \
             the customer."
        )
    }

    pub fn pickup_already(&self, r: &Reservation, tz: Tz) -> String {
        let at = r
            .picked_up_at
            .map(|at| at.with_timezone(&tz).format("%H:%M").to_string())
            .unwrap_or_default();
        format!("ℹ️ Order #{} was already picked up at {at}.", r.id)
    }

    pub fn pickup_not_confirmed(&self, r: &Reservation) -> String {
        format!(
            "⚠️ Order #{} is {}: it can't be picked up.",
            r.id,
            self.state_label(r.state())
        )
    }

    pub fn rate_question(&self, r: &Reservation) -> String {
        format!(
            "🎉 Enjoy your {}! How was {}? Tap the stars:",
            r.title, r.business_name
        )
    }

    pub fn reservations_of_offer(&self, title: &str, lines: &[String]) -> String {
        format!("📋 Reservations for {title}:\n{}", lines.join("\n"))
    }

    pub fn business_reservation_line(&self, r: &Reservation) -> String {
        format!(
            "• #{} {} × for {} — {}",
            r.id,
            r.quantity,
            shown_name(&r.customer_name),
            self.state_label(r.state())
        )
    }

    pub fn picked_up_button(&self, r: &Reservation) -> String {
        format!("✅ #{} picked up", r.id)
    }

    pub fn reminder(&self, r: &Reservation, pickup_end: &str) -> String {
        format!(
            "⏰ Pickup for order #{} is open now until {pickup_end}: {} × {} at {}, {}. Your \
             pickup code: {}",
            r.id, r.quantity, r.title, r.business_name, r.street, r.pickup_code
        )
    }

    pub fn no_show(&self, r: &Reservation) -> String {
        format!(
            "The pickup window of order #{} ({} × {}) has ended without a pickup. If you can't \
             make it next time, please cancel in /my_reservations so the food gets rescued.",
            r.id, r.quantity, r.title
        )
    }
}

/// Local time of day, for the reminder.
pub fn time_of_day(at: DateTime<chrono::Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%H:%M").to_string()
}

/// A customer's name as a shop sees it; after they erased their data, that they did.
fn shown_name(name: &str) -> &str {
    if name.trim().is_empty() {
        crate::store::users::ERASED_NAME
    } else {
        name
    }
}
