//! Refunds: the worker that requests them from Stripe (with a fixed Idempotency-Key, retried with
//! backoff, given up after `MAX_REFUND_ATTEMPTS` and then surfaced to the customer and the
//! admins) and Stripe's webhook, which finishes refunds Stripe reported as pending.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::marketplace::money::format_amount;
use crate::marketplace::payment::{MAX_REFUND_ATTEMPTS, refund_backoff};
use crate::metrics::OutcomeLabels;
use crate::store::audit::{self, AuditEvent};
use crate::store::outbound::{self, OutboundMessage};
use crate::store::payments::{self, DueRefund};
use crate::store::reservations;
use crate::stripe::{StripeClient, StripeError};

const INTERVAL: Duration = Duration::from_secs(1);
/// How long a claimed refund is left alone before another attempt (a crashed runner's).
const LEASE: chrono::Duration = chrono::Duration::minutes(2);
const BATCH: i64 = 10;

pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let stripe = &app.config.stripe;
    let Some(api_key) = stripe.api_key.clone() else {
        tracing::info!("STRIPE_API_KEY is not set: refunds are not requested");
        return;
    };
    let client = StripeClient::new(app.http.clone(), &stripe.api_url, api_key);
    loop {
        match work(&app, &client, Utc::now()).await {
            Ok(0) => {}
            Ok(done) => tracing::debug!(done, "refund requests made"),
            Err(error) => tracing::warn!(%error, "refund worker failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

/// Requests every due refund once. Returns how many were attempted.
pub async fn work(app: &App, client: &StripeClient, now: DateTime<Utc>) -> sqlx::Result<usize> {
    let mut tx = app.pool.begin().await?;
    let due = payments::claim_due_refunds(&mut tx, now, LEASE, BATCH).await?;
    tx.commit().await?;
    for refund in &due {
        let result = client
            .refund_charge(
                &refund.charge_id,
                refund.amount_minor,
                &refund.idempotency_key,
                refund.reservation_id,
            )
            .await;
        record_attempt(app, refund, result, Utc::now()).await?;
    }
    Ok(due.len())
}

async fn record_attempt(
    app: &App,
    refund: &DueRefund,
    result: Result<crate::stripe::Refund, StripeError>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let mut tx = app.pool.begin().await?;
    let outcome = match result {
        Ok(done) if done.status == "succeeded" => {
            finish(&mut tx, app, refund.id, Some(&done.id), Ok(())).await?;
            "succeeded"
        }
        Ok(started) if matches!(started.status.as_str(), "pending" | "requires_action") => {
            payments::refund_pending(&mut tx, refund.id, &started.id).await?;
            "pending"
        }
        Ok(other) => {
            let error = format!("Stripe refund {} is {}", other.id, other.status);
            finish(&mut tx, app, refund.id, Some(&other.id), Err(&error)).await?;
            "failed"
        }
        // Refunded before (e.g. from Stripe's dashboard): the money is back.
        Err(error) if error.code() == Some("charge_already_refunded") => {
            finish(&mut tx, app, refund.id, None, Ok(())).await?;
            "succeeded"
        }
        Err(error) if error.is_retryable() && refund.attempts < MAX_REFUND_ATTEMPTS => {
            let next = now + refund_backoff(refund.attempts);
            tracing::warn!(
                refund_id = refund.id,
                attempts = refund.attempts,
                %error,
                "refund request failed; retrying"
            );
            payments::refund_retry_at(&mut tx, refund.id, next, &error.to_string()).await?;
            "retry"
        }
        Err(error) => {
            tracing::error!(refund_id = refund.id, attempts = refund.attempts, %error, "refund failed");
            finish(&mut tx, app, refund.id, None, Err(&error.to_string())).await?;
            "failed"
        }
    };
    audit::record(
        &mut tx,
        &AuditEvent {
            actor_id: None,
            action: "refund.attempted",
            entity_type: "reservation",
            entity_id: Some(refund.reservation_id.to_string()),
            before: None,
            after: Some(serde_json::json!({
                "refund_id": refund.id, "attempt": refund.attempts, "outcome": outcome,
            })),
        },
    )
    .await?;
    tx.commit().await?;
    app.metrics
        .refund_attempts
        .get_or_create(&OutcomeLabels { outcome })
        .inc();
    Ok(())
}

/// Ends a refund: REFUNDED and the customer told, or REFUND_FAILED and the customer and the
/// admins told. Repeated confirmations change nothing.
async fn finish(
    conn: &mut PgConnection,
    app: &App,
    refund_id: i64,
    stripe_refund_id: Option<&str>,
    result: Result<(), &str>,
) -> sqlx::Result<()> {
    let changed = match result {
        Ok(()) => payments::refund_succeeded(conn, refund_id, stripe_refund_id).await?,
        Err(error) => payments::refund_failed(conn, refund_id, error).await?,
    };
    let Some(reservation_id) = changed else {
        return Ok(());
    };
    let Some(reservation) = reservations::get(conn, reservation_id).await? else {
        return Ok(());
    };
    let texts = crate::texts::for_language(reservation.customer_language.as_deref());
    let total = format_amount(reservation.total_minor, &reservation.currency);
    let (action, text) = match result {
        Ok(()) => (
            "refund.succeeded",
            texts.cust.refund_done(&reservation, &total),
        ),
        Err(_) => (
            "refund.failed",
            texts.cust.refund_failed(&reservation, &total),
        ),
    };
    outbound::enqueue(conn, reservation.customer_id, &OutboundMessage::text(text)).await?;
    if let Err(error) = result {
        for admin in &app.config.admin_ids {
            let note = crate::texts::EN
                .cust
                .refund_failed_admin(&reservation, &total, error);
            outbound::enqueue(conn, *admin, &OutboundMessage::text(note)).await?;
        }
    }
    audit::record(
        conn,
        &AuditEvent {
            actor_id: None,
            action,
            entity_type: "reservation",
            entity_id: Some(reservation_id.to_string()),
            before: Some(serde_json::json!({ "payment_status": "REFUND_PENDING" })),
            after: Some(serde_json::json!({
                "payment_status": reservation.payment_status().as_str(),
                "error": result.err(),
            })),
        },
    )
    .await?;
    Ok(())
}

/// A Stripe event as far as refunds care.
#[derive(Debug, serde::Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, serde::Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// What became of a webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    Handled,
    Duplicate,
    Ignored,
}

/// Applies a verified Stripe event, once per event id.
pub async fn on_event(app: &App, event: &Event) -> sqlx::Result<EventOutcome> {
    let mut tx = app.pool.begin().await?;
    if !payments::record_event(&mut tx, &event.id, &event.kind).await? {
        return Ok(EventOutcome::Duplicate);
    }
    let object = &event.data.object;
    let text = |key: &str| object.get(key).and_then(serde_json::Value::as_str);
    let outcome = match event.kind.as_str() {
        "refund.created" | "refund.updated" | "charge.refund.updated" | "refund.failed" => {
            match payments::find_refund(&mut tx, text("id"), text("charge")).await? {
                Some(refund_id) => {
                    match text("status") {
                        Some("succeeded") => {
                            finish(&mut tx, app, refund_id, text("id"), Ok(())).await?
                        }
                        Some(status @ ("failed" | "canceled")) => {
                            let error = format!("Stripe reports the refund {status}");
                            finish(&mut tx, app, refund_id, text("id"), Err(&error)).await?;
                        }
                        _ => {}
                    }
                    EventOutcome::Handled
                }
                None => EventOutcome::Ignored,
            }
        }
        "charge.refunded" => {
            let refunded = object
                .get("refunded")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            match payments::find_refund(&mut tx, None, text("id")).await? {
                Some(refund_id) if refunded => {
                    finish(&mut tx, app, refund_id, None, Ok(())).await?;
                    EventOutcome::Handled
                }
                _ => EventOutcome::Ignored,
            }
        }
        _ => EventOutcome::Ignored,
    };
    tx.commit().await?;
    Ok(outcome)
}
