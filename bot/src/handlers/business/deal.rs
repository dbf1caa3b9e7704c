//! `/newdeal`: category, title, description, optional photo, pickup window, units, price and
//! optional original value, then a summary card with [Publish] [Edit field] [Cancel].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use teloxide::types::{
    CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton,
    KeyboardMarkup, ReplyMarkup,
};

use super::super::{Context, HandlerError};
use super::dialogue::{self, Answer};
use crate::marketplace::card::{self, OfferCard};
use crate::marketplace::input::{self, Field, Invalid, Problem};
use crate::marketplace::money;
use crate::marketplace::permissions::{Access, Action};
use crate::marketplace::window::{self, PickupWindow};
use crate::marketplace::{Category, OfferState};
use crate::store::businesses::{self, Business, BusinessStatus};
use crate::store::conversations::Conversation;
use crate::store::offers::{self, NewOffer};
use crate::telegram::callback::CallbackData;

pub const FLOW: &str = "new_deal";

/// [Post a deal now] / choosing the business: starts the dialogue for that business.
pub const START: &str = "deal_start";
const PUBLISH: &str = "deal_publish";
const EDIT: &str = "deal_edit";
const EDIT_FIELD: &str = "deal_field";
const CANCEL: &str = "deal_cancel";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub business_id: i64,
    pub category: Option<Category>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub photo_file_id: Option<String>,
    pub pickup_start: Option<DateTime<Utc>>,
    pub pickup_end: Option<DateTime<Utc>>,
    pub units: Option<i32>,
    pub price_minor: Option<i64>,
    pub original_minor: Option<i64>,
    #[serde(default)]
    pub editing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Category,
    Title,
    Description,
    Photo,
    Window,
    Units,
    Price,
    Original,
    Summary,
}

impl Step {
    pub const ORDER: [Self; 9] = [
        Self::Category,
        Self::Title,
        Self::Description,
        Self::Photo,
        Self::Window,
        Self::Units,
        Self::Price,
        Self::Original,
        Self::Summary,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Category => "category",
            Self::Title => "title",
            Self::Description => "description",
            Self::Photo => "photo",
            Self::Window => "window",
            Self::Units => "units",
            Self::Price => "price",
            Self::Original => "original",
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

    fn field(self) -> Option<Field> {
        Some(match self {
            Self::Category => Field::Category,
            Self::Title => Field::Title,
            Self::Description => Field::Description,
            Self::Photo => Field::Photo,
            Self::Window => Field::PickupWindow,
            Self::Units => Field::Units,
            Self::Price => Field::Price,
            Self::Original => Field::OriginalValue,
            Self::Summary => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Start { business_id: i64 },
    Publish { user_id: i64 },
    Edit { user_id: i64 },
    EditField { user_id: i64, step: usize },
    Cancel { user_id: i64 },
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        match (data.action.as_str(), data.args.as_slice()) {
            (START, [business_id]) => Some(Self::Start {
                business_id: *business_id,
            }),
            (PUBLISH, [user_id]) => Some(Self::Publish { user_id: *user_id }),
            (EDIT, [user_id]) => Some(Self::Edit { user_id: *user_id }),
            (EDIT_FIELD, [user_id, step]) => Some(Self::EditField {
                user_id: *user_id,
                step: usize::try_from(*step).ok()?,
            }),
            (CANCEL, [user_id]) => Some(Self::Cancel { user_id: *user_id }),
            _ => None,
        }
    }
}

/// `/newdeal`: only members of an approved business may post; others are told why.
pub async fn new_deal(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let memberships = businesses::of_member(ctx.conn, user_id).await?;
    let approved: Vec<&Business> = memberships
        .iter()
        .map(|(business, _)| business)
        .filter(|b| b.status() == BusinessStatus::Approved)
        .collect();
    match approved.as_slice() {
        [] => {
            let has = |status| memberships.iter().any(|(b, _)| b.status() == status);
            let why = if has(BusinessStatus::Suspended) {
                ctx.texts.biz.newdeal_suspended
            } else if has(BusinessStatus::Pending) {
                ctx.texts.biz.newdeal_pending
            } else if has(BusinessStatus::Rejected) {
                ctx.texts.biz.newdeal_rejected
            } else {
                ctx.texts.biz.newdeal_no_business
            };
            ctx.send(chat, why, None);
            Ok(())
        }
        [business] => {
            let business_id = business.id;
            start(ctx, chat, business_id).await
        }
        several => {
            let codec = &ctx.app.callbacks;
            let rows = several
                .iter()
                .map(|b| {
                    codec
                        .encode(START, &[b.id])
                        .map(|data| vec![InlineKeyboardButton::callback(b.name.clone(), data)])
                })
                .collect::<Result<Vec<_>, _>>()?;
            let text = ctx.texts.biz.which_business;
            ctx.send(
                chat,
                text,
                Some(ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(rows))),
            );
            Ok(())
        }
    }
}

/// Whether the user acts for the business and it may post now; tells them why not.
async fn may_post(
    ctx: &mut Context<'_>,
    chat: ChatId,
    business_id: i64,
) -> Result<Option<Business>, HandlerError> {
    let access = super::access(ctx, business_id, Action::PostDeal).await?;
    if !matches!(access, Access::Allowed(_)) {
        let text = match access {
            Access::NotMember => ctx.texts.biz.not_your_business,
            _ => super::refusal(ctx, access, Action::PostDeal),
        };
        ctx.send(chat, text, None);
        return Ok(None);
    }
    let business = businesses::get(ctx.conn, business_id).await?;
    let why = match business.as_ref().map(Business::status) {
        Some(BusinessStatus::Approved) => return Ok(business),
        Some(BusinessStatus::Suspended) => ctx.texts.biz.newdeal_suspended,
        Some(BusinessStatus::Pending) => ctx.texts.biz.newdeal_pending,
        Some(BusinessStatus::Rejected) => ctx.texts.biz.newdeal_rejected,
        None => ctx.texts.biz.newdeal_no_business,
    };
    ctx.send(chat, why, None);
    Ok(None)
}

async fn start(ctx: &mut Context<'_>, chat: ChatId, business_id: i64) -> Result<(), HandlerError> {
    if may_post(ctx, chat, business_id).await?.is_none() {
        return Ok(());
    }
    let draft = Draft {
        business_id,
        ..Draft::default()
    };
    go_to(ctx, chat, Step::Category, &draft).await
}

fn category_keyboard(texts: &crate::texts::Catalog) -> ReplyMarkup {
    let buttons: Vec<KeyboardButton> = Category::ALL
        .iter()
        .map(|c| KeyboardButton::new(texts.category_label(*c)))
        .collect();
    let rows: Vec<Vec<KeyboardButton>> =
        buttons.chunks(2).map(<[KeyboardButton]>::to_vec).collect();
    ReplyMarkup::Keyboard(
        KeyboardMarkup::new(rows)
            .resize_keyboard()
            .one_time_keyboard(),
    )
}

async fn go_to(
    ctx: &mut Context<'_>,
    chat: ChatId,
    step: Step,
    draft: &Draft,
) -> Result<(), HandlerError> {
    dialogue::save(ctx, chat, FLOW, step.as_str(), draft).await?;
    let texts = ctx.texts;
    let currency = ctx.app.config.currency.clone();
    let (prompt, markup) = match step {
        Step::Category => (
            texts.biz.ask_category.to_owned(),
            Some(category_keyboard(texts)),
        ),
        Step::Title => (
            texts.biz.ask_title.to_owned(),
            Some(ReplyMarkup::kb_remove()),
        ),
        Step::Description => (texts.biz.ask_description.to_owned(), None),
        Step::Photo => (
            texts.biz.ask_photo.to_owned(),
            Some(dialogue::skip_keyboard(texts)),
        ),
        Step::Window => (
            texts.ask_window(ctx.app.config.timezone.name()),
            Some(ReplyMarkup::kb_remove()),
        ),
        Step::Units => (texts.biz.ask_units.to_owned(), None),
        Step::Price => (texts.ask_price(&currency), None),
        Step::Original => (
            texts.ask_original(&currency),
            Some(dialogue::skip_keyboard(texts)),
        ),
        Step::Summary => return show_summary(ctx, chat, draft).await,
    };
    ctx.send(chat, prompt, markup);
    Ok(())
}

/// The draft as a card, when every required answer is there.
fn draft_card<'a>(
    draft: &'a Draft,
    business: &'a Business,
    currency: &'a str,
) -> Option<OfferCard<'a>> {
    Some(OfferCard {
        business_name: &business.name,
        street: &business.street,
        postal_code: &business.postal_code,
        city: &business.city,
        category: draft.category?,
        title: draft.title.as_deref()?,
        description: draft.description.as_deref()?,
        window: PickupWindow {
            start: draft.pickup_start?,
            end: draft.pickup_end?,
        },
        units_available: draft.units?,
        price_minor: draft.price_minor?,
        original_minor: draft.original_minor,
        currency,
        state: None,
        rating: None,
    })
}

async fn show_summary(
    ctx: &mut Context<'_>,
    chat: ChatId,
    draft: &Draft,
) -> Result<(), HandlerError> {
    let Some(business) = businesses::get(ctx.conn, draft.business_id).await? else {
        dialogue::clear(ctx, chat).await?;
        return Ok(());
    };
    let currency = ctx.app.config.currency.clone();
    let Some(card) = draft_card(draft, &business, &currency) else {
        // A step was skipped by a stale draft: ask the first missing question.
        let missing = first_missing(draft);
        return Box::pin(go_to(ctx, chat, missing, draft)).await;
    };
    let texts = ctx.texts;
    let body = card::render(&card, texts, Utc::now(), ctx.app.config.timezone);
    let user_id = ctx.user_id();
    let codec = &ctx.app.callbacks;
    let keyboard = InlineKeyboardMarkup::new([
        vec![InlineKeyboardButton::callback(
            texts.biz.publish_button,
            codec.encode(PUBLISH, &[user_id])?,
        )],
        vec![
            InlineKeyboardButton::callback(
                texts.biz.edit_field_button,
                codec.encode(EDIT, &[user_id])?,
            ),
            InlineKeyboardButton::callback(
                texts.biz.cancel_button,
                codec.encode(CANCEL, &[user_id])?,
            ),
        ],
    ]);
    let ready = texts.biz.deal_ready;
    ctx.send(chat, ready, Some(ReplyMarkup::kb_remove()));
    let text = texts.deal_preview(&body);
    ctx.send(chat, text, Some(ReplyMarkup::InlineKeyboard(keyboard)));
    Ok(())
}

fn first_missing(draft: &Draft) -> Step {
    [
        (draft.category.is_none(), Step::Category),
        (draft.title.is_none(), Step::Title),
        (draft.description.is_none(), Step::Description),
        (draft.pickup_end.is_none(), Step::Window),
        (draft.units.is_none(), Step::Units),
        (draft.price_minor.is_none(), Step::Price),
    ]
    .into_iter()
    .find_map(|(missing, step)| missing.then_some(step))
    .unwrap_or(Step::Summary)
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
            let text = ctx.texts.biz.deal_cancelled;
            ctx.send(chat, text, Some(ReplyMarkup::kb_remove()));
            return Ok(true);
        }
        Answer::Back => {
            draft.editing = false;
            let previous = step.previous().unwrap_or(Step::Category);
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
    let now = Utc::now();
    let currency = ctx.app.config.currency.clone();
    let accepted = accept(
        step,
        &mut draft,
        answer,
        ctx.texts,
        &currency,
        now,
        ctx.app.config.timezone,
    );
    let accepted = match (accepted, step, draft.price_minor) {
        (Ok(()), Step::Price, Some(price)) => {
            match super::in_app_price_refusal(ctx, draft.business_id, price).await? {
                Some(refusal) => Err(refusal),
                None => Ok(()),
            }
        }
        (other, _, _) => other,
    };
    match accepted {
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

fn accept(
    step: Step,
    draft: &mut Draft,
    answer: Answer,
    texts: &crate::texts::Catalog,
    currency: &str,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Result<(), Invalid> {
    let wrong_kind = Invalid::new(step.field().unwrap_or(Field::Title), Problem::Format);
    match (step, answer) {
        (Step::Category, Answer::Text(text)) => {
            draft.category = Some(texts.parse_category(&text).ok_or(wrong_kind)?);
        }
        (Step::Title, Answer::Text(text)) => draft.title = Some(input::title(&text)?),
        (Step::Description, Answer::Text(text)) => {
            draft.description = Some(input::description(&text)?)
        }
        (Step::Photo, Answer::Photo { file_id }) => draft.photo_file_id = Some(file_id),
        (Step::Photo, Answer::Skip) => draft.photo_file_id = None,
        (Step::Window, Answer::Text(text)) => {
            let window = window::parse(&text, now, tz)?;
            draft.pickup_start = Some(window.start);
            draft.pickup_end = Some(window.end);
        }
        (Step::Units, Answer::Text(text)) => draft.units = Some(input::units(&text, false)?),
        (Step::Price, Answer::Text(text)) => {
            let price = money::parse_amount(&text, currency, Field::Price)?;
            input::price_below_original(price, draft.original_minor)
                .map_err(|_| Invalid::new(Field::Price, Problem::NotBelowOriginal))?;
            draft.price_minor = Some(price);
        }
        (Step::Original, Answer::Text(text)) => {
            let original = money::parse_amount(&text, currency, Field::OriginalValue)?;
            if let Some(price) = draft.price_minor {
                input::price_below_original(price, Some(original))?;
            }
            draft.original_minor = Some(original);
        }
        (Step::Original, Answer::Skip) => draft.original_minor = None,
        _ => return Err(wrong_kind),
    }
    Ok(())
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    let chat = ChatId(ctx.user_id());
    let user_id = match button {
        Button::Start { business_id } => {
            ctx.answer_callback(query, None);
            return start(ctx, chat, business_id).await;
        }
        Button::Publish { user_id }
        | Button::Edit { user_id }
        | Button::EditField { user_id, .. }
        | Button::Cancel { user_id } => user_id,
    };
    if user_id != ctx.user_id() {
        let notice = ctx.texts.button_no_longer_valid;
        {
            ctx.answer_callback(query, Some(notice));
            return Ok(());
        }
    }
    let Some(mut draft) = dialogue::load_draft::<Draft>(ctx, chat, FLOW).await? else {
        let notice = ctx.texts.biz.draft_gone;
        {
            ctx.answer_callback(query, Some(notice));
            return Ok(());
        }
    };
    ctx.answer_callback(query, None);
    match button {
        Button::Publish { .. } => publish(ctx, query, chat, draft).await,
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
            let text = ctx.texts.biz.deal_cancelled;
            super::replace_pressed(ctx, query, text.to_owned(), None).await
        }
        Button::Start { .. } => Ok(()),
    }
}

/// Publishing re-validates: the business must (still) be approved and the window still valid.
async fn publish(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    chat: ChatId,
    draft: Draft,
) -> Result<(), HandlerError> {
    let Some(business) = may_post(ctx, chat, draft.business_id).await? else {
        return Ok(());
    };
    let now = Utc::now();
    let (
        Some(category),
        Some(title),
        Some(description),
        Some(start),
        Some(end),
        Some(units),
        Some(price_minor),
    ) = (
        draft.category,
        draft.title.clone(),
        draft.description.clone(),
        draft.pickup_start,
        draft.pickup_end,
        draft.units,
        draft.price_minor,
    )
    else {
        return go_to(ctx, chat, first_missing(&draft), &draft).await;
    };
    let window = match PickupWindow::new(start, end, now) {
        Ok(window) => window,
        Err(invalid) => {
            // The window went stale while the draft waited: ask for it again.
            dialogue::refuse(ctx, chat, invalid).await?;
            let mut draft = draft;
            draft.editing = true;
            return go_to(ctx, chat, Step::Window, &draft).await;
        }
    };
    let new = NewOffer {
        business_id: business.id,
        category,
        title,
        description,
        photo_file_id: draft.photo_file_id.clone(),
        window,
        units,
        price_minor,
        original_minor: draft.original_minor,
        currency: ctx.app.config.currency.clone(),
        created_by: ctx.user_id(),
    };
    let offer_id = offers::insert(ctx.conn, &new).await?;
    dialogue::clear(ctx, chat).await?;
    ctx.audit(
        "offer.published",
        "offer",
        Some(offer_id.to_string()),
        None,
        Some(serde_json::json!({
            "state": OfferState::Active.as_str(), "business_id": business.id, "title": new.title,
            "units": units, "price_minor": price_minor, "original_minor": new.original_minor,
            "currency": new.currency, "pickup_start": start, "pickup_end": end,
        })),
    )
    .await?;
    tracing::info!(offer_id, business_id = business.id, "offer published");
    super::super::customer::favourites::alert_followers(ctx, offer_id).await?;
    let Some(offer) = offers::get(ctx.conn, offer_id).await? else {
        return Ok(());
    };
    let body = card::render(&offer.card(), ctx.texts, now, ctx.app.config.timezone);
    let text = ctx.texts.published(&body);
    let keyboard = super::offers::published_keyboard(ctx, offer_id)?;
    super::replace_pressed(ctx, query, text, Some(keyboard)).await
}
