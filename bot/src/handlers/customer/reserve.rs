//! Reserving: a quantity selector [-] [n] [+] bounded by the units left and the per-customer
//! cap, with the confirmation question on the same message, then the reservation itself (one
//! transaction under the offer's row lock) and its confirmation.

use chrono::Utc;
use teloxide::types::{CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup};

use super::super::{Context, HandlerError};
use super::Screen;
use super::browse::{self, ResultsPage};
use crate::marketplace::invoice_limits;
use crate::marketplace::payment::PaymentMode;
use crate::marketplace::reservation::{self, Refusal};
use crate::marketplace::{OfferState, window};
use crate::store::offers::{self, Offer};
use crate::store::outbound::{self, Notice};
use crate::store::reservations::{self, Reservation, ReserveOutcome};
use crate::store::{businesses, payments};
use crate::telegram::callback::CallbackData;
use crate::texts::customer::HowToPay;
use crate::texts::customer::OrderFacts;

const QUANTITY: &str = "rs_qty";
const CONFIRM: &str = "rs_ok";
const PAY: &str = "rs_pay";

/// What a selector button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Show the selector at this quantity.
    Choose,
    /// Reserve, to pay on site.
    Confirm,
    /// Hold the units and send an invoice.
    Pay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Button {
    pub offer_id: i64,
    pub quantity: i32,
    pub from: Option<ResultsPage>,
    pub step: Step,
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        let step = match data.action.as_str() {
            QUANTITY => Step::Choose,
            CONFIRM => Step::Confirm,
            PAY => Step::Pay,
            _ => return None,
        };
        let (offer_id, quantity, from) = match data.args.as_slice() {
            [offer_id, quantity] => (*offer_id, *quantity, None),
            [offer_id, quantity, filter, page] => (
                *offer_id,
                *quantity,
                Some(ResultsPage::parse(*filter, *page)?),
            ),
            _ => return None,
        };
        Some(Self {
            offer_id,
            quantity: i32::try_from(quantity).ok()?,
            from,
            step,
        })
    }

    fn args(self) -> Vec<i64> {
        let mut args = vec![self.offer_id, i64::from(self.quantity)];
        if let Some(from) = self.from {
            args.extend(from.args());
        }
        args
    }
}

fn button(
    ctx: &Context<'_>,
    label: &str,
    action: &str,
    target: Button,
) -> Result<InlineKeyboardButton, HandlerError> {
    ctx.button(label, action, &target.args())
}

/// [Reserve] on a result or a details view: opens the selector at one unit.
pub fn start_button(
    ctx: &Context<'_>,
    offer_id: i64,
    from: Option<ResultsPage>,
) -> Result<InlineKeyboardButton, HandlerError> {
    let target = Button {
        offer_id,
        quantity: 1,
        from,
        step: Step::Choose,
    };
    button(ctx, ctx.texts.cust.reserve_button, QUANTITY, target)
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    pressed: Button,
) -> Result<(), HandlerError> {
    let screen = Screen::Pressed(query);
    let offer = offers::get(ctx.conn, pressed.offer_id).await?;
    let Some(offer) = offer.filter(|o| o.business_status == "approved") else {
        let notice = ctx.texts.cust.offer_not_found;
        {
            ctx.answer_callback(query, Some(notice));
            return Ok(());
        }
    };
    let user_id = ctx.user_id();
    if businesses::is_member(ctx.conn, offer.business_id, user_id).await? {
        let notice = ctx.texts.cust.own_offer;
        {
            ctx.answer_callback(query, Some(notice));
            return Ok(());
        }
    }
    let how_to_pay = how_to_pay(ctx, offer.business_id).await?;
    match pressed.step {
        Step::Confirm if how_to_pay.on_site() => {
            return confirm(ctx, query, &offer, pressed).await;
        }
        Step::Pay if how_to_pay.in_app() => {
            return super::payment::pay_now(ctx, query, &offer, pressed.quantity, pressed.from)
                .await;
        }
        Step::Confirm | Step::Pay => {
            // A button of a payment mode the business no longer offers: show the selector.
        }
        Step::Choose => {}
    }
    let cap = ctx.app.config.reservation_max_units;
    let held = reservations::held_by(ctx.conn, offer.id, user_id).await?;
    let max = reservation::max_quantity(offer.units_available, held, cap);
    if !browse::reservable(&offer) || max == 0 {
        let notice = if browse::reservable(&offer) {
            ctx.texts.cust.cap_reached(cap)
        } else {
            ctx.texts.cust.not_reservable_notice.to_owned()
        };
        ctx.answer_callback(query, Some(&notice));
        browse::show_details(ctx, screen, offer.id, pressed.from).await?;
        return Ok(());
    }
    ctx.answer_callback(query, None);
    let quantity = pressed.quantity.clamp(1, max);
    show_selector(ctx, screen, &offer, quantity, max, pressed.from, how_to_pay).await
}

/// How this business's customers can pay, given the bot's payment configuration.
async fn how_to_pay(ctx: &mut Context<'_>, business_id: i64) -> Result<HowToPay, HandlerError> {
    let mode = payments::payment_mode(ctx.conn, business_id).await?;
    let enabled = ctx.app.config.stripe.payments_enabled();
    Ok(match (mode, enabled) {
        (PaymentMode::OnSite, _) | (PaymentMode::Both, false) => HowToPay::OnSite,
        (PaymentMode::InApp, true) => HowToPay::InApp,
        (PaymentMode::Both, true) => HowToPay::Either,
        (PaymentMode::InApp, false) => HowToPay::Unavailable,
    })
}

async fn show_selector(
    ctx: &mut Context<'_>,
    screen: Screen<'_>,
    offer: &Offer,
    quantity: i32,
    max: i32,
    from: Option<ResultsPage>,
    how_to_pay: HowToPay,
) -> Result<(), HandlerError> {
    let texts = &ctx.texts.cust;
    let at = |quantity: i32| Button {
        offer_id: offer.id,
        quantity,
        from,
        step: Step::Choose,
    };
    let total_minor = offer.price_minor * i64::from(quantity);
    let total = ctx.texts.money(total_minor, &offer.currency);
    // Telegram would refuse an invoice for this amount: no [Pay now] for it.
    let how_to_pay = match invoice_limits::check(total_minor, &offer.currency) {
        Ok(()) => how_to_pay,
        Err(_) => how_to_pay.without_in_app(),
    };
    let text = texts.reserve_question(
        quantity,
        &offer.title,
        &total,
        offer.units_available,
        max,
        how_to_pay,
    );
    let mut stepper = Vec::new();
    if quantity > 1 {
        stepper.push(button(ctx, "➖", QUANTITY, at(quantity - 1))?);
    }
    stepper.push(button(ctx, &quantity.to_string(), QUANTITY, at(quantity))?);
    if quantity < max {
        stepper.push(button(ctx, "➕", QUANTITY, at(quantity + 1))?);
    }
    let mut actions = Vec::new();
    if how_to_pay.in_app() {
        let pay = Button {
            step: Step::Pay,
            ..at(quantity)
        };
        actions.push(button(ctx, &texts.pay_now_button(&total), PAY, pay)?);
    }
    if how_to_pay.on_site() {
        let confirm = Button {
            step: Step::Confirm,
            ..at(quantity)
        };
        actions.push(button(
            ctx,
            &texts.confirm_reservation_button(quantity),
            CONFIRM,
            confirm,
        )?);
    }
    let back = browse::details_button(ctx, texts.back_button, offer.id, from)?;
    let markup = InlineKeyboardMarkup::new([stepper, actions, vec![back]]);
    screen.show(ctx, text, markup).await
}

async fn confirm(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    offer: &Offer,
    pressed: Button,
) -> Result<(), HandlerError> {
    let screen = Screen::Pressed(query);
    let user_id = ctx.user_id();
    let cap = ctx.app.config.reservation_max_units;
    let now = Utc::now();
    let outcome =
        reservations::reserve(ctx.conn, offer.id, user_id, pressed.quantity, cap, now).await?;
    let texts = &ctx.texts.cust;
    match outcome {
        ReserveOutcome::Reserved {
            reservation_id,
            offer_state,
        } => {
            ctx.answer_callback(query, Some(texts.reserved_notice));
            let Some(reservation) = reservations::get(ctx.conn, reservation_id).await? else {
                return Ok(());
            };
            record_taken(ctx, offer, &reservation, offer_state).await?;
            notify_business(ctx, &reservation, BusinessNotice::Reserved).await?;
            let text = confirmation_text(ctx, &reservation);
            let markup = InlineKeyboardMarkup::new([[super::reservations::cancel_button(
                ctx,
                reservation.id,
            )?]]);
            screen.show(ctx, text, markup).await
        }
        ReserveOutcome::Refused(refusal) => refused(ctx, query, offer, pressed.from, refusal).await,
        ReserveOutcome::NoSuchOffer => {
            let notice = texts.offer_not_found;
            ctx.answer_callback(query, Some(notice));
            Ok(())
        }
    }
}

/// Audits units taken by a reservation or hold (and the offer selling out).
pub async fn record_taken(
    ctx: &mut Context<'_>,
    offer: &Offer,
    reservation: &Reservation,
    offer_state: OfferState,
) -> Result<(), HandlerError> {
    ctx.audit(
        "reservation.created",
        "reservation",
        Some(reservation.id.to_string()),
        None,
        Some(serde_json::json!({
            "offer_id": offer.id, "quantity": reservation.quantity,
            "total_minor": reservation.total_minor, "currency": reservation.currency,
            "state": reservation.state().as_str(),
        })),
    )
    .await?;
    if offer_state == OfferState::SoldOut && offer.state() != OfferState::SoldOut {
        ctx.audit(
            "offer.sold_out",
            "offer",
            Some(offer.id.to_string()),
            Some(serde_json::json!({ "state": offer.state().as_str() })),
            Some(serde_json::json!({ "state": OfferState::SoldOut.as_str() })),
        )
        .await?;
    }
    tracing::info!(
        reservation_id = reservation.id,
        offer_id = offer.id,
        quantity = reservation.quantity,
        state = reservation.state().as_str(),
        "units taken"
    );
    Ok(())
}

/// Tells why a reservation or hold was refused and refreshes the card with what is true now.
pub async fn refused(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    offer: &Offer,
    from: Option<ResultsPage>,
    refusal: Refusal,
) -> Result<(), HandlerError> {
    let screen = Screen::Pressed(query);
    let texts = &ctx.texts.cust;
    let user_id = ctx.user_id();
    let cap = ctx.app.config.reservation_max_units;
    let notice = match refusal {
        Refusal::SoldOut => texts.last_unit_taken.to_owned(),
        Refusal::OnlyLeft(left) => texts.only_left(left),
        Refusal::CapReached { cap, .. } => texts.cap_reached(cap),
        Refusal::Paused | Refusal::Ended => texts.not_reservable_notice.to_owned(),
    };
    tracing::info!(offer_id = offer.id, ?refusal, "reservation refused");
    ctx.answer_callback(query, Some(&notice));
    match (refusal, offers::get(ctx.conn, offer.id).await?) {
        (Refusal::OnlyLeft(left), Some(fresh)) => {
            let held = reservations::held_by(ctx.conn, offer.id, user_id).await?;
            let max = reservation::max_quantity(fresh.units_available, held, cap);
            let how_to_pay = how_to_pay(ctx, offer.business_id).await?;
            let quantity = left.min(max).max(1);
            show_selector(ctx, screen, &fresh, quantity, max, from, how_to_pay).await
        }
        _ => {
            browse::show_details(ctx, screen, offer.id, from).await?;
            Ok(())
        }
    }
}

/// The customer's confirmation: order number, pickup code, where, when, what to pay.
pub fn confirmation_text(ctx: &Context<'_>, reservation: &Reservation) -> String {
    let (day, from, to) =
        window::describe(&reservation.window(), Utc::now(), ctx.app.config.timezone);
    ctx.texts.cust.confirmation(
        reservation,
        &ctx.texts.card_pickup(&day, &from, &to),
        &ctx.texts
            .money(reservation.total_minor, &reservation.currency),
    )
}

/// What the business hears about a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusinessNotice {
    Reserved,
    Cancelled,
}

/// Tells everyone who acts for the business (owner and staff), through the outbound queue.
pub async fn notify_business(
    ctx: &mut Context<'_>,
    reservation: &Reservation,
    notice: BusinessNotice,
) -> Result<(), HandlerError> {
    let members = businesses::members(ctx.conn, reservation.business_id).await?;
    for (member_id, _) in members {
        let order = OrderFacts::of(reservation);
        let message = match notice {
            BusinessNotice::Reserved => Notice::NewReservation {
                order,
                customer: reservation.customer_name.clone(),
                amount_minor: reservation.total_minor,
                currency: reservation.currency.clone(),
            },
            BusinessNotice::Cancelled => Notice::ReservationCancelled { order },
        };
        let id = outbound::enqueue_template(ctx.conn, member_id, message).await?;
        if notice == BusinessNotice::Reserved && id != 0 {
            // It names the customer: erasing their data redacts it.
            crate::store::users::record_mention(ctx.conn, id, reservation.customer_id).await?;
        }
    }
    Ok(())
}
