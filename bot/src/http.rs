//! The HTTP surface: Telegram's webhook, health, readiness, liveness and metrics.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::health::{self, Status};
use crate::intake::IntakeError;
use crate::metrics::{HttpLabels, RouteLabels, SourceLabels};
use crate::store::inbox::Stored;
use crate::telegram::update::envelope;

const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

pub fn router(app: Arc<App>) -> Router {
    let body_limit = app
        .config
        .webhook
        .as_ref()
        .map_or(1024 * 1024, |w| w.max_body_bytes);
    Router::new()
        .route(
            "/webhook",
            post(webhook).layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/stripe/webhook", post(stripe_webhook))
        .route("/health", get(health))
        .route("/live", get(live))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(app.clone(), track))
        .with_state(app)
}

async fn track(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    // Labels come from closed sets, so that requests nobody authenticated cannot create series.
    let method = known_method(request.method()).to_owned();
    let response = next.run(request).await;
    app.metrics
        .http_requests
        .get_or_create(&HttpLabels {
            method,
            route: route.clone(),
            status: response.status().as_u16(),
        })
        .inc();
    app.metrics
        .http_request_duration
        .get_or_create(&RouteLabels { route })
        .observe(started.elapsed().as_secs_f64());
    response
}

fn known_method(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Compares the secret header with the current and the previous secret in constant time.
fn secret_matches(app: &App, headers: &HeaderMap) -> bool {
    let Some(webhook) = &app.config.webhook else {
        return false;
    };
    let Some(given) = headers.get(SECRET_HEADER).map(HeaderValue::as_bytes) else {
        return false;
    };
    let matches =
        |secret: &crate::config::Secret| bool::from(secret.expose().as_bytes().ct_eq(given));
    // Both comparisons always run so that timing does not tell which secret matched.
    let current = matches(&webhook.secret_token);
    let previous = webhook.secret_token_previous.as_ref().is_some_and(matches);
    current | previous
}

/// Telegram's webhook: the update is stored durably before it is acknowledged.
async fn webhook(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    if app.config.webhook.is_none() {
        return (
            StatusCode::NOT_FOUND,
            "webhook mode is off (WEBHOOK_URL is not set)",
        )
            .into_response();
    }
    if !secret_matches(&app, &headers) {
        tracing::warn!("webhook call with a missing or wrong secret token");
        return (StatusCode::UNAUTHORIZED, "wrong secret token").into_response();
    }
    let update = match envelope(&body) {
        Ok(update) => update,
        Err(error) => {
            tracing::warn!(%error, bytes = body.len(), "malformed webhook body");
            return (StatusCode::BAD_REQUEST, error.to_string()).into_response();
        }
    };
    // Valid UTF-8 is guaranteed: the body parsed as JSON.
    let payload = String::from_utf8_lossy(&body).into_owned();
    // A draining instance stores the update unclaimed so that another replica takes it at once.
    let draining = app.draining.load(Ordering::Relaxed);
    let claim = if draining {
        std::time::Duration::ZERO
    } else {
        app.config.inbox.claim_timeout
    };
    match app.intake.store(update, payload, claim).await {
        Ok(Stored::New) => {
            app.metrics
                .updates_received
                .get_or_create(&SourceLabels { source: "webhook" })
                .inc();
            if !draining {
                app.workers.dispatch(update).await;
            }
            StatusCode::OK.into_response()
        }
        Ok(Stored::Duplicate) => {
            app.metrics.updates_duplicate.inc();
            StatusCode::OK.into_response()
        }
        Err(IntakeError::Refused(error)) => {
            // Telegram does not retry a 4xx: this one update is dropped, and said so.
            tracing::warn!(%error, update_id = update.update_id, "update refused by the database");
            app.metrics.updates_refused.inc();
            (StatusCode::BAD_REQUEST, "the update cannot be stored").into_response()
        }
        Err(error) => {
            // Telegram retries non-2xx answers: nothing is lost while the database is down.
            tracing::error!(%error, update_id = update.update_id, "could not store an update");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "update could not be stored; retry later",
            )
                .into_response()
        }
    }
}

async fn health(State(app): State<Arc<App>>) -> Response {
    let report = health::report(&app).await;
    let status = if report.status == Status::Unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, [(header::CACHE_CONTROL, "no-cache")], Json(report)).into_response()
}

async fn live() -> &'static str {
    "alive"
}

/// Ready when PostgreSQL answers and the instance is not draining. Redis never affects this.
async fn ready(State(app): State<Arc<App>>) -> Response {
    if app.draining.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response();
    }
    match health::check_postgres(&app.pool).await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("PostgreSQL: {error}"),
        )
            .into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.encode(),
    )
        .into_response()
}

/// Stripe's webhook: a verified signature or 400; each event applied once (its id recorded);
/// a processing failure answers 500 so that Stripe delivers again.
async fn stripe_webhook(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let count = |outcome: &'static str| {
        app.metrics
            .stripe_webhook_events
            .get_or_create(&crate::metrics::OutcomeLabels { outcome })
            .inc();
    };
    let Some(secret) = &app.config.stripe.webhook_secret else {
        tracing::warn!("Stripe webhook called, but STRIPE_WEBHOOK_SECRET is not set");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Stripe webhook not configured",
        )
            .into_response();
    };
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = chrono::Utc::now().timestamp();
    if let Err(error) = crate::stripe::verify_signature(&body, signature, secret, now) {
        tracing::warn!(%error, "Stripe webhook refused");
        count("bad_signature");
        return (StatusCode::BAD_REQUEST, error.to_string()).into_response();
    }
    let event: crate::refunds::Event = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(%error, "Stripe webhook body is not an event");
            count("malformed");
            return (StatusCode::BAD_REQUEST, "not a Stripe event").into_response();
        }
    };
    match crate::refunds::on_event(&app, &event).await {
        Ok(outcome) => {
            tracing::info!(event_id = %event.id, kind = %event.kind, ?outcome, "Stripe event");
            count(match outcome {
                crate::refunds::EventOutcome::Handled => "handled",
                crate::refunds::EventOutcome::Duplicate => "duplicate",
                crate::refunds::EventOutcome::Ignored => "ignored",
            });
            StatusCode::OK.into_response()
        }
        Err(error) => {
            tracing::error!(%error, event_id = %event.id, "Stripe event failed; Stripe will retry");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
