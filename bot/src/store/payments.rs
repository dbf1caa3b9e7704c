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
    pub reservation_id: i64,
    pub telegram_charge_id: &'a str,
    pub provider_charge_id: &'a str,
    pub amount_minor: i64,
    pub currency: &'a str,
}

/// Records a payment; `None` when this charge was recorded before (a redelivered update).
pub async fn record(
    conn: &mut PgConnection,
    payment: &ReceivedPayment<'_>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "INSERT INTO payments (reservation_id, telegram_payment_charge_id,
             provider_payment_charge_id, amount_minor, currency)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (telegram_payment_charge_id) DO NOTHING
         RETURNING id",
    )
    .bind(payment.reservation_id)
    .bind(payment.telegram_charge_id)
    .bind(payment.provider_charge_id)
    .bind(payment.amount_minor)
    .bind(payment.currency)
    .fetch_optional(conn)
    .await
}

/// How a recorded payment settled its reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The hold became a confirmed, paid reservation.
    Confirmed,
    /// The hold had lapsed, but units were left: taken again and confirmed.
    Revived,
    /// Nothing left to give for the money (sold out, ended, cancelled): refund requested.
    Refunding,
    /// The reservation is already paid (another payment settled it): refund requested.
    AlreadyPaid,
}

/// Settles a reservation with its payment.
pub async fn settle(
    conn: &mut PgConnection,
    reservation_id: i64,
    payer_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<Settlement> {
    let row: Option<(String, String, i64, i32)> = sqlx::query_as(
        "SELECT state, payment_status, offer_id, quantity FROM reservations
         WHERE id = $1 AND customer_id = $2 FOR UPDATE",
    )
    .bind(reservation_id)
    .bind(payer_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((state, payment_status, offer_id, quantity)) = row else {
        return Ok(Settlement::Refunding);
    };
    if payment_status == "PAID" || payment_status.starts_with("REFUND") {
        return Ok(Settlement::AlreadyPaid);
    }
    let settled = match ReservationState::parse(&state) {
        Some(ReservationState::PendingPayment) => Settlement::Confirmed,
        Some(ReservationState::Expired) if retake_units(conn, offer_id, quantity, now).await? => {
            Settlement::Revived
        }
        _ => {
            mark_paid(conn, reservation_id, None).await?;
            return Ok(Settlement::Refunding);
        }
    };
    mark_paid(conn, reservation_id, Some(ReservationState::Confirmed)).await?;
    Ok(settled)
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

/// Requests a full refund of a reservation's payment, once. Returns whether a refund was
/// requested now (false: nothing was paid, or it is refunded or being refunded already).
pub async fn request_refund(
    conn: &mut PgConnection,
    reservation_id: i64,
    reason: &str,
    requested_by: Option<i64>,
) -> sqlx::Result<bool> {
    let requested = sqlx::query(
        "WITH paid AS (
             UPDATE reservations SET payment_status = 'REFUND_PENDING', updated_at = now()
             WHERE id = $1 AND payment_status = 'PAID'
             RETURNING id
         )
         INSERT INTO refunds (payment_id, reservation_id, amount_minor, currency,
                              idempotency_key, reason, requested_by)
         SELECT p.id, p.reservation_id, p.amount_minor, p.currency,
                'tgtg-refund-' || p.id, $2, $3
         FROM payments p JOIN paid ON paid.id = p.reservation_id
         ORDER BY p.id LIMIT 1
         ON CONFLICT (payment_id) DO NOTHING",
    )
    .bind(reservation_id)
    .bind(reason)
    .bind(requested_by)
    .execute(conn)
    .await?;
    Ok(requested.rows_affected() == 1)
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
    pub reservation_id: i64,
    pub customer_id: i64,
    pub customer_language: Option<String>,
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
         SELECT c.id, c.reservation_id, r.customer_id, u.language_code AS customer_language,
                p.provider_payment_charge_id AS charge_id, c.amount_minor, c.currency,
                c.idempotency_key, c.attempts
         FROM claimed c
         JOIN payments p ON p.id = c.payment_id
         JOIN reservations r ON r.id = c.reservation_id
         JOIN users u ON u.telegram_id = r.customer_id
         ORDER BY c.id",
    )
    .bind(now)
    .bind(lease)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Stripe refunded: the refund and its reservation say so. Returns the reservation id when this
/// changed anything (a repeated confirmation does not).
pub async fn refund_succeeded(
    conn: &mut PgConnection,
    refund_id: i64,
    stripe_refund_id: Option<&str>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "WITH done AS (
             UPDATE refunds SET status = 'succeeded',
                 stripe_refund_id = coalesce($2, stripe_refund_id), last_error = NULL,
                 updated_at = now()
             WHERE id = $1 AND status IN ('requested', 'pending')
             RETURNING reservation_id
         )
         UPDATE reservations r SET payment_status = 'REFUNDED', updated_at = now()
         FROM done WHERE r.id = done.reservation_id
         RETURNING r.id",
    )
    .bind(refund_id)
    .bind(stripe_refund_id)
    .fetch_optional(conn)
    .await
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

/// The refund cannot be done: it stays visible as REFUND_FAILED for people to act on.
pub async fn refund_failed(
    conn: &mut PgConnection,
    refund_id: i64,
    error: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "WITH failed AS (
             UPDATE refunds SET status = 'failed', last_error = $2, updated_at = now()
             WHERE id = $1 AND status IN ('requested', 'pending')
             RETURNING reservation_id
         )
         UPDATE reservations r SET payment_status = 'REFUND_FAILED', updated_at = now()
         FROM failed WHERE r.id = failed.reservation_id
         RETURNING r.id",
    )
    .bind(refund_id)
    .bind(error)
    .fetch_optional(conn)
    .await
}

/// The refund a Stripe refund id or charge id belongs to.
pub async fn find_refund(
    conn: &mut PgConnection,
    stripe_refund_id: Option<&str>,
    charge_id: Option<&str>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT f.id FROM refunds f JOIN payments p ON p.id = f.payment_id
         WHERE ($1::text IS NOT NULL AND f.stripe_refund_id = $1)
            OR ($2::text IS NOT NULL AND p.provider_payment_charge_id = $2)
         ORDER BY f.id DESC LIMIT 1",
    )
    .bind(stripe_refund_id)
    .bind(charge_id)
    .fetch_optional(conn)
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
        total_minor: i64,
        unit_price_minor: i64,
        currency: String,
        offer_state: String,
        offer_price_minor: i64,
        pickup_end: DateTime<Utc>,
        business_status: String,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT r.customer_id, r.state, r.payment_status, r.hold_expires_at, r.total_minor,
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
        total_minor: row.total_minor,
        unit_price_minor: row.unit_price_minor,
        currency: row.currency,
        offer_state: OfferState::parse(&row.offer_state).unwrap_or(OfferState::Expired),
        offer_price_minor: row.offer_price_minor,
        pickup_end: row.pickup_end,
        business_approved: row.business_status == "approved",
    }))
}

/// Gives a hold more time (its customer is paying right now).
pub async fn extend_hold(
    conn: &mut PgConnection,
    reservation_id: i64,
    until: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE reservations SET hold_expires_at = greatest(hold_expires_at, $2),
             updated_at = now()
         WHERE id = $1 AND state = 'PENDING_PAYMENT'",
    )
    .bind(reservation_id)
    .bind(until)
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
