//! A fake of the part of the Stripe API the bot uses, over real HTTP: `POST /v1/refunds`,
//! `GET /v1/refunds/{id}` and `GET /v1/balance` with Bearer authentication, form-encoded
//! parameters, Idempotency-Key semantics and Stripe's error bodies; failure injection; and signed
//! webhook events built with Stripe's `Stripe-Signature` scheme.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::telegram_fake::url_decode;

/// The API version the fake's events claim.
pub const API_VERSION: &str = "2024-06-20";
/// The header Stripe signs webhook deliveries with.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// One request as the fake received it, with the status it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeRequest {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    /// The form parameters, decoded (`metadata[reservation]` keeps its bracketed name).
    pub params: BTreeMap<String, String>,
    pub status: u16,
    /// Whether the answer was a stored idempotent response replayed.
    pub replayed: bool,
}

#[derive(Debug, Clone)]
struct Charge {
    amount: i64,
    currency: String,
    refunded: i64,
    /// Unix seconds.
    created: i64,
    /// Order of creation, for Stripe's newest-first lists.
    sequence: u64,
}

/// The outcome stored under an idempotency key.
#[derive(Debug, Clone)]
struct Stored {
    path: String,
    params: BTreeMap<String, String>,
    status: u16,
    body: Value,
}

struct Inner {
    charges: HashMap<String, Charge>,
    refunds: Vec<Value>,
    requests: Vec<StripeRequest>,
    idempotent: HashMap<String, Stored>,
    failures: Option<(usize, u16)>,
    refund_status: String,
    next_id: u64,
}

struct Shared {
    api_key: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running Stripe fake; it stops when dropped.
pub struct StripeFake {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StripeFake {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl StripeFake {
    /// Starts the fake on a free loopback port; requests must carry `Bearer <api_key>`.
    pub async fn start(api_key: &str) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            api_key: api_key.to_owned(),
            inner: Mutex::new(Inner {
                charges: HashMap::new(),
                refunds: Vec::new(),
                requests: Vec::new(),
                idempotent: HashMap::new(),
                failures: None,
                refund_status: "succeeded".to_owned(),
                next_id: 1,
            }),
        });
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// The base URL (`http://127.0.0.1:PORT`), to use in place of `https://api.stripe.com`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Registers a charge (or payment intent, with a `pi_` id) that can be refunded up to
    /// `amount` minor units. Stripe reports currencies in lower case; so does the fake.
    pub fn add_charge(&self, charge_id: &str, amount: i64, currency: &str) {
        self.add_charge_at(charge_id, amount, currency, unix_now());
    }

    /// Registers a charge created at `created` (Unix seconds).
    pub fn add_charge_at(&self, charge_id: &str, amount: i64, currency: &str, created: i64) {
        let mut inner = self.shared.lock();
        inner.next_id += 1;
        let sequence = inner.next_id;
        inner.charges.insert(
            charge_id.to_owned(),
            Charge {
                amount,
                currency: currency.to_ascii_lowercase(),
                refunded: 0,
                created,
                sequence,
            },
        );
    }

    /// How much of a registered charge has been refunded.
    pub fn amount_refunded(&self, charge_id: &str) -> Option<i64> {
        self.shared
            .lock()
            .charges
            .get(charge_id)
            .map(|c| c.refunded)
    }

    /// The status new refunds get: `succeeded` (the default), `pending`, `failed`...
    pub fn set_refund_status(&self, status: &str) {
        self.shared.lock().refund_status = status.to_owned();
    }

    /// Changes a stored refund's status (a pending refund settling) and returns the updated refund
    /// object, ready for [`StripeFake::event`] (`refund.updated`). A `failed` or `canceled` refund
    /// gives its amount back to the charge.
    pub fn update_refund(&self, refund_id: &str, status: &str) -> Option<Value> {
        let mut inner = self.shared.lock();
        let index = inner.refunds.iter().position(|r| r["id"] == refund_id)?;
        let refund = &mut inner.refunds[index];
        let was_live = !matches!(refund["status"].as_str(), Some("failed" | "canceled"));
        refund["status"] = json!(status);
        let refund = refund.clone();
        if was_live && matches!(status, "failed" | "canceled") {
            let source = refund["charge"]
                .as_str()
                .or(refund["payment_intent"].as_str())
                .unwrap_or("")
                .to_owned();
            if let Some(charge) = inner.charges.get_mut(&source) {
                charge.refunded -= refund["amount"].as_i64().unwrap_or(0);
            }
        }
        Some(refund)
    }

    /// Makes the next `count` refund requests (POST /v1/refunds) answer `status` with a Stripe
    /// `api_error` body, before any processing: no refund is made and nothing is stored under
    /// their Idempotency-Key.
    pub fn fail_next(&self, count: usize, status: u16) {
        self.shared.lock().failures = (count > 0).then_some((count, status));
    }

    /// The refund objects created, in order (with their current status).
    pub fn refunds(&self) -> Vec<Value> {
        self.shared.lock().refunds.clone()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<StripeRequest> {
        self.shared.lock().requests.clone()
    }

    /// A Stripe event as Stripe posts it to a webhook endpoint.
    pub fn event(id: &str, event_type: &str, object: Value) -> String {
        json!({
            "id": id,
            "object": "event",
            "api_version": API_VERSION,
            "created": unix_now(),
            "data": { "object": object },
            "livemode": false,
            "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null },
            "type": event_type,
        })
        .to_string()
    }

    /// The `Stripe-Signature` header value for `payload` sent at `timestamp` (unix seconds):
    /// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<payload>" keyed with secret>`.
    pub fn sign(secret: &str, payload: &str, timestamp: i64) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(format!("{timestamp}.{payload}").as_bytes());
        format!("t={timestamp},v1={}", hex(&mac.finalize().into_bytes()))
    }

    /// Posts `payload` to a webhook URL signed with `secret` at `timestamp`, as Stripe does.
    pub async fn send_event(
        url: &str,
        secret: &str,
        payload: &str,
        timestamp: i64,
    ) -> reqwest::Result<reqwest::StatusCode> {
        Self::post_webhook(url, payload, Some(&Self::sign(secret, payload, timestamp))).await
    }

    /// Posts `payload` to a webhook URL with any `Stripe-Signature` header (or none), for
    /// malformed signatures.
    pub async fn post_webhook(
        url: &str,
        payload: &str,
        signature: Option<&str>,
    ) -> reqwest::Result<reqwest::StatusCode> {
        let mut request = reqwest::Client::new()
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .header(
                reqwest::header::USER_AGENT,
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            )
            .body(payload.to_owned());
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        Ok(request.send().await?.status())
    }
}

/// The current unix time in seconds, e.g. for [`StripeFake::sign`].
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A Stripe error answer.
struct StripeError {
    status: u16,
    body: Value,
    /// Whether the request got past parameter validation; only then does Stripe store its
    /// outcome under the Idempotency-Key.
    executed: bool,
}

impl StripeError {
    fn new(status: u16, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "error": { "type": kind, "message": message.into() } }),
            executed: true,
        }
    }

    /// Refused by parameter validation, before executing: nothing is stored.
    fn unvalidated(mut self) -> Self {
        self.executed = false;
        self
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", message)
    }

    fn code(mut self, code: &str) -> Self {
        self.body["error"]["code"] = json!(code);
        self
    }

    fn param(mut self, param: &str) -> Self {
        self.body["error"]["param"] = json!(param);
        self
    }
}

fn respond(status: u16, body: &Value, key: Option<&str>, replayed: bool) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string_pretty(body).unwrap_or_default(),
    )
        .into_response();
    let headers = response.headers_mut();
    if let Some(key) = key.and_then(|k| HeaderValue::from_str(k).ok()) {
        headers.insert("idempotency-key", key);
    }
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

fn form(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (url_decode(k), url_decode(v))
        })
        .collect()
}

fn mask(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let head: String = key.chars().take_while(|c| *c != '_').collect();
    format!("{head}_****{tail}")
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let mut params = form(&body);
    if let Some(query) = uri.query() {
        params.extend(form(query.as_bytes()));
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_refund_post = method == Method::POST && path == "/v1/refunds";

    let mut inner = shared.lock();
    let record = |inner: &mut Inner, status: u16, replayed: bool| {
        inner.requests.push(StripeRequest {
            method: method.to_string(),
            path: path.clone(),
            idempotency_key: key.clone(),
            params: params.clone(),
            status,
            replayed,
        });
    };

    if is_refund_post && let Some((count, status)) = inner.failures {
        inner.failures = (count > 1).then_some((count - 1, status));
        let body = json!({ "error": {
            "type": "api_error",
            "message": "An unexpected error occurred while processing your request (injected by the fake).",
        }});
        record(&mut inner, status, false);
        return respond(status, &body, key.as_deref(), false);
    }

    if let Err(error) = authorize(&shared.api_key, &headers) {
        record(&mut inner, error.status, false);
        return respond(error.status, &error.body, None, false);
    }

    if let Some(key) = &key
        && method == Method::POST
    {
        if key.len() > 255 {
            let error =
                StripeError::invalid("Invalid idempotency key: must be at most 255 characters.");
            record(&mut inner, error.status, false);
            return respond(error.status, &error.body, None, false);
        }
        if let Some(stored) = inner.idempotent.get(key).cloned() {
            if stored.path != path || stored.params != params {
                let error = StripeError::new(
                    400,
                    "idempotency_error",
                    format!(
                        "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                    ),
                );
                record(&mut inner, error.status, false);
                return respond(error.status, &error.body, Some(key), false);
            }
            record(&mut inner, stored.status, true);
            return respond(stored.status, &stored.body, Some(key), true);
        }
    }

    let outcome = if is_refund_post {
        create_refund(&mut inner, &params)
    } else if method == Method::GET && path == "/v1/balance" {
        // What a key check reads: the account's balance, in test mode.
        Ok(json!({
            "object": "balance",
            "livemode": false,
            "available": [{ "amount": 0, "currency": "eur" }],
            "pending": [{ "amount": 0, "currency": "eur" }],
        }))
    } else if method == Method::GET && path == "/v1/charges" {
        list_charges(&inner, &params)
    } else if method == Method::GET
        && let Some(id) = path.strip_prefix("/v1/refunds/")
    {
        inner
            .refunds
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .ok_or_else(|| {
                StripeError::invalid(format!("No such refund: '{id}'"))
                    .code("resource_missing")
                    .param("id")
                    .with_status(404)
            })
    } else {
        Err(StripeError::invalid(format!(
            "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
        ))
        .with_status(404)
        .unvalidated())
    };
    let (status, body, executed) = match outcome {
        Ok(body) => (200, body, true),
        Err(error) => (error.status, error.body, error.executed),
    };
    // Stripe keeps the result of every request that began executing, errors included; not of
    // those that failed parameter validation.
    if let Some(key) = &key
        && method == Method::POST
        && executed
    {
        inner.idempotent.insert(
            key.clone(),
            Stored {
                path: path.clone(),
                params: params.clone(),
                status,
                body: body.clone(),
            },
        );
    }
    record(&mut inner, status, false);
    respond(status, &body, key.as_deref(), false)
}

/// `GET /v1/charges`: newest first, filtered by `created[gte]`/`created[lt]`, paginated by
/// `limit` (default 10, at most 100) and `starting_after`.
fn list_charges(inner: &Inner, params: &BTreeMap<String, String>) -> Result<Value, StripeError> {
    let number = |key: &str| -> Result<Option<i64>, StripeError> {
        params
            .get(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| StripeError::invalid(format!("Invalid integer: {v}")).param(key))
            })
            .transpose()
    };
    let from = number("created[gte]")?.unwrap_or(i64::MIN);
    let until = number("created[lt]")?.unwrap_or(i64::MAX);
    let limit = number("limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(
            StripeError::invalid("Invalid limit: must be between 1 and 100").param("limit"),
        );
    }
    let mut charges: Vec<(&String, &Charge)> = inner
        .charges
        .iter()
        .filter(|(_, c)| c.created >= from && c.created < until)
        .collect();
    charges.sort_by_key(|(_, c)| std::cmp::Reverse(c.sequence));
    if let Some(after) = params.get("starting_after") {
        let Some(at) = charges.iter().position(|(id, _)| *id == after) else {
            return Err(StripeError::invalid(format!("No such charge: '{after}'"))
                .code("resource_missing")
                .param("starting_after")
                .with_status(404));
        };
        charges.drain(..=at);
    }
    let has_more = charges.len() > limit as usize;
    let data: Vec<Value> = charges
        .into_iter()
        .take(limit as usize)
        .map(|(id, c)| {
            json!({
                "id": id, "object": "charge", "amount": c.amount,
                "amount_refunded": c.refunded, "currency": c.currency,
                "created": c.created, "refunded": c.refunded >= c.amount,
                "status": "succeeded",
            })
        })
        .collect();
    Ok(json!({ "object": "list", "url": "/v1/charges", "has_more": has_more, "data": data }))
}

impl StripeError {
    fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
}

fn authorize(api_key: &str, headers: &HeaderMap) -> Result<(), StripeError> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(StripeError::invalid(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
        .with_status(401));
    };
    let given = value.strip_prefix("Bearer ").unwrap_or("").trim();
    if given != api_key {
        return Err(
            StripeError::invalid(format!("Invalid API Key provided: {}", mask(given)))
                .with_status(401),
        );
    }
    Ok(())
}

const REFUND_PARAMS: [&str; 9] = [
    "charge",
    "payment_intent",
    "amount",
    "reason",
    "currency",
    "instructions_email",
    "refund_application_fee",
    "reverse_transfer",
    "origin",
];

fn create_refund(
    inner: &mut Inner,
    params: &BTreeMap<String, String>,
) -> Result<Value, StripeError> {
    let mut metadata = Map::new();
    for (name, value) in params {
        if let Some(field) = name
            .strip_prefix("metadata[")
            .and_then(|rest| rest.strip_suffix(']'))
        {
            metadata.insert(field.to_owned(), json!(value));
        } else if !REFUND_PARAMS.contains(&name.as_str()) && !name.starts_with("expand[") {
            return Err(
                StripeError::invalid(format!("Received unknown parameter: {name}"))
                    .param(name)
                    .unvalidated(),
            );
        }
    }
    let (param, source) = match (params.get("charge"), params.get("payment_intent")) {
        (Some(charge), _) => ("charge", charge.clone()),
        (None, Some(intent)) => ("payment_intent", intent.clone()),
        (None, None) => {
            return Err(StripeError::invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
            )
            .unvalidated());
        }
    };
    let amount = match params.get("amount") {
        None => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(amount) if amount > 0 => Some(amount),
            Ok(_) => {
                return Err(
                    StripeError::invalid("This value must be greater than or equal to 1.")
                        .param("amount")
                        .unvalidated(),
                );
            }
            Err(_) => {
                return Err(StripeError::invalid(format!("Invalid integer: {raw}"))
                    .param("amount")
                    .unvalidated());
            }
        },
    };
    if let Some(reason) = params.get("reason")
        && !["duplicate", "fraudulent", "requested_by_customer"].contains(&reason.as_str())
    {
        return Err(StripeError::invalid(
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
        )
        .param("reason")
        .unvalidated());
    }
    let Some(charge) = inner.charges.get_mut(&source) else {
        return Err(StripeError::invalid(format!("No such {param}: '{source}'"))
            .code("resource_missing")
            .param(param)
            .with_status(404));
    };
    let remaining = charge.amount - charge.refunded;
    if remaining <= 0 {
        return Err(
            StripeError::invalid(format!("Charge {source} has already been refunded."))
                .code("charge_already_refunded"),
        );
    }
    let amount = amount.unwrap_or(remaining);
    if amount > remaining {
        return Err(StripeError::invalid(format!(
            "Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})"
        ))
        .code("amount_too_large")
        .param("amount"));
    }
    let status = inner.refund_status.clone();
    if !matches!(status.as_str(), "failed" | "canceled") {
        charge.refunded += amount;
    }
    let currency = charge.currency.clone();
    let id = format!("re_fake{:016}", inner.next_id);
    inner.next_id += 1;
    let (charge_id, intent_id) = if param == "charge" {
        (json!(source), Value::Null)
    } else {
        (Value::Null, json!(source))
    };
    let refund = json!({
        "id": id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": null,
        "charge": charge_id,
        "created": unix_now(),
        "currency": currency,
        "metadata": metadata,
        "payment_intent": intent_id,
        "reason": params.get("reason"),
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": status,
        "transfer_reversal": null,
    });
    inner.refunds.push(refund.clone());
    Ok(refund)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk_test_fake123";

    async fn refund(
        fake: &StripeFake,
        key: Option<&str>,
        idempotency_key: Option<&str>,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/v1/refunds", fake.url()))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(
                form.iter()
                    .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                    .collect::<Vec<_>>()
                    .join("&"),
            );
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(idempotency_key) = idempotency_key {
            request = request.header("Idempotency-Key", idempotency_key);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    fn encode(raw: &str) -> String {
        raw.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    #[tokio::test]
    async fn refuses_requests_without_the_api_key() {
        let fake = StripeFake::start(KEY).await.unwrap();
        fake.add_charge("ch_1", 500, "EUR");
        let (status, body) = refund(&fake, None, None, &[("charge", "ch_1")]).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["type"], "invalid_request_error");
        let (status, body) =
            refund(&fake, Some("sk_test_wrong"), None, &[("charge", "ch_1")]).await;
        assert_eq!(status, 401);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid API Key provided: ")
        );
        assert!(fake.refunds().is_empty());
        assert_eq!(fake.requests().len(), 2);
    }

    #[tokio::test]
    async fn creates_full_and_partial_refunds_and_refuses_more_than_remains() {
        let fake = StripeFake::start(KEY).await.unwrap();
        fake.add_charge("ch_1", 500, "EUR");
        let (status, body) = refund(
            &fake,
            Some(KEY),
            None,
            &[
                ("charge", "ch_1"),
                ("amount", "200"),
                ("reason", "requested_by_customer"),
                ("metadata[reservation]", "42"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["object"], "refund");
        assert!(body["id"].as_str().unwrap().starts_with("re_"));
        assert_eq!(
            (
                body["amount"].clone(),
                body["charge"].clone(),
                body["currency"].clone(),
                body["status"].clone(),
                body["metadata"].clone(),
            ),
            (
                json!(200),
                json!("ch_1"),
                json!("eur"),
                json!("succeeded"),
                json!({ "reservation": "42" })
            )
        );
        let (_, body) = refund(
            &fake,
            Some(KEY),
            None,
            &[("charge", "ch_1"), ("amount", "301")],
        )
        .await;
        assert_eq!(body["error"]["code"], "amount_too_large");
        fake.set_refund_status("pending");
        let (status, body) = refund(&fake, Some(KEY), None, &[("charge", "ch_1")]).await;
        assert_eq!((status, body["amount"].clone()), (200, json!(300)));
        assert_eq!(body["status"], "pending");
        let (status, body) = refund(&fake, Some(KEY), None, &[("charge", "ch_1")]).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "charge_already_refunded");
        assert_eq!(fake.amount_refunded("ch_1"), Some(500));
        assert_eq!(fake.refunds().len(), 2);

        let id = fake.refunds()[1]["id"].as_str().unwrap().to_owned();
        let updated = fake.update_refund(&id, "succeeded").unwrap();
        assert_eq!(updated["status"], "succeeded");
        let response = reqwest::Client::new()
            .get(format!("{}/v1/refunds/{id}", fake.url()))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "succeeded");
    }

    #[tokio::test]
    async fn an_idempotent_retry_replays_the_same_refund() {
        let fake = StripeFake::start(KEY).await.unwrap();
        fake.add_charge("ch_1", 500, "EUR");
        let form = [("charge", "ch_1"), ("metadata[reservation]", "42")];
        let (first_status, first) = refund(&fake, Some(KEY), Some("refund-42"), &form).await;
        let (second_status, second) = refund(&fake, Some(KEY), Some("refund-42"), &form).await;
        assert_eq!((first_status, second_status), (200, 200));
        assert_eq!(first, second);
        assert_eq!(fake.refunds().len(), 1);
        let requests = fake.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[1].idempotency_key.as_deref(), Some("refund-42"));
        assert!(requests[1].replayed);
        assert_eq!(requests[1].params["charge"], "ch_1");

        let (status, body) = refund(
            &fake,
            Some(KEY),
            Some("refund-42"),
            &[("charge", "ch_1"), ("amount", "100")],
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["type"], "idempotency_error");
        assert_eq!(fake.refunds().len(), 1);

        // A request refused by validation stores nothing under its key ...
        let (status, _) = refund(
            &fake,
            Some(KEY),
            Some("other"),
            &[("charge", "ch_1"), ("amount", "x")],
        )
        .await;
        assert_eq!(status, 400);
        fake.add_charge("ch_2", 300, "EUR");
        let (status, _) = refund(&fake, Some(KEY), Some("other"), &[("charge", "ch_2")]).await;
        assert_eq!(status, 200);
        // ... but one that executed, even unsuccessfully, is replayed.
        let (status, _) = refund(&fake, Some(KEY), Some("third"), &[("charge", "ch_3")]).await;
        assert_eq!(status, 404);
        fake.add_charge("ch_3", 300, "EUR");
        let (status, body) = refund(&fake, Some(KEY), Some("third"), &[("charge", "ch_3")]).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (404, json!("resource_missing"))
        );
        assert_eq!(fake.refunds().len(), 2);
    }

    #[tokio::test]
    async fn injected_failures_come_before_processing_then_the_retry_succeeds() {
        let fake = StripeFake::start(KEY).await.unwrap();
        fake.add_charge("ch_1", 500, "EUR");
        fake.fail_next(2, 503);
        let form = [("charge", "ch_1")];
        for _ in 0..2 {
            let (status, body) = refund(&fake, Some(KEY), Some("k"), &form).await;
            assert_eq!(status, 503);
            assert_eq!(body["error"]["type"], "api_error");
        }
        assert!(fake.refunds().is_empty());
        let (status, body) = refund(&fake, Some(KEY), Some("k"), &form).await;
        assert_eq!((status, body["amount"].clone()), (200, json!(500)));
        assert_eq!(fake.refunds().len(), 1);
        let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [503, 503, 200]);
    }

    #[tokio::test]
    async fn unknown_charges_are_missing_resources() {
        let fake = StripeFake::start(KEY).await.unwrap();
        let (status, body) = refund(&fake, Some(KEY), None, &[("charge", "ch_nope")]).await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({ "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "param": "charge",
                "message": "No such charge: 'ch_nope'",
            }})
        );
        let (status, body) = refund(&fake, Some(KEY), None, &[("chrge", "ch_nope")]).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["param"], "chrge");
    }

    #[tokio::test]
    async fn signs_events_with_stripes_scheme() {
        let payload = StripeFake::event(
            "evt_1",
            "refund.updated",
            json!({ "id": "re_1", "object": "refund", "status": "succeeded" }),
        );
        let event: Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(
            (
                event["object"].clone(),
                event["type"].clone(),
                event["data"]["object"]["id"].clone(),
                event["livemode"].clone(),
            ),
            (
                json!("event"),
                json!("refund.updated"),
                json!("re_1"),
                json!(false)
            )
        );
        let signature = StripeFake::sign("whsec_test", &payload, 1_700_000_000);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec_test").unwrap();
        mac.update(b"1700000000.");
        mac.update(payload.as_bytes());
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(signature, format!("t=1700000000,v1={expected}"));
        assert_eq!(expected.len(), 64);

        // Delivered as Stripe delivers: the raw body with the signature header.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let app = Router::new().route(
            "/stripe/webhook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let tx = tx.clone();
                async move {
                    let signature = headers[SIGNATURE_HEADER].to_str().unwrap().to_owned();
                    tx.send((signature, body)).unwrap();
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/stripe/webhook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let status = StripeFake::send_event(&url, "whsec_test", &payload, 1_700_000_000)
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(rx.recv().await.unwrap(), (signature, payload));
        server.abort();
    }
}
