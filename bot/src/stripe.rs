//! Stripe: refunds through its REST API (`STRIPE_API_URL`, Bearer `STRIPE_API_KEY`, form-encoded,
//! with an Idempotency-Key so that a retried request never refunds twice) and the verification of
//! its webhook signatures.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::Secret;

/// How old a signed webhook may be (Stripe's own default tolerance).
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;

#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    api_url: String,
    api_key: Secret,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// A charge as Stripe lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Charge {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    pub currency: String,
    /// `succeeded`, `pending` or `failed`.
    pub status: String,
}

trait HasId {
    fn id(&self) -> &str;
}

impl HasId for Charge {
    fn id(&self) -> &str {
        &self.id
    }
}

/// What a refund request tells Stripe about the refunded payment (shown in its dashboard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundMetadata {
    pub payment_id: i64,
    pub reservation_id: Option<i64>,
}

/// A refund as Stripe describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Refund {
    pub id: String,
    /// Minor units refunded.
    #[serde(default)]
    pub amount: Option<i64>,
    /// `succeeded`, `pending`, `requires_action`, `failed` or `canceled`.
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error body.
    #[error("Stripe answered {status}: {kind} {code}: {message}")]
    Api {
        status: u16,
        kind: String,
        code: String,
        message: String,
    },
    /// No answer (connection refused, timeout) or an unreadable one.
    #[error("Stripe unreachable: {0}")]
    Transport(String),
}

impl StripeError {
    /// Whether trying again later can help: Stripe's 5xx, 429 and conflicts, and no answer.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status >= 500 || *status == 429 || *status == 409,
            Self::Transport(_) => true,
        }
    }

    /// Stripe's error code, e.g. `charge_already_refunded`.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            Self::Transport(_) => None,
        }
    }
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl StripeClient {
    pub fn new(http: reqwest::Client, api_url: &str, api_key: Secret) -> Self {
        Self {
            http,
            api_url: api_url.trim_end_matches('/').to_owned(),
            api_key,
        }
    }

    /// Proves the API key works without moving money: reads the account's balance. Returns
    /// whether the key is a live one.
    pub async fn check_key(&self) -> Result<bool, StripeError> {
        #[derive(serde::Deserialize)]
        struct Balance {
            livemode: bool,
        }
        let request = self.http.get(format!("{}/v1/balance", self.api_url));
        let body = self.call(request).await?;
        serde_json::from_slice::<Balance>(&body)
            .map(|b| b.livemode)
            .map_err(|e| StripeError::Transport(format!("unreadable balance: {e}")))
    }

    /// Every charge created in `[from, until)` (Unix seconds), following Stripe's pagination.
    pub async fn list_charges(&self, from: i64, until: i64) -> Result<Vec<Charge>, StripeError> {
        self.list("charges", from, until).await
    }

    async fn list<T: serde::de::DeserializeOwned + HasId>(
        &self,
        what: &str,
        from: i64,
        until: i64,
    ) -> Result<Vec<T>, StripeError> {
        #[derive(serde::Deserialize)]
        struct Page<T> {
            data: Vec<T>,
            has_more: bool,
        }
        let mut all: Vec<T> = Vec::new();
        loop {
            let mut query = vec![
                ("created[gte]", from.to_string()),
                ("created[lt]", until.to_string()),
                ("limit", "100".to_owned()),
            ];
            if let Some(last) = all.last() {
                query.push(("starting_after", last.id().to_owned()));
            }
            let request = self
                .http
                .get(format!("{}/v1/{what}", self.api_url))
                .query(&query);
            let body = self.call(request).await?;
            let page: Page<T> = serde_json::from_slice(&body)
                .map_err(|e| StripeError::Transport(format!("unreadable {what} list: {e}")))?;
            let more = page.has_more && !page.data.is_empty();
            all.extend(page.data);
            if !more {
                return Ok(all);
            }
        }
    }

    /// Refunds `amount_minor` of a charge. The same `idempotency_key` always yields the same
    /// refund, however often the request is repeated.
    pub async fn refund_charge(
        &self,
        charge_id: &str,
        amount_minor: i64,
        idempotency_key: &str,
        metadata: RefundMetadata,
    ) -> Result<Refund, StripeError> {
        let mut form = vec![
            ("charge", charge_id.to_owned()),
            ("amount", amount_minor.to_string()),
            ("reason", "requested_by_customer".to_owned()),
            ("metadata[payment_id]", metadata.payment_id.to_string()),
        ];
        if let Some(reservation_id) = metadata.reservation_id {
            form.push(("metadata[reservation_id]", reservation_id.to_string()));
        }
        let request = self
            .http
            .post(format!("{}/v1/refunds", self.api_url))
            .header("Idempotency-Key", idempotency_key)
            .form(&form);
        let body = self.call(request).await?;
        serde_json::from_slice(&body)
            .map_err(|e| StripeError::Transport(format!("unreadable refund: {e}")))
    }

    /// Looks a refund up: where a pending one stands now.
    pub async fn retrieve_refund(&self, refund_id: &str) -> Result<Refund, StripeError> {
        let request = self
            .http
            .get(format!("{}/v1/refunds/{refund_id}", self.api_url));
        let body = self.call(request).await?;
        serde_json::from_slice(&body)
            .map_err(|e| StripeError::Transport(format!("unreadable refund: {e}")))
    }

    /// Sends an authenticated request and returns the body of a successful answer; errors never
    /// carry the URL.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<axum::body::Bytes, StripeError> {
        let response = request
            .bearer_auth(self.api_key.expose())
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .map_err(|e| StripeError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| StripeError::Transport(e.without_url().to_string()))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(api_error(status.as_u16(), &body))
        }
    }
}

/// Stripe's error body (`{"error": {"type", "code", "message"}}`) as an error.
fn api_error(status: u16, body: &[u8]) -> StripeError {
    let detail = serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.error)
        .unwrap_or(ErrorDetail {
            kind: "unknown".to_owned(),
            code: String::new(),
            message: String::from_utf8_lossy(body).chars().take(200).collect(),
        });
    StripeError::Api {
        status,
        kind: detail.kind,
        code: detail.code,
        message: detail.message,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    #[error("the signature is older than the tolerance")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// Verifies a `Stripe-Signature` header (`t=<unix>,v1=<hex hmac>[,v1=...]`): HMAC-SHA256 of
/// `"<t>.<payload>"` with the endpoint secret, compared in constant time, `t` within the
/// tolerance of `now`.
pub fn verify_signature(
    payload: &[u8],
    header: &str,
    secret: &Secret,
    now_unix: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now_unix - timestamp).abs() > SIGNATURE_TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let expected = hex(&sign(secret.expose(), timestamp, payload));
    let matches = signatures
        .iter()
        .any(|given| bool::from(given.as_bytes().ct_eq(expected.as_bytes())));
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn sign(secret: &str, timestamp: i64, payload: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";

    fn header(timestamp: i64, payload: &[u8]) -> String {
        format!(
            "t={timestamp},v1={}",
            hex(&sign(SECRET, timestamp, payload))
        )
    }

    #[test]
    fn a_fresh_correct_signature_is_accepted() {
        let payload = br#"{"id":"evt_1"}"#;
        let secret = Secret::new(SECRET.to_owned());
        assert_eq!(
            verify_signature(payload, &header(1_000, payload), &secret, 1_010),
            Ok(())
        );
        // Several v1 signatures (during a secret roll) are fine when one matches.
        let rolled = format!("t=1000,v1=deadbeef,{}", &header(1_000, payload)[7..]);
        assert_eq!(verify_signature(payload, &rolled, &secret, 1_000), Ok(()));
    }

    #[test]
    fn tampered_stale_and_malformed_signatures_are_refused() {
        let payload = br#"{"id":"evt_1"}"#;
        let secret = Secret::new(SECRET.to_owned());
        assert_eq!(
            verify_signature(
                br#"{"id":"evt_2"}"#,
                &header(1_000, payload),
                &secret,
                1_000
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(payload, &header(1_000, payload), &secret, 1_000 + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature(payload, "v1=abc", &secret, 1_000),
            Err(SignatureError::Malformed)
        );
        let other = Secret::new("whsec_other".to_owned());
        assert_eq!(
            verify_signature(payload, &header(1_000, payload), &other, 1_000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn server_errors_and_silence_are_retried_client_errors_are_not() {
        let api = |status: u16| StripeError::Api {
            status,
            kind: "api_error".into(),
            code: String::new(),
            message: String::new(),
        };
        assert!(api(500).is_retryable());
        assert!(api(429).is_retryable());
        assert!(!api(400).is_retryable());
        assert!(StripeError::Transport("refused".into()).is_retryable());
    }
}
