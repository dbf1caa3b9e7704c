//! Messages the outbound queue renders when it sends them, in the language the recipient has
//! then: a queued message stores which message it is and its arguments (never the finished
//! text in one language), so a recipient who changes their language in /settings before it goes
//! out reads it in the new one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Catalog;
use super::customer::OrderFacts;
use crate::store::businesses::BusinessStatus;
use crate::store::payments::RefundCause;

/// One catalogue message with its arguments. Serialised as `{"id": ..., "args": {...}}`; the
/// arguments are flat (strings and numbers) so that erasing a person's data can redact a name
/// in them. Amounts are kept in minor units with their currency and formatted in the
/// recipient's language when rendered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "id", content = "args", rename_all = "kebab-case")]
pub enum Notice {
    ExpiredSummary {
        title: String,
        reserved: i64,
        picked_up: i64,
        units_left: i32,
    },
    ApplicationExpiring {
        name: String,
    },
    /// An admin's (or the expiry's) decision on a business, as its owner hears it.
    Decision {
        name: String,
        status: String,
        from: String,
        reason: Option<String>,
    },
    RefundDone {
        order: Option<i64>,
        amount_minor: i64,
        currency: String,
    },
    RefundFailed {
        order: Option<i64>,
        amount_minor: i64,
        currency: String,
    },
    RefundFailedAdmin {
        order: Option<i64>,
        charge: String,
        amount_minor: i64,
        currency: String,
        error: String,
    },
    PartiallyRefunded {
        order: Option<i64>,
        refunded_minor: i64,
        amount_minor: i64,
        currency: String,
    },
    PartiallyRefundedAdmin {
        order: Option<i64>,
        charge: String,
        refunded_minor: i64,
        amount_minor: i64,
        currency: String,
    },
    PaymentRefunding {
        cause: String,
        order: Option<i64>,
        amount_minor: i64,
        currency: String,
    },
    RemovedFromStaff {
        business: String,
    },
    /// Names the member who joined: erasing their data redacts `who`.
    StaffJoinedOwner {
        who: String,
        business: String,
    },
    ChangeAccepted {
        name: String,
    },
    ChangeRejected {
        name: String,
        reason: String,
    },
    HoldExpired {
        #[serde(flatten)]
        order: OrderFacts,
    },
    Reminder {
        #[serde(flatten)]
        order: OrderFacts,
        pickup_end: DateTime<Utc>,
        timezone: String,
        street: String,
        code: String,
    },
    NoShow {
        #[serde(flatten)]
        order: OrderFacts,
    },
    RateQuestion {
        #[serde(flatten)]
        order: OrderFacts,
    },
    /// Names the customer: erasing their data redacts `customer`.
    NewReservation {
        #[serde(flatten)]
        order: OrderFacts,
        customer: String,
        amount_minor: i64,
        currency: String,
    },
    ReservationCancelled {
        #[serde(flatten)]
        order: OrderFacts,
    },
    CancelledOfferEnded {
        #[serde(flatten)]
        order: OrderFacts,
        refunded_minor: Option<i64>,
        currency: String,
    },
    RefundedByShop {
        #[serde(flatten)]
        order: OrderFacts,
        amount_minor: i64,
        currency: String,
    },
}

impl Notice {
    /// The text in the language of `texts`.
    pub fn render(&self, texts: &Catalog) -> String {
        match self {
            Self::ExpiredSummary {
                title,
                reserved,
                picked_up,
                units_left,
            } => texts.expired_summary(title, *reserved, *picked_up, *units_left),
            Self::ApplicationExpiring { name } => texts.application_expiring(name),
            Self::Decision {
                name,
                status,
                from,
                reason,
            } => texts.decision_text(
                name,
                BusinessStatus::parse(status).unwrap_or(BusinessStatus::Pending),
                BusinessStatus::parse(from).unwrap_or(BusinessStatus::Pending),
                reason.as_deref(),
            ),
            Self::RefundDone {
                order,
                amount_minor,
                currency,
            } => texts
                .cust
                .refund_done(*order, &texts.money(*amount_minor, currency)),
            Self::RefundFailed {
                order,
                amount_minor,
                currency,
            } => texts
                .cust
                .refund_failed(*order, &texts.money(*amount_minor, currency)),
            Self::RefundFailedAdmin {
                order,
                charge,
                amount_minor,
                currency,
                error,
            } => texts.cust.refund_failed_admin(
                *order,
                charge,
                &texts.money(*amount_minor, currency),
                error,
            ),
            Self::PartiallyRefunded {
                order,
                refunded_minor,
                amount_minor,
                currency,
            } => texts.cust.partially_refunded(
                *order,
                &texts.money(*refunded_minor, currency),
                &texts.money(*amount_minor, currency),
            ),
            Self::PartiallyRefundedAdmin {
                order,
                charge,
                refunded_minor,
                amount_minor,
                currency,
            } => texts.cust.partially_refunded_admin(
                *order,
                charge,
                &texts.money(*refunded_minor, currency),
                &texts.money(*amount_minor, currency),
            ),
            Self::PaymentRefunding {
                cause,
                order,
                amount_minor,
                currency,
            } => texts.cust.payment_refunding(
                refund_cause(cause),
                *order,
                &texts.money(*amount_minor, currency),
            ),
            Self::RemovedFromStaff { business } => texts.biz.removed_from_staff(business),
            Self::StaffJoinedOwner { who, business } => {
                texts.staff_joined_owner_notice(who, business)
            }
            Self::ChangeAccepted { name } => texts.biz.change_accepted_notice(name),
            Self::ChangeRejected { name, reason } => texts.biz.change_rejected_notice(name, reason),
            Self::HoldExpired { order } => texts.cust.hold_expired(order),
            Self::Reminder {
                order,
                pickup_end,
                timezone,
                street,
                code,
            } => {
                let tz = timezone.parse().unwrap_or(chrono_tz::Tz::UTC);
                let until = super::format::time(texts.lang, *pickup_end, tz);
                texts.cust.reminder(order, &until, street, code)
            }
            Self::NoShow { order } => texts.cust.no_show(order),
            Self::RateQuestion { order } => texts.cust.rate_question(order),
            Self::NewReservation {
                order,
                customer,
                amount_minor,
                currency,
            } => texts.cust.business_new_reservation(
                order,
                &texts.money(*amount_minor, currency),
                customer,
            ),
            Self::ReservationCancelled { order } => {
                texts.cust.business_reservation_cancelled(order)
            }
            Self::CancelledOfferEnded {
                order,
                refunded_minor,
                currency,
            } => {
                let refunded = refunded_minor.map(|minor| texts.money(minor, currency));
                texts.cust.cancelled_offer_ended(order, refunded.as_deref())
            }
            Self::RefundedByShop {
                order,
                amount_minor,
                currency,
            } => texts
                .cust
                .refunded_by_shop(order, &texts.money(*amount_minor, currency)),
        }
    }

    /// What the owner of `business` hears about its move from `from` to its status now.
    pub fn decision(business: &crate::store::businesses::Business, from: BusinessStatus) -> Self {
        Self::Decision {
            name: business.name.clone(),
            status: business.status().as_str().to_owned(),
            from: from.as_str().to_owned(),
            reason: business.rejection_reason.clone(),
        }
    }

    pub fn payment_refunding(
        cause: RefundCause,
        order: Option<i64>,
        amount_minor: i64,
        currency: &str,
    ) -> Self {
        Self::PaymentRefunding {
            cause: cause.as_str().to_owned(),
            order,
            amount_minor,
            currency: currency.to_owned(),
        }
    }
}

fn refund_cause(stored: &str) -> RefundCause {
    [
        RefundCause::NothingLeft,
        RefundCause::AlreadyPaid,
        RefundCause::UnknownHold,
        RefundCause::AmountMismatch,
    ]
    .into_iter()
    .find(|cause| cause.as_str() == stored)
    .unwrap_or(RefundCause::UnknownHold)
}

/// A button of a queued message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateButton {
    pub label: ButtonLabel,
    pub callback_data: String,
}

/// A button's label: a message rendered with the text, or a label that reads the same in every
/// language (the rating stars).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonLabel {
    Message(String),
    Same(String),
}

impl ButtonLabel {
    fn render(&self, texts: &Catalog) -> String {
        match self {
            Self::Message(id) => texts.lang.text(id).to_owned(),
            Self::Same(label) => label.clone(),
        }
    }
}

/// What a queued message renders at send time: the message and its buttons' rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub notice: Notice,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keyboard: Vec<Vec<TemplateButton>>,
}

impl From<Notice> for Template {
    fn from(notice: Notice) -> Self {
        Self {
            notice,
            keyboard: Vec::new(),
        }
    }
}

impl Template {
    /// Adds a row with one button labelled by message `label_id`.
    pub fn with_button(mut self, label_id: &str, callback_data: String) -> Self {
        self.keyboard.push(vec![TemplateButton {
            label: ButtonLabel::Message(label_id.to_owned()),
            callback_data,
        }]);
        self
    }

    /// Adds the rows of a keyboard whose labels read the same in every language (only callback
    /// buttons are kept).
    pub fn with_same_keyboard(mut self, markup: &teloxide::types::InlineKeyboardMarkup) -> Self {
        use teloxide::types::InlineKeyboardButtonKind;
        for row in &markup.inline_keyboard {
            self.keyboard.push(
                row.iter()
                    .filter_map(|button| match &button.kind {
                        InlineKeyboardButtonKind::CallbackData(data) => Some(TemplateButton {
                            label: ButtonLabel::Same(button.text.clone()),
                            callback_data: data.clone(),
                        }),
                        _ => None,
                    })
                    .collect(),
            );
        }
        self
    }

    /// The message to send in the language of `texts`.
    pub fn render(&self, texts: &Catalog) -> crate::store::outbound::OutboundMessage {
        let reply_markup = (!self.keyboard.is_empty()).then(|| {
            teloxide::types::InlineKeyboardMarkup::new(self.keyboard.iter().map(|row| {
                row.iter()
                    .map(|button| {
                        teloxide::types::InlineKeyboardButton::callback(
                            button.label.render(texts),
                            button.callback_data.clone(),
                        )
                    })
                    .collect::<Vec<_>>()
            }))
        });
        crate::store::outbound::OutboundMessage::SendMessage {
            text: self.notice.render(texts),
            parse_mode: None,
            reply_markup,
        }
    }
}
