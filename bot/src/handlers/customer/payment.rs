//! Paying in the chat (Telegram Payments, Stripe as provider): [Pay now] holds the units and
//! sends an invoice; pre_checkout_query re-validates the hold and extends it; successful_payment
//! records the payment once and confirms the reservation — or, when the hold lapsed and nothing
//! is left, refunds it.

use chrono::Utc;
use teloxide::prelude::*;
use teloxide::types::{
    CallbackQuery, ChatId, InlineKeyboardMarkup, LabeledPrice, PreCheckoutQuery, ReplyMarkup,
    SuccessfulPayment,
};

use super::super::{Context, HandlerError};
use super::Screen;
use super::browse::ResultsPage;
use super::reserve::{self, BusinessNotice};
use crate::marketplace::ReservationState;
use crate::marketplace::money::format_amount;
use crate::marketplace::payment::{self, CheckoutRefusal};
use crate::marketplace::window;
use crate::store::offers::Offer;
use crate::store::payments::{self, ReceivedPayment, Settlement};
use crate::store::reservations::{self, Reservation, ReserveOutcome};
use crate::telegram::call_with_retry;

/// [Pay now]: holds the units and sends the invoice.
pub async fn pay_now(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    offer: &Offer,
    quantity: i32,
    from: Option<ResultsPage>,
) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let cap = ctx.app.config.reservation_max_units;
    let now = Utc::now();
    let until = now + ctx.app.config.stripe.hold;
    let outcome =
        reservations::hold(ctx.conn, offer.id, user_id, quantity, cap, now, until).await?;
    let (reservation_id, offer_state) = match outcome {
        ReserveOutcome::Reserved {
            reservation_id,
            offer_state,
        } => (reservation_id, offer_state),
        ReserveOutcome::Refused(refusal) => {
            return reserve::refused(ctx, query, offer, from, refusal).await;
        }
        ReserveOutcome::NoSuchOffer => {
            let notice = ctx.texts.cust.offer_not_found;
            return ctx.answer_callback(query, Some(notice)).await;
        }
    };
    let Some(reservation) = reservations::get(ctx.conn, reservation_id).await? else {
        return Ok(());
    };
    reserve::record_taken(ctx, offer, &reservation, offer_state).await?;
    ctx.answer_callback(query, None).await?;
    send_invoice(ctx, &reservation).await?;
    let minutes = ctx.app.config.stripe.hold.num_minutes();
    let text = ctx.texts.cust.invoice_sent(minutes, reservation.id);
    Screen::Pressed(query)
        .show(ctx, text, InlineKeyboardMarkup::default())
        .await
}

async fn send_invoice(
    ctx: &mut Context<'_>,
    reservation: &Reservation,
) -> Result<(), HandlerError> {
    let texts = &ctx.texts.cust;
    let (day, from, to) =
        window::describe(&reservation.window(), Utc::now(), ctx.app.config.timezone);
    let pickup = ctx.texts.card_pickup(&day, &from, &to);
    let title = texts.invoice_title(&reservation.title);
    let description = texts.invoice_description(reservation, &pickup);
    let label = texts.invoice_label(reservation.quantity, &reservation.title);
    // Amounts are bounded by the price and unit limits far below u32::MAX.
    let amount = u32::try_from(reservation.total_minor).unwrap_or(u32::MAX);
    let payload = payment::invoice_payload(reservation.id);
    let provider_token = ctx
        .app
        .config
        .stripe
        .provider_token
        .as_ref()
        .map(|t| t.expose().to_owned())
        .unwrap_or_default();
    let chat = ChatId(ctx.user_id());
    let bot = &ctx.app.bot;
    let currency = reservation.currency.clone();
    let sent = call_with_retry(&ctx.app.metrics, || {
        bot.send_invoice(
            chat,
            title.clone(),
            description.clone(),
            payload.clone(),
            currency.clone(),
            [LabeledPrice::new(label.clone(), amount)],
        )
        .provider_token(provider_token.clone())
        .into_future()
    })
    .await;
    ctx.delivered(chat, sent).await?;
    tracing::info!(reservation_id = reservation.id, "invoice sent");
    Ok(())
}

/// pre_checkout_query: Telegram waits at most 10 seconds for the answer.
pub async fn on_pre_checkout(
    ctx: &mut Context<'_>,
    query: &PreCheckoutQuery,
) -> Result<(), HandlerError> {
    let now = Utc::now();
    let verdict = match payment::parse_invoice_payload(&query.invoice_payload) {
        None => Err(CheckoutRefusal::Unknown),
        Some(reservation_id) => {
            match payments::hold_for_checkout(ctx.conn, reservation_id).await? {
                None => Err(CheckoutRefusal::Unknown),
                Some(hold) => {
                    let verdict = payment::check_checkout(
                        &hold,
                        ctx.user_id(),
                        i64::from(query.total_amount),
                        &query.currency,
                        now,
                    );
                    settle_checkout(ctx, reservation_id, verdict, now).await?;
                    verdict
                }
            }
        }
    };
    let bot = &ctx.app.bot;
    let id = query.id.clone();
    let answer = match verdict {
        Ok(()) => {
            call_with_retry(&ctx.app.metrics, || {
                bot.answer_pre_checkout_query(id.clone(), true)
                    .into_future()
            })
            .await
        }
        Err(refusal) => {
            tracing::info!(payload = %query.invoice_payload, ?refusal, "checkout refused");
            let message = ctx.texts.cust.checkout_refusal(refusal);
            call_with_retry(&ctx.app.metrics, || {
                bot.answer_pre_checkout_query(id.clone(), false)
                    .error_message(message)
                    .into_future()
            })
            .await
        }
    };
    answer?;
    Ok(())
}

/// Applies a checkout verdict to the hold: more time when it goes ahead; otherwise the units
/// go back at once.
async fn settle_checkout(
    ctx: &mut Context<'_>,
    reservation_id: i64,
    verdict: Result<(), CheckoutRefusal>,
    now: chrono::DateTime<Utc>,
) -> Result<(), HandlerError> {
    let released_as = match verdict {
        Ok(()) => {
            payments::extend_hold(ctx.conn, reservation_id, now + payment::CHECKOUT_EXTENSION)
                .await?;
            return Ok(());
        }
        Err(CheckoutRefusal::Unknown | CheckoutRefusal::AlreadyPaid) => return Ok(()),
        Err(CheckoutRefusal::HoldExpired) => ReservationState::Expired,
        Err(_) => ReservationState::Cancelled,
    };
    if reservations::release_hold(ctx.conn, reservation_id, released_as, now).await? {
        ctx.audit(
            "reservation.hold_released",
            "reservation",
            Some(reservation_id.to_string()),
            Some(serde_json::json!({ "state": "PENDING_PAYMENT" })),
            Some(
                serde_json::json!({ "state": released_as.as_str(), "reason": "checkout refused" }),
            ),
        )
        .await?;
    }
    Ok(())
}

/// successful_payment: recorded once per Telegram charge id, whatever Telegram redelivers.
pub async fn on_successful_payment(
    ctx: &mut Context<'_>,
    chat: ChatId,
    paid: &SuccessfulPayment,
) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let reservation = match payment::parse_invoice_payload(&paid.invoice_payload) {
        Some(id) => reservations::get(ctx.conn, id)
            .await?
            .filter(|r| r.customer_id == user_id),
        None => None,
    };
    let Some(reservation) = reservation else {
        // Not one of our holds: nothing to attach the money to. People must look at it.
        tracing::error!(
            user_id,
            payload = %paid.invoice_payload,
            "payment for an unknown hold"
        );
        ctx.audit(
            "payment.unmatched",
            "payment",
            Some(paid.telegram_payment_charge_id.0.clone()),
            None,
            Some(serde_json::json!({
                "payload": paid.invoice_payload, "amount_minor": paid.total_amount,
                "currency": paid.currency,
            })),
        )
        .await?;
        let text = ctx.texts.something_went_wrong;
        ctx.send(chat, text, None).await?;
        return Ok(());
    };
    let received = ReceivedPayment {
        reservation_id: reservation.id,
        telegram_charge_id: &paid.telegram_payment_charge_id.0,
        provider_charge_id: &paid.provider_payment_charge_id,
        amount_minor: i64::from(paid.total_amount),
        currency: &paid.currency,
    };
    if payments::record(ctx.conn, &received).await?.is_none() {
        tracing::info!(reservation_id = reservation.id, "payment already recorded");
        return Ok(());
    }
    let now = Utc::now();
    let settlement = payments::settle(ctx.conn, reservation.id, user_id, now).await?;
    ctx.audit(
        "payment.received",
        "reservation",
        Some(reservation.id.to_string()),
        Some(serde_json::json!({ "state": reservation.state().as_str() })),
        Some(serde_json::json!({
            "amount_minor": received.amount_minor, "currency": received.currency,
            "settlement": format!("{settlement:?}"),
        })),
    )
    .await?;
    ctx.app.metrics.payments.inc();
    let Some(settled) = reservations::get(ctx.conn, reservation.id).await? else {
        return Ok(());
    };
    match settlement {
        Settlement::Confirmed | Settlement::Revived => {
            tracing::info!(
                reservation_id = settled.id,
                ?settlement,
                "payment confirmed a reservation"
            );
            reserve::notify_business(ctx, &settled, BusinessNotice::Reserved).await?;
            let text = reserve::confirmation_text(ctx, &settled);
            let markup =
                InlineKeyboardMarkup::new([[super::reservations::cancel_button(ctx, settled.id)?]]);
            ctx.send(chat, text, Some(ReplyMarkup::InlineKeyboard(markup)))
                .await?;
        }
        Settlement::Refunding => {
            payments::request_refund(ctx.conn, settled.id, "late payment", None).await?;
            tracing::warn!(
                reservation_id = settled.id,
                "late payment refunded: nothing left"
            );
            let total = format_amount(received.amount_minor, received.currency);
            let text = ctx.texts.cust.late_payment_refunded(&settled, &total);
            ctx.send(chat, text, None).await?;
        }
        Settlement::AlreadyPaid => {
            tracing::error!(
                reservation_id = settled.id,
                "second payment for a paid reservation"
            );
            let text = ctx.texts.something_went_wrong;
            ctx.send(chat, text, None).await?;
        }
    }
    Ok(())
}
