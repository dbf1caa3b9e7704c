//! The sandbox's web page and its small HTTP API. The page is plain HTML/CSS/JS compiled into
//! the binary; it acts through the API and follows the session log over server-sent events.
//!
//! API:
//! - `GET /api/state`: bot identity, users, the bot's command menu, preset places
//! - `POST /api/users` `{first_name, language_code}`: a new user whose Telegram speaks
//!   `language_code` (`en`, `de`, any other tag, or absent)
//! - `POST /api/users/{id}/text` `{text}`, `/location` `{latitude, longitude, label?}`,
//!   `/photo`, `/button` `{message_id, data}`: user actions, answered with the log entry
//! - `POST /api/users/{id}/pay` `{message_id}`: Pay on an invoice; answered once the bot has
//!   answered the pre-checkout query (and, when it said ok, the payment was sent) with
//!   `{ok, pre_checkout_query_id, error_message, timed_out, message_id, provider_payment_charge_id}`
//! - `GET /api/events`: the session log as SSE (`id` = `seq`; replays after `Last-Event-ID`
//!   or `?after=`)
//! - `GET /api/transcript`: the session as JSON (`?download=1` for a file)

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::session::{ActionError, Entry, PaymentOutcome, Session};

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// A place the page offers for location sharing.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Place {
    pub name: &'static str,
    pub latitude: f64,
    pub longitude: f64,
}

/// The demo city: preset places for location sharing; the demo businesses sit around them
/// (see [`crate::demo`]).
pub const DEMO_CITY: &str = "Berlin";
/// The simulated customer's saved location, and the place nearest the business owner's shop.
pub const HOME_PLACE: Place = PLACES[0];
pub const PLACES: &[Place] = &[
    Place {
        name: "Alexanderplatz",
        latitude: 52.521_9,
        longitude: 13.413_2,
    },
    Place {
        name: "Kreuzberg, Görlitzer Park",
        latitude: 52.496_6,
        longitude: 13.437_4,
    },
    Place {
        name: "Prenzlauer Berg, Kollwitzplatz",
        latitude: 52.536_5,
        longitude: 13.417_2,
    },
    Place {
        name: "Charlottenburg, Savignyplatz",
        latitude: 52.505_5,
        longitude: 13.322_2,
    },
    Place {
        name: "Far away: Munich Marienplatz",
        latitude: 48.137_4,
        longitude: 11.575_5,
    },
];

#[derive(Clone)]
pub struct WebState {
    pub session: Arc<Session>,
    pub bot_username: String,
    pub storage_summary: String,
}

pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/style.css", get(style_css))
        .route("/api/state", get(app_state))
        .route("/api/users", post(add_user))
        .route("/api/users/{id}/text", post(send_text))
        .route("/api/users/{id}/location", post(share_location))
        .route("/api/users/{id}/photo", post(send_photo))
        .route("/api/users/{id}/button", post(press_button))
        .route("/api/users/{id}/pay", post(pay))
        .route("/api/events", get(events))
        .route("/api/transcript", get(transcript))
        .with_state(state)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style_css() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

async fn app_state(State(state): State<WebState>) -> Json<Value> {
    Json(json!({
        "bot": { "username": state.bot_username },
        "users": state.session.users(),
        "commands": state.session.bot_commands(),
        "city": DEMO_CITY,
        "places": PLACES,
        "storage": state.storage_summary,
    }))
}

/// An action the page asked for could not be done; answered as `{"error": ...}`.
struct ApiError(ActionError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.0 {
            ActionError::UnknownUser(_) => StatusCode::NOT_FOUND,
            ActionError::Invalid(_)
            | ActionError::NoSuchButton { .. }
            | ActionError::NoSuchInvoice { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ActionError::Conflict(_) => StatusCode::CONFLICT,
        };
        (status, Json(json!({ "error": self.0.to_string() }))).into_response()
    }
}

impl From<ActionError> for ApiError {
    fn from(error: ActionError) -> Self {
        Self(error)
    }
}

#[derive(Deserialize)]
struct NewUser {
    first_name: String,
    /// What the user's Telegram app reports as its language; none when absent.
    #[serde(default)]
    language_code: Option<String>,
}

async fn add_user(
    State(state): State<WebState>,
    Json(body): Json<NewUser>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.session.add_user(
        &body.first_name,
        body.language_code.as_deref()
    )?)))
}

#[derive(Deserialize)]
struct Text {
    text: String,
}

async fn send_text(
    State(state): State<WebState>,
    Path(user_id): Path<i64>,
    Json(body): Json<Text>,
) -> Result<Json<Entry>, ApiError> {
    Ok(Json(state.session.send_text(user_id, &body.text)?))
}

#[derive(Deserialize)]
struct Location {
    latitude: f64,
    longitude: f64,
    label: Option<String>,
}

async fn share_location(
    State(state): State<WebState>,
    Path(user_id): Path<i64>,
    Json(body): Json<Location>,
) -> Result<Json<Entry>, ApiError> {
    Ok(Json(state.session.share_location(
        user_id,
        body.latitude,
        body.longitude,
        body.label,
    )?))
}

async fn send_photo(
    State(state): State<WebState>,
    Path(user_id): Path<i64>,
) -> Result<Json<Entry>, ApiError> {
    Ok(Json(state.session.send_photo(user_id)?))
}

#[derive(Deserialize)]
struct Button {
    message_id: i64,
    data: String,
}

async fn press_button(
    State(state): State<WebState>,
    Path(user_id): Path<i64>,
    Json(body): Json<Button>,
) -> Result<Json<Entry>, ApiError> {
    Ok(Json(state.session.press_button(
        user_id,
        body.message_id,
        &body.data,
    )?))
}

#[derive(Deserialize)]
struct Pay {
    message_id: i64,
}

async fn pay(
    State(state): State<WebState>,
    Path(user_id): Path<i64>,
    Json(body): Json<Pay>,
) -> Result<Json<PaymentOutcome>, ApiError> {
    Ok(Json(state.session.pay(user_id, body.message_id).await?))
}

#[derive(Deserialize)]
struct After {
    after: Option<u64>,
}

/// The session log from `after` on, then live. Subscribing before reading the log means no
/// entry falls between the replay and the live part; duplicates are skipped by `seq`.
async fn events(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(query): Query<After>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or(query.after)
        .unwrap_or(0);
    let receiver = state.session.subscribe();
    let replay: VecDeque<Entry> = state.session.entries_after(after).into();
    let stream = futures::stream::unfold(
        (state.session, receiver, replay, after),
        |(session, mut receiver, mut pending, mut last)| async move {
            loop {
                if let Some(entry) = pending.pop_front() {
                    if entry.seq <= last {
                        continue;
                    }
                    last = entry.seq;
                    let event = Event::default()
                        .id(entry.seq.to_string())
                        .json_data(&entry)
                        .unwrap_or_else(|_| Event::default().comment("unserialisable entry"));
                    return Some((Ok(event), (session, receiver, pending, last)));
                }
                match receiver.recv().await {
                    Ok(entry) => pending.push_back(entry),
                    // Fell behind the live channel: catch up from the log itself.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        pending = session.entries_after(last).into();
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[derive(Deserialize)]
struct Download {
    download: Option<String>,
}

async fn transcript(State(state): State<WebState>, Query(query): Query<Download>) -> Response {
    let body = Json(state.session.transcript());
    if query.download.is_some() {
        let disposition = format!(
            "attachment; filename=\"toogoodtogo-sandbox-{}.json\"",
            state.session.started_at_ms
        );
        return ([(header::CONTENT_DISPOSITION, disposition)], body).into_response();
    }
    body.into_response()
}
