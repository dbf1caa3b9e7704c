//! A fake Telegram Bot API over real HTTP. It implements the methods the bot calls, enforces
//! Telegram's rules with Telegram's error bodies, keeps per-chat transcripts and a live event
//! stream, and lets tests inject failures (429 with `retry_after`, blocked chats, slow answers).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, broadcast};

/// The bot identity the fake answers getMe with.
pub const BOT_ID: i64 = 7_000_000_001;
pub const BOT_USERNAME: &str = "TooGoodToGoTestBot";

const MAX_TEXT_CHARS: usize = 4096;
const MAX_CAPTION_CHARS: usize = 1024;
const MAX_CALLBACK_DATA_BYTES: usize = 64;

/// One API call as the fake received it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub params: Value,
    pub at: Instant,
}

/// Something that happened in a chat, as a client would see it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ChatEvent {
    MessageSent {
        chat_id: i64,
        message: Value,
    },
    MessageEdited {
        chat_id: i64,
        message: Value,
    },
    MessageDeleted {
        chat_id: i64,
        message_id: i64,
    },
    CallbackAnswered {
        callback_query_id: String,
        text: Option<String>,
        show_alert: bool,
    },
}

impl ChatEvent {
    pub fn chat_id(&self) -> Option<i64> {
        match self {
            Self::MessageSent { chat_id, .. }
            | Self::MessageEdited { chat_id, .. }
            | Self::MessageDeleted { chat_id, .. } => Some(*chat_id),
            Self::CallbackAnswered { .. } => None,
        }
    }
}

/// A failure to inject into the next matching call.
#[derive(Debug, Clone)]
pub enum Injected {
    /// 429 Too Many Requests with `parameters.retry_after`.
    RetryAfter(u32),
    /// Any Telegram error.
    Error { code: u16, description: String },
    /// Answer only after this long (the call still succeeds).
    Delay(Duration),
    /// Never answer (until the caller gives up or dies).
    Hang,
}

#[derive(Debug, Clone, Default)]
pub struct WebhookState {
    pub url: String,
    pub secret_token: Option<String>,
    pub max_connections: Option<i64>,
    pub allowed_updates: Option<Value>,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// Messages by chat, in the order sent; edits replace the stored message.
    transcripts: HashMap<i64, Vec<Value>>,
    next_message_id: HashMap<i64, i64>,
    webhook: Option<WebhookState>,
    pending_updates: VecDeque<Value>,
    next_update_id: i64,
    blocked_chats: HashSet<i64>,
    injections: Vec<(String, Option<i64>, Injected)>,
    commands: Value,
    menu_button: Option<Value>,
    callback_answers: Vec<Value>,
    /// The `parse_mode` a message was sent or last edited with, by (chat, message id): the
    /// stored message keeps Telegram's shape, and a client that renders it needs to know.
    parse_modes: HashMap<(i64, i64), String>,
    /// Invoices sent with sendInvoice, by chat, with what Telegram keeps from the message:
    /// the payload, the prices and the provider token.
    invoices: HashMap<i64, Vec<Value>>,
    pre_checkout_answers: Vec<Value>,
}

struct Shared {
    token: String,
    inner: Mutex<Inner>,
    changed: Notify,
    updates_arrived: Notify,
    events: broadcast::Sender<ChatEvent>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake; it stops when dropped.
pub struct FakeTelegram {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeTelegram {
    /// Starts the fake on a free loopback port for the bot with `token`.
    pub async fn start(token: &str) -> std::io::Result<Self> {
        Self::start_on(token, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(token: &str, addr: SocketAddr) -> std::io::Result<Self> {
        let (events, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            inner: Mutex::new(Inner {
                next_update_id: 100_000,
                commands: json!([]),
                ..Inner::default()
            }),
            changed: Notify::new(),
            updates_arrived: Notify::new(),
            events,
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = router(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// The router alone, for embedding the fake in another server (the sandbox).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ChatEvent> {
        self.shared.events.subscribe()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method.eq_ignore_ascii_case(method))
            .collect()
    }

    /// The messages the bot sent to a chat (edited ones in their latest form).
    pub fn transcript(&self, chat_id: i64) -> Vec<Value> {
        self.shared
            .lock()
            .transcripts
            .get(&chat_id)
            .cloned()
            .unwrap_or_default()
    }

    pub fn webhook(&self) -> Option<WebhookState> {
        self.shared.lock().webhook.clone()
    }

    pub fn commands(&self) -> Value {
        self.shared.lock().commands.clone()
    }

    pub fn callback_answers(&self) -> Vec<Value> {
        self.shared.lock().callback_answers.clone()
    }

    /// The invoices sent to a chat with sendInvoice, in order: each is
    /// `{message_id, title, description, payload, currency, prices, total_amount, provider_token,
    /// start_parameter}`
    /// (plus `photo_url` and `reply_markup` when given). `provider_token` is null when absent.
    pub fn invoices(&self, chat_id: i64) -> Vec<Value> {
        self.shared
            .lock()
            .invoices
            .get(&chat_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The answers to pre-checkout queries, in order: each is
    /// `{pre_checkout_query_id, ok, error_message?}`.
    pub fn pre_checkout_answers(&self) -> Vec<Value> {
        self.shared.lock().pre_checkout_answers.clone()
    }

    /// The menu button set with setChatMenuButton, if any.
    pub fn menu_button(&self) -> Option<Value> {
        self.shared.lock().menu_button.clone()
    }

    /// The `parse_mode` (e.g. `HTML`) a bot message was sent or last edited with.
    pub fn parse_mode(&self, chat_id: i64, message_id: i64) -> Option<String> {
        self.shared
            .lock()
            .parse_modes
            .get(&(chat_id, message_id))
            .cloned()
    }

    /// Takes the next message id of a chat for a message the user sends: Telegram numbers the
    /// messages of a private chat in one sequence, whoever sent them.
    pub fn allocate_message_id(&self, chat_id: i64) -> i64 {
        let mut inner = self.shared.lock();
        let id = inner.next_message_id.entry(chat_id).or_insert(0);
        *id += 1;
        *id
    }

    /// Makes every call to this chat fail with 403 "bot was blocked by the user".
    pub fn block_chat(&self, chat_id: i64) {
        self.shared.lock().blocked_chats.insert(chat_id);
    }

    pub fn unblock_chat(&self, chat_id: i64) {
        self.shared.lock().blocked_chats.remove(&chat_id);
    }

    /// Injects a failure into the next call of `method` (optionally only for one chat).
    pub fn inject(&self, method: &str, chat_id: Option<i64>, failure: Injected) {
        self.shared
            .lock()
            .injections
            .push((method.to_ascii_lowercase(), chat_id, failure));
    }

    /// Queues an update for getUpdates (long polling). Returns its update_id.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let mut inner = self.shared.lock();
        let id = match update.get("update_id").and_then(Value::as_i64) {
            Some(id) => id,
            None => {
                inner.next_update_id += 1;
                let id = inner.next_update_id;
                update["update_id"] = json!(id);
                id
            }
        };
        inner.pending_updates.push_back(update);
        drop(inner);
        self.shared.updates_arrived.notify_waiters();
        id
    }

    /// Waits until a chat has at least `count` messages; returns them.
    pub async fn wait_for_messages(
        &self,
        chat_id: i64,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Value>, String> {
        self.wait_until(timeout, || {
            let transcript = self.transcript(chat_id);
            (transcript.len() >= count).then_some(transcript)
        })
        .await
        .map_err(|_| {
            format!(
                "chat {chat_id}: expected {count} message(s) within {timeout:?}, got {:?}",
                self.transcript(chat_id)
            )
        })
    }

    /// Waits until `check` returns something, re-checking whenever the fake sees a call.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> Result<T, ()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            if let Some(value) = check() {
                return Ok(value);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check().ok_or(());
            }
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_fake/stats", axum::routing::get(stats))
        .route("/{bot}/{method}", any(api))
        .with_state(shared)
}

/// Call counts by method, for processes that drive the fake from outside (benchmarks).
async fn stats(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let inner = shared.lock();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for call in &inner.calls {
        *counts.entry(call.method.as_str()).or_default() += 1;
    }
    let messages: usize = inner.transcripts.values().map(Vec::len).sum();
    Json(json!({ "calls": counts, "messages": messages, "chats": inner.transcripts.len() }))
}

/// A Telegram error, answered with Telegram's error body.
#[derive(Debug)]
struct ApiError {
    code: u16,
    description: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST);
        let body = json!({ "ok": false, "error_code": self.code, "description": self.description });
        (status, Json(body)).into_response()
    }
}

fn error(code: u16, description: impl Into<String>) -> ApiError {
    ApiError {
        code,
        description: description.into(),
    }
}

fn retry_after(seconds: u32) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({
            "ok": false,
            "error_code": 429,
            "description": format!("Too Many Requests: retry after {seconds}"),
            "parameters": { "retry_after": seconds }
        })),
    )
        .into_response()
}

fn ok(result: Value) -> Response {
    Json(json!({ "ok": true, "result": result })).into_response()
}

/// Parameters from the query string and a JSON or form-encoded body, as Telegram accepts them.
fn parameters(
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Map<String, Value>, ApiError> {
    let mut params: Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.clone(), parse_form_value(v)))
        .collect();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if body.is_empty() {
        return Ok(params);
    }
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => params.extend(map),
            _ => return Err(error(400, "Bad Request: can't parse JSON object")),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        for pair in String::from_utf8_lossy(body).split('&') {
            if let Some((k, v)) = pair.split_once('=') {
                params.insert(url_decode(k), parse_form_value(&url_decode(v)));
            }
        }
    } else if let Some(boundary) = content_type
        .strip_prefix("multipart/form-data")
        .and_then(|rest| rest.split("boundary=").nth(1))
    {
        let boundary = boundary.trim_matches('"');
        params.extend(multipart_fields(body, boundary));
    }
    Ok(params)
}

/// The fields of a multipart/form-data body. Uploaded files are kept as `attach://<filename>`.
fn multipart_fields(body: &[u8], boundary: &str) -> Map<String, Value> {
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    let mut fields = Map::new();
    for part in text.split(delimiter.as_str()) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(disposition) = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
        else {
            continue;
        };
        let attribute = |name: &str| {
            disposition
                .split(';')
                .map(str::trim)
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .map(|v| v.trim_matches('"').to_owned())
        };
        let Some(name) = attribute("name") else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let value = match attribute("filename") {
            Some(filename) => Value::String(format!("attach://{filename}")),
            None => parse_form_value(value),
        };
        fields.insert(name, value);
    }
    fields
}

pub(crate) fn url_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Form values that hold JSON (reply_markup, numbers) are decoded as JSON.
fn parse_form_value(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

fn chat_id_of(params: &Map<String, Value>) -> Option<i64> {
    match params.get("chat_id") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

async fn api(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if bot.strip_prefix("bot") != Some(shared.token.as_str()) {
        return error(401, "Unauthorized").into_response();
    }
    let params = match parameters(&query, &headers, &body) {
        Ok(params) => params,
        Err(response) => return response.into_response(),
    };
    let method = method.to_ascii_lowercase();
    let chat_id = chat_id_of(&params);
    let injected = {
        let mut inner = shared.lock();
        inner.calls.push(Call {
            method: method.clone(),
            params: Value::Object(params.clone()),
            at: Instant::now(),
        });
        let position = inner
            .injections
            .iter()
            .position(|(m, chat, _)| *m == method && (chat.is_none() || *chat == chat_id));
        position.map(|i| inner.injections.remove(i).2)
    };
    shared.changed.notify_waiters();
    match injected {
        Some(Injected::RetryAfter(seconds)) => return retry_after(seconds),
        Some(Injected::Error { code, description }) => {
            return error(code, description).into_response();
        }
        Some(Injected::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Injected::Hang) => std::future::pending::<()>().await,
        None => {}
    }
    let response = handle(&shared, &method, params).await;
    shared.changed.notify_waiters();
    response
}

fn require<'a>(params: &'a Map<String, Value>, name: &str) -> Result<&'a Value, ApiError> {
    params
        .get(name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| error(400, format!("Bad Request: {name} is empty")))
}

fn require_str<'a>(params: &'a Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    match require(params, name)? {
        Value::String(s) if !s.is_empty() => Ok(s),
        Value::String(_) => Err(error(400, format!("Bad Request: {name} is empty"))),
        _ => Err(error(400, format!("Bad Request: {name} must be a string"))),
    }
}

fn require_chat(params: &Map<String, Value>) -> Result<i64, ApiError> {
    require(params, "chat_id")?;
    chat_id_of(params).ok_or_else(|| error(400, "Bad Request: chat not found"))
}

fn bot_user() -> Value {
    json!({ "id": BOT_ID, "is_bot": true, "first_name": "TooGoodToGo", "username": BOT_USERNAME })
}

fn chat_json(chat_id: i64) -> Value {
    if chat_id > 0 {
        json!({ "id": chat_id, "type": "private", "first_name": "User" })
    } else {
        json!({ "id": chat_id, "type": "supergroup", "title": "Group" })
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Telegram's checks on reply_markup: inline buttons need text and 1-64 bytes of callback_data.
fn validate_markup(params: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    let Some(markup) = params.get("reply_markup").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let markup = match markup {
        Value::String(s) => serde_json::from_str(s).map_err(|_| {
            error(
                400,
                "Bad Request: can't parse reply keyboard markup JSON object",
            )
        })?,
        other => other.clone(),
    };
    if let Some(rows) = markup.get("inline_keyboard") {
        let rows = rows
            .as_array()
            .ok_or_else(|| error(400, "Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays"))?;
        for button in rows.iter().filter_map(Value::as_array).flatten() {
            if button
                .get("text")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(error(
                    400,
                    "Bad Request: text buttons are unallowed in the inline keyboard",
                ));
            }
            if let Some(data) = button.get("callback_data") {
                let len = data.as_str().map_or(0, str::len);
                if !(1..=MAX_CALLBACK_DATA_BYTES).contains(&len) {
                    return Err(error(400, "Bad Request: BUTTON_DATA_INVALID"));
                }
            }
        }
    } else if let Some(rows) = markup.get("keyboard")
        && rows.as_array().is_none_or(|r| r.is_empty())
    {
        return Err(error(400, "Bad Request: keyboard must be non-empty"));
    }
    Ok(Some(markup))
}

fn check_length(text: &str, max: usize, what: &str) -> Result<(), ApiError> {
    let chars = text.chars().count();
    if chars == 0 {
        return Err(error(400, format!("Bad Request: {what} must be non-empty")));
    }
    if chars > max {
        return Err(error(400, format!("Bad Request: {what} is too long")));
    }
    Ok(())
}

fn blocked(inner: &Inner, chat_id: i64) -> Option<ApiError> {
    inner
        .blocked_chats
        .contains(&chat_id)
        .then(|| error(403, "Forbidden: bot was blocked by the user"))
}

/// Stores a new message from the bot and announces it.
fn send(
    shared: &Shared,
    chat_id: i64,
    fields: Map<String, Value>,
    parse_mode: Option<&str>,
) -> Response {
    send_and(shared, chat_id, fields, parse_mode, |_, _| {})
}

/// Like [`send`], and runs `record` with the stored message under the same lock, so whatever it
/// records is visible as soon as the message is.
fn send_and(
    shared: &Shared,
    chat_id: i64,
    fields: Map<String, Value>,
    parse_mode: Option<&str>,
    record: impl FnOnce(&mut Inner, &Value),
) -> Response {
    let mut inner = shared.lock();
    if let Some(response) = blocked(&inner, chat_id) {
        return response.into_response();
    }
    let id = inner.next_message_id.entry(chat_id).or_insert(0);
    *id += 1;
    let message_id = *id;
    if let Some(mode) = parse_mode {
        inner
            .parse_modes
            .insert((chat_id, message_id), mode.to_owned());
    }
    let mut message = json!({
        "message_id": message_id,
        "date": unix_now(),
        "chat": chat_json(chat_id),
        "from": bot_user(),
    });
    if let Value::Object(map) = &mut message {
        map.extend(fields);
    }
    inner
        .transcripts
        .entry(chat_id)
        .or_default()
        .push(message.clone());
    record(&mut inner, &message);
    drop(inner);
    let _ = shared.events.send(ChatEvent::MessageSent {
        chat_id,
        message: message.clone(),
    });
    ok(message)
}

/// A text parameter; a form-encoded value that looks like a number arrives as one.
fn text_param(params: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    match require(params, name)? {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(error(400, format!("Bad Request: {name} must be a string"))),
    }
}

/// An invoice message's fields, and the record `invoices()` reports (without its message id).
type InvoiceParts = (Map<String, Value>, Map<String, Value>);

/// sendInvoice's checks, as Telegram makes them.
fn invoice(params: &Map<String, Value>) -> Result<InvoiceParts, ApiError> {
    let title = text_param(params, "title")?;
    if !(1..=32).contains(&title.chars().count()) {
        return Err(error(
            400,
            "Bad Request: INVOICE_TITLE_INVALID: title must be 1-32 characters",
        ));
    }
    let description = text_param(params, "description")?;
    if !(1..=255).contains(&description.chars().count()) {
        return Err(error(
            400,
            "Bad Request: INVOICE_DESCRIPTION_INVALID: description must be 1-255 characters",
        ));
    }
    let payload = text_param(params, "payload")?;
    if !(1..=128).contains(&payload.len()) {
        return Err(error(
            400,
            "Bad Request: INVOICE_PAYLOAD_INVALID: payload must be 1-128 bytes",
        ));
    }
    let currency = text_param(params, "currency")?;
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(error(400, "Bad Request: CURRENCY_INVALID"));
    }
    let provider_token = match params.get("provider_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(error(400, "Bad Request: provider_token must be a string")),
    };
    // Only Telegram Stars go without a payment provider.
    if currency == "XTR" && provider_token.is_some() {
        return Err(error(400, "Bad Request: PAYMENT_PROVIDER_INVALID"));
    }
    if currency != "XTR" && provider_token.is_none() {
        return Err(error(400, "Bad Request: PAYMENT_PROVIDER_INVALID"));
    }
    let prices = match require(params, "prices")? {
        Value::String(s) => serde_json::from_str(s)
            .map_err(|_| error(400, "Bad Request: can't parse prices JSON object"))?,
        other => other.clone(),
    };
    let list = prices
        .as_array()
        .filter(|list| !list.is_empty())
        .ok_or_else(|| {
            error(
                400,
                "Bad Request: prices must be a non-empty array of LabeledPrice",
            )
        })?;
    let mut total_amount: i64 = 0;
    for price in list {
        let label = price.get("label").and_then(Value::as_str).unwrap_or("");
        let amount = price.get("amount").and_then(Value::as_i64);
        let (false, Some(amount)) = (label.is_empty(), amount) else {
            return Err(error(
                400,
                "Bad Request: each price needs a non-empty label and an integer amount",
            ));
        };
        total_amount = total_amount.saturating_add(amount);
    }
    // Telegram's published limits (core.telegram.org/bots/payments/currencies.json) for the
    // currencies the tests use.
    let (min, max) = match currency.as_str() {
        "EUR" => (87, 877_155),
        "USD" => (100, 1_000_000),
        _ => (1, i64::MAX),
    };
    if total_amount < min || total_amount > max {
        return Err(error(400, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID"));
    }
    let markup = validate_markup(params)?;
    // An invoice's keyboard must start with the Pay button.
    if let Some(markup) = &markup {
        let first_is_pay = markup
            .get("inline_keyboard")
            .and_then(|rows| rows.get(0))
            .and_then(|row| row.get(0))
            .and_then(|button| button.get("pay"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !first_is_pay {
            return Err(error(
                400,
                "Bad Request: REPLY_MARKUP_BUY_EMPTY: the first button of an invoice must be a Pay button",
            ));
        }
    }
    let mut fields = Map::new();
    fields.insert(
        "invoice".into(),
        json!({
            "title": title,
            "description": description,
            "start_parameter": params.get("start_parameter").and_then(Value::as_str).unwrap_or(""),
            "currency": currency,
            "total_amount": total_amount,
        }),
    );
    if let Some(markup) = &markup {
        fields.insert("reply_markup".into(), markup.clone());
    }
    let mut record = Map::new();
    record.insert("title".into(), json!(title));
    record.insert("description".into(), json!(description));
    record.insert("payload".into(), json!(payload));
    record.insert("currency".into(), json!(currency));
    record.insert("prices".into(), prices);
    record.insert("total_amount".into(), json!(total_amount));
    record.insert("provider_token".into(), json!(provider_token));
    record.insert(
        "start_parameter".into(),
        params
            .get("start_parameter")
            .cloned()
            .unwrap_or(Value::Null),
    );
    if let Some(url) = params.get("photo_url").and_then(Value::as_str) {
        record.insert("photo_url".into(), json!(url));
    }
    if let Some(markup) = markup {
        record.insert("reply_markup".into(), markup);
    }
    Ok((fields, record))
}

/// Applies an edit to a stored message; refuses identical content like Telegram does.
fn edit(
    shared: &Shared,
    params: &Map<String, Value>,
    apply: impl FnOnce(&mut Map<String, Value>) -> Result<(), ApiError>,
) -> Response {
    let chat_id = match require_chat(params) {
        Ok(id) => id,
        Err(response) => return response.into_response(),
    };
    let Some(message_id) = params.get("message_id").and_then(Value::as_i64) else {
        return error(400, "Bad Request: message_id is empty").into_response();
    };
    let mut inner = shared.lock();
    if let Some(response) = blocked(&inner, chat_id) {
        return response.into_response();
    }
    let Some(message) = inner
        .transcripts
        .get_mut(&chat_id)
        .and_then(|t| t.iter_mut().find(|m| m["message_id"] == json!(message_id)))
    else {
        return error(400, "Bad Request: message to edit not found").into_response();
    };
    let Value::Object(map) = message else {
        return error(500, "Internal Server Error").into_response();
    };
    let before = map.clone();
    if let Err(response) = apply(map) {
        return response.into_response();
    }
    if *map == before {
        return error(
            400,
            "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        ).into_response();
    }
    map.insert("edit_date".into(), json!(unix_now()));
    let edited = Value::Object(map.clone());
    // Only edits of the text or caption carry a parse_mode; a markup edit keeps the old one.
    if params.contains_key("text") || params.contains_key("caption") {
        match params.get("parse_mode").and_then(Value::as_str) {
            Some(mode) => {
                inner
                    .parse_modes
                    .insert((chat_id, message_id), mode.to_owned());
            }
            None => {
                inner.parse_modes.remove(&(chat_id, message_id));
            }
        }
    }
    drop(inner);
    let _ = shared.events.send(ChatEvent::MessageEdited {
        chat_id,
        message: edited.clone(),
    });
    ok(edited)
}

fn parse_mode_of(params: &Map<String, Value>) -> Option<&str> {
    params.get("parse_mode").and_then(Value::as_str)
}

fn set_markup(map: &mut Map<String, Value>, markup: Option<Value>) {
    match markup {
        Some(markup) if markup.get("inline_keyboard").is_some() => {
            map.insert("reply_markup".into(), markup);
        }
        _ => {
            map.remove("reply_markup");
        }
    }
}

async fn handle(shared: &Arc<Shared>, method: &str, params: Map<String, Value>) -> Response {
    dispatch(shared, method, params)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn dispatch(
    shared: &Arc<Shared>,
    method: &str,
    params: Map<String, Value>,
) -> Result<Response, ApiError> {
    Ok(match method {
        "getme" => ok(bot_user()),
        "sendmessage" => {
            let chat_id = require_chat(&params)?;
            let text = require_str(&params, "text")?;
            check_length(text, MAX_TEXT_CHARS, "message text")?;
            let markup = validate_markup(&params)?;
            let mut fields = Map::new();
            fields.insert("text".into(), json!(text));
            if let Some(markup) = markup {
                fields.insert("reply_markup".into(), markup);
            }
            send(shared, chat_id, fields, parse_mode_of(&params))
        }
        "sendphoto" => {
            let chat_id = require_chat(&params)?;
            let photo = require(&params, "photo")?.clone();
            let markup = validate_markup(&params)?;
            let mut fields = Map::new();
            let file_id = photo.as_str().unwrap_or("photo").to_owned();
            fields.insert(
                "photo".into(),
                json!([{ "file_id": file_id, "file_unique_id": file_id, "width": 640, "height": 480 }]),
            );
            if let Some(caption) = params.get("caption").and_then(Value::as_str) {
                if caption.chars().count() > MAX_CAPTION_CHARS {
                    return Err(error(400, "Bad Request: message caption is too long"));
                }
                fields.insert("caption".into(), json!(caption));
            }
            if let Some(markup) = markup {
                fields.insert("reply_markup".into(), markup);
            }
            send(shared, chat_id, fields, parse_mode_of(&params))
        }
        "sendlocation" => {
            let chat_id = require_chat(&params)?;
            let latitude = require(&params, "latitude")?.as_f64();
            let longitude = require(&params, "longitude")?.as_f64();
            let (Some(latitude), Some(longitude)) = (latitude, longitude) else {
                return Err(error(400, "Bad Request: wrong latitude or longitude"));
            };
            if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
                return Err(error(400, "Bad Request: wrong latitude or longitude"));
            }
            let mut fields = Map::new();
            fields.insert(
                "location".into(),
                json!({ "latitude": latitude, "longitude": longitude }),
            );
            send(shared, chat_id, fields, parse_mode_of(&params))
        }
        "editmessagetext" => {
            let text = require_str(&params, "text")?.to_owned();
            check_length(&text, MAX_TEXT_CHARS, "message text")?;
            let markup = validate_markup(&params)?;
            edit(shared, &params, |map| {
                if !map.contains_key("text") {
                    return Err(error(
                        400,
                        "Bad Request: there is no text in the message to edit",
                    ));
                }
                map.insert("text".into(), json!(text));
                set_markup(map, markup);
                Ok(())
            })
        }
        "editmessagecaption" => {
            let caption = params
                .get("caption")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if caption.chars().count() > MAX_CAPTION_CHARS {
                return Err(error(400, "Bad Request: message caption is too long"));
            }
            let markup = validate_markup(&params)?;
            edit(shared, &params, |map| {
                if !map.contains_key("photo") {
                    return Err(error(
                        400,
                        "Bad Request: there is no caption in the message to edit",
                    ));
                }
                map.insert("caption".into(), json!(caption));
                set_markup(map, markup);
                Ok(())
            })
        }
        "editmessagemedia" => {
            let media = require(&params, "media")?.clone();
            let markup = validate_markup(&params)?;
            edit(shared, &params, |map| {
                let file_id = media
                    .get("media")
                    .and_then(Value::as_str)
                    .unwrap_or("photo");
                map.insert(
                    "photo".into(),
                    json!([{ "file_id": file_id, "file_unique_id": file_id, "width": 640, "height": 480 }]),
                );
                if let Some(caption) = media.get("caption") {
                    map.insert("caption".into(), caption.clone());
                }
                set_markup(map, markup);
                Ok(())
            })
        }
        "editmessagereplymarkup" => {
            let markup = validate_markup(&params)?;
            edit(shared, &params, |map| {
                set_markup(map, markup);
                Ok(())
            })
        }
        "deletemessage" => {
            let chat_id = require_chat(&params)?;
            let message_id = require(&params, "message_id")?.as_i64().unwrap_or(0);
            let mut inner = shared.lock();
            let transcript = inner.transcripts.entry(chat_id).or_default();
            let before = transcript.len();
            transcript.retain(|m| m["message_id"] != json!(message_id));
            if transcript.len() == before {
                return Err(error(400, "Bad Request: message to delete not found"));
            }
            drop(inner);
            let _ = shared.events.send(ChatEvent::MessageDeleted {
                chat_id,
                message_id,
            });
            ok(json!(true))
        }
        "sendinvoice" => {
            let chat_id = require_chat(&params)?;
            let (fields, record) = invoice(&params)?;
            send_and(shared, chat_id, fields, None, |inner, message| {
                let mut record = record;
                record.insert("message_id".into(), message["message_id"].clone());
                inner
                    .invoices
                    .entry(chat_id)
                    .or_default()
                    .push(Value::Object(record));
            })
        }
        "answerprecheckoutquery" => {
            let id = text_param(&params, "pre_checkout_query_id")?;
            let Some(answer) = require(&params, "ok")?.as_bool() else {
                return Err(error(400, "Bad Request: ok must be a boolean"));
            };
            let error_message = params
                .get("error_message")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty());
            let mut record = json!({ "pre_checkout_query_id": id, "ok": answer });
            if !answer {
                let Some(message) = error_message else {
                    return Err(error(400, "Bad Request: error_message is required"));
                };
                record["error_message"] = json!(message);
            }
            shared.lock().pre_checkout_answers.push(record);
            ok(json!(true))
        }
        "answercallbackquery" => {
            let id = require_str(&params, "callback_query_id")?.to_owned();
            let text = params
                .get("text")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
                return Err(error(400, "Bad Request: MESSAGE_TOO_LONG"));
            }
            let show_alert = params
                .get("show_alert")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            shared
                .lock()
                .callback_answers
                .push(Value::Object(params.clone()));
            let _ = shared.events.send(ChatEvent::CallbackAnswered {
                callback_query_id: id,
                text,
                show_alert,
            });
            ok(json!(true))
        }
        "setmycommands" => {
            let commands = require(&params, "commands")?.clone();
            let valid = commands.as_array().is_some_and(|list| {
                list.len() <= 100
                    && list.iter().all(|c| {
                        let name = c.get("command").and_then(Value::as_str).unwrap_or("");
                        let description =
                            c.get("description").and_then(Value::as_str).unwrap_or("");
                        (1..=32).contains(&name.len())
                            && name
                                .bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                            && (1..=256).contains(&description.chars().count())
                    })
            });
            if !valid {
                return Err(error(400, "Bad Request: BOT_COMMAND_INVALID"));
            }
            shared.lock().commands = commands;
            ok(json!(true))
        }
        "setchatmenubutton" => {
            shared.lock().menu_button = params.get("menu_button").cloned();
            ok(json!(true))
        }
        "setwebhook" => {
            let url = require_str(&params, "url")?.to_owned();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(error(
                    400,
                    "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
                ));
            }
            let secret_token = params
                .get("secret_token")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(secret) = &secret_token {
                let valid = (1..=256).contains(&secret.len())
                    && secret
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !valid {
                    return Err(error(
                        400,
                        "Bad Request: secret token contains unallowed characters",
                    ));
                }
            }
            shared.lock().webhook = Some(WebhookState {
                url,
                secret_token,
                max_connections: params.get("max_connections").and_then(Value::as_i64),
                allowed_updates: params.get("allowed_updates").cloned(),
            });
            ok(json!(true))
        }
        "deletewebhook" => {
            let drop_pending = params
                .get("drop_pending_updates")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let mut inner = shared.lock();
            inner.webhook = None;
            if drop_pending {
                inner.pending_updates.clear();
            }
            ok(json!(true))
        }
        "getwebhookinfo" => {
            let inner = shared.lock();
            let mut info = json!({
                "url": inner.webhook.as_ref().map_or("", |w| w.url.as_str()),
                "has_custom_certificate": false,
                "pending_update_count": inner.pending_updates.len(),
            });
            if let Some(webhook) = &inner.webhook {
                if let Some(max) = webhook.max_connections {
                    info["max_connections"] = json!(max);
                }
                if let Some(allowed) = &webhook.allowed_updates {
                    info["allowed_updates"] = allowed.clone();
                }
            }
            ok(info)
        }
        "getupdates" => get_updates(shared, &params).await?,
        other => {
            return Err(error(
                404,
                format!("Not Found: method {other} is not implemented by the fake"),
            ));
        }
    })
}

/// Long polling: answers at once when updates are waiting, else waits up to `timeout` seconds.
async fn get_updates(
    shared: &Arc<Shared>,
    params: &Map<String, Value>,
) -> Result<Response, ApiError> {
    let offset = params.get("offset").and_then(Value::as_i64);
    let limit = params
        .get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(100)
        .clamp(1, 100) as usize;
    let timeout = params
        .get("timeout")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(50);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let arrived = shared.updates_arrived.notified();
        {
            let mut inner = shared.lock();
            if inner.webhook.is_some() {
                return Err(error(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
                ));
            }
            // An offset confirms every update before it: Telegram forgets them.
            if let Some(offset) = offset {
                inner
                    .pending_updates
                    .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            }
            if !inner.pending_updates.is_empty() {
                let batch: Vec<Value> = inner.pending_updates.iter().take(limit).cloned().collect();
                return Ok(ok(Value::Array(batch)));
            }
        }
        if tokio::time::timeout_at(deadline, arrived).await.is_err() {
            return Ok(ok(json!([])));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn call(fake: &FakeTelegram, method: &str, body: Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/bot{}/{method}", fake.url(), "1:T"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    #[tokio::test]
    async fn enforces_telegram_rules_with_telegram_error_bodies() {
        let fake = FakeTelegram::start("1:T").await.unwrap();
        let (status, body) = call(&fake, "sendMessage", json!({ "chat_id": 5 })).await;
        assert_eq!(
            (status, body["ok"].clone(), body["error_code"].clone()),
            (400, json!(false), json!(400))
        );
        assert_eq!(body["description"], "Bad Request: text is empty");

        let long = "x".repeat(4097);
        let (status, _) = call(&fake, "sendMessage", json!({ "chat_id": 5, "text": long })).await;
        assert_eq!(status, 400);

        let markup =
            json!({ "inline_keyboard": [[{ "text": "b", "callback_data": "x".repeat(65) }]] });
        let (_, body) = call(
            &fake,
            "sendMessage",
            json!({ "chat_id": 5, "text": "hi", "reply_markup": markup }),
        )
        .await;
        assert_eq!(body["description"], "Bad Request: BUTTON_DATA_INVALID");

        let (status, body) =
            call(&fake, "sendMessage", json!({ "chat_id": 5, "text": "hi" })).await;
        assert_eq!(status, 200);
        let id = body["result"]["message_id"].clone();
        let (status, body) = call(
            &fake,
            "editMessageText",
            json!({ "chat_id": 5, "message_id": id, "text": "hi" }),
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            body["description"]
                .as_str()
                .unwrap()
                .contains("message is not modified")
        );

        fake.block_chat(6);
        let (status, body) =
            call(&fake, "sendMessage", json!({ "chat_id": 6, "text": "hi" })).await;
        assert_eq!(
            (status, body["description"].as_str().unwrap()),
            (403, "Forbidden: bot was blocked by the user")
        );

        let response = reqwest::get(format!("{}/botWRONG/getMe", fake.url()))
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }

    #[tokio::test]
    async fn get_updates_conflicts_with_a_webhook_and_confirms_by_offset() {
        let fake = FakeTelegram::start("1:T").await.unwrap();
        let id = fake.push_update(json!({ "message": {} }));
        let (_, body) = call(&fake, "getUpdates", json!({})).await;
        assert_eq!(body["result"][0]["update_id"], id);
        let (_, body) = call(&fake, "getUpdates", json!({ "offset": id + 1 })).await;
        assert_eq!(body["result"], json!([]));

        call(
            &fake,
            "setWebhook",
            json!({ "url": "https://example.com/webhook" }),
        )
        .await;
        let (status, body) = call(&fake, "getUpdates", json!({})).await;
        assert_eq!((status, body["error_code"].clone()), (409, json!(409)));
    }

    #[tokio::test]
    async fn remembers_parse_modes_and_numbers_user_and_bot_messages_in_one_sequence() {
        let fake = FakeTelegram::start("1:T").await.unwrap();
        assert_eq!(fake.allocate_message_id(5), 1);
        let (_, body) = call(
            &fake,
            "sendMessage",
            json!({ "chat_id": 5, "text": "<b>hi</b>", "parse_mode": "HTML" }),
        )
        .await;
        assert_eq!(body["result"]["message_id"], 2);
        assert_eq!(fake.parse_mode(5, 2).as_deref(), Some("HTML"));

        let markup = json!({ "inline_keyboard": [[{ "text": "b", "callback_data": "x" }]] });
        call(
            &fake,
            "editMessageReplyMarkup",
            json!({ "chat_id": 5, "message_id": 2, "reply_markup": markup }),
        )
        .await;
        assert_eq!(fake.parse_mode(5, 2).as_deref(), Some("HTML"));
        call(
            &fake,
            "editMessageText",
            json!({ "chat_id": 5, "message_id": 2, "text": "plain" }),
        )
        .await;
        assert_eq!(fake.parse_mode(5, 2), None);
    }

    #[tokio::test]
    async fn injected_retry_after_is_answered_once() {
        let fake = FakeTelegram::start("1:T").await.unwrap();
        fake.inject("sendMessage", Some(5), Injected::RetryAfter(3));
        let (status, body) = call(&fake, "sendMessage", json!({ "chat_id": 5, "text": "a" })).await;
        assert_eq!(
            (status, body["parameters"]["retry_after"].clone()),
            (429, json!(3))
        );
        let (status, _) = call(&fake, "sendMessage", json!({ "chat_id": 5, "text": "a" })).await;
        assert_eq!(status, 200);
        assert_eq!(fake.transcript(5).len(), 1);
    }

    fn invoice_params() -> Value {
        json!({
            "chat_id": 5,
            "title": "Bakery box",
            "description": "2 x surprise bag, pickup 18:00-19:00",
            "payload": "hold:17",
            "provider_token": "284685063:TEST:abc",
            "currency": "EUR",
            "prices": [{ "label": "Surprise bag x2", "amount": 700 }, { "label": "Fee", "amount": 50 }],
            "photo_url": "https://example.com/p.jpg",
            "reply_markup": { "inline_keyboard": [[{ "text": "Pay 7.50 EUR", "pay": true }], [{ "text": "Cancel", "callback_data": "x" }]] },
        })
    }

    #[tokio::test]
    async fn send_invoice_validates_and_keeps_the_payload_and_prices() {
        let fake = FakeTelegram::start("1:T").await.unwrap();
        let (status, body) = call(&fake, "sendInvoice", invoice_params()).await;
        assert_eq!(status, 200, "{body}");
        let message = &body["result"];
        assert_eq!(
            message["invoice"],
            json!({ "title": "Bakery box", "description": "2 x surprise bag, pickup 18:00-19:00",
                    "start_parameter": "", "currency": "EUR", "total_amount": 750 })
        );
        assert_eq!(
            message["reply_markup"]["inline_keyboard"][0][0]["pay"],
            true
        );
        assert!(message.get("payload").is_none());
        assert_eq!(fake.transcript(5), vec![message.clone()]);
        let invoices = fake.invoices(5);
        assert_eq!(invoices.len(), 1);
        let invoice = &invoices[0];
        assert_eq!(invoice["message_id"], message["message_id"]);
        assert_eq!(
            (
                invoice["payload"].clone(),
                invoice["total_amount"].clone(),
                invoice["provider_token"].clone(),
                invoice["prices"][1]["amount"].clone(),
            ),
            (
                json!("hold:17"),
                json!(750),
                json!("284685063:TEST:abc"),
                json!(50)
            )
        );

        // Prices may come JSON-encoded, like the other structured parameters.
        let mut params = invoice_params();
        params["prices"] = json!(r#"[{"label":"Bag","amount":350}]"#);
        params.as_object_mut().unwrap().remove("reply_markup");
        let (status, _) = call(&fake, "sendInvoice", params).await;
        assert_eq!(status, 200);
        assert_eq!(fake.invoices(5)[1]["total_amount"], 350);

        let cases = [
            ("title", json!("")),
            ("title", json!("x".repeat(33))),
            ("description", json!("x".repeat(256))),
            ("payload", json!("x".repeat(129))),
            ("currency", json!("euro")),
            ("prices", json!([])),
            ("prices", json!([{ "label": "Bag", "amount": 3.5 }])),
            ("prices", json!("not json")),
            ("provider_token", json!("")),
            (
                "reply_markup",
                json!({ "inline_keyboard": [[{ "text": "Cancel", "callback_data": "x" }]] }),
            ),
        ];
        for (field, value) in cases {
            let mut params = invoice_params();
            params[field] = value.clone();
            let (status, body) = call(&fake, "sendInvoice", params).await;
            assert_eq!(status, 400, "{field} = {value}: {body}");
            assert!(
                body["description"]
                    .as_str()
                    .unwrap()
                    .starts_with("Bad Request: ")
            );
        }
        assert_eq!(fake.invoices(5).len(), 2);
    }

    #[tokio::test]
    async fn pre_checkout_answers_need_an_error_message_when_refusing() {
        let fake = FakeTelegram::start("1:T").await.unwrap();
        let (status, body) = call(
            &fake,
            "answerPreCheckoutQuery",
            json!({ "pre_checkout_query_id": "pcq-1", "ok": true }),
        )
        .await;
        assert_eq!((status, body["result"].clone()), (200, json!(true)));
        let (status, body) = call(
            &fake,
            "answerPreCheckoutQuery",
            json!({ "pre_checkout_query_id": "pcq-2", "ok": false }),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            body["description"],
            "Bad Request: error_message is required"
        );
        call(
            &fake,
            "answerPreCheckoutQuery",
            json!({ "pre_checkout_query_id": "pcq-3", "ok": false, "error_message": "Sold out" }),
        )
        .await;
        assert_eq!(
            fake.pre_checkout_answers(),
            vec![
                json!({ "pre_checkout_query_id": "pcq-1", "ok": true }),
                json!({ "pre_checkout_query_id": "pcq-3", "ok": false, "error_message": "Sold out" }),
            ]
        );
    }

    /// The calls as teloxide makes them are accepted, and their answers parse.
    #[tokio::test]
    async fn teloxide_invoices_and_pre_checkout_answers_round_trip() {
        use teloxide::payloads::SendInvoiceSetters;
        use teloxide::prelude::Requester;
        use teloxide::types::{
            ChatId, InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice, PreCheckoutQueryId,
        };

        let fake = FakeTelegram::start("1:T").await.unwrap();
        let bot = teloxide::Bot::new("1:T").set_api_url(fake.url().parse().unwrap());
        let message = bot
            .send_invoice(
                ChatId(5),
                "Bakery box",
                "Surprise bag",
                "hold:9",
                "EUR",
                [LabeledPrice::new("Surprise bag", 450)],
            )
            .provider_token("284685063:TEST:abc")
            .reply_markup(InlineKeyboardMarkup::new([[InlineKeyboardButton::pay(
                "Pay 4.50 EUR",
            )]]))
            .await
            .unwrap();
        let invoice = message.invoice().expect("an invoice message");
        assert_eq!(
            (invoice.total_amount, invoice.currency.as_str()),
            (450, "EUR")
        );
        assert_eq!(fake.invoices(5)[0]["payload"], "hold:9");

        bot.answer_pre_checkout_query(PreCheckoutQueryId("pcq-1".to_owned()), false)
            .await
            .expect_err("a refusal needs an error message");
        bot.answer_pre_checkout_query(PreCheckoutQueryId("pcq-1".to_owned()), true)
            .await
            .unwrap();
        assert_eq!(
            fake.pre_checkout_answers(),
            vec![json!({ "pre_checkout_query_id": "pcq-1", "ok": true })]
        );
    }
}
