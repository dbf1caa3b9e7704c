//! Reservations. A reservation and the inventory decrement happen in one transaction under the
//! offer's row lock, and `offers.units_available` can never go below zero (CHECK constraint):
//! overselling is impossible by construction. State changes are guarded by the state the row
//! is in, so a change is applied once however often it is attempted.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::marketplace::OfferState;
use crate::marketplace::reservation::{
    self, Availability, PaymentStatus, Refusal, ReservationState,
};
use crate::marketplace::window::PickupWindow;

/// A reservation with what its messages show: the offer and where to pick it up.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Reservation {
    pub id: i64,
    pub offer_id: i64,
    pub business_id: i64,
    pub customer_id: i64,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub total_minor: i64,
    pub currency: String,
    pub pickup_code: String,
    state: String,
    payment_status: String,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub picked_up_at: Option<DateTime<Utc>>,
    pub title: String,
    pub pickup_start: DateTime<Utc>,
    pub pickup_end: DateTime<Utc>,
    pub business_name: String,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub latitude: f64,
    pub longitude: f64,
    pub customer_name: String,
    pub customer_language: Option<String>,
    pub rated: bool,
}

impl Reservation {
    pub fn state(&self) -> ReservationState {
        // The CHECK constraint allows only the four states.
        ReservationState::parse(&self.state).unwrap_or(ReservationState::Cancelled)
    }

    pub fn payment_status(&self) -> PaymentStatus {
        PaymentStatus::parse(&self.payment_status).unwrap_or(PaymentStatus::None)
    }

    pub fn window(&self) -> PickupWindow {
        PickupWindow {
            start: self.pickup_start,
            end: self.pickup_end,
        }
    }

    /// Whether the customer may still cancel: confirmed and the window has not ended.
    pub fn cancellable_at(&self, now: DateTime<Utc>) -> bool {
        self.state() == ReservationState::Confirmed && self.pickup_end > now
    }
}

const SELECT: &str = "SELECT r.id, r.offer_id, r.business_id, r.customer_id, r.quantity,
        r.unit_price_minor, r.total_minor, r.currency, r.pickup_code, r.state, r.payment_status,
        r.hold_expires_at, r.created_at,
        r.picked_up_at, o.title, o.pickup_start, o.pickup_end, b.name AS business_name, b.street,
        b.postal_code, b.city, b.latitude, b.longitude, u.first_name AS customer_name,
        u.language_code AS customer_language,
        EXISTS (SELECT 1 FROM ratings WHERE reservation_id = r.id) AS rated
    FROM reservations r
    JOIN offers o ON o.id = r.offer_id
    JOIN businesses b ON b.id = r.business_id
    JOIN users u ON u.telegram_id = r.customer_id";

#[derive(Debug, Clone, PartialEq)]
pub enum ReserveOutcome {
    Reserved {
        reservation_id: i64,
        /// The offer's state afterwards (SOLD_OUT when this took the last units).
        offer_state: OfferState,
    },
    Refused(Refusal),
    NoSuchOffer,
}

/// Reserves `quantity` units of an offer for a customer, to pay on site. Callers run it inside a
/// transaction; the offer row stays locked until that transaction ends, so concurrent attempts
/// queue and each sees the units the previous one left.
pub async fn reserve(
    conn: &mut PgConnection,
    offer_id: i64,
    customer_id: i64,
    quantity: i32,
    cap: i32,
    now: DateTime<Utc>,
) -> sqlx::Result<ReserveOutcome> {
    take_units(conn, offer_id, customer_id, quantity, cap, now, None).await
}

/// Holds units for a customer who pays in the chat: PENDING_PAYMENT until `hold_until`, then
/// EXPIRED (and the units go back) unless the payment came.
pub async fn hold(
    conn: &mut PgConnection,
    offer_id: i64,
    customer_id: i64,
    quantity: i32,
    cap: i32,
    now: DateTime<Utc>,
    hold_until: DateTime<Utc>,
) -> sqlx::Result<ReserveOutcome> {
    take_units(
        conn,
        offer_id,
        customer_id,
        quantity,
        cap,
        now,
        Some(hold_until),
    )
    .await
}

async fn take_units(
    conn: &mut PgConnection,
    offer_id: i64,
    customer_id: i64,
    quantity: i32,
    cap: i32,
    now: DateTime<Utc>,
    hold_until: Option<DateTime<Utc>>,
) -> sqlx::Result<ReserveOutcome> {
    // A conditional decrement, the whole rule in one statement: its row lock serialises
    // concurrent attempts, and PostgreSQL re-checks the conditions on the newest row version
    // after waiting, so a unit is never sold twice (and `units_available >= 0` is a CHECK).
    // The customer's own holdings are read in the same statement: one customer's updates are
    // processed in order, never concurrently, so that count is current.
    #[derive(sqlx::FromRow)]
    struct Taken {
        business_id: i64,
        price_minor: i64,
        currency: String,
        units_available: i32,
    }
    let taken: Option<Taken> = sqlx::query_as(
        "UPDATE offers o SET units_available = o.units_available - $3,
             -- OfferState::after_units_change: ACTIVE with nothing left is SOLD_OUT (in the same
             -- statement, as the table's CHECK wants).
             state = CASE WHEN o.units_available = $3 THEN 'SOLD_OUT' ELSE o.state END,
             updated_at = now()
         FROM businesses b
         WHERE o.id = $1 AND b.id = o.business_id AND b.status = 'approved'
           AND o.state = 'ACTIVE' AND o.units_available >= $3 AND o.pickup_end > $4
           AND $3 + (SELECT coalesce(sum(r.quantity), 0) FROM reservations r
                     WHERE r.offer_id = $1 AND r.customer_id = $2
                       AND r.state IN ('PENDING_PAYMENT', 'CONFIRMED', 'PICKED_UP')) <= $5
         RETURNING o.business_id, o.price_minor, o.currency, o.units_available",
    )
    .bind(offer_id)
    .bind(customer_id)
    .bind(quantity)
    .bind(now)
    .bind(cap)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(taken) = taken else {
        return refusal(conn, offer_id, customer_id, quantity, cap, now).await;
    };
    let next = OfferState::Active.after_units_change(taken.units_available);
    // A code is unique within its business; a rare collision draws again.
    loop {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO reservations (offer_id, business_id, customer_id, quantity,
                 unit_price_minor, total_minor, currency, pickup_code, state, payment_status,
                 hold_expires_at)
             VALUES ($1, $2, $3, $4, $5, $5 * $4, $6, $7,
                     CASE WHEN $8::timestamptz IS NULL THEN 'CONFIRMED' ELSE 'PENDING_PAYMENT' END,
                     CASE WHEN $8::timestamptz IS NULL THEN 'NONE' ELSE 'PENDING' END, $8)
             ON CONFLICT (business_id, pickup_code) DO NOTHING
             RETURNING id",
        )
        .bind(offer_id)
        .bind(taken.business_id)
        .bind(customer_id)
        .bind(quantity)
        .bind(taken.price_minor)
        .bind(&taken.currency)
        .bind(reservation::new_pickup_code())
        .bind(hold_until)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(reservation_id) = inserted {
            return Ok(ReserveOutcome::Reserved {
                reservation_id,
                offer_state: next,
            });
        }
    }
}

/// Why units could not be taken, from a fresh look at the offer (the refusal path only).
async fn refusal(
    conn: &mut PgConnection,
    offer_id: i64,
    customer_id: i64,
    quantity: i32,
    cap: i32,
    now: DateTime<Utc>,
) -> sqlx::Result<ReserveOutcome> {
    let current: Option<(String, i32, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT o.state, o.units_available, o.pickup_end, b.status
         FROM offers o JOIN businesses b ON b.id = o.business_id
         WHERE o.id = $1",
    )
    .bind(offer_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((state, units_available, pickup_end, status)) = current else {
        return Ok(ReserveOutcome::NoSuchOffer);
    };
    let availability = Availability {
        state: OfferState::parse(&state).unwrap_or(OfferState::Expired),
        business_approved: status == "approved",
        units_available,
        pickup_end,
        held_by_customer: held_by(conn, offer_id, customer_id).await?,
    };
    // Units that came back between the two statements do not make this attempt succeed: the
    // customer sees the deal again and may retry.
    let refusal = reservation::check(&availability, quantity, cap, now)
        .err()
        .unwrap_or(Refusal::SoldOut);
    Ok(ReserveOutcome::Refused(refusal))
}

/// Units a customer holds on an offer (confirmed or picked up).
pub async fn held_by(
    conn: &mut PgConnection,
    offer_id: i64,
    customer_id: i64,
) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(quantity), 0)::int4 FROM reservations
         WHERE offer_id = $1 AND customer_id = $2 AND state IN ('CONFIRMED', 'PICKED_UP')",
    )
    .bind(offer_id)
    .bind(customer_id)
    .fetch_one(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Reservation>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE r.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// A customer's reservations: open ones first (soonest pickup), then the latest past ones.
pub async fn list_for_customer(
    conn: &mut PgConnection,
    customer_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<Reservation>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE r.customer_id = $1
         ORDER BY (r.state <> 'CONFIRMED'), 
                  CASE WHEN r.state = 'CONFIRMED' THEN o.pickup_end END,
                  r.created_at DESC
         LIMIT $2"
    )))
    .bind(customer_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// An offer's reservations, confirmed ones first, for its business.
pub async fn list_for_offer(
    conn: &mut PgConnection,
    offer_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<Reservation>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE r.offer_id = $1
         ORDER BY (r.state <> 'CONFIRMED'), r.created_at
         LIMIT $2"
    )))
    .bind(offer_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    /// Cancelled; the units went back and the offer is now in this state. A paid reservation
    /// has its refund requested.
    Cancelled {
        offer_state: OfferState,
        refund_requested: bool,
    },
    NotYours,
    /// Picked up, cancelled or a no-show already.
    NotConfirmed(ReservationState),
    WindowEnded,
}

/// Cancels a customer's reservation and returns its units to the offer (reviving a SOLD_OUT
/// offer while its window is open).
pub async fn cancel(
    conn: &mut PgConnection,
    reservation_id: i64,
    customer_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<CancelOutcome> {
    let row: Option<(i64, i64, i32, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT r.customer_id, r.offer_id, r.quantity, r.state, o.pickup_end
         FROM reservations r JOIN offers o ON o.id = r.offer_id
         WHERE r.id = $1 FOR UPDATE OF r",
    )
    .bind(reservation_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((owner, offer_id, quantity, state, pickup_end)) = row else {
        return Ok(CancelOutcome::NotYours);
    };
    if owner != customer_id {
        return Ok(CancelOutcome::NotYours);
    }
    let state = ReservationState::parse(&state).unwrap_or(ReservationState::Cancelled);
    if state != ReservationState::Confirmed {
        return Ok(CancelOutcome::NotConfirmed(state));
    }
    if pickup_end <= now {
        return Ok(CancelOutcome::WindowEnded);
    }
    sqlx::query(
        "UPDATE reservations SET state = 'CANCELLED', cancelled_at = $2, updated_at = now()
         WHERE id = $1",
    )
    .bind(reservation_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let offer_state = return_units(conn, offer_id, quantity).await?;
    let refund_requested = crate::store::payments::request_refund(
        conn,
        reservation_id,
        "cancelled",
        Some(customer_id),
    )
    .await?;
    Ok(CancelOutcome::Cancelled {
        offer_state,
        refund_requested,
    })
}

/// Reservations of an offer that still count on its pickup window: confirmed ones and holds
/// waiting for their payment.
pub async fn live_count(conn: &mut PgConnection, offer_id: i64) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE payment_status = 'PAID')
         FROM reservations WHERE offer_id = $1 AND state IN ('CONFIRMED', 'PENDING_PAYMENT')",
    )
    .bind(offer_id)
    .fetch_one(conn)
    .await
}

/// Cancels every live reservation of an offer its business ended early and requests a refund
/// of each paid one. Returns the cancelled reservations and whether each is being refunded.
pub async fn cancel_for_ended_offer(
    conn: &mut PgConnection,
    offer_id: i64,
    ended_by: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<(Reservation, bool)>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "UPDATE reservations SET state = 'CANCELLED', cancelled_at = $2,
             payment_status = CASE WHEN payment_status = 'PENDING' THEN 'NONE'
                                   ELSE payment_status END,
             updated_at = now()
         WHERE offer_id = $1 AND state IN ('CONFIRMED', 'PENDING_PAYMENT')
         RETURNING id",
    )
    .bind(offer_id)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let mut cancelled = Vec::with_capacity(ids.len());
    for id in ids {
        let refunded =
            crate::store::payments::request_refund(conn, id, "offer ended early", Some(ended_by))
                .await?;
        if let Some(reservation) = get(conn, id).await? {
            cancelled.push((reservation, refunded));
        }
    }
    Ok(cancelled)
}

/// Puts units back on an offer; its state follows the state machine.
pub async fn return_units(
    conn: &mut PgConnection,
    offer_id: i64,
    quantity: i32,
) -> sqlx::Result<OfferState> {
    let (state, units): (String, i32) =
        sqlx::query_as("SELECT state, units_available FROM offers WHERE id = $1 FOR UPDATE")
            .bind(offer_id)
            .fetch_one(&mut *conn)
            .await?;
    let state = OfferState::parse(&state).unwrap_or(OfferState::Expired);
    if state.is_final() {
        // An ended offer does not get its units back: nobody can reserve them anyway.
        return Ok(state);
    }
    let units = units + quantity;
    let next = state.after_units_change(units);
    sqlx::query(
        "UPDATE offers SET units_available = $2, state = $3, updated_at = now() WHERE id = $1",
    )
    .bind(offer_id)
    .bind(units)
    .bind(next.as_str())
    .execute(&mut *conn)
    .await?;
    if next != state {
        // Every state change of an offer is audited; this one has no person behind it.
        crate::store::audit::record(
            conn,
            &crate::store::audit::AuditEvent {
                actor_id: None,
                action: "offer.units_returned",
                entity_type: "offer",
                entity_id: Some(offer_id.to_string()),
                before: Some(serde_json::json!({ "state": state.as_str() })),
                after: Some(serde_json::json!({ "state": next.as_str(), "units": units })),
            },
        )
        .await?;
    }
    Ok(next)
}

#[derive(Debug, Clone, PartialEq)]
pub enum PickupOutcome {
    PickedUp(Box<Reservation>),
    /// No reservation of the member's businesses has this code.
    Unknown,
    AlreadyPickedUp(Box<Reservation>),
    NotConfirmed(Box<Reservation>),
}

/// The reservation (id and business) with this pickup code among the businesses `member_id`
/// acts for: codes are unique within a business only, and another business's code is unknown.
pub async fn find_by_code_for_member(
    conn: &mut PgConnection,
    code: &str,
    member_id: i64,
) -> sqlx::Result<Option<(i64, i64)>> {
    sqlx::query_as(
        "SELECT r.id, r.business_id FROM reservations r
         JOIN business_members m ON m.business_id = r.business_id AND m.user_id = $2
         WHERE r.pickup_code = $1
         ORDER BY r.created_at DESC LIMIT 1",
    )
    .bind(code)
    .bind(member_id)
    .fetch_optional(conn)
    .await
}

/// Confirms a pickup of a reservation by id. The caller has checked that `member_id` may
/// confirm pickups for its business (`handlers::business::access`); by code, the lookup above
/// finds only reservations of the member's own businesses.
pub async fn pick_up(
    conn: &mut PgConnection,
    reservation_id: i64,
    member_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<PickupOutcome> {
    let updated = sqlx::query(
        "UPDATE reservations r SET state = 'PICKED_UP', picked_up_at = $3, picked_up_by = $2,
             updated_at = now()
         WHERE r.id = $1 AND r.state = 'CONFIRMED'",
    )
    .bind(reservation_id)
    .bind(member_id)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let member: Option<Reservation> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE r.id = $1")))
            .bind(reservation_id)
            .fetch_optional(conn)
            .await?;
    let Some(reservation) = member else {
        return Ok(PickupOutcome::Unknown);
    };
    let reservation = Box::new(reservation);
    Ok(if updated == 1 {
        PickupOutcome::PickedUp(reservation)
    } else if reservation.state() == ReservationState::PickedUp {
        PickupOutcome::AlreadyPickedUp(reservation)
    } else {
        PickupOutcome::NotConfirmed(reservation)
    })
}

/// The reservations a background job acts on, one kind at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Holds whose payment did not come in time: EXPIRED, units back.
    LapsedHold,
    /// Confirmed reservations whose pickup window opened: the customer is reminded once.
    Reminder,
    /// Confirmed reservations whose pickup window ended: NO_SHOW, units stay consumed.
    NoShow,
}

/// Claims up to `limit` reservations due for `due` at `now`, locked until the transaction ends.
/// Rows another runner holds are skipped, so concurrent runners never share one.
pub async fn claim_due(
    conn: &mut PgConnection,
    due: Due,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<i64>> {
    let sql = match due {
        Due::LapsedHold => {
            "SELECT id FROM reservations
             WHERE state = 'PENDING_PAYMENT' AND hold_expires_at <= $1
             ORDER BY hold_expires_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED"
        }
        Due::Reminder => {
            "SELECT r.id FROM reservations r JOIN offers o ON o.id = r.offer_id
             WHERE r.state = 'CONFIRMED' AND r.reminded_at IS NULL
               AND o.pickup_start <= $1 AND o.pickup_end > $1
             ORDER BY r.id
             LIMIT $2
             FOR UPDATE OF r SKIP LOCKED"
        }
        Due::NoShow => {
            "SELECT r.id FROM reservations r JOIN offers o ON o.id = r.offer_id
             WHERE r.state = 'CONFIRMED' AND o.pickup_end <= $1
             ORDER BY r.id
             LIMIT $2
             FOR UPDATE OF r SKIP LOCKED"
        }
    };
    sqlx::query_scalar(sql)
        .bind(now)
        .bind(limit)
        .fetch_all(conn)
        .await
}

/// Applies `due` to one claimed reservation; `None` when it is no longer due (another runner
/// or the customer got there first).
pub async fn apply_due(
    conn: &mut PgConnection,
    due: Due,
    reservation_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Reservation>> {
    let changed: Option<(i64, i32)> = match due {
        Due::LapsedHold => {
            sqlx::query_as(
                "UPDATE reservations SET state = 'EXPIRED', payment_status = 'NONE',
                     updated_at = now()
                 WHERE id = $1 AND state = 'PENDING_PAYMENT' AND hold_expires_at <= $2
                 RETURNING offer_id, quantity",
            )
            .bind(reservation_id)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?
        }
        Due::Reminder => {
            sqlx::query_as(
                "UPDATE reservations SET reminded_at = $2
                 WHERE id = $1 AND state = 'CONFIRMED' AND reminded_at IS NULL
                 RETURNING offer_id, quantity",
            )
            .bind(reservation_id)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?
        }
        Due::NoShow => {
            sqlx::query_as(
                "UPDATE reservations SET state = 'NO_SHOW', updated_at = now()
                 WHERE id = $1 AND state = 'CONFIRMED'
                 RETURNING offer_id, quantity",
            )
            .bind(reservation_id)
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    let Some((offer_id, quantity)) = changed else {
        return Ok(None);
    };
    if due == Due::LapsedHold {
        return_units(conn, offer_id, quantity).await?;
    }
    get(conn, reservation_id).await
}

/// Claims and applies `due` to up to `limit` reservations in one go.
async fn apply_all_due(
    conn: &mut PgConnection,
    due: Due,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<Reservation>> {
    let mut applied = Vec::new();
    for id in claim_due(conn, due, now, limit).await? {
        applied.extend(apply_due(conn, due, id, now).await?);
    }
    Ok(applied)
}

/// Confirmed reservations whose pickup window opened by `now` and whose customer was not
/// reminded yet; marks them reminded. Rows another runner holds are skipped.
pub async fn take_due_reminders(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<Reservation>> {
    apply_all_due(conn, Due::Reminder, now, limit).await
}

/// Confirmed reservations whose pickup window ended by `now` become NO_SHOW (their units stay
/// consumed). Rows another runner holds are skipped.
pub async fn mark_no_shows(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<Reservation>> {
    apply_all_due(conn, Due::NoShow, now, limit).await
}

/// Holds whose payment did not come by `now` become EXPIRED and their units go back. Rows
/// another runner holds are skipped.
pub async fn expire_holds(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<Reservation>> {
    apply_all_due(conn, Due::LapsedHold, now, limit).await
}

/// Ends a hold at once, as EXPIRED (it lapsed) or CANCELLED (its checkout was refused); its
/// units go back. Returns whether it was still a hold.
pub async fn release_hold(
    conn: &mut PgConnection,
    reservation_id: i64,
    to: ReservationState,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let released: Option<(i64, i32)> = sqlx::query_as(
        "UPDATE reservations SET state = $3, payment_status = 'NONE',
             cancelled_at = CASE WHEN $3 = 'CANCELLED' THEN $2 END, updated_at = now()
         WHERE id = $1 AND state = 'PENDING_PAYMENT'
         RETURNING offer_id, quantity",
    )
    .bind(reservation_id)
    .bind(now)
    .bind(to.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    match released {
        Some((offer_id, quantity)) => {
            return_units(conn, offer_id, quantity).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// What happened to an offer's units: reserved in all (still confirmed or picked up) and
/// picked up, for the business's summary when the offer ends.
pub async fn tally(conn: &mut PgConnection, offer_id: i64) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT coalesce(sum(quantity) FILTER (WHERE state IN ('CONFIRMED', 'PICKED_UP', 'NO_SHOW')), 0)::int8,
                coalesce(sum(quantity) FILTER (WHERE state = 'PICKED_UP'), 0)::int8
         FROM reservations WHERE offer_id = $1",
    )
    .bind(offer_id)
    .fetch_one(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use sqlx::PgPool;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    const CAP: i32 = 5;

    /// A business (owner 1, staff 2) with one offer of `units`; customers 100.. exist.
    async fn seed(pool: &PgPool, units: i32, customers: i64) -> sqlx::Result<i64> {
        sqlx::query(
            "INSERT INTO users (telegram_id, first_name) SELECT id, 'User ' || id
             FROM generate_series(1, 2) id UNION ALL
             SELECT id, 'Customer ' || id FROM generate_series(100, 99 + $1::int8) id",
        )
        .bind(customers)
        .execute(pool)
        .await?;
        let business: i64 = sqlx::query_scalar(
            "INSERT INTO businesses (owner_id, name, street, city, postal_code, latitude,
                 longitude, status)
             VALUES (1, 'Bakery Ada', 'Main Street 1', 'Berlin', '10115', 52.5, 13.4, 'approved')
             RETURNING id",
        )
        .fetch_one(pool)
        .await?;
        sqlx::query(
            "INSERT INTO business_members (business_id, user_id, role)
             VALUES ($1, 1, 'owner'), ($1, 2, 'staff')",
        )
        .bind(business)
        .execute(pool)
        .await?;
        let now = Utc::now();
        sqlx::query_scalar(
            "INSERT INTO offers (business_id, category, title, description, pickup_start,
                 pickup_end, units_available, price_minor, currency, created_by)
             VALUES ($1, 'bakery', 'Surprise bag', '', $2, $3, $4, 450, 'EUR', 1) RETURNING id",
        )
        .bind(business)
        .bind(now + Duration::hours(1))
        .bind(now + Duration::hours(3))
        .bind(units)
        .fetch_one(pool)
        .await
    }

    async fn offer_units(pool: &PgPool, offer: i64) -> sqlx::Result<(String, i32)> {
        sqlx::query_as("SELECT state, units_available FROM offers WHERE id = $1")
            .bind(offer)
            .fetch_one(pool)
            .await
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn two_hundred_concurrent_attempts_sell_exactly_the_ten_units(
        _options: PgPoolOptions,
        connect: PgConnectOptions,
    ) -> sqlx::Result<()> {
        // Its own pool: the test harness's shared pool is smaller than 50.
        let pool = PgPoolOptions::new()
            .max_connections(50)
            .connect_with(connect)
            .await?;
        let offer = seed(&pool, 10, 200).await?;
        let attempts = (0..200_i64).map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let quantity: i32 = if i % 3 == 0 { 2 } else { 1 };
                let mut tx = pool.begin().await?;
                let outcome = reserve(&mut tx, offer, 100 + i, quantity, CAP, Utc::now()).await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>((quantity, outcome))
            })
        });
        let mut sold = 0;
        let mut refused = 0;
        for attempt in futures::future::join_all(attempts).await {
            let (quantity, outcome) =
                attempt.map_err(|e| sqlx::Error::Protocol(e.to_string()))??;
            match outcome {
                ReserveOutcome::Reserved { .. } => sold += quantity,
                ReserveOutcome::Refused(Refusal::SoldOut | Refusal::OnlyLeft(1)) => refused += 1,
                other => panic!("unexpected outcome {other:?}"),
            }
        }
        assert_eq!(sold, 10, "exactly the ten units are sold");
        assert!(refused >= 190 - 10, "{refused} refusals");
        assert_eq!(offer_units(&pool, offer).await?, ("SOLD_OUT".to_owned(), 0));
        let (rows, units, money): (i64, i64, i64) = sqlx::query_as(
            "SELECT count(*), sum(quantity)::int8, sum(total_minor)::int8 FROM reservations
             WHERE offer_id = $1",
        )
        .bind(offer)
        .fetch_one(&pool)
        .await?;
        assert_eq!(units, 10);
        assert_eq!(money, 10 * 450, "totals add up");
        assert!((5..=10).contains(&rows), "{rows} reservations");
        let codes: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT pickup_code) FROM reservations WHERE offer_id = $1",
        )
        .bind(offer)
        .fetch_one(&pool)
        .await?;
        assert_eq!(codes, rows, "every reservation has its own code");
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn a_customer_cannot_hold_more_than_the_cap(pool: PgPool) -> sqlx::Result<()> {
        let offer = seed(&pool, 10, 1).await?;
        let mut conn = pool.acquire().await?;
        let now = Utc::now();
        assert!(matches!(
            reserve(&mut conn, offer, 100, 4, CAP, now).await?,
            ReserveOutcome::Reserved {
                offer_state: OfferState::Active,
                ..
            }
        ));
        assert_eq!(
            reserve(&mut conn, offer, 100, 2, CAP, now).await?,
            ReserveOutcome::Refused(Refusal::CapReached { cap: CAP, held: 4 })
        );
        assert_eq!(
            offer_units(&pool, offer).await?.1,
            6,
            "a refusal takes nothing"
        );
        assert_eq!(
            reserve(&mut conn, 999, 100, 1, CAP, now).await?,
            ReserveOutcome::NoSuchOffer
        );
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn cancelling_returns_units_and_revives_a_sold_out_offer(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let offer = seed(&pool, 2, 2).await?;
        let mut conn = pool.acquire().await?;
        let now = Utc::now();
        let ReserveOutcome::Reserved {
            reservation_id,
            offer_state,
        } = reserve(&mut conn, offer, 100, 2, CAP, now).await?
        else {
            panic!("not reserved");
        };
        assert_eq!(offer_state, OfferState::SoldOut);
        assert_eq!(
            cancel(&mut conn, reservation_id, 101, now).await?,
            CancelOutcome::NotYours
        );
        assert_eq!(
            cancel(&mut conn, reservation_id, 100, now).await?,
            CancelOutcome::Cancelled {
                offer_state: OfferState::Active,
                refund_requested: false
            }
        );
        assert_eq!(offer_units(&pool, offer).await?, ("ACTIVE".to_owned(), 2));
        let revival: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_events WHERE action = 'offer.units_returned'
               AND after->>'state' = 'ACTIVE'",
        )
        .fetch_one(&pool)
        .await?;
        assert_eq!(revival, 1, "the revival is audited");
        assert_eq!(
            cancel(&mut conn, reservation_id, 100, now).await?,
            CancelOutcome::NotConfirmed(ReservationState::Cancelled),
            "cancelled once"
        );
        assert_eq!(offer_units(&pool, offer).await?.1, 2, "units returned once");
        Ok(())
    }

    /// A pickup by code as the handler does it (after its permission check).
    async fn pick_up_by_code(
        conn: &mut PgConnection,
        code: &str,
        member_id: i64,
        now: DateTime<Utc>,
    ) -> sqlx::Result<PickupOutcome> {
        match find_by_code_for_member(conn, code, member_id).await? {
            Some((id, _)) => pick_up(conn, id, member_id, now).await,
            None => Ok(PickupOutcome::Unknown),
        }
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn pickup_codes_work_for_the_business_only_and_once(pool: PgPool) -> sqlx::Result<()> {
        let offer = seed(&pool, 5, 1).await?;
        sqlx::query("INSERT INTO users (telegram_id) VALUES (3)")
            .execute(&pool)
            .await?;
        let mut conn = pool.acquire().await?;
        let now = Utc::now();
        let ReserveOutcome::Reserved { reservation_id, .. } =
            reserve(&mut conn, offer, 100, 1, CAP, now).await?
        else {
            panic!("not reserved");
        };
        let code: String = sqlx::query_scalar("SELECT pickup_code FROM reservations WHERE id = $1")
            .bind(reservation_id)
            .fetch_one(&pool)
            .await?;
        assert_eq!(
            pick_up_by_code(&mut conn, &code, 3, now).await?,
            PickupOutcome::Unknown,
            "not a member"
        );
        assert_eq!(
            pick_up_by_code(&mut conn, "ZZZZ22", 2, now).await?,
            PickupOutcome::Unknown
        );
        let PickupOutcome::PickedUp(picked) = pick_up_by_code(&mut conn, &code, 2, now).await?
        else {
            panic!("staff can confirm a pickup");
        };
        assert_eq!(picked.state(), ReservationState::PickedUp);
        assert!(matches!(
            pick_up_by_code(&mut conn, &code, 1, now).await?,
            PickupOutcome::AlreadyPickedUp(_)
        ));
        assert_eq!(tally(&mut conn, offer).await?, (1, 1));
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn reminders_go_once_when_the_window_opens_and_no_shows_follow_its_end(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let offer = seed(&pool, 5, 2).await?;
        let mut conn = pool.acquire().await?;
        let now = Utc::now();
        reserve(&mut conn, offer, 100, 1, CAP, now).await?;
        reserve(&mut conn, offer, 101, 1, CAP, now).await?;
        assert!(
            take_due_reminders(&mut conn, now, 10).await?.is_empty(),
            "window not open yet"
        );
        let opened = now + Duration::hours(1) + Duration::minutes(1);
        assert_eq!(take_due_reminders(&mut conn, opened, 10).await?.len(), 2);
        assert!(
            take_due_reminders(&mut conn, opened, 10).await?.is_empty(),
            "once"
        );

        assert!(mark_no_shows(&mut conn, opened, 10).await?.is_empty());
        let ended = now + Duration::hours(3);
        let no_shows = mark_no_shows(&mut conn, ended, 10).await?;
        assert_eq!(no_shows.len(), 2);
        assert!(
            no_shows
                .iter()
                .all(|r| r.state() == ReservationState::NoShow)
        );
        assert_eq!(
            offer_units(&pool, offer).await?.1,
            3,
            "no-show units stay consumed"
        );
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn the_database_refuses_to_reopen_a_finished_reservation(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let offer = seed(&pool, 5, 1).await?;
        let mut conn = pool.acquire().await?;
        reserve(&mut conn, offer, 100, 1, CAP, Utc::now()).await?;
        sqlx::query("UPDATE reservations SET state = 'CANCELLED'")
            .execute(&pool)
            .await?;
        let reopened = sqlx::query("UPDATE reservations SET state = 'CONFIRMED'")
            .execute(&pool)
            .await;
        assert!(reopened.is_err(), "CANCELLED is final");
        let oversold = sqlx::query("UPDATE offers SET units_available = -1")
            .execute(&pool)
            .await;
        assert!(oversold.is_err(), "units never go below zero");
        Ok(())
    }
}
