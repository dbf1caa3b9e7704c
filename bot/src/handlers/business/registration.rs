//! `/register_business` (and "I'm a business"): one field per step, `/back`, `/cancel`, a
//! summary with [Submit for approval] [Edit] [Cancel], and the admins' notification.

use serde::{Deserialize, Serialize};
use teloxide::types::{
    CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton,
    KeyboardMarkup, ReplyMarkup,
};

use super::super::{Context, HandlerError};
use super::dialogue::{self, Answer};
use crate::marketplace::input::{self, Field, Invalid, Problem};
use crate::store::businesses::{self, NewBusiness, RegisterError};
use crate::store::conversations::Conversation;
use crate::telegram::callback::CallbackData;
use crate::texts::Catalog;

pub const FLOW: &str = "register_business";

const SUBMIT: &str = "reg_submit";
const EDIT: &str = "reg_edit";
const EDIT_FIELD: &str = "reg_field";
const CANCEL: &str = "reg_cancel";

/// The answers so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub name: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub phone: Option<String>,
    pub logo_file_id: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Set while one field is corrected from the summary: the next answer returns there.
    #[serde(default)]
    pub editing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Name,
    Street,
    City,
    PostalCode,
    Phone,
    Logo,
    Location,
    Summary,
}

impl Step {
    /// The order of the questions; `Summary` comes last.
    pub const ORDER: [Self; 8] = [
        Self::Name,
        Self::Street,
        Self::City,
        Self::PostalCode,
        Self::Phone,
        Self::Logo,
        Self::Location,
        Self::Summary,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Street => "street",
            Self::City => "city",
            Self::PostalCode => "postal_code",
            Self::Phone => "phone",
            Self::Logo => "logo",
            Self::Location => "location",
            Self::Summary => "summary",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Self::ORDER.into_iter().find(|s| s.as_str() == value)
    }

    fn index(self) -> usize {
        Self::ORDER.iter().position(|s| *s == self).unwrap_or(0)
    }

    fn next(self) -> Self {
        Self::ORDER
            .get(self.index() + 1)
            .copied()
            .unwrap_or(Self::Summary)
    }

    fn previous(self) -> Option<Self> {
        self.index().checked_sub(1).map(|i| Self::ORDER[i])
    }

    pub fn field(self) -> Option<Field> {
        Some(match self {
            Self::Name => Field::BusinessName,
            Self::Street => Field::Street,
            Self::City => Field::City,
            Self::PostalCode => Field::PostalCode,
            Self::Phone => Field::Phone,
            Self::Logo => Field::Logo,
            Self::Location => Field::Location,
            Self::Summary => return None,
        })
    }
}

/// The summary's buttons, bound to the user whose draft it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Submit { user_id: i64 },
    Edit { user_id: i64 },
    EditField { user_id: i64, step: usize },
    Cancel { user_id: i64 },
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        match (data.action.as_str(), data.args.as_slice()) {
            (SUBMIT, [user_id]) => Some(Self::Submit { user_id: *user_id }),
            (EDIT, [user_id]) => Some(Self::Edit { user_id: *user_id }),
            (EDIT_FIELD, [user_id, step]) => Some(Self::EditField {
                user_id: *user_id,
                step: usize::try_from(*step).ok()?,
            }),
            (CANCEL, [user_id]) => Some(Self::Cancel { user_id: *user_id }),
            _ => None,
        }
    }

    fn user_id(self) -> i64 {
        match self {
            Self::Submit { user_id }
            | Self::Edit { user_id }
            | Self::EditField { user_id, .. }
            | Self::Cancel { user_id } => user_id,
        }
    }
}

pub async fn start(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    let intro = ctx.texts.biz.registration_intro;
    ctx.send(chat, intro, Some(ReplyMarkup::kb_remove()));
    let draft = Draft::default();
    go_to(ctx, chat, Step::Name, &draft).await
}

/// Saves the draft at `step` and asks its question (or shows the summary).
async fn go_to(
    ctx: &mut Context<'_>,
    chat: ChatId,
    step: Step,
    draft: &Draft,
) -> Result<(), HandlerError> {
    dialogue::save(ctx, chat, FLOW, step.as_str(), draft).await?;
    if step == Step::Summary {
        return show_summary(ctx, chat, draft).await;
    }
    let (prompt, markup) = prompt(ctx.texts, step);
    ctx.send(chat, prompt, markup);
    Ok(())
}

/// A step's question and the keyboard that helps answer it.
pub fn prompt(texts: &'static Catalog, step: Step) -> (&'static str, Option<ReplyMarkup>) {
    match step {
        Step::Name => (texts.biz.ask_business_name, Some(ReplyMarkup::kb_remove())),
        Step::Street => (texts.biz.ask_street, None),
        Step::City => (texts.biz.ask_city, None),
        Step::PostalCode => (texts.biz.ask_postal_code, None),
        Step::Phone => (texts.biz.ask_phone, Some(dialogue::skip_keyboard(texts))),
        Step::Logo => (texts.biz.ask_logo, Some(dialogue::skip_keyboard(texts))),
        Step::Location => {
            let keyboard =
                KeyboardMarkup::new([[KeyboardButton::new(texts.biz.share_location_button)
                    .request(teloxide::types::ButtonRequest::Location)]])
                .resize_keyboard()
                .one_time_keyboard();
            (
                texts.biz.ask_location,
                Some(ReplyMarkup::Keyboard(keyboard)),
            )
        }
        // The summary is a message of its own (`show_summary`).
        Step::Summary => (texts.biz.registration_all_set, None),
    }
}

async fn show_summary(
    ctx: &mut Context<'_>,
    chat: ChatId,
    draft: &Draft,
) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let codec = &ctx.app.callbacks;
    let texts = ctx.texts;
    let keyboard = InlineKeyboardMarkup::new([
        vec![InlineKeyboardButton::callback(
            texts.biz.submit_button,
            codec.encode(SUBMIT, &[user_id])?,
        )],
        vec![
            InlineKeyboardButton::callback(texts.biz.edit_button, codec.encode(EDIT, &[user_id])?),
            InlineKeyboardButton::callback(
                texts.biz.cancel_button,
                codec.encode(CANCEL, &[user_id])?,
            ),
        ],
    ]);
    // The reply keyboard of the location step goes first, then the summary with its buttons.
    let done = texts.biz.registration_all_set;
    ctx.send(chat, done, Some(ReplyMarkup::kb_remove()));
    let summary = texts.registration_summary(draft);
    ctx.send(chat, summary, Some(ReplyMarkup::InlineKeyboard(keyboard)));
    Ok(())
}

pub async fn on_answer(
    ctx: &mut Context<'_>,
    chat: ChatId,
    conversation: Conversation<serde_json::Value>,
    answer: Answer,
) -> Result<bool, HandlerError> {
    let (Some(step), Some(mut draft)) = (
        Step::parse(&conversation.step),
        dialogue::data::<Draft>(&conversation),
    ) else {
        dialogue::clear(ctx, chat).await?;
        return Ok(false);
    };
    match answer {
        Answer::Cancel => {
            dialogue::clear(ctx, chat).await?;
            let text = ctx.texts.biz.registration_cancelled;
            ctx.send(chat, text, Some(ReplyMarkup::kb_remove()));
            return Ok(true);
        }
        Answer::Back => {
            draft.editing = false;
            let previous = match step {
                Step::Summary => Step::Location,
                other => other.previous().unwrap_or(Step::Name),
            };
            go_to(ctx, chat, previous, &draft).await?;
            return Ok(true);
        }
        // The summary waits for its buttons: anything typed shows it again.
        _ if step == Step::Summary => {
            show_summary(ctx, chat, &draft).await?;
            return Ok(true);
        }
        _ => {}
    }
    match accept(step, &mut draft, answer) {
        Ok(()) => {
            let next = if draft.editing {
                Step::Summary
            } else {
                step.next()
            };
            draft.editing &= next != Step::Summary;
            go_to(ctx, chat, next, &draft).await?;
        }
        Err(invalid) => dialogue::refuse(ctx, chat, invalid).await?,
    }
    Ok(true)
}

/// Validates one answer into the draft.
pub fn accept(step: Step, draft: &mut Draft, answer: Answer) -> Result<(), Invalid> {
    let field = step.field().unwrap_or(Field::BusinessName);
    let wrong_kind = Invalid::new(field, Problem::Format);
    match (step, answer) {
        (Step::Name, Answer::Text(text)) => draft.name = Some(input::business_name(&text)?),
        (Step::Street, Answer::Text(text)) => draft.street = Some(input::street(&text)?),
        (Step::City, Answer::Text(text)) => draft.city = Some(input::city(&text)?),
        (Step::PostalCode, Answer::Text(text)) => {
            draft.postal_code = Some(input::postal_code(&text)?)
        }
        (Step::Phone, Answer::Text(text)) => draft.phone = Some(input::phone(&text)?),
        (Step::Phone, Answer::Skip) => draft.phone = None,
        (Step::Logo, Answer::Photo { file_id }) => draft.logo_file_id = Some(file_id),
        (Step::Logo, Answer::Skip) => draft.logo_file_id = None,
        (
            Step::Location,
            Answer::Location {
                latitude,
                longitude,
            },
        ) => {
            draft.latitude = Some(latitude);
            draft.longitude = Some(longitude);
        }
        (Step::Summary, _) => return Err(Invalid::new(Field::BusinessName, Problem::Format)),
        _ => return Err(wrong_kind),
    }
    Ok(())
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    if button.user_id() != ctx.user_id() {
        let notice = ctx.texts.button_no_longer_valid;
        {
            ctx.answer_callback(query, Some(notice));
            return Ok(());
        }
    }
    let chat = ChatId(ctx.user_id());
    let Some(mut draft) = dialogue::load_draft::<Draft>(ctx, chat, FLOW).await? else {
        let notice = ctx.texts.biz.draft_gone;
        {
            ctx.answer_callback(query, Some(notice));
            return Ok(());
        }
    };
    ctx.answer_callback(query, None);
    match button {
        Button::Submit { .. } => submit(ctx, query, chat, draft).await,
        Button::Edit { user_id } => {
            let fields = Step::ORDER
                .iter()
                .filter_map(|step| step.field().map(|field| (step.index(), field)));
            let menu = dialogue::field_menu(ctx, EDIT_FIELD, user_id, fields)?;
            let text = ctx.texts.biz.which_field;
            super::replace_pressed(ctx, query, text.to_owned(), Some(menu)).await
        }
        Button::EditField { step, .. } => {
            let Some(step) = Step::ORDER
                .get(step)
                .copied()
                .filter(|s| s.field().is_some())
            else {
                return Ok(());
            };
            draft.editing = true;
            go_to(ctx, chat, step, &draft).await
        }
        Button::Cancel { .. } => {
            dialogue::clear(ctx, chat).await?;
            let text = ctx.texts.biz.registration_cancelled;
            super::replace_pressed(ctx, query, text.to_owned(), None).await
        }
    }
}

async fn submit(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    chat: ChatId,
    draft: Draft,
) -> Result<(), HandlerError> {
    let owner_id = ctx.user_id();
    let (Some(name), Some(street), Some(city), Some(postal_code), Some(latitude), Some(longitude)) = (
        draft.name.clone(),
        draft.street.clone(),
        draft.city.clone(),
        draft.postal_code.clone(),
        draft.latitude,
        draft.longitude,
    ) else {
        // Only reachable with a hand-crafted draft: ask the first missing question again.
        let missing = [
            (draft.name.is_none(), Step::Name),
            (draft.street.is_none(), Step::Street),
            (draft.city.is_none(), Step::City),
            (draft.postal_code.is_none(), Step::PostalCode),
        ]
        .into_iter()
        .find_map(|(missing, step)| missing.then_some(step))
        .unwrap_or(Step::Location);
        return go_to(ctx, chat, missing, &draft).await;
    };
    let new = NewBusiness {
        owner_id,
        name,
        street,
        city,
        postal_code,
        phone: draft.phone.clone(),
        logo_file_id: draft.logo_file_id.clone(),
        latitude,
        longitude,
    };
    let business_id = match businesses::register(ctx.conn, &new).await {
        Ok(id) => id,
        Err(RegisterError::Duplicate) => {
            // The draft stays: the owner can correct the name or address from the summary.
            let text = ctx.texts.biz.duplicate_business;
            ctx.send(chat, text, None);
            return Ok(());
        }
        Err(RegisterError::Database(error)) => return Err(error.into()),
    };
    dialogue::clear(ctx, chat).await?;
    ctx.audit(
        "business.registered",
        "business",
        Some(business_id.to_string()),
        None,
        Some(serde_json::json!({
            "name": new.name, "street": new.street, "city": new.city,
            "postal_code": new.postal_code, "status": "pending",
        })),
    )
    .await?;
    tracing::info!(business_id, owner_id, "business application submitted");
    let Some(business) = businesses::get(ctx.conn, business_id).await? else {
        return Ok(());
    };
    // A name and address someone else uses or applied for is not refused (that would let a
    // squatter block the real business): an admin compares the two, and the applicant hears
    // that it is under review.
    let matching = businesses::same_name_and_address(ctx.conn, &business).await?;
    let text = if matching.is_empty() {
        ctx.texts.submitted(&new.name)
    } else {
        tracing::info!(
            business_id,
            matching = matching.len(),
            "application matches another business"
        );
        ctx.texts.submitted_for_comparison(&new.name)
    };
    super::replace_pressed(ctx, query, text, None).await?;
    super::admin::notify_admins_of_application(ctx, &business, &matching).await
}
