//! Editing a registered business (owners and admins, from /settings): one field at a time with
//! the registration's questions and validation. The status stays. The phone changes at once; a
//! change of an approved business's name, address, location or logo waits for an admin (the
//! listing keeps the approved values until then).

use serde::{Deserialize, Serialize};
use teloxide::types::{
    CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup,
};

use super::super::{Context, HandlerError};
use super::dialogue::{self, Answer};
use super::registration::{self, Draft, Step};
use crate::marketplace::invoice_limits;
use crate::marketplace::payment::PaymentMode;
use crate::marketplace::permissions::{Access, Action};
use crate::store::businesses::{self, Business, BusinessStatus, NewBusiness, RegisterError};
use crate::store::conversations::Conversation;
use crate::store::payments;
use crate::telegram::callback::CallbackData;

pub const FLOW: &str = "edit_business";
const MENU: &str = "bz_edit";
const FIELD: &str = "bz_field";
const PAYMENT_MENU: &str = "bz_pay";
const PAYMENT_SET: &str = "bz_pay_set";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Menu { business_id: i64 },
    Field { business_id: i64, step: usize },
    PaymentMenu { business_id: i64 },
    Payment { business_id: i64, mode: PaymentMode },
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        match (data.action.as_str(), data.args.as_slice()) {
            (MENU, [business_id]) => Some(Self::Menu {
                business_id: *business_id,
            }),
            (FIELD, [business_id, step]) => Some(Self::Field {
                business_id: *business_id,
                step: usize::try_from(*step).ok()?,
            }),
            (PAYMENT_MENU, [business_id]) => Some(Self::PaymentMenu {
                business_id: *business_id,
            }),
            (PAYMENT_SET, [business_id, mode]) => Some(Self::Payment {
                business_id: *business_id,
                mode: *PaymentMode::ALL.get(usize::try_from(*mode).ok()?)?,
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct EditDraft {
    business_id: i64,
    step: usize,
}

pub fn edit_button(
    ctx: &Context<'_>,
    business: &Business,
) -> Result<InlineKeyboardButton, HandlerError> {
    ctx.button(
        &ctx.texts.biz.edit_business_button(&business.name),
        MENU,
        &[business.id],
    )
}

/// How customers of the business pay, as a button that opens the choice.
pub async fn payment_button(
    ctx: &mut Context<'_>,
    business: &Business,
) -> Result<InlineKeyboardButton, HandlerError> {
    let mode = payments::payment_mode(ctx.conn, business.id).await?;
    let label = ctx.texts.cust.payment_mode_button(&business.name, mode);
    ctx.button(&label, PAYMENT_MENU, &[business.id])
}

/// The business, if the presser may edit it now; otherwise the sentence that refuses them.
async fn editable(
    ctx: &mut Context<'_>,
    business_id: i64,
) -> Result<Result<Business, &'static str>, HandlerError> {
    let access = super::access(ctx, business_id, Action::EditBusiness).await?;
    if !matches!(access, Access::Allowed(_)) {
        return Ok(Err(super::refusal(ctx, access, Action::EditBusiness)));
    }
    Ok(businesses::get(ctx.conn, business_id)
        .await?
        .ok_or(ctx.texts.biz.not_your_business))
}

fn draft_of(business: &Business) -> Draft {
    Draft {
        name: Some(business.name.clone()),
        street: Some(business.street.clone()),
        city: Some(business.city.clone()),
        postal_code: Some(business.postal_code.clone()),
        phone: business.phone.clone(),
        logo_file_id: business.logo_file_id.clone(),
        latitude: Some(business.latitude),
        longitude: Some(business.longitude),
        editing: false,
    }
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    let business_id = match button {
        Button::Menu { business_id }
        | Button::Field { business_id, .. }
        | Button::PaymentMenu { business_id }
        | Button::Payment { business_id, .. } => business_id,
    };
    let business = match editable(ctx, business_id).await? {
        Ok(business) => business,
        Err(notice) => {
            ctx.answer_callback(query, Some(notice));
            return Ok(());
        }
    };
    ctx.answer_callback(query, None);
    match button {
        Button::PaymentMenu { .. } => {
            let texts = &ctx.texts.cust;
            let mut rows = PaymentMode::ALL
                .iter()
                .enumerate()
                .map(|(index, mode)| {
                    ctx.button(
                        texts.payment_mode_label(*mode),
                        PAYMENT_SET,
                        &[business.id, index as i64],
                    )
                    .map(|b| vec![b])
                })
                .collect::<Result<Vec<_>, _>>()?;
            rows.push(vec![super::super::customer::settings::home_button(ctx)?]);
            let enabled = ctx.app.config.stripe.payments_enabled();
            let text = texts.ask_payment_mode(&business.name, enabled);
            super::replace_pressed(ctx, query, text, Some(InlineKeyboardMarkup::new(rows))).await
        }
        Button::Payment { mode, .. } => {
            if !mode.on_site() {
                let currency = ctx.app.config.currency.clone();
                let prices = crate::store::offers::live_prices(ctx.conn, business.id).await?;
                let refused = prices
                    .iter()
                    .filter(|price| invoice_limits::check(**price, &currency).is_err())
                    .count();
                if refused > 0 || invoice_limits::limits(&currency).is_none() {
                    let text = ctx.texts.cust.in_app_only_refused(
                        refused,
                        invoice_limits::limits(&currency).map(|(min, max)| {
                            (
                                ctx.texts.money(min, &currency),
                                ctx.texts.money(max, &currency),
                            )
                        }),
                    );
                    let markup = InlineKeyboardMarkup::new([[
                        super::super::customer::settings::home_button(ctx)?,
                    ]]);
                    return super::replace_pressed(ctx, query, text, Some(markup)).await;
                }
            }
            let before = payments::payment_mode(ctx.conn, business.id).await?;
            payments::set_payment_mode(ctx.conn, business.id, mode).await?;
            ctx.audit(
                "business.payment_mode_changed",
                "business",
                Some(business.id.to_string()),
                Some(serde_json::json!({ "payment_mode": before.as_str() })),
                Some(serde_json::json!({ "payment_mode": mode.as_str() })),
            )
            .await?;
            let texts = &ctx.texts.cust;
            let text = format!(
                "{} {}",
                texts.saved,
                texts.payment_mode_button(&business.name, mode)
            );
            let markup =
                InlineKeyboardMarkup::new([[super::super::customer::settings::home_button(ctx)?]]);
            super::replace_pressed(ctx, query, text, Some(markup)).await
        }
        Button::Menu { .. } => {
            let fields = Step::ORDER
                .iter()
                .enumerate()
                .filter_map(|(index, step)| step.field().map(|field| (index, field)));
            let menu = dialogue::field_menu(ctx, FIELD, business.id, fields)?;
            let mut text = ctx.texts.biz.which_business_field(&business.name);
            // A change waiting for an admin is where the next edit starts from: say so.
            if let Some(change) = businesses::pending_change(ctx.conn, business.id).await? {
                text.push_str("\n\n");
                text.push_str(&ctx.texts.biz.change_waiting(&change));
            }
            super::replace_pressed(ctx, query, text, Some(menu)).await
        }
        Button::Field { step, .. } => {
            let Some(chosen) = Step::ORDER
                .get(step)
                .copied()
                .filter(|s| s.field().is_some())
            else {
                return Ok(());
            };
            let chat = ChatId(ctx.user_id());
            dialogue::save(
                ctx,
                chat,
                FLOW,
                "value",
                &EditDraft {
                    business_id: business.id,
                    step,
                },
            )
            .await?;
            let (prompt, markup) = registration::prompt(ctx.texts, chosen);
            ctx.send(chat, prompt, markup);
            Ok(())
        }
    }
}

pub async fn on_answer(
    ctx: &mut Context<'_>,
    chat: ChatId,
    conversation: Conversation<serde_json::Value>,
    answer: Answer,
) -> Result<bool, HandlerError> {
    let Some(edit) = dialogue::data::<EditDraft>(&conversation) else {
        dialogue::clear(ctx, chat).await?;
        return Ok(false);
    };
    if matches!(answer, Answer::Cancel | Answer::Back) {
        dialogue::clear(ctx, chat).await?;
        let text = ctx.texts.biz.edit_cancelled;
        ctx.send(chat, text, Some(ReplyMarkup::kb_remove()));
        return Ok(true);
    }
    let business = match editable(ctx, edit.business_id).await? {
        Ok(business) => business,
        Err(text) => {
            dialogue::clear(ctx, chat).await?;
            ctx.send(chat, text, None);
            return Ok(true);
        }
    };
    let Some(step) = Step::ORDER.get(edit.step).copied() else {
        dialogue::clear(ctx, chat).await?;
        return Ok(false);
    };
    // An approved (or suspended) business was checked by an admin under its name, address,
    // location and logo: a change of those waits for an admin again, built on any change
    // already waiting. Its phone, and everything of an application not decided yet, change at
    // once.
    let reviewed = matches!(
        business.status(),
        BusinessStatus::Approved | BusinessStatus::Suspended
    );
    let waiting = if reviewed {
        businesses::pending_change(ctx.conn, business.id).await?
    } else {
        None
    };
    let mut draft = draft_of(&business);
    if let Some(change) = &waiting {
        draft.name = Some(change.name.clone());
        draft.street = Some(change.street.clone());
        draft.city = Some(change.city.clone());
        draft.postal_code = Some(change.postal_code.clone());
        draft.logo_file_id = change.logo_file_id.clone();
        draft.latitude = Some(change.latitude);
        draft.longitude = Some(change.longitude);
    }
    if let Err(invalid) = registration::accept(step, &mut draft, answer) {
        // The dialogue stays at this field until a valid answer or /cancel.
        dialogue::refuse(ctx, chat, invalid).await?;
        return Ok(true);
    }
    let proposed = NewBusiness {
        owner_id: business.owner_id,
        name: draft.name.clone().unwrap_or_default(),
        street: draft.street.clone().unwrap_or_default(),
        city: draft.city.clone().unwrap_or_default(),
        postal_code: draft.postal_code.clone().unwrap_or_default(),
        phone: draft.phone.clone(),
        logo_file_id: draft.logo_file_id.clone(),
        latitude: draft.latitude.unwrap_or(business.latitude),
        longitude: draft.longitude.unwrap_or(business.longitude),
    };
    if reviewed && step != Step::Phone {
        return propose_change(ctx, chat, &business, &proposed).await;
    }
    // Only the phone goes live for a reviewed business; its identity stays the approved one.
    let mut live = draft_of(&business);
    live.phone = draft.phone.clone();
    let profile = if reviewed {
        NewBusiness {
            owner_id: business.owner_id,
            name: business.name.clone(),
            street: business.street.clone(),
            city: business.city.clone(),
            postal_code: business.postal_code.clone(),
            phone: draft.phone.clone(),
            logo_file_id: business.logo_file_id.clone(),
            latitude: business.latitude,
            longitude: business.longitude,
        }
    } else {
        live = draft.clone();
        proposed
    };
    match businesses::update_profile(ctx.conn, business.id, &profile).await {
        Ok(()) => {}
        Err(RegisterError::Duplicate) => {
            let text = ctx.texts.biz.duplicate_business;
            ctx.send(chat, text, None);
            return Ok(true);
        }
        Err(RegisterError::Database(error)) => return Err(error.into()),
    }
    dialogue::clear(ctx, chat).await?;
    ctx.audit(
        "business.edited",
        "business",
        Some(business.id.to_string()),
        Some(profile_json(&draft_of(&business))),
        Some(profile_json(&live)),
    )
    .await?;
    let text = ctx
        .texts
        .biz
        .business_updated(&ctx.texts.registration_summary(&live));
    ctx.send(chat, text, Some(ReplyMarkup::kb_remove()));
    Ok(true)
}

/// Opens (or updates) the business's identity change and hands it to the admins.
async fn propose_change(
    ctx: &mut Context<'_>,
    chat: ChatId,
    business: &Business,
    proposed: &NewBusiness,
) -> Result<bool, HandlerError> {
    let change_id =
        businesses::propose_identity_change(ctx.conn, business.id, ctx.user_id(), proposed).await?;
    dialogue::clear(ctx, chat).await?;
    ctx.audit(
        "business.identity_change_requested",
        "business",
        Some(business.id.to_string()),
        Some(identity_json(
            &business.name,
            &business.street,
            &business.city,
            &business.postal_code,
            business.logo_file_id.is_some(),
            business.latitude,
            business.longitude,
        )),
        Some(identity_json(
            &proposed.name,
            &proposed.street,
            &proposed.city,
            &proposed.postal_code,
            proposed.logo_file_id.is_some(),
            proposed.latitude,
            proposed.longitude,
        )),
    )
    .await?;
    tracing::info!(
        business_id = business.id,
        change_id,
        "business identity change sent for review"
    );
    if let Some(change) = businesses::get_change(ctx.conn, change_id).await? {
        super::admin::notify_admins_of_change(ctx, business, &change).await?;
    }
    let text = ctx.texts.biz.identity_change_sent;
    ctx.send(chat, text, Some(ReplyMarkup::kb_remove()));
    Ok(true)
}

fn identity_json(
    name: &str,
    street: &str,
    city: &str,
    postal_code: &str,
    logo: bool,
    latitude: f64,
    longitude: f64,
) -> serde_json::Value {
    serde_json::json!({
        "name": name, "street": street, "city": city, "postal_code": postal_code,
        "logo": logo, "latitude": latitude, "longitude": longitude,
    })
}

fn profile_json(draft: &Draft) -> serde_json::Value {
    serde_json::json!({
        "name": draft.name, "street": draft.street, "city": draft.city,
        "postal_code": draft.postal_code, "phone": draft.phone,
        "logo": draft.logo_file_id.is_some(),
        "latitude": draft.latitude, "longitude": draft.longitude,
    })
}
