//! `/my_reservations`: upcoming reservations one message each with [Cancel] while the pickup
//! window has not ended, then the past ones. Cancelling asks first, returns the units to the
//! offer and tells the business.

use chrono::Utc;
use teloxide::types::{
    CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup,
};

use super::super::{Context, HandlerError};
use super::Screen;
use super::reserve::{self, BusinessNotice};
use crate::marketplace::{OfferState, ReservationState};
use crate::store::reservations::Reservation;
use crate::store::reservations::{self, CancelOutcome};
use crate::telegram::callback::CallbackData;
use crate::texts::customer::time_of_day;

const CANCEL: &str = "rv_cancel";
const CANCEL_CONFIRMED: &str = "rv_cancel_yes";
const KEEP: &str = "rv_keep";
/// How many reservations /my_reservations shows.
const LIST_LIMIT: i64 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Cancel,
    CancelConfirmed,
    Keep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Button {
    pub reservation_id: i64,
    pub action: Action,
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        let action = match data.action.as_str() {
            CANCEL => Action::Cancel,
            CANCEL_CONFIRMED => Action::CancelConfirmed,
            KEEP => Action::Keep,
            _ => return None,
        };
        match data.args.as_slice() {
            [reservation_id] => Some(Self {
                reservation_id: *reservation_id,
                action,
            }),
            _ => None,
        }
    }
}

pub fn cancel_button(
    ctx: &Context<'_>,
    reservation_id: i64,
) -> Result<InlineKeyboardButton, HandlerError> {
    ctx.button(
        ctx.texts.cust.cancel_reservation_button,
        CANCEL,
        &[reservation_id],
    )
}

pub async fn my_reservations(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    let list = reservations::list_for_customer(ctx.conn, ctx.user_id(), LIST_LIMIT).await?;
    if list.is_empty() {
        let text = ctx.texts.cust.no_reservations;
        ctx.send(chat, text, None);
        return Ok(());
    }
    let now = Utc::now();
    let tz = ctx.app.config.timezone;
    let waiting = |r: &Reservation| {
        r.state() == ReservationState::PendingPayment
            && r.hold_expires_at.is_some_and(|at| at > now)
    };
    let (upcoming, past): (Vec<_>, Vec<_>) = list
        .into_iter()
        .partition(|r| r.cancellable_at(now) || waiting(r));
    for reservation in &upcoming {
        if waiting(reservation) {
            // A hold waits for its invoice to be paid; it lapses on its own.
            let until = time_of_day(
                &ctx.texts.cust,
                reservation.hold_expires_at.unwrap_or(now),
                tz,
            );
            let text = ctx.texts.cust.hold_waiting(reservation, &until);
            ctx.send(chat, text, None);
            continue;
        }
        let text = reserve::confirmation_text(ctx, reservation);
        let markup = InlineKeyboardMarkup::new([[cancel_button(ctx, reservation.id)?]]);
        ctx.send(chat, text, Some(ReplyMarkup::InlineKeyboard(markup)));
    }
    if !past.is_empty() {
        let lines: Vec<String> = past
            .iter()
            .map(|r| ctx.texts.cust.past_reservation_line(r, tz))
            .collect();
        let text = format!("{}\n{}", ctx.texts.cust.past_reservations, lines.join("\n"));
        ctx.send(chat, text, None);
    }
    Ok(())
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let reservation = reservations::get(ctx.conn, button.reservation_id)
        .await?
        .filter(|r| r.customer_id == user_id);
    let Some(reservation) = reservation else {
        tracing::warn!(
            user_id,
            reservation_id = button.reservation_id,
            "reservation button of another customer refused"
        );
        let notice = ctx.texts.cust.not_your_reservation;
        {
            ctx.answer_callback(query, Some(notice));
            return Ok(());
        }
    };
    let screen = Screen::Pressed(query);
    let texts = &ctx.texts.cust;
    match button.action {
        Action::Cancel => {
            if !reservation.cancellable_at(Utc::now()) {
                let notice = texts.cannot_cancel(reservation.state());
                {
                    ctx.answer_callback(query, Some(notice));
                    return Ok(());
                }
            }
            ctx.answer_callback(query, None);
            let markup = InlineKeyboardMarkup::new([[
                ctx.button(
                    texts.cancel_confirm_button,
                    CANCEL_CONFIRMED,
                    &[reservation.id],
                )?,
                ctx.button(texts.keep_button, KEEP, &[reservation.id])?,
            ]]);
            let text = texts.cancel_question(&reservation);
            screen.show(ctx, text, markup).await
        }
        Action::Keep => {
            ctx.answer_callback(query, None);
            let text = reserve::confirmation_text(ctx, &reservation);
            let markup = InlineKeyboardMarkup::new([[cancel_button(ctx, reservation.id)?]]);
            screen.show(ctx, text, markup).await
        }
        Action::CancelConfirmed => {
            let outcome =
                reservations::cancel(ctx.conn, reservation.id, user_id, Utc::now()).await?;
            let (offer_state, refund_requested) = match outcome {
                CancelOutcome::Cancelled {
                    offer_state,
                    refund_requested,
                } => (offer_state, refund_requested),
                CancelOutcome::NotConfirmed(state) => {
                    let notice = texts.cannot_cancel(state);
                    {
                        ctx.answer_callback(query, Some(notice));
                        return Ok(());
                    }
                }
                CancelOutcome::WindowEnded => {
                    let notice = texts.cannot_cancel_after_window;
                    {
                        ctx.answer_callback(query, Some(notice));
                        return Ok(());
                    }
                }
                CancelOutcome::NotYours => {
                    let notice = texts.not_your_reservation;
                    {
                        ctx.answer_callback(query, Some(notice));
                        return Ok(());
                    }
                }
            };
            ctx.audit(
                "reservation.cancelled",
                "reservation",
                Some(reservation.id.to_string()),
                Some(serde_json::json!({ "state": "CONFIRMED" })),
                Some(serde_json::json!({
                    "state": "CANCELLED", "units_returned": reservation.quantity,
                    "offer_state": offer_state.as_str(), "refund_requested": refund_requested,
                })),
            )
            .await?;
            if offer_state == OfferState::Active {
                tracing::info!(
                    offer_id = reservation.offer_id,
                    "units returned to the offer"
                );
            }
            reserve::notify_business(ctx, &reservation, BusinessNotice::Cancelled).await?;
            let notice = texts.cancelled_notice;
            ctx.answer_callback(query, Some(notice));
            let mut text = texts.cancelled(&reservation);
            if refund_requested {
                let total = ctx
                    .texts
                    .money(reservation.total_minor, &reservation.currency);
                text.push('\n');
                text.push_str(&texts.refund_on_its_way(&total));
            }
            let markup = InlineKeyboardMarkup::new([[super::browse::menu_button(
                ctx,
                texts.browse_button,
            )?]]);
            screen.show(ctx, text, markup).await
        }
    }
}
