//! Payments, refunds and Stripe events. A payment is recorded once per Telegram charge id; a
//! refund once per payment, with a fixed Idempotency-Key for Stripe; a Stripe event once per id.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::marketplace::payment::Hold;
use crate::marketplace::reservation::PaymentStatus;
use crate::marketplace::{OfferState, ReservationState};

/// What Telegram's successful_payment says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPayment<'a> {
    pub payer_id: i64,
    pub invoice_payload: &'a str,
    pub telegram_charge_id: &'a str,
    pub provider_charge_id: &'a str,
    pub amount_minor: i64,
    pub currency: &'a str,
}

/// Records a payment before anything decides what it pays for, so that no charge is ever
/// unrecorded. `None` when this charge was recorded before (a redelivered update).
pub async fn record(
    conn: &mut PgConnection,
    payment: &ReceivedPayment<'_>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "INSERT INTO payments (payer_id, invoice_payload, telegram_payment_charge_id,
             provider_payment_charge_id, amount_minor, currency, settles)
         VALUES ($1, $2, $3, $4, $5, $6, false)
         ON CONFLICT (telegram_payment_charge_id) DO NOTHING
         RETURNING id",
    )
    .bind(payment.payer_id)
    .bind(payment.invoice_payload)
    .bind(payment.telegram_charge_id)
    .bind(payment.provider_charge_id)
    .bind(payment.amount_minor)
    .bind(payment.currency)
    .fetch_optional(conn)
    .await
}

/// What receiving a charge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub payment_id: i64,
    pub settlement: Settlement,
}

/// Receives a charge Telegram reports: records it, then settles the hold its invoice names or
/// requests its refund, all in the caller's transaction. `None` when this charge was received
/// before.
pub async fn receive(
    conn: &mut PgConnection,
    payment: &ReceivedPayment<'_>,
    reservation_id: Option<i64>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Received>> {
    let Some(payment_id) = record(conn, payment).await? else {
        return Ok(None);
    };
    let settlement = settle(conn, payment_id, reservation_id, payment, now).await?;
    if let Settlement::Refunding(cause) = settlement {
        request_payment_refund(conn, payment_id, cause.as_str(), None).await?;
    }
    Ok(Some(Received {
        payment_id,
        settlement,
    }))
}

/// How a recorded payment settled its reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The hold became a confirmed, paid reservation.
    Confirmed,
    /// The hold had lapsed, but units were left: taken again and confirmed.
    Revived,
    /// The money cannot buy anything: a refund of this payment is requested at once.
    Refunding(RefundCause),
}

/// Why a charge cannot settle a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundCause {
    /// The hold lapsed and its units are gone (sold out, ended, cancelled).
    NothingLeft,
    /// Another payment settled the hold already (a forwarded invoice, a second device).
    AlreadyPaid,
    /// The invoice names no hold of the payer's.
    UnknownHold,
    /// The amount or currency differs from the hold's.
    AmountMismatch,
}

impl RefundCause {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NothingLeft => "nothing left for a late payment",
            Self::AlreadyPaid => "second payment for a paid hold",
            Self::UnknownHold => "payment for an unknown hold",
            Self::AmountMismatch => "amount does not match the hold",
        }
    }
}

/// Settles a recorded payment against the hold its invoice names (if any), and attaches the
/// payment to it. A payment that cannot settle is left for [`request_payment_refund`].
pub async fn settle(
    conn: &mut PgConnection,
    payment_id: i64,
    reservation_id: Option<i64>,
    payment: &ReceivedPayment<'_>,
    now: DateTime<Utc>,
) -> sqlx::Result<Settlement> {
    let row: Option<(String, String, i64, i32, i64, String)> = match reservation_id {
        Some(id) => {
            sqlx::query_as(
                "SELECT state, payment_status, offer_id, quantity, total_minor, currency
                 FROM reservations WHERE id = $1 AND customer_id = $2 FOR UPDATE",
            )
            .bind(id)
            .bind(payment.payer_id)
            .fetch_optional(&mut *conn)
            .await?
        }
        None => None,
    };
    let (Some(reservation_id), Some((state, payment_status, offer_id, quantity, total, currency))) =
        (reservation_id, row)
    else {
        return Ok(Settlement::Refunding(RefundCause::UnknownHold));
    };
    let status = PaymentStatus::parse(&payment_status).unwrap_or(PaymentStatus::None);
    let cause = if total != payment.amount_minor || currency != payment.currency {
        Some(RefundCause::AmountMismatch)
    } else if status.is_settled() {
        Some(RefundCause::AlreadyPaid)
    } else {
        None
    };
    if let Some(cause) = cause {
        attach(conn, payment_id, reservation_id, false).await?;
        return Ok(Settlement::Refunding(cause));
    }
    attach(conn, payment_id, reservation_id, true).await?;
    let settled = match ReservationState::parse(&state) {
        Some(ReservationState::PendingPayment) => Settlement::Confirmed,
        Some(ReservationState::Expired) if retake_units(conn, offer_id, quantity, now).await? => {
            Settlement::Revived
        }
        _ => {
            mark_paid(conn, reservation_id, None).await?;
            return Ok(Settlement::Refunding(RefundCause::NothingLeft));
        }
    };
    mark_paid(conn, reservation_id, Some(ReservationState::Confirmed)).await?;
    Ok(settled)
}

async fn attach(
    conn: &mut PgConnection,
    payment_id: i64,
    reservation_id: i64,
    settles: bool,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE payments SET reservation_id = $2, settles = $3 WHERE id = $1")
        .bind(payment_id)
        .bind(reservation_id)
        .bind(settles)
        .execute(conn)
        .await?;
    Ok(())
}

async fn mark_paid(
    conn: &mut PgConnection,
    reservation_id: i64,
    state: Option<ReservationState>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE reservations SET payment_status = 'PAID', state = coalesce($2, state),
             hold_expires_at = NULL, updated_at = now()
         WHERE id = $1",
    )
    .bind(reservation_id)
    .bind(state.map(ReservationState::as_str))
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes `quantity` units of an offer again for a revived hold, if the offer is still
/// reservable and has them.
async fn retake_units(
    conn: &mut PgConnection,
    offer_id: i64,
    quantity: i32,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let taken = sqlx::query(
        "UPDATE offers o SET units_available = units_available - $2,
             state = CASE WHEN units_available - $2 = 0 THEN 'SOLD_OUT' ELSE state END,
             updated_at = now()
         FROM businesses b
         WHERE o.id = $1 AND b.id = o.business_id AND b.status = 'approved'
           AND o.state = 'ACTIVE' AND o.units_available >= $2 AND o.pickup_end > $3",
    )
    .bind(offer_id)
    .bind(quantity)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Requests a full refund of one payment, once. A payment that settles its reservation moves
/// the reservation to REFUND_PENDING. Returns whether a refund was requested now.
pub async fn request_payment_refund(
    conn: &mut PgConnection,
    payment_id: i64,
    reason: &str,
    requested_by: Option<i64>,
) -> sqlx::Result<bool> {
    let requested: Option<(Option<i64>, bool)> = sqlx::query_as(
        "WITH requested AS (
             INSERT INTO refunds (payment_id, reservation_id, amount_minor, currency,
                                  idempotency_key, reason, requested_by)
             SELECT p.id, p.reservation_id, p.amount_minor, p.currency,
                    'tgtg-refund-' || p.id, $2, $3
             FROM payments p WHERE p.id = $1
             ON CONFLICT (payment_id) DO NOTHING
             RETURNING payment_id
         )
         SELECT p.reservation_id, p.settles FROM payments p JOIN requested ON requested.payment_id = p.id",
    )
    .bind(payment_id)
    .bind(reason)
    .bind(requested_by)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((reservation_id, settles)) = requested else {
        return Ok(false);
    };
    if let (Some(reservation_id), true) = (reservation_id, settles) {
        sqlx::query(
            "UPDATE reservations SET payment_status = 'REFUND_PENDING', updated_at = now()
             WHERE id = $1",
        )
        .bind(reservation_id)
        .execute(conn)
        .await?;
    }
    Ok(true)
}

/// Requests a full refund of the payment that settled a paid reservation, once. Returns whether
/// a refund was requested now (false: nothing was paid, or it is refunded or being refunded).
pub async fn request_refund(
    conn: &mut PgConnection,
    reservation_id: i64,
    reason: &str,
    requested_by: Option<i64>,
) -> sqlx::Result<bool> {
    let payment: Option<i64> = sqlx::query_scalar(
        "SELECT p.id FROM payments p JOIN reservations r ON r.id = p.reservation_id
         WHERE r.id = $1 AND p.settles AND r.payment_status = 'PAID'",
    )
    .bind(reservation_id)
    .fetch_optional(&mut *conn)
    .await?;
    match payment {
        Some(payment_id) => request_payment_refund(conn, payment_id, reason, requested_by).await,
        None => Ok(false),
    }
}

/// A business refunds a paid reservation (it ran out, or forgives a no-show): a confirmed one
/// is cancelled (its units are not offered again), and the refund is requested. Returns whether
/// a refund was requested.
pub async fn refund_by_business(
    conn: &mut PgConnection,
    reservation_id: i64,
    member_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    sqlx::query(
        "UPDATE reservations SET state = 'CANCELLED', cancelled_at = $2, updated_at = now()
         WHERE id = $1 AND state = 'CONFIRMED' AND payment_status = 'PAID'",
    )
    .bind(reservation_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    request_refund(
        conn,
        reservation_id,
        "refunded by the business",
        Some(member_id),
    )
    .await
}

/// A refund to request from Stripe now.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DueRefund {
    pub id: i64,
    pub payment_id: i64,
    pub reservation_id: Option<i64>,
    pub charge_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub idempotency_key: String,
    pub attempts: i32,
}

/// Claims due refunds for one attempt each: their next attempt moves `lease` ahead, so a
/// crashed runner's refunds are tried again later and concurrent runners never share one.
pub async fn claim_due_refunds(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
) -> sqlx::Result<Vec<DueRefund>> {
    sqlx::query_as(
        "WITH due AS (
             SELECT id FROM refunds
             WHERE status = 'requested' AND next_attempt_at <= $1
             ORDER BY next_attempt_at
             LIMIT $3
             FOR UPDATE SKIP LOCKED
         ), claimed AS (
             UPDATE refunds f SET attempts = attempts + 1, next_attempt_at = $1 + $2,
                 updated_at = now()
             FROM due WHERE f.id = due.id
             RETURNING f.*
         )
         SELECT c.id, c.payment_id, c.reservation_id,
                p.provider_payment_charge_id AS charge_id, c.amount_minor, c.currency,
                c.idempotency_key, c.attempts
         FROM claimed c
         JOIN payments p ON p.id = c.payment_id
         ORDER BY c.id",
    )
    .bind(now)
    .bind(lease)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// How a refund ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundEnd<'a> {
    Succeeded { stripe_refund_id: Option<&'a str> },
    Failed { error: &'a str },
}

/// A refund that just ended, with what telling its payer needs.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EndedRefund {
    pub refund_id: i64,
    pub payment_id: i64,
    pub reservation_id: Option<i64>,
    pub payer_id: Option<i64>,
    pub amount_minor: i64,
    pub currency: String,
    /// Whether the refunded payment is the one that settled its reservation.
    pub settles: bool,
}

/// Ends a refund that is still open. `None` when it had ended before (a repeated confirmation
/// changes nothing). The reservation follows when the refunded payment is the one that settled
/// it; a refunded second charge leaves the paid reservation as it is.
pub async fn end_refund(
    conn: &mut PgConnection,
    refund_id: i64,
    end: RefundEnd<'_>,
) -> sqlx::Result<Option<EndedRefund>> {
    let (status, stripe_refund_id, error, reservation_status) = match end {
        RefundEnd::Succeeded { stripe_refund_id } => {
            ("succeeded", stripe_refund_id, None, PaymentStatus::Refunded)
        }
        RefundEnd::Failed { error } => ("failed", None, Some(error), PaymentStatus::RefundFailed),
    };
    let ended: Option<EndedRefund> = sqlx::query_as(
        "WITH ended AS (
             UPDATE refunds SET status = $2,
                 stripe_refund_id = coalesce($3, stripe_refund_id), last_error = $4,
                 updated_at = now()
             WHERE id = $1 AND status IN ('requested', 'pending')
             RETURNING id, payment_id, reservation_id, amount_minor, currency
         )
         SELECT e.id AS refund_id, e.payment_id, e.reservation_id, p.payer_id, e.amount_minor,
                e.currency, p.settles
         FROM ended e JOIN payments p ON p.id = e.payment_id",
    )
    .bind(refund_id)
    .bind(status)
    .bind(stripe_refund_id)
    .bind(error)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(EndedRefund {
        reservation_id: Some(reservation_id),
        settles: true,
        ..
    }) = &ended
    {
        sqlx::query(
            "UPDATE reservations SET payment_status = $2, updated_at = now() WHERE id = $1",
        )
        .bind(reservation_id)
        .bind(reservation_status.as_str())
        .execute(conn)
        .await?;
    }
    Ok(ended)
}

/// Stripe accepted the refund but has not finished it; its webhook event finishes it.
pub async fn refund_pending(
    conn: &mut PgConnection,
    refund_id: i64,
    stripe_refund_id: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE refunds SET status = 'pending', stripe_refund_id = $2, updated_at = now()
         WHERE id = $1 AND status = 'requested'",
    )
    .bind(refund_id)
    .bind(stripe_refund_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A refund Stripe reported as pending, to look up again.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingRefund {
    pub id: i64,
    pub stripe_refund_id: String,
    pub charge_id: String,
}

/// Pending refunds not looked at since `checked_before`, oldest first; each is marked looked at
/// now, so that one check a period is made whatever happens to it.
pub async fn pending_refunds_to_check(
    conn: &mut PgConnection,
    checked_before: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<PendingRefund>> {
    sqlx::query_as(
        "WITH due AS (
             SELECT id FROM refunds
             WHERE status = 'pending' AND stripe_refund_id IS NOT NULL AND updated_at < $1
             ORDER BY updated_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED
         ), touched AS (
             UPDATE refunds r SET updated_at = now() FROM due WHERE r.id = due.id
             RETURNING r.id, r.stripe_refund_id, r.payment_id
         )
         SELECT t.id, t.stripe_refund_id, p.provider_payment_charge_id AS charge_id
         FROM touched t JOIN payments p ON p.id = t.payment_id",
    )
    .bind(checked_before)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn refund_retry_at(
    conn: &mut PgConnection,
    refund_id: i64,
    next_attempt_at: DateTime<Utc>,
    error: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE refunds SET next_attempt_at = $2, last_error = $3, updated_at = now()
         WHERE id = $1 AND status = 'requested'",
    )
    .bind(refund_id)
    .bind(next_attempt_at)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// A refund given up (REFUND_FAILED) is tried again from the start, at an admin's request.
/// Returns whether it was failed (and is now requested again).
pub async fn retry_failed_refund(conn: &mut PgConnection, refund_id: i64) -> sqlx::Result<bool> {
    let reopened: Option<(Option<i64>, bool)> = sqlx::query_as(
        "WITH reopened AS (
             UPDATE refunds SET status = 'requested', attempts = 0, next_attempt_at = now(),
                 updated_at = now()
             WHERE id = $1 AND status = 'failed'
             RETURNING payment_id
         )
         SELECT p.reservation_id, p.settles FROM payments p
         JOIN reopened ON reopened.payment_id = p.id",
    )
    .bind(refund_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((reservation_id, settles)) = reopened else {
        return Ok(false);
    };
    if let (Some(reservation_id), true) = (reservation_id, settles) {
        sqlx::query(
            "UPDATE reservations SET payment_status = 'REFUND_PENDING', updated_at = now()
             WHERE id = $1 AND payment_status = 'REFUND_FAILED'",
        )
        .bind(reservation_id)
        .execute(conn)
        .await?;
    }
    Ok(true)
}

/// The provider's charge id of a payment.
pub async fn charge_id(conn: &mut PgConnection, payment_id: i64) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT provider_payment_charge_id FROM payments WHERE id = $1")
        .bind(payment_id)
        .fetch_one(conn)
        .await
}

/// Our refund that a Stripe refund id names.
pub async fn find_refund(
    conn: &mut PgConnection,
    stripe_refund_id: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM refunds WHERE stripe_refund_id = $1")
        .bind(stripe_refund_id)
        .fetch_optional(conn)
        .await
}

/// A recorded payment as far as refund accounting cares.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PaymentRefunds {
    pub payment_id: i64,
    pub reservation_id: Option<i64>,
    pub payer_id: Option<i64>,
    pub settles: bool,
    pub amount_minor: i64,
    pub refunded_minor: i64,
    pub currency: String,
    /// Our own refund of this payment that is still open.
    pub open_refund_id: Option<i64>,
}

/// Records what Stripe says of one refund of a charge (ours or one made elsewhere) and returns
/// the payment's refund accounting afterwards; `None` for a charge that is not ours.
/// `charge_refunded_minor` is a charge's own total when Stripe sends one (charge.refunded).
pub async fn record_provider_refund(
    conn: &mut PgConnection,
    charge_id: &str,
    refund: Option<(&str, i64, &str)>,
    charge_refunded_minor: Option<i64>,
) -> sqlx::Result<Option<PaymentRefunds>> {
    let payment_id: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM payments WHERE provider_payment_charge_id = $1 ORDER BY id LIMIT 1
         FOR UPDATE",
    )
    .bind(charge_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(payment_id) = payment_id else {
        return Ok(None);
    };
    if let Some((refund_id, amount, status)) = refund {
        sqlx::query(
            "INSERT INTO provider_refunds (id, payment_id, amount_minor, status)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET amount_minor = EXCLUDED.amount_minor,
                 status = EXCLUDED.status, updated_at = now()",
        )
        .bind(refund_id)
        .bind(payment_id)
        .bind(amount)
        .bind(status)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query_as(
        "WITH total AS (
             SELECT coalesce(sum(amount_minor), 0)::int8 AS refunded FROM provider_refunds
             WHERE payment_id = $1 AND status = 'succeeded'
         ), updated AS (
             UPDATE payments p SET refunded_minor = least(p.amount_minor,
                 greatest(p.refunded_minor, total.refunded, coalesce($2, 0)))
             FROM total WHERE p.id = $1
             RETURNING p.*
         )
         SELECT u.id AS payment_id, u.reservation_id, u.payer_id, u.settles, u.amount_minor,
                u.refunded_minor, u.currency,
                (SELECT f.id FROM refunds f WHERE f.payment_id = u.id
                   AND f.status IN ('requested', 'pending')) AS open_refund_id
         FROM updated u",
    )
    .bind(payment_id)
    .bind(charge_refunded_minor)
    .fetch_optional(conn)
    .await
}

/// Marks a settling payment's reservation partially refunded; returns whether it changed.
pub async fn mark_partially_refunded(
    conn: &mut PgConnection,
    reservation_id: i64,
) -> sqlx::Result<bool> {
    let changed = sqlx::query(
        "UPDATE reservations SET payment_status = 'PARTIALLY_REFUNDED', updated_at = now()
         WHERE id = $1 AND payment_status IN ('PAID', 'REFUND_PENDING', 'REFUND_FAILED')",
    )
    .bind(reservation_id)
    .execute(conn)
    .await?;
    Ok(changed.rows_affected() == 1)
}

/// Money that needs a person: payments attached to no reservation, and refunds given up.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PaymentNeedingAttention {
    pub payment_id: i64,
    pub charge_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub payer_id: Option<i64>,
    pub payer_name: Option<String>,
    pub reservation_id: Option<i64>,
    pub refund_id: Option<i64>,
    pub refund_status: Option<String>,
    pub last_error: Option<String>,
}

pub async fn needing_attention(
    conn: &mut PgConnection,
    limit: i64,
) -> sqlx::Result<Vec<PaymentNeedingAttention>> {
    sqlx::query_as(
        "SELECT p.id AS payment_id, p.provider_payment_charge_id AS charge_id, p.amount_minor,
                p.currency, p.payer_id, u.first_name AS payer_name, p.reservation_id,
                f.id AS refund_id, f.status AS refund_status, f.last_error
         FROM payments p
         LEFT JOIN refunds f ON f.payment_id = p.id
         LEFT JOIN users u ON u.telegram_id = p.payer_id
         WHERE f.status = 'failed'
            OR (p.reservation_id IS NULL AND (f.id IS NULL OR f.status <> 'succeeded'))
         ORDER BY p.id DESC
         LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// A hold with what pre-checkout checks, locked until the transaction ends.
pub async fn hold_for_checkout(
    conn: &mut PgConnection,
    reservation_id: i64,
) -> sqlx::Result<Option<Hold>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        customer_id: i64,
        state: String,
        payment_status: String,
        hold_expires_at: Option<DateTime<Utc>>,
        checkout_approved_at: Option<DateTime<Utc>>,
        total_minor: i64,
        unit_price_minor: i64,
        currency: String,
        offer_state: String,
        offer_price_minor: i64,
        pickup_end: DateTime<Utc>,
        business_status: String,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT r.customer_id, r.state, r.payment_status, r.hold_expires_at,
                r.checkout_approved_at, r.total_minor,
                r.unit_price_minor, r.currency, o.state AS offer_state,
                o.price_minor AS offer_price_minor, o.pickup_end, b.status AS business_status
         FROM reservations r
         JOIN offers o ON o.id = r.offer_id
         JOIN businesses b ON b.id = r.business_id
         WHERE r.id = $1
         FOR UPDATE OF r",
    )
    .bind(reservation_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| Hold {
        customer_id: row.customer_id,
        state: ReservationState::parse(&row.state).unwrap_or(ReservationState::Cancelled),
        payment_status: PaymentStatus::parse(&row.payment_status).unwrap_or(PaymentStatus::None),
        hold_expires_at: row.hold_expires_at,
        checkout_approved_at: row.checkout_approved_at,
        total_minor: row.total_minor,
        unit_price_minor: row.unit_price_minor,
        currency: row.currency,
        offer_state: OfferState::parse(&row.offer_state).unwrap_or(OfferState::Expired),
        offer_price_minor: row.offer_price_minor,
        pickup_end: row.pickup_end,
        business_approved: row.business_status == "approved",
    }))
}

/// Gives a hold more time (its customer is paying right now) and notes when its checkout was
/// approved.
pub async fn extend_hold(
    conn: &mut PgConnection,
    reservation_id: i64,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE reservations SET hold_expires_at = greatest(hold_expires_at, $2),
             checkout_approved_at = $3, updated_at = now()
         WHERE id = $1 AND state = 'PENDING_PAYMENT'",
    )
    .bind(reservation_id)
    .bind(until)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a Stripe event id; false when it was handled before.
pub async fn record_event(conn: &mut PgConnection, id: &str, kind: &str) -> sqlx::Result<bool> {
    let inserted =
        sqlx::query("INSERT INTO stripe_events (id, type) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(kind)
            .execute(conn)
            .await?;
    Ok(inserted.rows_affected() == 1)
}

/// A business's payment mode.
pub async fn payment_mode(
    conn: &mut PgConnection,
    business_id: i64,
) -> sqlx::Result<crate::marketplace::payment::PaymentMode> {
    let mode: Option<String> =
        sqlx::query_scalar("SELECT payment_mode FROM businesses WHERE id = $1")
            .bind(business_id)
            .fetch_optional(conn)
            .await?;
    Ok(mode
        .as_deref()
        .and_then(crate::marketplace::payment::PaymentMode::parse)
        .unwrap_or(crate::marketplace::payment::PaymentMode::OnSite))
}

pub async fn set_payment_mode(
    conn: &mut PgConnection,
    business_id: i64,
    mode: crate::marketplace::payment::PaymentMode,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE businesses SET payment_mode = $2, updated_at = now() WHERE id = $1")
        .bind(business_id)
        .bind(mode.as_str())
        .execute(conn)
        .await?;
    Ok(())
}
