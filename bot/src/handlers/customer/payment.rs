//! Paying in the chat (Telegram Payments, Stripe as provider): [Pay now] holds the units and
//! sends an invoice; pre_checkout_query re-validates the hold and extends it; successful_payment
//! records every charge once and confirms the reservation — or, when the charge cannot buy the
//! hold (lapsed and sold out, paid already, unknown, wrong amount), refunds that charge.

use chrono::Utc;
use teloxide::prelude::*;
use teloxide::types::{
    CallbackQuery, ChatId, InlineKeyboardMarkup, LabeledPrice, PreCheckoutQuery, SuccessfulPayment,
};

use super::super::{Context, HandlerError};
use super::Screen;
use super::browse::ResultsPage;
use super::reserve::{self, BusinessNotice};
use crate::marketplace::ReservationState;
use crate::marketplace::invoice_limits;
use crate::marketplace::payment::{self, CheckoutRefusal};
use crate::marketplace::window;
use crate::store::offers::Offer;
use crate::store::outbound::{self, Notice, OutboundMessage};
use crate::store::payments::{self, Received, ReceivedPayment, RefundCause, Settlement};
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
            {
                ctx.answer_callback(query, Some(notice));
                return Ok(());
            }
        }
    };
    let Some(reservation) = reservations::get(ctx.conn, reservation_id).await? else {
        return Ok(());
    };
    reserve::record_taken(ctx, offer, &reservation, offer_state).await?;
    ctx.answer_callback(query, None);
    let text = match send_invoice(ctx, &reservation).await? {
        Invoice::Sent => {
            let minutes = ctx.app.config.stripe.hold.num_minutes();
            ctx.texts.cust.invoice_sent(minutes, reservation.id)
        }
        Invoice::Refused => {
            // Nothing can be paid, so nothing stays held: the units go back at once.
            release(
                ctx,
                reservation.id,
                ReservationState::Cancelled,
                "invoice refused",
                now,
            )
            .await?;
            let on_site = payments::payment_mode(ctx.conn, offer.business_id)
                .await?
                .on_site();
            ctx.texts.cust.invoice_refused(on_site).to_owned()
        }
    };
    Screen::Pressed(query)
        .show(ctx, text, InlineKeyboardMarkup::default())
        .await
}

/// What became of an invoice.
enum Invoice {
    Sent,
    /// Telegram refused it (e.g. an amount outside its limits); nothing can be paid.
    Refused,
}

async fn send_invoice(
    ctx: &mut Context<'_>,
    reservation: &Reservation,
) -> Result<Invoice, HandlerError> {
    if let Err(error) = invoice_limits::check(reservation.total_minor, &reservation.currency) {
        tracing::warn!(reservation_id = reservation.id, %error, "invoice amount refused");
        return Ok(Invoice::Refused);
    }
    let texts = &ctx.texts.cust;
    let (day, from, to) =
        window::describe(&reservation.window(), Utc::now(), ctx.app.config.timezone);
    let pickup = ctx.texts.card_pickup(&day, &from, &to);
    let title = texts.invoice_title(&reservation.title);
    let description = texts.invoice_description(reservation, &pickup);
    let label = texts.invoice_label(reservation.quantity, &reservation.title);
    // Within Telegram's limits (checked above), far below u32::MAX.
    let amount = u32::try_from(reservation.total_minor).unwrap_or(u32::MAX);
    let payload = payment::invoice_payload(reservation.id);
    // A forwarded copy of the invoice then links to the deal instead of paying this hold.
    let start_parameter = format!("offer_{}", reservation.offer_id);
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
        .start_parameter(start_parameter.clone())
        .into_future()
    })
    .await;
    match sent {
        Err(error) if crate::telegram::is_refusal(&error) => {
            tracing::warn!(reservation_id = reservation.id, %error, "Telegram refused the invoice");
            Ok(Invoice::Refused)
        }
        other => {
            ctx.delivered(chat, other).await?;
            tracing::info!(reservation_id = reservation.id, "invoice sent");
            Ok(Invoice::Sent)
        }
    }
}

/// Releases a hold (its units go back) and audits why.
async fn release(
    ctx: &mut Context<'_>,
    reservation_id: i64,
    released_as: ReservationState,
    reason: &str,
    now: chrono::DateTime<Utc>,
) -> Result<(), HandlerError> {
    if reservations::release_hold(ctx.conn, reservation_id, released_as, now).await? {
        ctx.audit(
            "reservation.hold_released",
            "reservation",
            Some(reservation_id.to_string()),
            Some(serde_json::json!({ "state": "PENDING_PAYMENT" })),
            Some(serde_json::json!({ "state": released_as.as_str(), "reason": reason })),
        )
        .await?;
    }
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
    let refusal = verdict.err().map(|refusal| {
        tracing::info!(payload = %query.invoice_payload, ?refusal, "checkout refused");
        ctx.texts.cust.checkout_refusal(refusal)
    });
    // Answered once the hold's extension (or release) has committed: an approved checkout
    // always has its hold in the database.
    ctx.answer_checkout(query.id.clone(), refusal.map(str::to_owned));
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
            let until = now + payment::CHECKOUT_EXTENSION;
            payments::extend_hold(ctx.conn, reservation_id, now, until).await?;
            return Ok(());
        }
        Err(
            CheckoutRefusal::Unknown
            | CheckoutRefusal::AlreadyPaid
            | CheckoutRefusal::PaymentInFlight,
        ) => return Ok(()),
        Err(CheckoutRefusal::HoldExpired) => ReservationState::Expired,
        Err(_) => ReservationState::Cancelled,
    };
    release(ctx, reservation_id, released_as, "checkout refused", now).await
}

/// successful_payment: Telegram has taken the money. The payment is recorded first, whatever
/// it pays for, and settles its hold or becomes a refund request in the same transaction; every
/// message about it goes through the durable outbound queue, so that no failure to talk to
/// Telegram can undo the record of a charge.
pub async fn on_successful_payment(
    ctx: &mut Context<'_>,
    chat: ChatId,
    paid: &SuccessfulPayment,
) -> Result<(), HandlerError> {
    let received = ReceivedPayment {
        payer_id: ctx.user_id(),
        invoice_payload: &paid.invoice_payload,
        telegram_charge_id: &paid.telegram_payment_charge_id.0,
        provider_charge_id: &paid.provider_payment_charge_id,
        amount_minor: i64::from(paid.total_amount),
        currency: &paid.currency,
    };
    let reservation_id = payment::parse_invoice_payload(&paid.invoice_payload);
    let now = Utc::now();
    let Some(Received {
        payment_id,
        settlement,
    }) = payments::receive(ctx.conn, &received, reservation_id, now).await?
    else {
        tracing::info!(
            charge = %received.telegram_charge_id,
            "payment already recorded"
        );
        return Ok(());
    };
    ctx.audit(
        "payment.received",
        "payment",
        Some(payment_id.to_string()),
        None,
        Some(serde_json::json!({
            "reservation_id": reservation_id, "amount_minor": received.amount_minor,
            "currency": received.currency, "settlement": format!("{settlement:?}"),
        })),
    )
    .await?;
    ctx.app.metrics.payments.inc();
    match settlement {
        Settlement::Confirmed | Settlement::Revived => {
            let Some(id) = reservation_id else {
                return Ok(());
            };
            let Some(settled) = reservations::get(ctx.conn, id).await? else {
                return Ok(());
            };
            tracing::info!(
                reservation_id = settled.id,
                ?settlement,
                "payment confirmed a reservation"
            );
            reserve::notify_business(ctx, &settled, BusinessNotice::Reserved).await?;
            let text = reserve::confirmation_text(ctx, &settled);
            let markup =
                InlineKeyboardMarkup::new([[super::reservations::cancel_button(ctx, settled.id)?]]);
            let message = OutboundMessage::SendMessage {
                text,
                parse_mode: None,
                reply_markup: Some(markup),
            };
            outbound::enqueue(ctx.conn, chat.0, &message).await?;
        }
        Settlement::Refunding(cause) => {
            tracing::warn!(
                payment_id,
                ?reservation_id,
                cause = cause.as_str(),
                "a payment that cannot settle a hold is refunded"
            );
            let order = match cause {
                RefundCause::UnknownHold => None,
                _ => reservation_id,
            };
            let notice =
                Notice::payment_refunding(cause, order, received.amount_minor, received.currency);
            outbound::enqueue_template(ctx.conn, chat.0, notice).await?;
        }
    }
    Ok(())
}
