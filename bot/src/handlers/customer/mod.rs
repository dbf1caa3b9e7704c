//! The demand side: browsing and searching deals, reserving, the customer's reservations,
//! favourites with alerts, ratings and /settings. Every button is checked server-side against
//! who pressed it.

pub mod browse;
pub mod favourites;
pub mod payment;
pub mod rating;
pub mod reservations;
pub mod reserve;
pub mod settings;

use teloxide::types::CallbackQuery;

use super::{Context, HandlerError};
use crate::telegram::callback::CallbackData;

/// Every customer button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Browse(browse::Button),
    Reserve(reserve::Button),
    Reservation(reservations::Button),
    Favourite(favourites::Button),
    Rating(rating::Button),
    Settings(settings::Button),
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        browse::Button::from_data(data)
            .map(Self::Browse)
            .or_else(|| reserve::Button::from_data(data).map(Self::Reserve))
            .or_else(|| reservations::Button::from_data(data).map(Self::Reservation))
            .or_else(|| favourites::Button::from_data(data).map(Self::Favourite))
            .or_else(|| rating::Button::from_data(data).map(Self::Rating))
            .or_else(|| settings::Button::from_data(data).map(Self::Settings))
    }
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    match button {
        Button::Browse(button) => browse::on_button(ctx, query, button).await,
        Button::Reserve(button) => reserve::on_button(ctx, query, button).await,
        Button::Reservation(button) => reservations::on_button(ctx, query, button).await,
        Button::Favourite(button) => favourites::on_button(ctx, query, button).await,
        Button::Rating(button) => rating::on_button(ctx, query, button).await,
        Button::Settings(button) => settings::on_button(ctx, query, button).await,
    }
}

/// Where a screen goes: over the message whose button was pressed, or into a new message.
#[derive(Debug, Clone, Copy)]
pub enum Screen<'q> {
    Pressed(&'q CallbackQuery),
    New(teloxide::types::ChatId),
}

impl Screen<'_> {
    pub async fn show(
        self,
        ctx: &mut Context<'_>,
        text: String,
        markup: teloxide::types::InlineKeyboardMarkup,
    ) -> Result<(), HandlerError> {
        match self {
            Self::Pressed(query) => {
                super::business::replace_pressed(ctx, query, text, Some(markup)).await
            }
            Self::New(chat) => {
                ctx.send(
                    chat,
                    text,
                    Some(teloxide::types::ReplyMarkup::InlineKeyboard(markup)),
                );
                Ok(())
            }
        }
    }
}
