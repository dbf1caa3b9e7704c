//! Refunds: the worker that requests them from Stripe (with a fixed Idempotency-Key, retried with
//! backoff, given up after `MAX_REFUND_ATTEMPTS` and then surfaced to the customer and the
//! admins) and Stripe's webhook, which finishes refunds Stripe reported as pending. A pending
//! refund is also looked up again every `PENDING_REFUND_CHECK_SECONDS`, so that a webhook event
//! that never arrives cannot leave it pending (and the customer untold) for good.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::marketplace::payment::{MAX_REFUND_ATTEMPTS, refund_backoff};
use crate::metrics::OutcomeLabels;
use crate::store::audit::{self, AuditEvent};
use crate::store::outbound::{self, Notice};
use crate::store::payments::{self, DueRefund, PaymentRefunds, RefundEnd};
use crate::stripe::{RefundMetadata, StripeClient, StripeError};

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
        if let Err(error) = check_pending(&app, &client, Utc::now()).await {
            tracing::warn!(%error, "checking pending refunds failed");
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
                RefundMetadata {
                    payment_id: refund.payment_id,
                    reservation_id: refund.reservation_id,
                },
            )
            .await;
        record_attempt(app, refund, result, Utc::now()).await?;
    }
    Ok(due.len())
}

/// Looks up the pending refunds due for a check and applies what Stripe says now, as its
/// webhook event would have. Returns how many were looked up.
pub async fn check_pending(
    app: &App,
    client: &StripeClient,
    now: DateTime<Utc>,
) -> sqlx::Result<usize> {
    let mut tx = app.pool.begin().await?;
    let checked_before = now - app.config.stripe.pending_refund_check;
    let due = payments::pending_refunds_to_check(&mut tx, checked_before, BATCH).await?;
    tx.commit().await?;
    for pending in &due {
        match client.retrieve_refund(&pending.stripe_refund_id).await {
            Ok(refund) if refund.status == "pending" || refund.status == "requires_action" => {}
            Ok(refund) => {
                tracing::info!(
                    refund_id = pending.id,
                    status = %refund.status,
                    "a pending refund settled without its webhook event"
                );
                let mut tx = app.pool.begin().await?;
                let amount = refund.amount.unwrap_or(0);
                apply_refund_state(
                    &mut tx,
                    app,
                    &refund.id,
                    &pending.charge_id,
                    &refund.status,
                    amount,
                )
                .await?;
                tx.commit().await?;
            }
            Err(error) => {
                tracing::warn!(refund_id = pending.id, %error, "could not look up a pending refund");
            }
        }
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
    let succeeded = |id| RefundEnd::Succeeded {
        stripe_refund_id: id,
    };
    let outcome = match &result {
        Ok(done) if done.status == "succeeded" => {
            let amount = done.amount.unwrap_or(refund.amount_minor);
            payments::record_provider_refund(
                &mut tx,
                &refund.charge_id,
                Some((&done.id, amount, "succeeded")),
                None,
            )
            .await?;
            finish(&mut tx, app, refund.id, succeeded(Some(&done.id))).await?;
            "succeeded"
        }
        Ok(started) if matches!(started.status.as_str(), "pending" | "requires_action") => {
            payments::refund_pending(&mut tx, refund.id, &started.id).await?;
            "pending"
        }
        Ok(other) => {
            let error = format!("Stripe refund {} is {}", other.id, other.status);
            finish(&mut tx, app, refund.id, RefundEnd::Failed { error: &error }).await?;
            "failed"
        }
        // Refunded before (e.g. from Stripe's dashboard): the money is back.
        Err(error) if error.code() == Some("charge_already_refunded") => {
            payments::record_provider_refund(
                &mut tx,
                &refund.charge_id,
                None,
                Some(refund.amount_minor),
            )
            .await?;
            finish(&mut tx, app, refund.id, succeeded(None)).await?;
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
            let error = error.to_string();
            finish(&mut tx, app, refund.id, RefundEnd::Failed { error: &error }).await?;
            "failed"
        }
    };
    audit::record(
        &mut tx,
        &AuditEvent {
            actor_id: None,
            action: "refund.attempted",
            entity_type: "payment",
            entity_id: Some(refund.payment_id.to_string()),
            before: None,
            after: Some(serde_json::json!({
                "refund_id": refund.id, "reservation_id": refund.reservation_id,
                "attempt": refund.attempts, "outcome": outcome,
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

/// Ends a refund: REFUNDED and the payer told, or REFUND_FAILED and the payer and the admins
/// told. Repeated confirmations change nothing.
async fn finish(
    conn: &mut PgConnection,
    app: &App,
    refund_id: i64,
    end: RefundEnd<'_>,
) -> sqlx::Result<()> {
    let Some(ended) = payments::end_refund(conn, refund_id, end).await? else {
        return Ok(());
    };
    let order = ended.reservation_id;
    let amount_minor = ended.amount_minor;
    let currency = ended.currency.clone();
    let (action, notice) = match end {
        RefundEnd::Succeeded { .. } => (
            "refund.succeeded",
            Notice::RefundDone {
                order,
                amount_minor,
                currency,
            },
        ),
        RefundEnd::Failed { .. } => (
            "refund.failed",
            Notice::RefundFailed {
                order,
                amount_minor,
                currency,
            },
        ),
    };
    if let Some(payer) = ended.payer_id {
        outbound::enqueue_template(conn, payer, notice).await?;
    }
    if let RefundEnd::Failed { error } = end {
        let charge = payments::charge_id(conn, ended.payment_id).await?;
        let note = Notice::RefundFailedAdmin {
            order,
            charge,
            amount_minor,
            currency: ended.currency.clone(),
            error: error.to_owned(),
        };
        tell_admins(conn, app, &note).await?;
    }
    audit::record(
        conn,
        &AuditEvent {
            actor_id: None,
            action,
            entity_type: "payment",
            entity_id: Some(ended.payment_id.to_string()),
            before: Some(serde_json::json!({ "refund": "open" })),
            after: Some(serde_json::json!({
                "refund_id": ended.refund_id, "reservation_id": ended.reservation_id,
                "error": match end { RefundEnd::Failed { error } => Some(error), _ => None },
            })),
        },
    )
    .await?;
    Ok(())
}

/// Queues a note for every admin, each rendered in their language when it is sent.
async fn tell_admins(conn: &mut PgConnection, app: &App, note: &Notice) -> sqlx::Result<()> {
    for admin in &app.config.admin_ids {
        outbound::enqueue_template(conn, *admin, note.clone()).await?;
    }
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

/// Applies a verified Stripe event, once per event id. Refund events are accounted per Stripe
/// refund: ours end our refund; any refund (ours or one made in Stripe's dashboard) adds to the
/// charge's refunded amount, and a partial one is shown as partial.
pub async fn on_event(app: &App, event: &Event) -> sqlx::Result<EventOutcome> {
    let mut tx = app.pool.begin().await?;
    if !payments::record_event(&mut tx, &event.id, &event.kind).await? {
        return Ok(EventOutcome::Duplicate);
    }
    let object = &event.data.object;
    let text = |key: &str| object.get(key).and_then(serde_json::Value::as_str);
    let number = |key: &str| object.get(key).and_then(serde_json::Value::as_i64);
    let outcome = match event.kind.as_str() {
        "refund.created" | "refund.updated" | "charge.refund.updated" | "refund.failed" => {
            match (text("id"), text("charge")) {
                (Some(refund_id), Some(charge)) => {
                    let status = text("status").unwrap_or("pending");
                    let amount = number("amount").unwrap_or(0);
                    apply_refund_state(&mut tx, app, refund_id, charge, status, amount).await?
                }
                _ => EventOutcome::Ignored,
            }
        }
        "charge.refunded" => match text("id") {
            Some(charge) => {
                let refunded = number("amount_refunded");
                match payments::record_provider_refund(&mut tx, charge, None, refunded).await? {
                    Some(payment) => {
                        account_refunds(&mut tx, app, &payment, charge).await?;
                        EventOutcome::Handled
                    }
                    None => EventOutcome::Ignored,
                }
            }
            None => EventOutcome::Ignored,
        },
        _ => EventOutcome::Ignored,
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Applies where a Stripe refund stands (from its webhook event, or looked up): ours end our
/// refund; any refund (ours or one made in Stripe's dashboard) adds to the charge's refunded
/// amount, and a partial one is shown as partial.
async fn apply_refund_state(
    conn: &mut PgConnection,
    app: &App,
    refund_id: &str,
    charge: &str,
    status: &str,
    amount: i64,
) -> sqlx::Result<EventOutcome> {
    let ours = payments::find_refund(conn, refund_id).await?;
    let accounted =
        payments::record_provider_refund(conn, charge, Some((refund_id, amount, status)), None)
            .await?;
    if let Some(ours) = ours {
        match status {
            "succeeded" => {
                let end = RefundEnd::Succeeded {
                    stripe_refund_id: Some(refund_id),
                };
                finish(conn, app, ours, end).await?;
            }
            "failed" | "canceled" => {
                let error = format!("Stripe reports the refund {status}");
                finish(conn, app, ours, RefundEnd::Failed { error: &error }).await?;
            }
            _ => {}
        }
    }
    match accounted {
        Some(payment) => {
            account_refunds(conn, app, &payment, charge).await?;
            Ok(EventOutcome::Handled)
        }
        None => Ok(EventOutcome::Ignored),
    }
}

/// Acts on a charge's refunded amount: all of it back ends our open refund as succeeded; part
/// of it marks the reservation partially refunded and tells the payer and the admins.
async fn account_refunds(
    conn: &mut PgConnection,
    app: &App,
    payment: &PaymentRefunds,
    charge: &str,
) -> sqlx::Result<()> {
    if payment.refunded_minor >= payment.amount_minor {
        if let Some(open) = payment.open_refund_id {
            let end = RefundEnd::Succeeded {
                stripe_refund_id: None,
            };
            finish(conn, app, open, end).await?;
        }
        return Ok(());
    }
    if payment.refunded_minor == 0 || !payment.settles {
        return Ok(());
    }
    let Some(reservation_id) = payment.reservation_id else {
        return Ok(());
    };
    if !payments::mark_partially_refunded(conn, reservation_id).await? {
        return Ok(());
    }
    if let Some(payer) = payment.payer_id {
        let notice = Notice::PartiallyRefunded {
            order: Some(reservation_id),
            refunded_minor: payment.refunded_minor,
            amount_minor: payment.amount_minor,
            currency: payment.currency.clone(),
        };
        outbound::enqueue_template(conn, payer, notice).await?;
    }
    let note = Notice::PartiallyRefundedAdmin {
        order: Some(reservation_id),
        charge: charge.to_owned(),
        refunded_minor: payment.refunded_minor,
        amount_minor: payment.amount_minor,
        currency: payment.currency.clone(),
    };
    tell_admins(conn, app, &note).await?;
    audit::record(
        conn,
        &AuditEvent {
            actor_id: None,
            action: "payment.partially_refunded",
            entity_type: "payment",
            entity_id: Some(payment.payment_id.to_string()),
            before: None,
            after: Some(serde_json::json!({
                "refunded_minor": payment.refunded_minor, "amount_minor": payment.amount_minor,
            })),
        },
    )
    .await?;
    Ok(())
}
