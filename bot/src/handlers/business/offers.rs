//! `/myoffers` and each offer's buttons: [Pause]/[Resume] [Edit] [End now] (confirmed)
//! [View as customer] [Share link]. Every press checks the presser's role at the time of the
//! press; ending a deal with paid reservations is the owner's.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use teloxide::types::{
    CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup,
};

use super::super::{Context, HandlerError};
use super::dialogue::{self, Answer};
use crate::marketplace::card;
use crate::marketplace::input::{self, Field, Invalid, Problem};
use crate::marketplace::permissions::Action as Permission;
use crate::marketplace::{OfferState, money, window};
use crate::store::businesses::BusinessStatus;
use crate::store::conversations::Conversation;
use crate::store::offers::{self, Offer, StateChange, WindowChange};
use crate::store::outbound::{self, Notice};
use crate::store::reservations;
use crate::telegram::callback::CallbackData;
use crate::texts::customer::OrderFacts;

pub const EDIT_FLOW: &str = "edit_offer";
/// How many offers /myoffers shows.
const LIST_LIMIT: i64 = 10;

const PAUSE: &str = "off_pause";
const RESUME: &str = "off_resume";
const END: &str = "off_end";
const END_CONFIRM: &str = "off_end_yes";
const MANAGE: &str = "off_manage";
const EDIT: &str = "off_edit";
const EDIT_FIELD: &str = "off_edit_f";
const VIEW: &str = "off_view";
const SHARE: &str = "off_share";

/// The fields an owner may change on a published offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EditableField {
    Units,
    Price,
    Window,
    Description,
}

impl EditableField {
    const ALL: [Self; 4] = [Self::Units, Self::Price, Self::Window, Self::Description];

    fn field(self) -> Field {
        match self {
            Self::Units => Field::Units,
            Self::Price => Field::Price,
            Self::Window => Field::PickupWindow,
            Self::Description => Field::Description,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pause,
    Resume,
    End,
    EndConfirmed,
    Manage,
    Edit,
    EditField(EditableField),
    View,
    Share,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Button {
    pub offer_id: i64,
    pub action: Action,
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        let (offer_id, extra) = match data.args.as_slice() {
            [offer_id] => (*offer_id, None),
            [offer_id, extra] => (*offer_id, Some(*extra)),
            _ => return None,
        };
        let action = match (data.action.as_str(), extra) {
            (PAUSE, None) => Action::Pause,
            (RESUME, None) => Action::Resume,
            (END, None) => Action::End,
            (END_CONFIRM, None) => Action::EndConfirmed,
            (MANAGE, None) => Action::Manage,
            (EDIT, None) => Action::Edit,
            (EDIT_FIELD, Some(index)) => {
                Action::EditField(*EditableField::ALL.get(usize::try_from(index).ok()?)?)
            }
            (VIEW, None) => Action::View,
            (SHARE, None) => Action::Share,
            _ => return None,
        };
        Some(Self { offer_id, action })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct EditDraft {
    offer_id: i64,
    field: EditableField,
}

fn callback_button(
    ctx: &Context<'_>,
    label: &str,
    action: &str,
    args: &[i64],
) -> Result<InlineKeyboardButton, HandlerError> {
    Ok(InlineKeyboardButton::callback(
        label.to_owned(),
        ctx.app.callbacks.encode(action, args)?,
    ))
}

/// The buttons under a freshly published offer.
pub fn published_keyboard(
    ctx: &Context<'_>,
    offer_id: i64,
) -> Result<InlineKeyboardMarkup, HandlerError> {
    let texts = ctx.texts;
    Ok(InlineKeyboardMarkup::new([
        vec![
            callback_button(ctx, texts.biz.view_as_customer_button, VIEW, &[offer_id])?,
            callback_button(ctx, texts.biz.share_link_button, SHARE, &[offer_id])?,
        ],
        vec![callback_button(
            ctx,
            texts.biz.manage_button,
            MANAGE,
            &[offer_id],
        )?],
    ]))
}

/// The management buttons that fit the offer's state.
fn manage_keyboard(
    ctx: &Context<'_>,
    offer: &Offer,
) -> Result<Option<InlineKeyboardMarkup>, HandlerError> {
    let texts = ctx.texts;
    let id = offer.id;
    let state = offer.state();
    if state.is_final() {
        return Ok(None);
    }
    let mut first = Vec::new();
    match state {
        OfferState::Active => {
            first.push(callback_button(ctx, texts.biz.pause_button, PAUSE, &[id])?)
        }
        OfferState::Paused => first.push(callback_button(
            ctx,
            texts.biz.resume_button,
            RESUME,
            &[id],
        )?),
        _ => {}
    }
    first.push(callback_button(ctx, texts.biz.edit_button, EDIT, &[id])?);
    first.push(callback_button(ctx, texts.biz.end_now_button, END, &[id])?);
    Ok(Some(InlineKeyboardMarkup::new([
        first,
        vec![
            super::pickup::list_button(ctx, id)?,
            callback_button(ctx, texts.biz.view_as_customer_button, VIEW, &[id])?,
        ],
    ])))
}

fn render(ctx: &Context<'_>, offer: &Offer) -> String {
    card::render(
        &offer.card(),
        ctx.texts,
        Utc::now(),
        ctx.app.config.timezone,
    )
}

/// `/myoffers`: one message per offer, open ones first.
pub async fn my_offers(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let list = offers::list_for_member(ctx.conn, user_id, LIST_LIMIT).await?;
    if list.is_empty() {
        let text = ctx.texts.biz.no_offers;
        ctx.send(chat, text, None);
        return Ok(());
    }
    for offer in list {
        let text = render(ctx, &offer);
        let keyboard = manage_keyboard(ctx, &offer)?;
        ctx.send(chat, text, keyboard.map(ReplyMarkup::InlineKeyboard));
    }
    Ok(())
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let Some(offer) = offers::get_for_update(ctx.conn, button.offer_id).await? else {
        let notice = ctx.texts.biz.not_your_offer;
        ctx.answer_callback(query, Some(notice));
        return Ok(());
    };
    if !super::permit_press(ctx, query, offer.business_id, Permission::ManageDeal).await? {
        return Ok(());
    }
    let chat = ChatId(user_id);
    match button.action {
        Action::Pause => change_state(ctx, query, &offer, OfferState::Paused).await,
        Action::Resume => {
            let refusal = if offer.business_status != BusinessStatus::Approved.as_str() {
                Some(ctx.texts.biz.resume_suspended)
            } else if offer.units_available == 0 {
                Some(ctx.texts.biz.resume_without_units)
            } else if !offer.window().is_open_at(Utc::now()) {
                Some(ctx.texts.biz.window_ended)
            } else {
                None
            };
            if let Some(notice) = refusal {
                {
                    ctx.answer_callback(query, Some(notice));
                    return Ok(());
                }
            }
            change_state(ctx, query, &offer, OfferState::Active).await
        }
        Action::End => {
            if offer.state().is_final() {
                let notice = ctx.texts.biz.offer_already_ended;
                {
                    ctx.answer_callback(query, Some(notice));
                    return Ok(());
                }
            }
            let (live, paid) = reservations::live_count(ctx.conn, offer.id).await?;
            if paid > 0
                && !super::permit_press(ctx, query, offer.business_id, Permission::EndDealWithPaid)
                    .await?
            {
                return Ok(());
            }
            ctx.answer_callback(query, None);
            let texts = ctx.texts;
            let keyboard = InlineKeyboardMarkup::new([[
                button_of(ctx, texts.biz.end_confirm_button, END_CONFIRM, offer.id)?,
                button_of(ctx, texts.biz.end_keep_button, MANAGE, offer.id)?,
            ]]);
            let text = texts.end_confirm(&offer.title, live, paid);
            super::replace_pressed(ctx, query, text, Some(keyboard)).await
        }
        Action::EndConfirmed => {
            // Checked again: a payment may have arrived since the question was asked.
            let (_, paid) = reservations::live_count(ctx.conn, offer.id).await?;
            if paid > 0
                && !super::permit_press(ctx, query, offer.business_id, Permission::EndDealWithPaid)
                    .await?
            {
                return Ok(());
            }
            change_state(ctx, query, &offer, OfferState::ExpiredEarly).await
        }
        Action::Manage => {
            ctx.answer_callback(query, None);
            let text = render(ctx, &offer);
            let keyboard = manage_keyboard(ctx, &offer)?;
            super::replace_pressed(ctx, query, text, keyboard).await
        }
        Action::Edit => {
            if offer.state().is_final() {
                let notice = ctx.texts.biz.offer_already_ended;
                {
                    ctx.answer_callback(query, Some(notice));
                    return Ok(());
                }
            }
            ctx.answer_callback(query, None);
            let texts = ctx.texts;
            let mut rows = EditableField::ALL
                .iter()
                .enumerate()
                .map(|(index, field)| {
                    callback_button(
                        ctx,
                        texts.field_name(field.field()),
                        EDIT_FIELD,
                        &[offer.id, index as i64],
                    )
                    .map(|b| vec![b])
                })
                .collect::<Result<Vec<_>, _>>()?;
            rows.push(vec![button_of(
                ctx,
                texts.biz.back_button,
                MANAGE,
                offer.id,
            )?]);
            let text = texts.which_offer_field(&offer.title);
            super::replace_pressed(ctx, query, text, Some(InlineKeyboardMarkup::new(rows))).await
        }
        Action::EditField(field) => {
            ctx.answer_callback(query, None);
            dialogue::save(
                ctx,
                chat,
                EDIT_FLOW,
                "value",
                &EditDraft {
                    offer_id: offer.id,
                    field,
                },
            )
            .await?;
            let currency = offer.currency.clone();
            let text = match field {
                EditableField::Units => ctx.texts.biz.ask_units_edit.to_owned(),
                EditableField::Price => ctx.texts.ask_price(&currency),
                EditableField::Window => ctx.texts.ask_window(ctx.app.config.timezone.name()),
                EditableField::Description => ctx.texts.biz.ask_description.to_owned(),
            };
            ctx.send(chat, text, None);
            Ok(())
        }
        Action::View => {
            ctx.answer_callback(query, None);
            let text = ctx.texts.customer_view(&render(ctx, &offer));
            match &offer.photo_file_id {
                // The card fits a caption: the title is at most 60 and the description 200
                // characters.
                Some(photo) => ctx.send_photo(chat, photo, text),
                None => ctx.send(chat, text, None),
            };
            Ok(())
        }
        Action::Share => {
            ctx.answer_callback(query, None);
            let username = super::bot_username(ctx.app).await?;
            let text = ctx
                .texts
                .share(&offer.title, &super::share_link(username, offer.id));
            ctx.send(chat, text, None);
            Ok(())
        }
    }
}

fn button_of(
    ctx: &Context<'_>,
    label: &str,
    action: &str,
    offer_id: i64,
) -> Result<InlineKeyboardButton, HandlerError> {
    callback_button(ctx, label, action, &[offer_id])
}

async fn change_state(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    offer: &Offer,
    to: OfferState,
) -> Result<(), HandlerError> {
    let from = offer.state();
    match offers::change_state(ctx.conn, offer.id, from, to).await? {
        StateChange::Applied => {}
        StateChange::Forbidden(_) | StateChange::Stale => {
            let notice = ctx.texts.not_in_state(from);
            {
                ctx.answer_callback(query, Some(notice.as_str()));
                return Ok(());
            }
        }
    }
    let action = match to {
        OfferState::Paused => "offer.paused",
        OfferState::Active => "offer.resumed",
        OfferState::ExpiredEarly => "offer.ended_early",
        OfferState::SoldOut => "offer.sold_out",
        OfferState::Expired => "offer.expired",
    };
    ctx.audit(
        action,
        "offer",
        Some(offer.id.to_string()),
        Some(serde_json::json!({ "state": from.as_str() })),
        Some(serde_json::json!({ "state": to.as_str() })),
    )
    .await?;
    if to == OfferState::ExpiredEarly {
        cancel_reservations(ctx, offer).await?;
    }
    tracing::info!(
        offer_id = offer.id,
        from = from.as_str(),
        to = to.as_str(),
        "offer state changed"
    );
    let notice = ctx.texts.state_changed(to);
    ctx.answer_callback(query, Some(notice));
    let Some(updated) = offers::get(ctx.conn, offer.id).await? else {
        return Ok(());
    };
    let text = render(ctx, &updated);
    let keyboard = manage_keyboard(ctx, &updated)?;
    super::replace_pressed(ctx, query, text, keyboard).await
}

/// An offer ended early takes its reservations with it: each customer is told, and paid ones
/// are refunded in full.
async fn cancel_reservations(ctx: &mut Context<'_>, offer: &Offer) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let cancelled =
        reservations::cancel_for_ended_offer(ctx.conn, offer.id, user_id, Utc::now()).await?;
    for (reservation, refunded) in &cancelled {
        ctx.audit(
            "reservation.cancelled_by_business",
            "reservation",
            Some(reservation.id.to_string()),
            None,
            Some(serde_json::json!({ "reason": "offer ended early", "refunded": refunded })),
        )
        .await?;
        let notice = Notice::CancelledOfferEnded {
            order: OrderFacts::of(reservation),
            refunded_minor: refunded.then_some(reservation.total_minor),
            currency: reservation.currency.clone(),
        };
        outbound::enqueue_template(ctx.conn, reservation.customer_id, notice).await?;
    }
    if !cancelled.is_empty() {
        tracing::info!(
            offer_id = offer.id,
            cancelled = cancelled.len(),
            "reservations of an offer ended early cancelled"
        );
    }
    Ok(())
}

pub async fn on_edit_answer(
    ctx: &mut Context<'_>,
    chat: ChatId,
    conversation: Conversation<serde_json::Value>,
    answer: Answer,
) -> Result<bool, HandlerError> {
    let Some(draft) = dialogue::data::<EditDraft>(&conversation) else {
        dialogue::clear(ctx, chat).await?;
        return Ok(false);
    };
    let text = match answer {
        Answer::Cancel | Answer::Back => {
            dialogue::clear(ctx, chat).await?;
            let text = ctx.texts.biz.edit_cancelled;
            ctx.send(chat, text, None);
            return Ok(true);
        }
        Answer::Text(text) => text,
        _ => {
            dialogue::refuse(
                ctx,
                chat,
                Invalid::new(draft.field.field(), Problem::Format),
            )
            .await?;
            return Ok(true);
        }
    };
    let offer = match offers::get_for_update(ctx.conn, draft.offer_id).await? {
        Some(offer) => match super::access(ctx, offer.business_id, Permission::ManageDeal).await? {
            crate::marketplace::permissions::Access::Allowed(_) => Some(offer),
            _ => None,
        },
        None => None,
    };
    let Some(offer) = offer else {
        dialogue::clear(ctx, chat).await?;
        let text = ctx.texts.biz.not_your_offer;
        ctx.send(chat, text, None);
        return Ok(true);
    };
    let now = Utc::now();
    if offer.state().is_final() || !offer.window().is_open_at(now) {
        dialogue::clear(ctx, chat).await?;
        let text = ctx.texts.biz.offer_already_ended;
        ctx.send(chat, text, None);
        return Ok(true);
    }
    let before = serde_json::json!({
        "state": offer.state().as_str(), "units": offer.units_available,
        "price_minor": offer.price_minor, "pickup_start": offer.pickup_start,
        "pickup_end": offer.pickup_end, "description": offer.description,
    });
    let applied: Result<(), Invalid> = match draft.field {
        EditableField::Units => match input::units(&text, true) {
            Ok(units) => {
                offers::set_units(ctx.conn, &offer, units).await?;
                Ok(())
            }
            Err(invalid) => Err(invalid),
        },
        EditableField::Price => {
            match money::parse_amount(&text, &offer.currency, Field::Price).and_then(|price| {
                input::price_below_original(price, offer.original_minor)
                    .map(|()| price)
                    .map_err(|_| Invalid::new(Field::Price, Problem::NotBelowOriginal))
            }) {
                Ok(price) => {
                    match super::in_app_price_refusal(ctx, offer.business_id, price).await? {
                        Some(refusal) => Err(refusal),
                        None => {
                            offers::set_price(ctx.conn, offer.id, price).await?;
                            Ok(())
                        }
                    }
                }
                Err(invalid) => Err(invalid),
            }
        }
        EditableField::Window => match window::parse(&text, now, ctx.app.config.timezone) {
            Ok(window) => match offers::change_window(ctx.conn, &offer, window).await? {
                WindowChange::Applied => Ok(()),
                WindowChange::Locked { live } => {
                    dialogue::clear(ctx, chat).await?;
                    let text = ctx.texts.window_locked(live);
                    ctx.send(chat, text, None);
                    return Ok(true);
                }
            },
            Err(invalid) => Err(invalid),
        },
        EditableField::Description => match input::description(&text) {
            Ok(description) => {
                offers::set_description(ctx.conn, offer.id, &description).await?;
                Ok(())
            }
            Err(invalid) => Err(invalid),
        },
    };
    if let Err(invalid) = applied {
        // The dialogue stays at this field until a valid answer or /cancel.
        dialogue::refuse(ctx, chat, invalid).await?;
        return Ok(true);
    }
    dialogue::clear(ctx, chat).await?;
    let Some(updated) = offers::get(ctx.conn, offer.id).await? else {
        return Ok(true);
    };
    ctx.audit(
        "offer.edited",
        "offer",
        Some(offer.id.to_string()),
        Some(before),
        Some(serde_json::json!({
            "state": updated.state().as_str(), "units": updated.units_available,
            "price_minor": updated.price_minor, "pickup_start": updated.pickup_start,
            "pickup_end": updated.pickup_end, "description": updated.description,
        })),
    )
    .await?;
    let body = render(ctx, &updated);
    let text = ctx.texts.offer_updated(&body);
    let keyboard = manage_keyboard(ctx, &updated)?;
    ctx.send(chat, text, keyboard.map(ReplyMarkup::InlineKeyboard));
    Ok(true)
}
