//! `/settings`: one message, edited in place, with a section per role — the customer's alerts,
//! quiet hours, Nearby radius and location; each business the user acts for; the admin's tools.

use teloxide::types::{CallbackQuery, ChatId, InlineKeyboardMarkup};

use super::super::{Context, HandlerError};
use super::Screen;
use crate::marketplace::quiet_hours::QuietHours;
use crate::store::businesses;
use crate::store::customers::{self, RADII_KM};
use crate::telegram::callback::CallbackData;

const HOME: &str = "st_home";
const NOTIFICATIONS: &str = "st_notify";
const QUIET_MENU: &str = "st_quiet";
const QUIET_SET: &str = "st_quiet_set";
const RADIUS_MENU: &str = "st_radius";
const RADIUS_SET: &str = "st_radius_set";
const LOCATION: &str = "st_loc";
const LANGUAGE_MENU: &str = "st_lang";
const LANGUAGE_SET: &str = "st_lang_set";
/// `QUIET_SET` with this index turns quiet hours off.
const QUIET_OFF: i64 = QuietHours::PRESETS.len() as i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Home,
    ToggleNotifications,
    QuietMenu,
    Quiet(Option<QuietHours>),
    RadiusMenu,
    Radius(i32),
    Location,
    LanguageMenu,
    /// The index of a language in [`crate::texts::languages`].
    Language(usize),
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        Some(match (data.action.as_str(), data.args.as_slice()) {
            (HOME, []) => Self::Home,
            (NOTIFICATIONS, []) => Self::ToggleNotifications,
            (QUIET_MENU, []) => Self::QuietMenu,
            (QUIET_SET, [QUIET_OFF]) => Self::Quiet(None),
            (QUIET_SET, [index]) => Self::Quiet(Some(
                *QuietHours::PRESETS.get(usize::try_from(*index).ok()?)?,
            )),
            (RADIUS_MENU, []) => Self::RadiusMenu,
            (RADIUS_SET, [km]) => {
                let km = i32::try_from(*km).ok()?;
                RADII_KM.contains(&km).then_some(Self::Radius(km))?
            }
            (LOCATION, []) => Self::Location,
            (LANGUAGE_MENU, []) => Self::LanguageMenu,
            (LANGUAGE_SET, [index]) => {
                let index = usize::try_from(*index).ok()?;
                (index < crate::texts::languages().count()).then_some(Self::Language(index))?
            }
            _ => return None,
        })
    }
}

/// [Back to settings] for screens opened from /settings.
pub fn home_button(
    ctx: &Context<'_>,
) -> Result<teloxide::types::InlineKeyboardButton, HandlerError> {
    ctx.button(ctx.texts.cust.back_to_settings_button, HOME, &[])
}

/// `/settings`.
pub async fn settings(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    show_home(ctx, Screen::New(chat)).await
}

async fn show_home(ctx: &mut Context<'_>, screen: Screen<'_>) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let settings = customers::get(ctx.conn, user_id).await?;
    let memberships = businesses::of_member(ctx.conn, user_id).await?;
    let texts = &ctx.texts.cust;
    let mut sections = vec![texts.customer_settings(&settings, ctx.texts.code())];
    if !memberships.is_empty() {
        let lines: Vec<String> = memberships
            .iter()
            .map(|(business, role)| texts.business_line(business, role))
            .collect();
        sections.push(format!("{}\n{}", texts.business_section, lines.join("\n")));
    }
    if super::super::business::admin::is_admin(ctx) {
        sections.push(texts.admin_section.to_owned());
    }
    let text = format!("{}\n\n{}", texts.settings_title, sections.join("\n\n"));
    let notifications = if settings.notifications {
        texts.notifications_off_button
    } else {
        texts.notifications_on_button
    };
    let mut rows = vec![
        vec![ctx.button(notifications, NOTIFICATIONS, &[])?],
        vec![
            ctx.button(texts.quiet_hours_button, QUIET_MENU, &[])?,
            ctx.button(texts.radius_button, RADIUS_MENU, &[])?,
        ],
        vec![
            ctx.button(texts.change_location_button, LOCATION, &[])?,
            ctx.button(texts.language_button, LANGUAGE_MENU, &[])?,
        ],
    ];
    for (business, role) in &memberships {
        let may_edit = crate::marketplace::permissions::Role::parse(role).is_some_and(|role| {
            crate::marketplace::permissions::allowed(
                role,
                crate::marketplace::permissions::Action::EditBusiness,
            )
        });
        if may_edit {
            rows.push(vec![super::super::business::profile::edit_button(
                ctx, business,
            )?]);
            rows.push(vec![
                super::super::business::profile::payment_button(ctx, business).await?,
            ]);
        }
    }
    screen
        .show(ctx, text, InlineKeyboardMarkup::new(rows))
        .await
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let screen = Screen::Pressed(query);
    let texts = &ctx.texts.cust;
    match button {
        Button::Home => {
            ctx.answer_callback(query, None);
            show_home(ctx, screen).await
        }
        Button::ToggleNotifications => {
            let enabled = !customers::get(ctx.conn, user_id).await?.notifications;
            customers::set_notifications(ctx.conn, user_id, enabled).await?;
            audit_setting(ctx, serde_json::json!({ "notifications": enabled })).await?;
            ctx.answer_callback(query, Some(texts.saved));
            show_home(ctx, screen).await
        }
        Button::QuietMenu => {
            ctx.answer_callback(query, None);
            let mut rows = QuietHours::PRESETS
                .iter()
                .enumerate()
                .map(|(index, preset)| {
                    ctx.button(&preset.describe(), QUIET_SET, &[index as i64])
                        .map(|b| vec![b])
                })
                .collect::<Result<Vec<_>, _>>()?;
            rows.push(vec![ctx.button(
                texts.quiet_off_button,
                QUIET_SET,
                &[QUIET_OFF],
            )?]);
            rows.push(vec![ctx.button(texts.back_button, HOME, &[])?]);
            let text = texts.ask_quiet_hours(ctx.app.config.timezone.name());
            screen
                .show(ctx, text, InlineKeyboardMarkup::new(rows))
                .await
        }
        Button::Quiet(quiet) => {
            customers::set_quiet_hours(ctx.conn, user_id, quiet).await?;
            let described = quiet.map(QuietHours::describe);
            audit_setting(ctx, serde_json::json!({ "quiet_hours": described })).await?;
            ctx.answer_callback(query, Some(texts.saved));
            show_home(ctx, screen).await
        }
        Button::RadiusMenu => {
            ctx.answer_callback(query, None);
            let radii = RADII_KM
                .iter()
                .map(|km| ctx.button(&format!("{km} km"), RADIUS_SET, &[i64::from(*km)]))
                .collect::<Result<Vec<_>, _>>()?;
            let markup =
                InlineKeyboardMarkup::new([radii, vec![ctx.button(texts.back_button, HOME, &[])?]]);
            screen.show(ctx, texts.ask_radius.to_owned(), markup).await
        }
        Button::Radius(km) => {
            customers::set_radius(ctx.conn, user_id, km).await?;
            audit_setting(ctx, serde_json::json!({ "radius_km": km })).await?;
            ctx.answer_callback(query, Some(texts.saved));
            show_home(ctx, screen).await
        }
        Button::Location => {
            ctx.answer_callback(query, None);
            super::browse::ask_location(ctx, ChatId(user_id)).await
        }
        Button::LanguageMenu => {
            ctx.answer_callback(query, None);
            // Each language is offered in its own words, so that anyone finds theirs.
            let mut rows = crate::texts::languages()
                .enumerate()
                .map(|(index, code)| {
                    ctx.button(texts.language_name(code), LANGUAGE_SET, &[index as i64])
                        .map(|b| vec![b])
                })
                .collect::<Result<Vec<_>, _>>()?;
            rows.push(vec![ctx.button(texts.back_button, HOME, &[])?]);
            let text = texts.ask_language.to_owned();
            screen
                .show(ctx, text, InlineKeyboardMarkup::new(rows))
                .await
        }
        Button::Language(index) => {
            let Some(code) = crate::texts::languages().nth(index) else {
                ctx.answer_callback(query, Some(ctx.texts.button_no_longer_valid));
                return Ok(());
            };
            crate::store::users::set_language(ctx.conn, user_id, code).await?;
            audit_setting(ctx, serde_json::json!({ "language": code })).await?;
            ctx.texts = crate::texts::for_language(Some(code));
            ctx.answer_callback(query, Some(ctx.texts.cust.saved));
            publish_menu(ctx).await?;
            show_home(ctx, screen).await
        }
    }
}

/// The command menu of the user's chat in their new language, with their role's commands.
async fn publish_menu(ctx: &mut Context<'_>) -> Result<(), HandlerError> {
    use super::super::business::{
        ADMIN_COMMANDS, BUSINESS_COMMANDS, STAFF_COMMANDS, publish_chat_commands,
    };
    let user_id = ctx.user_id();
    let memberships = businesses::of_member(ctx.conn, user_id).await?;
    let role_commands: &[&str] = if super::super::business::admin::is_admin(ctx) {
        ADMIN_COMMANDS
    } else if memberships.iter().any(|(_, role)| role == "owner") {
        BUSINESS_COMMANDS
    } else if !memberships.is_empty() {
        STAFF_COMMANDS
    } else {
        &[]
    };
    publish_chat_commands(ctx.app, ctx.texts, user_id, role_commands).await;
    Ok(())
}

async fn audit_setting(
    ctx: &mut Context<'_>,
    after: serde_json::Value,
) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    ctx.audit(
        "customer.settings_changed",
        "user",
        Some(user_id.to_string()),
        None,
        Some(after),
    )
    .await
}
