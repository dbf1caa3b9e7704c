//! Ratings: one per picked-up reservation, by its customer. The business keeps a running count
//! and sum so that every card can show the average.

use sqlx::PgConnection;

use crate::marketplace::ReservationState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateOutcome {
    Rated,
    AlreadyRated,
    /// Only a picked-up reservation can be rated.
    NotPickedUp,
    NotYours,
}

pub async fn rate(
    conn: &mut PgConnection,
    reservation_id: i64,
    customer_id: i64,
    stars: i16,
) -> sqlx::Result<RateOutcome> {
    let row: Option<(i64, String, i64)> = sqlx::query_as(
        "SELECT customer_id, state, business_id FROM reservations WHERE id = $1 FOR UPDATE",
    )
    .bind(reservation_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((owner, state, business_id)) = row else {
        return Ok(RateOutcome::NotYours);
    };
    if owner != customer_id {
        return Ok(RateOutcome::NotYours);
    }
    if ReservationState::parse(&state) != Some(ReservationState::PickedUp) {
        return Ok(RateOutcome::NotPickedUp);
    }
    let inserted = sqlx::query(
        "INSERT INTO ratings (reservation_id, business_id, customer_id, stars)
         VALUES ($1, $2, $3, $4) ON CONFLICT (reservation_id) DO NOTHING",
    )
    .bind(reservation_id)
    .bind(business_id)
    .bind(customer_id)
    .bind(stars)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(RateOutcome::AlreadyRated);
    }
    sqlx::query(
        "UPDATE businesses SET rating_count = rating_count + 1, rating_sum = rating_sum + $2
         WHERE id = $1",
    )
    .bind(business_id)
    .bind(i32::from(stars))
    .execute(conn)
    .await?;
    Ok(RateOutcome::Rated)
}

/// Adds the optional comment to a rating that has none yet; returns whether it was stored.
pub async fn add_comment(
    conn: &mut PgConnection,
    reservation_id: i64,
    customer_id: i64,
    comment: &str,
) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "UPDATE ratings SET comment = $3
         WHERE reservation_id = $1 AND customer_id = $2 AND comment IS NULL",
    )
    .bind(reservation_id)
    .bind(customer_id)
    .bind(comment)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reservations::{self, ReserveOutcome};
    use chrono::{Duration, Utc};
    use sqlx::PgPool;

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn only_a_picked_up_reservation_is_rated_and_only_once(pool: PgPool) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO users (telegram_id) VALUES (1), (100), (101)")
            .execute(&pool)
            .await?;
        let business: i64 = sqlx::query_scalar(
            "INSERT INTO businesses (owner_id, name, street, city, postal_code, latitude,
                 longitude, status)
             VALUES (1, 'Bakery Ada', 'Main Street 1', 'Berlin', '10115', 52.5, 13.4, 'approved')
             RETURNING id",
        )
        .fetch_one(&pool)
        .await?;
        sqlx::query("INSERT INTO business_members VALUES ($1, 1, 'owner')")
            .bind(business)
            .execute(&pool)
            .await?;
        let offer: i64 = sqlx::query_scalar(
            "INSERT INTO offers (business_id, category, title, description, pickup_start,
                 pickup_end, units_available, price_minor, currency, created_by)
             VALUES ($1, 'bakery', 'Surprise bag', '', now(), now() + interval '2 hours', 5,
                     400, 'EUR', 1) RETURNING id",
        )
        .bind(business)
        .fetch_one(&pool)
        .await?;
        let mut conn = pool.acquire().await?;
        let now = Utc::now() + Duration::seconds(1);
        let ReserveOutcome::Reserved { reservation_id, .. } =
            reservations::reserve(&mut conn, offer, 100, 1, 5, now).await?
        else {
            panic!("not reserved");
        };
        assert_eq!(
            rate(&mut conn, reservation_id, 100, 5).await?,
            RateOutcome::NotPickedUp
        );
        reservations::pick_up(&mut conn, reservation_id, 1, now).await?;
        assert_eq!(
            rate(&mut conn, reservation_id, 101, 5).await?,
            RateOutcome::NotYours
        );
        assert_eq!(
            rate(&mut conn, reservation_id, 100, 4).await?,
            RateOutcome::Rated
        );
        assert_eq!(
            rate(&mut conn, reservation_id, 100, 1).await?,
            RateOutcome::AlreadyRated
        );
        assert!(add_comment(&mut conn, reservation_id, 100, "Lovely bread").await?);
        assert!(!add_comment(&mut conn, reservation_id, 100, "again").await?);
        let (count, sum): (i32, i32) =
            sqlx::query_as("SELECT rating_count, rating_sum FROM businesses WHERE id = $1")
                .bind(business)
                .fetch_one(&pool)
                .await?;
        assert_eq!((count, sum), (1, 4));
        Ok(())
    }
}
