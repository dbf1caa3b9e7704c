//! Offers (deals) and their life cycle. State changes go through [`change_state`], which asks
//! the state machine first and then updates only if the offer is still in the state the caller
//! saw.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::marketplace::card::{OfferCard, Rating};
use crate::marketplace::geo::Point;
use crate::marketplace::window::PickupWindow;
use crate::marketplace::{Category, OfferState, TransitionError};

/// An offer with the business facts its card shows.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Offer {
    pub id: i64,
    pub business_id: i64,
    pub business_name: String,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub business_status: String,
    pub latitude: f64,
    pub longitude: f64,
    pub rating_count: i32,
    pub rating_sum: i32,
    category: String,
    pub title: String,
    pub description: String,
    pub photo_file_id: Option<String>,
    pub pickup_start: DateTime<Utc>,
    pub pickup_end: DateTime<Utc>,
    pub units_available: i32,
    pub price_minor: i64,
    pub original_minor: Option<i64>,
    pub currency: String,
    state: String,
}

impl Offer {
    pub fn state(&self) -> OfferState {
        // The CHECK constraint allows only the five states.
        OfferState::parse(&self.state).unwrap_or(OfferState::Expired)
    }

    pub fn category(&self) -> Category {
        Category::parse(&self.category).unwrap_or(Category::Other)
    }

    pub fn window(&self) -> PickupWindow {
        PickupWindow {
            start: self.pickup_start,
            end: self.pickup_end,
        }
    }

    pub fn location(&self) -> Point {
        Point {
            latitude: self.latitude,
            longitude: self.longitude,
        }
    }

    /// The business's average rating and how many ratings it has, once it has any.
    pub fn rating(&self) -> Option<Rating> {
        (self.rating_count > 0).then(|| Rating {
            average: f64::from(self.rating_sum) / f64::from(self.rating_count),
            count: self.rating_count,
        })
    }

    pub fn card(&self) -> OfferCard<'_> {
        OfferCard {
            business_name: &self.business_name,
            street: &self.street,
            postal_code: &self.postal_code,
            city: &self.city,
            category: self.category(),
            title: &self.title,
            description: &self.description,
            window: self.window(),
            units_available: self.units_available,
            price_minor: self.price_minor,
            original_minor: self.original_minor,
            currency: &self.currency,
            state: Some(self.state()),
            rating: self.rating(),
        }
    }
}

/// The columns of [`Offer`], for queries that join `offers o` and `businesses b`.
macro_rules! offer_columns {
    () => {
        "o.id, o.business_id, b.name AS business_name, b.street, b.postal_code, b.city,
         b.status AS business_status, b.latitude, b.longitude, b.rating_count, b.rating_sum,
         o.category, o.title, o.description, o.photo_file_id, o.pickup_start, o.pickup_end,
         o.units_available, o.price_minor, o.original_minor, o.currency, o.state"
    };
}
pub const COLUMNS: &str = offer_columns!();

const SELECT: &str = concat!(
    "SELECT ",
    offer_columns!(),
    " FROM offers o JOIN businesses b ON b.id = o.business_id"
);

#[derive(Debug, Clone, PartialEq)]
pub struct NewOffer {
    pub business_id: i64,
    pub category: Category,
    pub title: String,
    pub description: String,
    pub photo_file_id: Option<String>,
    pub window: PickupWindow,
    pub units: i32,
    pub price_minor: i64,
    pub original_minor: Option<i64>,
    pub currency: String,
    pub created_by: i64,
}

/// Publishes an offer (ACTIVE).
pub async fn insert(conn: &mut PgConnection, new: &NewOffer) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO offers (business_id, category, title, description, photo_file_id,
             pickup_start, pickup_end, units_available, price_minor, original_minor, currency,
             state, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'ACTIVE', $12)
         RETURNING id",
    )
    .bind(new.business_id)
    .bind(new.category.as_str())
    .bind(&new.title)
    .bind(&new.description)
    .bind(&new.photo_file_id)
    .bind(new.window.start)
    .bind(new.window.end)
    .bind(new.units)
    .bind(new.price_minor)
    .bind(new.original_minor)
    .bind(&new.currency)
    .bind(new.created_by)
    .fetch_one(conn)
    .await
}

/// Any offer by id (what customers may see is decided by the caller).
pub async fn get(conn: &mut PgConnection, offer_id: i64) -> sqlx::Result<Option<Offer>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE o.id = $1")))
        .bind(offer_id)
        .fetch_optional(conn)
        .await
}

/// The offer, locked for the update: a button's permission is checked on its business
/// (`handlers::business::access`) before anything changes.
pub async fn get_for_update(conn: &mut PgConnection, offer_id: i64) -> sqlx::Result<Option<Offer>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE o.id = $1 FOR UPDATE OF o"
    )))
    .bind(offer_id)
    .fetch_optional(conn)
    .await
}

/// The offers of every business `user_id` acts for: open ones first, then the latest ended.
pub async fn list_for_member(
    conn: &mut PgConnection,
    user_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<Offer>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} JOIN business_members m ON m.business_id = o.business_id AND m.user_id = $1
         ORDER BY (o.state IN ('EXPIRED', 'EXPIRED_EARLY')), o.pickup_end DESC, o.id DESC
         LIMIT $2"
    )))
    .bind(user_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChange {
    Applied,
    /// The state machine does not allow it.
    Forbidden(TransitionError),
    /// The offer is no longer in the state the caller saw.
    Stale,
}

pub async fn change_state(
    conn: &mut PgConnection,
    offer_id: i64,
    from: OfferState,
    to: OfferState,
) -> sqlx::Result<StateChange> {
    if let Err(forbidden) = from.transition(to) {
        return Ok(StateChange::Forbidden(forbidden));
    }
    let ended = to.is_final();
    let result = sqlx::query(
        "UPDATE offers SET state = $3, updated_at = now(),
             ended_at = CASE WHEN $4 THEN now() ELSE ended_at END
         WHERE id = $1 AND state = $2",
    )
    .bind(offer_id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(ended)
    .execute(conn)
    .await?;
    Ok(if result.rows_affected() == 1 {
        StateChange::Applied
    } else {
        StateChange::Stale
    })
}

/// Sets the units still available; the state follows (ACTIVE <-> SOLD_OUT). Reservations are
/// not touched. Returns the new state.
pub async fn set_units(
    conn: &mut PgConnection,
    offer: &Offer,
    units: i32,
) -> sqlx::Result<OfferState> {
    let next = offer.state().after_units_change(units);
    sqlx::query(
        "UPDATE offers SET units_available = $2, state = $3, updated_at = now() WHERE id = $1",
    )
    .bind(offer.id)
    .bind(units)
    .bind(next.as_str())
    .execute(conn)
    .await?;
    Ok(next)
}

pub async fn set_price(
    conn: &mut PgConnection,
    offer_id: i64,
    price_minor: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE offers SET price_minor = $2, updated_at = now() WHERE id = $1")
        .bind(offer_id)
        .bind(price_minor)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_description(
    conn: &mut PgConnection,
    offer_id: i64,
    description: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE offers SET description = $2, updated_at = now() WHERE id = $1")
        .bind(offer_id)
        .bind(description)
        .execute(conn)
        .await?;
    Ok(())
}

/// What became of a pickup window change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowChange {
    Applied,
    /// Customers reserved for the current window: it may only widen (start no later, end no
    /// earlier), never move away from them or shrink.
    Locked {
        live: i64,
    },
}

/// Changes an offer's pickup window, unless that would move it under customers who reserved
/// for the current one.
pub async fn change_window(
    conn: &mut PgConnection,
    offer: &Offer,
    window: PickupWindow,
) -> sqlx::Result<WindowChange> {
    let (live, _) = crate::store::reservations::live_count(conn, offer.id).await?;
    if live > 0 && !window.contains(&offer.window()) {
        return Ok(WindowChange::Locked { live });
    }
    sqlx::query(
        "UPDATE offers SET pickup_start = $2, pickup_end = $3, updated_at = now() WHERE id = $1",
    )
    .bind(offer.id)
    .bind(window.start)
    .bind(window.end)
    .execute(conn)
    .await?;
    Ok(WindowChange::Applied)
}

/// The unit prices of a business's offers that are still open.
pub async fn live_prices(conn: &mut PgConnection, business_id: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT price_minor FROM offers
         WHERE business_id = $1 AND state IN ('ACTIVE', 'PAUSED', 'SOLD_OUT')",
    )
    .bind(business_id)
    .fetch_all(conn)
    .await
}

/// Pauses a suspended business's ACTIVE offers; returns their ids.
pub async fn pause_all_active(conn: &mut PgConnection, business_id: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "UPDATE offers SET state = 'PAUSED', updated_at = now()
         WHERE business_id = $1 AND state = 'ACTIVE' RETURNING id",
    )
    .bind(business_id)
    .fetch_all(conn)
    .await
}

/// An offer the expiry job ended, with what its owner is told.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Expired {
    pub id: i64,
    pub title: String,
    pub units_available: i32,
    pub owner_id: i64,
    pub owner_language: Option<String>,
    pub previous_state: String,
}

/// Expires open offers whose pickup window ended by `now`, at most `limit` at a time. Rows
/// another runner holds are skipped (`SKIP LOCKED`), so concurrent runners never expire an
/// offer twice.
pub async fn expire_due(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<Expired>> {
    sqlx::query_as(
        "WITH due AS (
             SELECT id, state FROM offers
             WHERE state IN ('ACTIVE', 'PAUSED', 'SOLD_OUT') AND pickup_end <= $1
             ORDER BY pickup_end
             LIMIT $2
             FOR UPDATE SKIP LOCKED
         )
         UPDATE offers o SET state = 'EXPIRED', ended_at = $1, updated_at = now()
         FROM due, businesses b, users u
         WHERE o.id = due.id AND b.id = o.business_id AND u.telegram_id = b.owner_id
         RETURNING o.id, o.title, o.units_available, b.owner_id,
                   u.language_code AS owner_language, due.state AS previous_state",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await
}
