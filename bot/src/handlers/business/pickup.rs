//! Pickups, business side: a member sends (or forwards) the customer's pickup code, or taps
//! [picked up] in an offer's reservation list. Codes of other businesses are refused like wrong
//! ones. The customer is then asked to rate the pickup.

use chrono::Utc;
use teloxide::types::{CallbackQuery, ChatId, InlineKeyboardMarkup, ReplyMarkup};

use super::super::customer::rating;
use super::super::{Context, HandlerError};
use crate::marketplace::ReservationState;
use crate::marketplace::permissions::{self, Access, Action};
use crate::marketplace::reservation::{PaymentStatus, find_pickup_code};
use crate::store::offers;
use crate::store::outbound::{self, Notice, Template};
use crate::store::payments;
use crate::store::reservations::{self, PickupOutcome, Reservation};
use crate::telegram::callback::CallbackData;
use crate::texts::customer::OrderFacts;

const LIST: &str = "pk_list";
const CONFIRM: &str = "pk_done";
const REFUND: &str = "pk_refund";
const REFUND_CONFIRMED: &str = "pk_refund_yes";
/// How many reservations an offer's list shows.
const LIST_LIMIT: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    /// The reservations of an offer.
    List {
        offer_id: i64,
    },
    /// Confirms a pickup from that list.
    Confirm {
        reservation_id: i64,
    },
    /// Asks whether to refund a paid reservation (the shop ran out, a no-show is forgiven).
    Refund {
        reservation_id: i64,
    },
    RefundConfirmed {
        reservation_id: i64,
    },
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        match (data.action.as_str(), data.args.as_slice()) {
            (LIST, [offer_id]) => Some(Self::List {
                offer_id: *offer_id,
            }),
            (CONFIRM, [reservation_id]) => Some(Self::Confirm {
                reservation_id: *reservation_id,
            }),
            (REFUND, [reservation_id]) => Some(Self::Refund {
                reservation_id: *reservation_id,
            }),
            (REFUND_CONFIRMED, [reservation_id]) => Some(Self::RefundConfirmed {
                reservation_id: *reservation_id,
            }),
            _ => None,
        }
    }
}

pub fn list_button(
    ctx: &Context<'_>,
    offer_id: i64,
) -> Result<teloxide::types::InlineKeyboardButton, HandlerError> {
    ctx.button(ctx.texts.cust.reservations_button, LIST, &[offer_id])
}

/// `/pickup [code]`.
pub async fn command(
    ctx: &mut Context<'_>,
    chat: ChatId,
    argument: Option<&str>,
) -> Result<(), HandlerError> {
    match argument.and_then(find_pickup_code) {
        Some(code) => by_code(ctx, chat, &code).await,
        None => {
            let text = ctx.texts.cust.pickup_prompt;
            ctx.send(chat, text, None);
            Ok(())
        }
    }
}

/// Text from a business member that holds a pickup code (typed or a forwarded confirmation).
/// Returns whether it was taken as a pickup.
pub async fn on_member_text(
    ctx: &mut Context<'_>,
    chat: ChatId,
    text: &str,
) -> Result<bool, HandlerError> {
    let Some(code) = find_pickup_code(text) else {
        return Ok(false);
    };
    if crate::store::businesses::of_member(ctx.conn, ctx.user_id())
        .await?
        .is_empty()
    {
        return Ok(false);
    }
    by_code(ctx, chat, &code).await?;
    Ok(true)
}

async fn by_code(ctx: &mut Context<'_>, chat: ChatId, code: &str) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let outcome = match reservations::find_by_code_for_member(ctx.conn, code, user_id).await? {
        Some((reservation_id, business_id)) => {
            let access = super::access(ctx, business_id, Action::ConfirmPickup).await?;
            if !matches!(access, Access::Allowed(_)) {
                let text = super::refusal(ctx, access, Action::ConfirmPickup);
                ctx.send(chat, text, None);
                return Ok(());
            }
            reservations::pick_up(ctx.conn, reservation_id, user_id, Utc::now()).await?
        }
        None => PickupOutcome::Unknown,
    };
    let text = if outcome == PickupOutcome::Unknown {
        tracing::info!(user_id = ctx.user_id(), "pickup code refused");
        ctx.texts.cust.pickup_unknown(code)
    } else {
        answer(ctx, outcome).await?
    };
    ctx.send(chat, text, None);
    Ok(())
}

/// What the member is told; a confirmed pickup is audited and the customer asked to rate it.
async fn answer(ctx: &mut Context<'_>, outcome: PickupOutcome) -> Result<String, HandlerError> {
    let texts = &ctx.texts.cust;
    Ok(match outcome {
        PickupOutcome::PickedUp(reservation) => {
            picked_up(ctx, &reservation).await?;
            let total = ctx
                .texts
                .money(reservation.total_minor, &reservation.currency);
            ctx.texts.cust.pickup_done(&reservation, &total)
        }
        PickupOutcome::Unknown => texts.pickup_unknown(""),
        PickupOutcome::AlreadyPickedUp(reservation) => {
            texts.pickup_already(&reservation, ctx.app.config.timezone)
        }
        PickupOutcome::NotConfirmed(reservation) => texts.pickup_not_confirmed(&reservation),
    })
}

async fn picked_up(ctx: &mut Context<'_>, reservation: &Reservation) -> Result<(), HandlerError> {
    ctx.audit(
        "reservation.picked_up",
        "reservation",
        Some(reservation.id.to_string()),
        Some(serde_json::json!({ "state": "CONFIRMED" })),
        Some(serde_json::json!({ "state": "PICKED_UP" })),
    )
    .await?;
    tracing::info!(reservation_id = reservation.id, "pickup confirmed");
    let question = Template::from(Notice::RateQuestion {
        order: OrderFacts::of(reservation),
    })
    .with_same_keyboard(&rating::stars_keyboard(&ctx.app.callbacks, reservation.id)?);
    outbound::enqueue_template(ctx.conn, reservation.customer_id, question).await?;
    Ok(())
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    match button {
        Button::List { offer_id } => {
            let Some(offer) = offers::get(ctx.conn, offer_id).await? else {
                let notice = ctx.texts.biz.not_your_offer;
                ctx.answer_callback(query, Some(notice));
                return Ok(());
            };
            if !super::permit_press(ctx, query, offer.business_id, Action::SeeReservations).await? {
                return Ok(());
            }
            ctx.answer_callback(query, None);
            show_list(
                ctx,
                ChatId(user_id),
                offer.id,
                offer.business_id,
                &offer.title,
            )
            .await
        }
        Button::Refund { reservation_id } => refund(ctx, query, reservation_id, false).await,
        Button::RefundConfirmed { reservation_id } => {
            refund(ctx, query, reservation_id, true).await
        }
        Button::Confirm { reservation_id } => {
            let Some(reservation) = reservations::get(ctx.conn, reservation_id).await? else {
                let notice = ctx.texts.biz.not_your_offer;
                ctx.answer_callback(query, Some(notice));
                return Ok(());
            };
            if !super::permit_press(ctx, query, reservation.business_id, Action::ConfirmPickup)
                .await?
            {
                return Ok(());
            }
            let outcome =
                reservations::pick_up(ctx.conn, reservation_id, user_id, Utc::now()).await?;
            if outcome == PickupOutcome::Unknown {
                let notice = ctx.texts.biz.not_your_offer;
                ctx.answer_callback(query, Some(notice));
                return Ok(());
            }
            let offer_id = match &outcome {
                PickupOutcome::PickedUp(r)
                | PickupOutcome::AlreadyPickedUp(r)
                | PickupOutcome::NotConfirmed(r) => Some((r.offer_id, r.title.clone())),
                PickupOutcome::Unknown => None,
            };
            let text = answer(ctx, outcome).await?;
            ctx.answer_callback(query, None);
            ctx.send(ChatId(user_id), text, None);
            if let Some((offer_id, title)) = offer_id {
                refresh_list(ctx, query, offer_id, reservation.business_id, &title).await?;
            }
            Ok(())
        }
    }
}

/// A paid reservation that was not picked up may be refunded by its business.
fn refundable(reservation: &Reservation) -> bool {
    reservation.payment_status() == PaymentStatus::Paid
        && matches!(
            reservation.state(),
            ReservationState::Confirmed | ReservationState::NoShow
        )
}

async fn refund(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    reservation_id: i64,
    confirmed: bool,
) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let Some(reservation) = reservations::get(ctx.conn, reservation_id).await? else {
        let notice = ctx.texts.biz.not_your_offer;
        ctx.answer_callback(query, Some(notice));
        return Ok(());
    };
    if !super::permit_press(ctx, query, reservation.business_id, Action::Refund).await? {
        return Ok(());
    }
    let texts = &ctx.texts.cust;
    if !refundable(&reservation) {
        {
            ctx.answer_callback(query, Some(texts.not_refundable));
            return Ok(());
        }
    }
    let total = ctx
        .texts
        .money(reservation.total_minor, &reservation.currency);
    if !confirmed {
        ctx.answer_callback(query, None);
        let markup = InlineKeyboardMarkup::new([[
            ctx.button(
                texts.refund_confirm_button,
                REFUND_CONFIRMED,
                &[reservation.id],
            )?,
            ctx.button(ctx.texts.biz.back_button, LIST, &[reservation.offer_id])?,
        ]]);
        let text = texts.refund_question(&reservation, &total);
        return super::replace_pressed(ctx, query, text, Some(markup)).await;
    }
    if !payments::refund_by_business(ctx.conn, reservation.id, user_id, Utc::now()).await? {
        {
            ctx.answer_callback(query, Some(texts.not_refundable));
            return Ok(());
        }
    }
    ctx.audit(
        "refund.requested",
        "reservation",
        Some(reservation.id.to_string()),
        Some(serde_json::json!({
            "state": reservation.state().as_str(), "payment_status": "PAID",
        })),
        Some(serde_json::json!({ "payment_status": "REFUND_PENDING", "by": "business" })),
    )
    .await?;
    let note = Notice::RefundedByShop {
        order: OrderFacts::of(&reservation),
        amount_minor: reservation.total_minor,
        currency: reservation.currency.clone(),
    };
    outbound::enqueue_template(ctx.conn, reservation.customer_id, note).await?;
    ctx.answer_callback(query, None);
    let text = texts.business_refund_requested(&reservation, &total);
    ctx.send(ChatId(user_id), text, None);
    refresh_list(
        ctx,
        query,
        reservation.offer_id,
        reservation.business_id,
        &reservation.title,
    )
    .await
}

/// An offer's reservations, with the buttons the presser's role allows (staff see no refund).
async fn list_screen(
    ctx: &mut Context<'_>,
    offer_id: i64,
    business_id: i64,
    title: &str,
) -> Result<(String, InlineKeyboardMarkup), HandlerError> {
    let may_refund = super::role_now(ctx, business_id)
        .await?
        .is_some_and(|role| permissions::allowed(role, Action::Refund));
    let list = reservations::list_for_offer(ctx.conn, offer_id, LIST_LIMIT).await?;
    let texts = &ctx.texts.cust;
    if list.is_empty() {
        return Ok((
            texts.no_reservations_for_offer.to_owned(),
            InlineKeyboardMarkup::default(),
        ));
    }
    let lines: Vec<String> = list
        .iter()
        .map(|r| texts.business_reservation_line(r))
        .collect();
    let mut rows = Vec::new();
    for r in &list {
        let mut row = Vec::new();
        if r.state() == ReservationState::Confirmed {
            row.push(ctx.button(&texts.picked_up_button(r), CONFIRM, &[r.id])?);
        }
        if may_refund && refundable(r) {
            row.push(ctx.button(&texts.refund_button(r), REFUND, &[r.id])?);
        }
        if !row.is_empty() {
            rows.push(row);
        }
    }
    Ok((
        texts.reservations_of_offer(title, &lines),
        InlineKeyboardMarkup::new(rows),
    ))
}

async fn show_list(
    ctx: &mut Context<'_>,
    chat: ChatId,
    offer_id: i64,
    business_id: i64,
    title: &str,
) -> Result<(), HandlerError> {
    let (text, markup) = list_screen(ctx, offer_id, business_id, title).await?;
    ctx.send(chat, text, Some(ReplyMarkup::InlineKeyboard(markup)));
    Ok(())
}

async fn refresh_list(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    offer_id: i64,
    business_id: i64,
    title: &str,
) -> Result<(), HandlerError> {
    let (text, markup) = list_screen(ctx, offer_id, business_id, title).await?;
    super::replace_pressed(ctx, query, text, Some(markup)).await
}
