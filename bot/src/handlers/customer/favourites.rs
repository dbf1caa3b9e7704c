//! Favourite businesses: [Add to favourites] on a deal's details, `/favourites` to list and
//! remove them, and the alert each follower gets when a favourite publishes a deal. Alerts go
//! through the durable outbound queue (Telegram's send limits), held back during the follower's
//! quiet hours.

use chrono::Utc;
use teloxide::types::{CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup};

use super::super::{Context, HandlerError};
use super::Screen;
use crate::marketplace::card;
use crate::store::favourites;
use crate::store::offers;
use crate::store::outbound::{self, OutboundMessage};
use crate::telegram::callback::CallbackData;

const ADD: &str = "fv_add";
const REMOVE: &str = "fv_rm";
const REMOVE_FROM_LIST: &str = "fv_rm_list";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    /// From a deal's details, which are shown again afterwards.
    Add {
        business_id: i64,
        offer_id: i64,
    },
    Remove {
        business_id: i64,
        offer_id: i64,
    },
    /// From /favourites, which is shown again afterwards.
    RemoveFromList {
        business_id: i64,
    },
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        Some(match (data.action.as_str(), data.args.as_slice()) {
            (ADD, [business_id, offer_id]) => Self::Add {
                business_id: *business_id,
                offer_id: *offer_id,
            },
            (REMOVE, [business_id, offer_id]) => Self::Remove {
                business_id: *business_id,
                offer_id: *offer_id,
            },
            (REMOVE_FROM_LIST, [business_id]) => Self::RemoveFromList {
                business_id: *business_id,
            },
            _ => return None,
        })
    }
}

pub fn toggle_button(
    ctx: &Context<'_>,
    business_id: i64,
    offer_id: i64,
    favourite: bool,
) -> Result<InlineKeyboardButton, HandlerError> {
    let texts = &ctx.texts.cust;
    if favourite {
        ctx.button(
            texts.remove_favourite_button,
            REMOVE,
            &[business_id, offer_id],
        )
    } else {
        ctx.button(texts.add_favourite_button, ADD, &[business_id, offer_id])
    }
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let texts = &ctx.texts.cust;
    match button {
        Button::Add {
            business_id,
            offer_id,
        } => {
            if crate::store::businesses::get(ctx.conn, business_id)
                .await?
                .is_none()
            {
                let notice = texts.offer_not_found;
                {
                    ctx.answer_callback(query, Some(notice));
                    return Ok(());
                }
            }
            favourites::add(ctx.conn, user_id, business_id).await?;
            ctx.audit(
                "favourite.added",
                "business",
                Some(business_id.to_string()),
                None,
                None,
            )
            .await?;
            ctx.answer_callback(query, Some(texts.favourite_added));
            super::browse::show_details(ctx, Screen::Pressed(query), offer_id, None).await?;
            Ok(())
        }
        Button::Remove {
            business_id,
            offer_id,
        } => {
            favourites::remove(ctx.conn, user_id, business_id).await?;
            ctx.answer_callback(query, Some(texts.favourite_removed));
            super::browse::show_details(ctx, Screen::Pressed(query), offer_id, None).await?;
            Ok(())
        }
        Button::RemoveFromList { business_id } => {
            favourites::remove(ctx.conn, user_id, business_id).await?;
            ctx.answer_callback(query, Some(texts.favourite_removed));
            show_list(ctx, Screen::Pressed(query)).await
        }
    }
}

/// `/favourites`.
pub async fn list(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    show_list(ctx, Screen::New(chat)).await
}

async fn show_list(ctx: &mut Context<'_>, screen: Screen<'_>) -> Result<(), HandlerError> {
    let texts = &ctx.texts.cust;
    let favourites = favourites::list(ctx.conn, ctx.user_id()).await?;
    if favourites.is_empty() {
        let markup =
            InlineKeyboardMarkup::new([[super::browse::menu_button(ctx, texts.browse_button)?]]);
        return screen
            .show(ctx, texts.no_favourites.to_owned(), markup)
            .await;
    }
    let lines: Vec<String> = favourites.iter().map(|f| texts.favourite_line(f)).collect();
    let rows = favourites
        .iter()
        .map(|f| {
            ctx.button(
                &texts.remove_named_favourite_button(&f.name),
                REMOVE_FROM_LIST,
                &[f.business_id],
            )
            .map(|b| vec![b])
        })
        .collect::<Result<Vec<_>, _>>()?;
    let text = format!("{}\n\n{}", texts.favourites_title, lines.join("\n"));
    screen
        .show(ctx, text, InlineKeyboardMarkup::new(rows))
        .await
}

/// Queues an alert about a newly published deal for every follower of its business, in one
/// statement. Returns how many alerts were queued.
pub async fn alert_followers(ctx: &mut Context<'_>, offer_id: i64) -> Result<u64, HandlerError> {
    let Some(offer) = offers::get(ctx.conn, offer_id).await? else {
        return Ok(0);
    };
    let subscribers = favourites::subscribers(ctx.conn, offer.business_id).await?;
    if subscribers.is_empty() {
        return Ok(0);
    }
    let now = Utc::now();
    let tz = ctx.app.config.timezone;
    let mut messages = Vec::with_capacity(subscribers.len());
    for subscriber in &subscribers {
        let texts = crate::texts::for_language(subscriber.language_code.as_deref());
        let card = card::render(&offer.card(), texts, now, tz);
        // The follower's label, not the publisher's.
        let view = super::browse::details_button(ctx, texts.cust.view_deal_button, offer.id, None)?;
        let message = OutboundMessage::SendMessage {
            text: texts.cust.favourite_alert(&offer.business_name, &card),
            parse_mode: None,
            reply_markup: Some(InlineKeyboardMarkup::new([[view]])),
        };
        let release = subscriber
            .quiet_hours
            .map_or(now, |quiet| quiet.release_time(now, tz));
        messages.push((subscriber.user_id, message, release));
    }
    let queued = outbound::enqueue_many(ctx.conn, &messages).await?;
    tracing::info!(offer_id, queued, "favourite alerts queued");
    Ok(queued)
}
