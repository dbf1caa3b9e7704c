//! Daily reconciliation with Stripe: the charges Stripe holds for a day are compared with the
//! payments the bot recorded, and each charge's refunded amount with the bot's. Whatever differs
//! is kept in `payment_discrepancies`, exported as `toogoodtogo_payment_discrepancies` and sent to
//! the admins. A day is reconciled once (the replica that claims it first), the day after; the
//! `reconcile-payments` command runs it by hand for any day.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::stripe::{StripeClient, StripeError};

const INTERVAL: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Stripe(#[from] StripeError),
}

/// One difference between Stripe and the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discrepancy {
    pub kind: DiscrepancyKind,
    pub charge_id: String,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscrepancyKind {
    /// Stripe took money the bot has no record of.
    ChargeNotRecorded,
    /// The bot recorded a charge Stripe does not list for that day.
    ChargeUnknownToStripe,
    /// Stripe and the bot disagree on how much of a charge was refunded.
    RefundedAmountDiffers,
}

impl DiscrepancyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChargeNotRecorded => "charge_not_recorded",
            Self::ChargeUnknownToStripe => "charge_unknown_to_stripe",
            Self::RefundedAmountDiffers => "refunded_amount_differs",
        }
    }
}

/// What a reconciled day showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub day: NaiveDate,
    pub charges: usize,
    pub discrepancies: Vec<Discrepancy>,
}

/// A recorded payment, as reconciliation compares it.
#[derive(Debug, sqlx::FromRow)]
struct Recorded {
    charge_id: String,
    amount_minor: i64,
    refunded_minor: i64,
    created_at: DateTime<Utc>,
}

/// Compares `day` (UTC) with Stripe and records what differs.
pub async fn reconcile_day(
    pool: &PgPool,
    stripe: &StripeClient,
    day: NaiveDate,
) -> Result<Report, ReconcileError> {
    let from = day
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_default();
    let until = from + chrono::Duration::days(1);
    let charges = stripe
        .list_charges(from.timestamp(), until.timestamp())
        .await?;
    let charge_ids: Vec<String> = charges.iter().map(|c| c.id.clone()).collect();
    // Payments of that day, and any payment of Stripe's charges of that day (a payment can be
    // recorded a little after its charge, across midnight).
    let recorded: Vec<Recorded> = sqlx::query_as(
        "SELECT DISTINCT ON (provider_payment_charge_id)
                provider_payment_charge_id AS charge_id, amount_minor, refunded_minor, created_at
         FROM payments
         WHERE (created_at >= $1 AND created_at < $2) OR provider_payment_charge_id = ANY($3)
         ORDER BY provider_payment_charge_id, id",
    )
    .bind(from)
    .bind(until)
    .bind(&charge_ids)
    .fetch_all(pool)
    .await?;
    let by_charge: HashMap<&str, &Recorded> =
        recorded.iter().map(|r| (r.charge_id.as_str(), r)).collect();
    let mut discrepancies = Vec::new();
    for charge in charges.iter().filter(|c| c.status == "succeeded") {
        match by_charge.get(charge.id.as_str()) {
            None => discrepancies.push(Discrepancy {
                kind: DiscrepancyKind::ChargeNotRecorded,
                charge_id: charge.id.clone(),
                detail: format!(
                    "Stripe charged {} {} that the bot never recorded",
                    charge.amount,
                    charge.currency.to_uppercase()
                ),
            }),
            Some(ours) if ours.refunded_minor != charge.amount_refunded => {
                discrepancies.push(Discrepancy {
                    kind: DiscrepancyKind::RefundedAmountDiffers,
                    charge_id: charge.id.clone(),
                    detail: format!(
                        "refunded per Stripe {}, per the bot {} (of {})",
                        charge.amount_refunded, ours.refunded_minor, ours.amount_minor
                    ),
                })
            }
            Some(_) => {}
        }
    }
    let listed: std::collections::HashSet<&str> = charges.iter().map(|c| c.id.as_str()).collect();
    for ours in &recorded {
        let of_the_day = ours.created_at >= from && ours.created_at < until;
        if of_the_day && !listed.contains(ours.charge_id.as_str()) {
            discrepancies.push(Discrepancy {
                kind: DiscrepancyKind::ChargeUnknownToStripe,
                charge_id: ours.charge_id.clone(),
                detail: format!(
                    "the bot recorded {} that Stripe does not list",
                    ours.amount_minor
                ),
            });
        }
    }
    for found in &discrepancies {
        sqlx::query(
            "INSERT INTO payment_discrepancies (kind, charge_id, detail) VALUES ($1, $2, $3)
             ON CONFLICT (kind, charge_id) DO UPDATE SET detail = EXCLUDED.detail",
        )
        .bind(found.kind.as_str())
        .bind(&found.charge_id)
        .bind(&found.detail)
        .execute(pool)
        .await?;
    }
    Ok(Report {
        day,
        charges: charges.len(),
        discrepancies,
    })
}

/// Claims a day for reconciliation; false when another runner has it (or had it).
async fn claim(pool: &PgPool, day: NaiveDate) -> sqlx::Result<bool> {
    let claimed = sqlx::query(
        "INSERT INTO payment_reconciliations (day) VALUES ($1) ON CONFLICT (day) DO NOTHING",
    )
    .bind(day)
    .execute(pool)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

async fn finish(pool: &PgPool, report: &Report) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE payment_reconciliations SET finished_at = now(), charges = $2, discrepancies = $3
         WHERE day = $1",
    )
    .bind(report.day)
    .bind(i32::try_from(report.charges).unwrap_or(i32::MAX))
    .bind(i32::try_from(report.discrepancies.len()).unwrap_or(i32::MAX))
    .execute(pool)
    .await?;
    Ok(())
}

async fn release(pool: &PgPool, day: NaiveDate) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM payment_reconciliations WHERE day = $1 AND finished_at IS NULL")
        .bind(day)
        .execute(pool)
        .await?;
    Ok(())
}

/// Runs once an hour; reconciles yesterday (UTC) once, on whichever replica claims it.
pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let stripe = &app.config.stripe;
    let Some(api_key) = stripe.api_key.clone() else {
        return;
    };
    let client = StripeClient::new(app.http.clone(), &stripe.api_url, api_key);
    loop {
        let yesterday = Utc::now().date_naive() - chrono::Duration::days(1);
        if let Err(error) = reconcile_once(&app, &client, yesterday).await {
            tracing::warn!(%error, %yesterday, "payment reconciliation failed; retried later");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

async fn reconcile_once(
    app: &App,
    client: &StripeClient,
    day: NaiveDate,
) -> Result<(), ReconcileError> {
    if !claim(&app.pool, day).await? {
        return Ok(());
    }
    let report = match reconcile_day(&app.pool, client, day).await {
        Ok(report) => report,
        Err(error) => {
            release(&app.pool, day).await?;
            return Err(error);
        }
    };
    finish(&app.pool, &report).await?;
    app.metrics
        .payment_discrepancies
        .set(report.discrepancies.len() as i64);
    tracing::info!(
        %day,
        charges = report.charges,
        discrepancies = report.discrepancies.len(),
        "payments reconciled with Stripe"
    );
    if !report.discrepancies.is_empty() {
        let mut tx = app.pool.begin().await?;
        for admin in &app.config.admin_ids {
            let texts = crate::texts::for_user(&mut tx, *admin).await?;
            let note = texts.cust.reconciliation_report(&report);
            crate::store::outbound::enqueue(
                &mut tx,
                *admin,
                &crate::store::outbound::OutboundMessage::text(note),
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}
