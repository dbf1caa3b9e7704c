//! `/browse`: the filters (Nearby, All deals, Ending soon), results one deal per page in one
//! message edited in place, and a deal's details. Also the customer's location.

use chrono::Utc;
use teloxide::types::{
    CallbackQuery, ChatId, InlineKeyboardMarkup, KeyboardButton, KeyboardMarkup, ReplyMarkup,
};

use super::super::{Context, HandlerError};
use super::Screen;
use crate::marketplace::card;
use crate::marketplace::geo::{self, Point};
use crate::store::offers::{self, Offer};
use crate::store::search::{self, Filter, Listing};
use crate::store::{customers, favourites};
use crate::telegram::callback::CallbackData;

const MENU: &str = "br_menu";
const PAGE: &str = "br_page";
const DETAILS: &str = "br_det";
const LOCATION: &str = "br_loc";

/// Where a details view was opened from, to go back there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultsPage {
    pub filter: Filter,
    pub page: i64,
}

impl ResultsPage {
    pub(super) fn args(self) -> [i64; 2] {
        [self.filter.code(), self.page]
    }

    pub(super) fn parse(filter: i64, page: i64) -> Option<Self> {
        Some(Self {
            filter: Filter::from_code(filter)?,
            page: (page >= 0).then_some(page)?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Menu,
    Page(ResultsPage),
    Details {
        offer_id: i64,
        from: Option<ResultsPage>,
    },
    AskLocation,
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        Some(match (data.action.as_str(), data.args.as_slice()) {
            (MENU, []) => Self::Menu,
            (PAGE, [filter, page]) => Self::Page(ResultsPage::parse(*filter, *page)?),
            (DETAILS, [offer_id]) => Self::Details {
                offer_id: *offer_id,
                from: None,
            },
            (DETAILS, [offer_id, filter, page]) => Self::Details {
                offer_id: *offer_id,
                from: Some(ResultsPage::parse(*filter, *page)?),
            },
            (LOCATION, []) => Self::AskLocation,
            _ => return None,
        })
    }
}

/// Buttons other customer screens use to come back here.
pub fn details_button(
    ctx: &Context<'_>,
    label: &str,
    offer_id: i64,
    from: Option<ResultsPage>,
) -> Result<teloxide::types::InlineKeyboardButton, HandlerError> {
    match from.map(ResultsPage::args) {
        Some([filter, page]) => ctx.button(label, DETAILS, &[offer_id, filter, page]),
        None => ctx.button(label, DETAILS, &[offer_id]),
    }
}

pub fn menu_button(
    ctx: &Context<'_>,
    label: &str,
) -> Result<teloxide::types::InlineKeyboardButton, HandlerError> {
    ctx.button(label, MENU, &[])
}

/// `/browse`, the menu button and "I'm a customer": the filters.
pub async fn browse(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    show_menu(ctx, Screen::New(chat)).await
}

async fn show_menu(ctx: &mut Context<'_>, screen: Screen<'_>) -> Result<(), HandlerError> {
    let texts = &ctx.texts.cust;
    let settings = customers::get(ctx.conn, ctx.user_id()).await?;
    let location_label = if settings.location.is_some() {
        texts.change_location_button
    } else {
        texts.set_location_button
    };
    let markup = InlineKeyboardMarkup::new([
        vec![ctx.button(
            &texts.nearby_button(settings.radius_km),
            PAGE,
            &[Filter::Nearby.code(), 0],
        )?],
        vec![
            ctx.button(texts.all_deals_button, PAGE, &[Filter::All.code(), 0])?,
            ctx.button(
                texts.ending_soon_button,
                PAGE,
                &[Filter::EndingSoon.code(), 0],
            )?,
        ],
        vec![ctx.button(location_label, LOCATION, &[])?],
    ]);
    screen
        .show(ctx, texts.browse_intro.to_owned(), markup)
        .await
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    ctx.answer_callback(query, None);
    let screen = Screen::Pressed(query);
    match button {
        Button::Menu => show_menu(ctx, screen).await,
        Button::Page(page) => show_page(ctx, screen, page).await,
        Button::Details { offer_id, from } => {
            let photo = show_details(ctx, screen, offer_id, from).await?;
            send_photo(ctx, photo).await
        }
        Button::AskLocation => ask_location(ctx, ChatId(ctx.user_id())).await,
    }
}

/// Asks for the customer's location with Telegram's location button.
pub async fn ask_location(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    let texts = &ctx.texts.cust;
    let keyboard = KeyboardMarkup::new([[KeyboardButton::new(texts.share_location_button)
        .request(teloxide::types::ButtonRequest::Location)]])
    .resize_keyboard()
    .one_time_keyboard();
    ctx.send(
        chat,
        texts.ask_location,
        Some(ReplyMarkup::Keyboard(keyboard)),
    );
    Ok(())
}

/// A location message outside any dialogue: remembered for Nearby, which is shown at once.
pub async fn on_location(
    ctx: &mut Context<'_>,
    chat: ChatId,
    at: Point,
) -> Result<(), HandlerError> {
    customers::set_location(ctx.conn, ctx.user_id(), at).await?;
    ctx.audit(
        "customer.location_set",
        "user",
        Some(ctx.user_id().to_string()),
        None,
        None,
    )
    .await?;
    let saved = ctx.texts.cust.location_saved;
    ctx.send(chat, saved, Some(ReplyMarkup::kb_remove()));
    show_page(
        ctx,
        Screen::New(chat),
        ResultsPage {
            filter: Filter::Nearby,
            page: 0,
        },
    )
    .await
}

async fn show_page(
    ctx: &mut Context<'_>,
    screen: Screen<'_>,
    at: ResultsPage,
) -> Result<(), HandlerError> {
    let settings = customers::get(ctx.conn, ctx.user_id()).await?;
    if at.filter == Filter::Nearby && settings.location.is_none() {
        return ask_location(ctx, ChatId(ctx.user_id())).await;
    }
    let query = search::Query {
        filter: at.filter,
        origin: settings.location,
        radius_km: f64::from(settings.radius_km),
        now: Utc::now(),
    };
    let hits = search::page(ctx.conn, &query, at.page, 1).await?;
    let texts = &ctx.texts.cust;
    let Some(listing) = hits.first() else {
        // Past the end (the list shrank since the last press) or nothing at all.
        if at.page > 0 {
            return Box::pin(show_page(ctx, screen, ResultsPage { page: 0, ..at })).await;
        }
        let text = match at.filter {
            Filter::Nearby => texts.nothing_nearby(settings.radius_km),
            Filter::All => texts.nothing_at_all.to_owned(),
            Filter::EndingSoon => texts.nothing_ending_soon.to_owned(),
        };
        let markup = InlineKeyboardMarkup::new([
            vec![ctx.button(texts.all_deals_button, PAGE, &[Filter::All.code(), 0])?],
            vec![menu_button(ctx, texts.back_to_filters_button)?],
        ]);
        return screen.show(ctx, text, markup).await;
    };
    let text = listing_text(ctx, listing, at);
    let mut navigation = Vec::new();
    if at.page > 0 {
        navigation.push(
            ctx.button(
                texts.prev_button,
                PAGE,
                &ResultsPage {
                    page: at.page - 1,
                    ..at
                }
                .args(),
            )?,
        );
    }
    if at.page + 1 < listing.total {
        navigation.push(
            ctx.button(
                texts.next_button,
                PAGE,
                &ResultsPage {
                    page: at.page + 1,
                    ..at
                }
                .args(),
            )?,
        );
    }
    let offer_id = listing.offer.id;
    let mut rows = vec![
        navigation,
        vec![
            details_button(ctx, texts.details_button, offer_id, Some(at))?,
            super::reserve::start_button(ctx, offer_id, Some(at))?,
        ],
        vec![menu_button(ctx, texts.back_to_filters_button)?],
    ];
    rows.retain(|row| !row.is_empty());
    screen
        .show(ctx, text, InlineKeyboardMarkup::new(rows))
        .await
}

fn listing_text(ctx: &Context<'_>, listing: &Listing, at: ResultsPage) -> String {
    let texts = &ctx.texts.cust;
    let card = card::render(
        &listing.offer.card(),
        ctx.texts,
        Utc::now(),
        ctx.app.config.timezone,
    );
    let mut text = format!("{}\n\n{card}", texts.position(at.page + 1, listing.total));
    if let Some(km) = listing.distance_km {
        text.push_str(&format!("\n📍 {}", texts.away(&ctx.texts.distance(km))));
    }
    text
}

/// The deal's photo as its own message (a text message cannot become a photo when edited).
pub async fn send_photo(
    ctx: &mut Context<'_>,
    photo: Option<(String, String)>,
) -> Result<(), HandlerError> {
    if let Some((file_id, caption)) = photo {
        ctx.send_photo(ChatId(ctx.user_id()), &file_id, caption);
    }
    Ok(())
}

/// A deal's details: the full address with a map link, the description, the state and, when it
/// cannot be reserved, why. Returns the deal's photo (file id and caption), if it has one.
pub async fn show_details(
    ctx: &mut Context<'_>,
    screen: Screen<'_>,
    offer_id: i64,
    from: Option<ResultsPage>,
) -> Result<Option<(String, String)>, HandlerError> {
    let texts = &ctx.texts.cust;
    let offer = offers::get(ctx.conn, offer_id).await?;
    // A business that is not approved (pending, rejected, suspended) has nothing to show.
    let Some(offer) = offer.filter(|o| o.business_status == "approved") else {
        let markup = InlineKeyboardMarkup::new([[menu_button(ctx, texts.browse_button)?]]);
        screen
            .show(ctx, texts.offer_not_found.to_owned(), markup)
            .await?;
        return Ok(None);
    };
    let user_id = ctx.user_id();
    let favourite = favourites::contains(ctx.conn, user_id, offer.business_id).await?;
    let text = details_text(ctx, &offer);
    let mut rows = Vec::new();
    if reservable(&offer) {
        rows.push(vec![super::reserve::start_button(ctx, offer.id, from)?]);
    }
    rows.push(vec![super::favourites::toggle_button(
        ctx,
        offer.business_id,
        offer.id,
        favourite,
    )?]);
    rows.push(vec![match from {
        Some(from) => ctx.button(texts.back_to_results_button, PAGE, &from.args())?,
        None => menu_button(ctx, texts.browse_button)?,
    }]);
    screen
        .show(ctx, text, InlineKeyboardMarkup::new(rows))
        .await?;
    Ok(offer.photo_file_id.map(|photo| (photo, offer.title)))
}

/// Whether customers can reserve the offer now.
pub fn reservable(offer: &Offer) -> bool {
    offer.state() == crate::marketplace::OfferState::Active
        && offer.units_available > 0
        && offer.pickup_end > Utc::now()
        && offer.business_status == "approved"
}

pub fn details_text(ctx: &Context<'_>, offer: &Offer) -> String {
    let texts = &ctx.texts.cust;
    let card = card::render(
        &offer.card(),
        ctx.texts,
        Utc::now(),
        ctx.app.config.timezone,
    );
    let mut text = format!(
        "{card}\n\n{}\n🗺 {}",
        texts.full_address(&offer.street, &offer.postal_code, &offer.city),
        geo::map_link(offer.location())
    );
    if !reservable(offer) {
        text.push_str("\n\n");
        text.push_str(texts.why_not_reservable(offer.state(), offer.pickup_end <= Utc::now()));
    }
    text
}
