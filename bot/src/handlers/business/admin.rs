//! Admin surface (users in `ADMIN_TELEGRAM_IDS` only): `/pending` with [Approve] and
//! [Reject (with reason)], and suspending or reinstating an approved business.

use serde::{Deserialize, Serialize};
use teloxide::types::{
    CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup,
};

use super::super::{Context, HandlerError};
use super::dialogue::{self, Answer};
use crate::marketplace::input;
use crate::store::businesses::{self, Business, BusinessStatus, IdentityChange};
use crate::store::conversations::Conversation;
use crate::store::offers;
use crate::store::outbound::{self, Notice, OutboundMessage, Template};
use crate::store::payments;
use crate::telegram::callback::{CallbackCodec, CallbackData};

pub const REJECT_FLOW: &str = "reject_business";

const APPROVE: &str = "adm_approve";
const REJECT: &str = "adm_reject";
const SUSPEND: &str = "adm_suspend";
const REINSTATE: &str = "adm_reinstate";
const RETRY_REFUND: &str = "adm_retry_refund";
const ACCEPT_CHANGE: &str = "adm_chg_ok";
const REJECT_CHANGE: &str = "adm_chg_no";
/// How many payments needing attention one /pending shows.
const PAYMENTS_PAGE: i64 = 20;
/// How many applications one /pending shows.
const PENDING_PAGE: i64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Approve {
        business_id: i64,
    },
    Reject {
        business_id: i64,
    },
    Suspend {
        business_id: i64,
    },
    Reinstate {
        business_id: i64,
    },
    /// Try a refund given up (REFUND_FAILED) again.
    RetryRefund {
        refund_id: i64,
    },
    /// An approved business's change of name, address, location or logo.
    AcceptChange {
        change_id: i64,
    },
    RejectChange {
        change_id: i64,
    },
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        let id = match data.args.as_slice() {
            [id] => *id,
            _ => return None,
        };
        Some(match data.action.as_str() {
            APPROVE => Self::Approve { business_id: id },
            REJECT => Self::Reject { business_id: id },
            SUSPEND => Self::Suspend { business_id: id },
            REINSTATE => Self::Reinstate { business_id: id },
            RETRY_REFUND => Self::RetryRefund { refund_id: id },
            ACCEPT_CHANGE => Self::AcceptChange { change_id: id },
            REJECT_CHANGE => Self::RejectChange { change_id: id },
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RejectDraft {
    business_id: i64,
    /// Set when an identity change is rejected rather than an application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    change_id: Option<i64>,
}

pub fn is_admin(ctx: &Context<'_>) -> bool {
    ctx.app.config.admin_ids.contains(&ctx.user_id())
}

/// One row of two buttons for the same subject: (label, action) each, signed with `id`.
fn choice_keyboard(
    codec: &CallbackCodec,
    choices: [(&str, &str); 2],
    id: i64,
) -> Result<InlineKeyboardMarkup, HandlerError> {
    let buttons = choices
        .into_iter()
        .map(|(label, action)| {
            Ok(InlineKeyboardButton::callback(
                label.to_owned(),
                codec.encode(action, &[id])?,
            ))
        })
        .collect::<Result<Vec<_>, HandlerError>>()?;
    Ok(InlineKeyboardMarkup::new([buttons]))
}

/// [Approve] [Reject] for an application.
fn decision_keyboard(
    codec: &CallbackCodec,
    texts: &crate::texts::Catalog,
    business_id: i64,
) -> Result<InlineKeyboardMarkup, HandlerError> {
    choice_keyboard(
        codec,
        [
            (texts.biz.approve_button, APPROVE),
            (texts.biz.reject_button, REJECT),
        ],
        business_id,
    )
}

fn status_keyboard(
    codec: &CallbackCodec,
    texts: &crate::texts::Catalog,
    business: &Business,
) -> Result<Option<InlineKeyboardMarkup>, HandlerError> {
    let button = match business.status() {
        BusinessStatus::Approved => InlineKeyboardButton::callback(
            texts.biz.suspend_button,
            codec.encode(SUSPEND, &[business.id])?,
        ),
        BusinessStatus::Suspended => InlineKeyboardButton::callback(
            texts.biz.reinstate_button,
            codec.encode(REINSTATE, &[business.id])?,
        ),
        BusinessStatus::Pending | BusinessStatus::Rejected => return Ok(None),
    };
    Ok(Some(InlineKeyboardMarkup::new([[button]])))
}

/// Queues the application for every admin, with the decision buttons.
pub async fn notify_admins_of_application(
    ctx: &mut Context<'_>,
    business: &Business,
    matching: &[Business],
) -> Result<(), HandlerError> {
    for admin_id in ctx.app.config.admin_ids.clone() {
        let texts = crate::texts::for_user(ctx.conn, admin_id).await?;
        let keyboard = decision_keyboard(&ctx.app.callbacks, texts, business.id)?;
        let message = OutboundMessage::SendMessage {
            text: texts.new_application(business, matching),
            parse_mode: None,
            reply_markup: Some(keyboard),
        };
        outbound::enqueue(ctx.conn, admin_id, &message).await?;
    }
    Ok(())
}

/// [Accept] [Reject] for an identity change.
fn change_keyboard(
    codec: &CallbackCodec,
    texts: &crate::texts::Catalog,
    change_id: i64,
) -> Result<InlineKeyboardMarkup, HandlerError> {
    choice_keyboard(
        codec,
        [
            (texts.biz.accept_change_button, ACCEPT_CHANGE),
            (texts.biz.reject_change_button, REJECT_CHANGE),
        ],
        change_id,
    )
}

/// Queues an identity change (old → new) for every admin, with the decision buttons.
pub async fn notify_admins_of_change(
    ctx: &mut Context<'_>,
    business: &Business,
    change: &IdentityChange,
) -> Result<(), HandlerError> {
    for admin_id in ctx.app.config.admin_ids.clone() {
        let texts = crate::texts::for_user(ctx.conn, admin_id).await?;
        let message = OutboundMessage::SendMessage {
            text: texts.biz.change_request(business, change),
            parse_mode: None,
            reply_markup: Some(change_keyboard(&ctx.app.callbacks, texts, change.id)?),
        };
        outbound::enqueue(ctx.conn, admin_id, &message).await?;
    }
    Ok(())
}

/// `/pending`. Non-admins get the answer to an unknown command: no admin surface.
pub async fn pending(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    if !is_admin(ctx) {
        let text = ctx.texts.unknown_command;
        ctx.send(chat, text, None);
        return Ok(());
    }
    let applications = businesses::pending(ctx.conn, PENDING_PAGE).await?;
    let changes = businesses::pending_changes(ctx.conn, PENDING_PAGE).await?;
    if applications.is_empty() && changes.is_empty() {
        let text = ctx.texts.biz.no_pending;
        ctx.send(chat, text, None);
    }
    for business in applications {
        let keyboard = decision_keyboard(&ctx.app.callbacks, ctx.texts, business.id)?;
        let matching = businesses::same_name_and_address(ctx.conn, &business).await?;
        let text = ctx.texts.application(&business, &matching);
        ctx.send(chat, text, Some(ReplyMarkup::InlineKeyboard(keyboard)));
    }
    for change in changes {
        let Some(business) = businesses::get(ctx.conn, change.business_id).await? else {
            continue;
        };
        let keyboard = change_keyboard(&ctx.app.callbacks, ctx.texts, change.id)?;
        let text = ctx.texts.biz.change_request(&business, &change);
        ctx.send(chat, text, Some(ReplyMarkup::InlineKeyboard(keyboard)));
    }
    payments_needing_attention(ctx, chat).await
}

/// The "Payments needing attention" section of /pending: money the bot could not place
/// (charges for no order of ours) and refunds given up, each with what an admin needs to act.
async fn payments_needing_attention(
    ctx: &mut Context<'_>,
    chat: ChatId,
) -> Result<(), HandlerError> {
    let payments = payments::needing_attention(ctx.conn, PAYMENTS_PAGE).await?;
    if payments.is_empty() {
        return Ok(());
    }
    let texts = ctx.texts;
    ctx.send(chat, texts.payments_attention_heading(payments.len()), None);
    for payment in &payments {
        let text = texts.payment_needing_attention(payment);
        let markup = match (payment.refund_id, payment.refund_status.as_deref()) {
            (Some(refund_id), Some("failed")) => {
                Some(ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new([[
                    InlineKeyboardButton::callback(
                        texts.biz.retry_refund_button,
                        ctx.app.callbacks.encode(RETRY_REFUND, &[refund_id])?,
                    ),
                ]])))
            }
            _ => None,
        };
        ctx.send(chat, text, markup);
    }
    Ok(())
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    if !is_admin(ctx) {
        tracing::warn!(
            user_id = ctx.user_id(),
            ?button,
            "admin button pressed by a non-admin"
        );
        let notice = ctx.texts.button_no_longer_valid;
        {
            ctx.answer_callback(query, Some(notice));
            return Ok(());
        }
    }
    match button {
        Button::Approve { business_id } => {
            // Only one live business holds a name and address: the other one is rejected or
            // suspended first.
            if let Some(business) = businesses::get(ctx.conn, business_id).await?
                && business.status() == BusinessStatus::Pending
            {
                let live = businesses::same_name_and_address(ctx.conn, &business)
                    .await?
                    .into_iter()
                    .any(|other| {
                        matches!(
                            other.status(),
                            BusinessStatus::Approved | BusinessStatus::Suspended
                        )
                    });
                if live {
                    let notice = ctx.texts.biz.name_taken_by_live_business;
                    ctx.answer_callback(query, Some(notice));
                    return Ok(());
                }
            }
            decide(
                ctx,
                query,
                business_id,
                BusinessStatus::Pending,
                BusinessStatus::Approved,
                None,
            )
            .await
        }
        Button::Suspend { business_id } => {
            decide(
                ctx,
                query,
                business_id,
                BusinessStatus::Approved,
                BusinessStatus::Suspended,
                None,
            )
            .await
        }
        Button::Reinstate { business_id } => {
            decide(
                ctx,
                query,
                business_id,
                BusinessStatus::Suspended,
                BusinessStatus::Approved,
                None,
            )
            .await
        }
        Button::RetryRefund { refund_id } => {
            let retried = payments::retry_failed_refund(ctx.conn, refund_id).await?;
            if retried {
                ctx.audit(
                    "refund.retried",
                    "refund",
                    Some(refund_id.to_string()),
                    Some(serde_json::json!({ "status": "failed" })),
                    Some(serde_json::json!({ "status": "requested" })),
                )
                .await?;
            }
            let notice = if retried {
                ctx.texts.biz.refund_retried
            } else {
                ctx.texts.biz.refund_not_failed
            };
            ctx.answer_callback(query, Some(notice));
            let text = format!("{}\n\n{notice}", super::pressed_text(query));
            super::replace_pressed(ctx, query, text, None).await
        }
        Button::AcceptChange { change_id } => accept_change(ctx, query, change_id).await,
        Button::RejectChange { change_id } => {
            let Some(change) = businesses::get_change(ctx.conn, change_id)
                .await?
                .filter(|c| c.status == "pending")
            else {
                let notice = ctx.texts.biz.change_already_decided;
                ctx.answer_callback(query, Some(notice));
                return Ok(());
            };
            ctx.answer_callback(query, None);
            let chat = ChatId(ctx.user_id());
            dialogue::save(
                ctx,
                chat,
                REJECT_FLOW,
                "reason",
                &RejectDraft {
                    business_id: change.business_id,
                    change_id: Some(change.id),
                },
            )
            .await?;
            let text = ctx.texts.biz.ask_change_rejection_reason;
            ctx.send(chat, text, None);
            Ok(())
        }
        Button::Reject { business_id } => {
            ctx.answer_callback(query, None);
            let chat = ChatId(ctx.user_id());
            dialogue::save(
                ctx,
                chat,
                REJECT_FLOW,
                "reason",
                &RejectDraft {
                    business_id,
                    change_id: None,
                },
            )
            .await?;
            let text = ctx.texts.biz.ask_rejection_reason;
            ctx.send(chat, text, None);
            Ok(())
        }
    }
}

pub async fn on_reject_reason(
    ctx: &mut Context<'_>,
    chat: ChatId,
    conversation: Conversation<serde_json::Value>,
    answer: Answer,
) -> Result<bool, HandlerError> {
    let Some(draft) = dialogue::data::<RejectDraft>(&conversation) else {
        dialogue::clear(ctx, chat).await?;
        return Ok(false);
    };
    if !is_admin(ctx) {
        dialogue::clear(ctx, chat).await?;
        return Ok(false);
    }
    let reason = match answer {
        Answer::Cancel | Answer::Back => {
            dialogue::clear(ctx, chat).await?;
            let text = if draft.change_id.is_some() {
                ctx.texts.biz.change_rejection_cancelled
            } else {
                ctx.texts.biz.rejection_cancelled
            };
            ctx.send(chat, text, None);
            return Ok(true);
        }
        Answer::Text(text) => match input::rejection_reason(&text) {
            Ok(reason) => reason,
            Err(invalid) => {
                dialogue::refuse(ctx, chat, invalid).await?;
                return Ok(true);
            }
        },
        _ => {
            let invalid = crate::marketplace::Invalid::new(
                crate::marketplace::Field::RejectionReason,
                crate::marketplace::Problem::Format,
            );
            dialogue::refuse(ctx, chat, invalid).await?;
            return Ok(true);
        }
    };
    dialogue::clear(ctx, chat).await?;
    let admin_id = ctx.user_id();
    if let Some(change_id) = draft.change_id {
        return reject_change(ctx, chat, change_id, &reason).await;
    }
    let decided = businesses::change_status(
        ctx.conn,
        draft.business_id,
        BusinessStatus::Pending,
        BusinessStatus::Rejected,
        admin_id,
        Some(&reason),
    )
    .await?;
    let Some(business) = decided else {
        let text = ctx.texts.biz.already_decided;
        ctx.send(chat, text, None);
        return Ok(true);
    };
    record_decision(ctx, &business, BusinessStatus::Pending).await?;
    let text = ctx.texts.decision_done(&business);
    ctx.send(chat, text, None);
    Ok(true)
}

async fn decide(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    business_id: i64,
    from: BusinessStatus,
    to: BusinessStatus,
    reason: Option<&str>,
) -> Result<(), HandlerError> {
    let admin_id = ctx.user_id();
    let Some(business) =
        businesses::change_status(ctx.conn, business_id, from, to, admin_id, reason).await?
    else {
        let notice = ctx.texts.biz.already_decided;
        {
            ctx.answer_callback(query, Some(notice));
            return Ok(());
        }
    };
    ctx.answer_callback(query, None);
    record_decision(ctx, &business, from).await?;
    let text = ctx.texts.decision_done(&business);
    let keyboard = status_keyboard(&ctx.app.callbacks, ctx.texts, &business)?;
    super::replace_pressed(ctx, query, text, keyboard).await
}

async fn accept_change(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    change_id: i64,
) -> Result<(), HandlerError> {
    let admin_id = ctx.user_id();
    let before = businesses::get_change(ctx.conn, change_id).await?;
    let business_before = match &before {
        Some(change) => businesses::get(ctx.conn, change.business_id).await?,
        None => None,
    };
    let change = match businesses::accept_change(ctx.conn, change_id, admin_id).await {
        Ok(Some(change)) => change,
        Ok(None) => {
            let notice = ctx.texts.biz.change_already_decided;
            ctx.answer_callback(query, Some(notice));
            return Ok(());
        }
        Err(businesses::RegisterError::Duplicate) => {
            let notice = ctx.texts.biz.name_taken_by_live_business;
            ctx.answer_callback(query, Some(notice));
            return Ok(());
        }
        Err(businesses::RegisterError::Database(error)) => return Err(error.into()),
    };
    ctx.answer_callback(query, None);
    ctx.audit(
        "business.identity_change_accepted",
        "business",
        Some(change.business_id.to_string()),
        business_before
            .as_ref()
            .map(|b| serde_json::json!({ "name": b.name, "street": b.street, "city": b.city })),
        Some(serde_json::json!({
            "change_id": change.id, "name": change.name, "street": change.street,
            "city": change.city,
        })),
    )
    .await?;
    if let Some(business) = businesses::get(ctx.conn, change.business_id).await? {
        let notice = Notice::ChangeAccepted {
            name: change.name.clone(),
        };
        outbound::enqueue_template(ctx.conn, business.owner_id, notice).await?;
    }
    let text = format!(
        "{}\n\n{}",
        super::pressed_text(query),
        ctx.texts.biz.change_accepted
    );
    super::replace_pressed(ctx, query, text, None).await
}

async fn reject_change(
    ctx: &mut Context<'_>,
    chat: ChatId,
    change_id: i64,
    reason: &str,
) -> Result<bool, HandlerError> {
    let admin_id = ctx.user_id();
    let Some(change) = businesses::reject_change(ctx.conn, change_id, admin_id, reason).await?
    else {
        let text = ctx.texts.biz.change_already_decided;
        ctx.send(chat, text, None);
        return Ok(true);
    };
    ctx.audit(
        "business.identity_change_rejected",
        "business",
        Some(change.business_id.to_string()),
        None,
        Some(serde_json::json!({ "change_id": change.id, "reason": reason })),
    )
    .await?;
    let Some(business) = businesses::get(ctx.conn, change.business_id).await? else {
        return Ok(true);
    };
    let notice = Notice::ChangeRejected {
        name: business.name.clone(),
        reason: reason.to_owned(),
    };
    outbound::enqueue_template(ctx.conn, business.owner_id, notice).await?;
    let text = ctx.texts.biz.change_rejected;
    ctx.send(chat, text, None);
    Ok(true)
}

/// Audits a decision, applies its consequences and tells the business.
async fn record_decision(
    ctx: &mut Context<'_>,
    business: &Business,
    from: BusinessStatus,
) -> Result<(), HandlerError> {
    let to = business.status();
    ctx.audit(
        match to {
            BusinessStatus::Approved if from == BusinessStatus::Suspended => "business.reinstated",
            BusinessStatus::Approved => "business.approved",
            BusinessStatus::Rejected => "business.rejected",
            BusinessStatus::Suspended => "business.suspended",
            BusinessStatus::Pending => "business.reopened",
        },
        "business",
        Some(business.id.to_string()),
        Some(serde_json::json!({ "status": from.as_str() })),
        Some(serde_json::json!({ "status": to.as_str(), "reason": business.rejection_reason })),
    )
    .await?;
    if to == BusinessStatus::Suspended {
        // A suspended business's deals are paused (and so hidden from customers).
        let paused = offers::pause_all_active(ctx.conn, business.id).await?;
        for offer_id in paused {
            ctx.audit(
                "offer.paused",
                "offer",
                Some(offer_id.to_string()),
                Some(serde_json::json!({ "state": "ACTIVE" })),
                Some(serde_json::json!({ "state": "PAUSED", "reason": "business suspended" })),
            )
            .await?;
        }
    }
    let mut notice = Template::from(Notice::decision(business, from));
    if to == BusinessStatus::Approved {
        notice = notice.with_button(
            &crate::texts::message_id("biz", "post_deal_now_button"),
            ctx.app
                .callbacks
                .encode(super::deal::START, &[business.id])?,
        );
    }
    outbound::enqueue_template(ctx.conn, business.owner_id, notice).await?;
    if to == BusinessStatus::Approved {
        let texts = crate::texts::for_user(ctx.conn, business.owner_id).await?;
        super::publish_chat_commands(ctx.app, texts, business.owner_id, super::BUSINESS_COMMANDS)
            .await;
    }
    Ok(())
}
