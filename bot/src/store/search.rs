//! What customers can reserve: ACTIVE offers of approved businesses with units left and an
//! unexpired window, ranked by distance (when the customer's location is known), then by the
//! end of the pickup window.
//!
//! Nearby narrows businesses with a bounding box on the indexed latitude/longitude first,
//! computes the exact distance only for those and reaches their offers through
//! `offers_reservable_by_business`: no full scan. All deals and Ending soon read the ACTIVE
//! offers through `offers_active_by_end`.

use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, PgConnection};

use crate::marketplace::geo::{self, Point};
use crate::store::offers::{self, Offer};

/// The browse filters. The discriminant travels in callback data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Nearby,
    All,
    EndingSoon,
}

/// "Ending soon" means the pickup window closes within this span.
pub const ENDING_SOON: Duration = Duration::hours(2);

impl Filter {
    pub const ALL: [Self; 3] = [Self::Nearby, Self::All, Self::EndingSoon];

    pub fn code(self) -> i64 {
        match self {
            Self::Nearby => 0,
            Self::All => 1,
            Self::EndingSoon => 2,
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }
}

/// One search hit.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Listing {
    #[sqlx(flatten)]
    pub offer: Offer,
    pub distance_km: Option<f64>,
    /// How many offers match in all (every row carries it).
    pub total: i64,
}

/// Where and how far to look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Query {
    pub filter: Filter,
    pub origin: Option<Point>,
    pub radius_km: f64,
    pub now: DateTime<Utc>,
}

/// Great-circle distance from ($1, $2) to the business, in SQL (haversine, as geo::distance_km).
const DISTANCE: &str = "2 * 6371.0088 * asin(least(1, sqrt(
        power(sin(radians(b.latitude - $1) / 2), 2)
        + cos(radians($1)) * cos(radians(b.latitude))
          * power(sin(radians(b.longitude - $2) / 2), 2))))";

/// A page of results, `limit` hits from `offset`.
pub async fn page(
    conn: &mut PgConnection,
    query: &Query,
    offset: i64,
    limit: i64,
) -> sqlx::Result<Vec<Listing>> {
    // Nearby without a location has nothing to measure from: the caller asks for one.
    let Some(sql) = sql(query) else {
        return Ok(Vec::new());
    };
    sqlx::query_as_with::<_, Listing, _>(sqlx::AssertSqlSafe(sql), arguments(query, offset, limit)?)
        .fetch_all(conn)
        .await
}

/// PostgreSQL's plan for [`page`] with the same parameters, executed (`EXPLAIN ANALYZE`), one
/// line per element; empty when [`page`] would not query. For benchmarks and diagnosis.
pub async fn explain(
    conn: &mut PgConnection,
    query: &Query,
    offset: i64,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    let Some(sql) = sql(query) else {
        return Ok(Vec::new());
    };
    sqlx::query_scalar_with::<_, String, _>(
        sqlx::AssertSqlSafe(format!("EXPLAIN (ANALYZE, BUFFERS) {sql}")),
        arguments(query, offset, limit)?,
    )
    .fetch_all(conn)
    .await
}

/// The statement behind a search; `None` for Nearby without an origin.
fn sql(query: &Query) -> Option<String> {
    let columns = offers::COLUMNS;
    // $1/$2 origin, $3 now, $4 limit, $5 offset, $6..$10 radius and box (Nearby only),
    // $6 ending-soon horizon.
    let reservable = "o.state = 'ACTIVE' AND o.units_available > 0 AND o.pickup_end > $3
                      AND b.status = 'approved'";
    Some(match (query.filter, query.origin) {
        // `businesses` appears once: joined a second time (for the card's columns) the planner
        // hashed the whole table.
        (Filter::Nearby, Some(_)) => format!(
            "SELECT {columns}, near.distance_km, count(*) OVER () AS total
             FROM businesses b
             CROSS JOIN LATERAL (SELECT {DISTANCE} AS distance_km) near
             JOIN offers o ON o.business_id = b.id
             WHERE {reservable}
               AND b.latitude BETWEEN $7 AND $8 AND b.longitude BETWEEN $9 AND $10
               AND near.distance_km <= $6
             ORDER BY near.distance_km, o.pickup_end, o.id
             LIMIT $4 OFFSET $5"
        ),
        (Filter::Nearby, None) => return None,
        (Filter::All, origin) => format!(
            "SELECT {columns}, {distance} AS distance_km, count(*) OVER () AS total
             FROM offers o JOIN businesses b ON b.id = o.business_id
             WHERE {reservable}
             ORDER BY distance_km NULLS LAST, o.pickup_end, o.id
             LIMIT $4 OFFSET $5",
            distance = distance_or_null(origin),
        ),
        (Filter::EndingSoon, origin) => format!(
            "SELECT {columns}, {distance} AS distance_km, count(*) OVER () AS total
             FROM offers o JOIN businesses b ON b.id = o.business_id
             WHERE {reservable} AND o.pickup_end <= $6
             ORDER BY o.pickup_end, distance_km NULLS LAST, o.id
             LIMIT $4 OFFSET $5",
            distance = distance_or_null(origin),
        ),
    })
}

/// The parameters [`sql`] numbers.
fn arguments(query: &Query, offset: i64, limit: i64) -> sqlx::Result<PgArguments> {
    let origin = query.origin.unwrap_or(Point {
        latitude: 0.0,
        longitude: 0.0,
    });
    let mut arguments = PgArguments::default();
    arguments
        .add(origin.latitude)
        .and_then(|()| arguments.add(origin.longitude))
        .and_then(|()| arguments.add(query.now))
        .and_then(|()| arguments.add(limit))
        .and_then(|()| arguments.add(offset))
        .map_err(sqlx::Error::Encode)?;
    match query.filter {
        Filter::Nearby => {
            let bounds = geo::bounding_box(origin, query.radius_km);
            for value in [
                query.radius_km,
                bounds.min_latitude,
                bounds.max_latitude,
                bounds.min_longitude,
                bounds.max_longitude,
            ] {
                arguments.add(value).map_err(sqlx::Error::Encode)?;
            }
        }
        Filter::EndingSoon => arguments
            .add(query.now + ENDING_SOON)
            .map_err(sqlx::Error::Encode)?,
        Filter::All => {}
    }
    Ok(arguments)
}

fn distance_or_null(origin: Option<Point>) -> String {
    match origin {
        Some(_) => DISTANCE.to_owned(),
        // The parameters are still bound; PostgreSQL needs their types.
        None => "(NULL::float8 + $1::float8 * 0 + $2::float8 * 0)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::PgPool;

    const BERLIN: Point = Point {
        latitude: 52.52,
        longitude: 13.405,
    };

    async fn business(pool: &PgPool, name: &str, at: Point, status: &str) -> sqlx::Result<i64> {
        sqlx::query("INSERT INTO users (telegram_id) VALUES (1) ON CONFLICT DO NOTHING")
            .execute(pool)
            .await?;
        sqlx::query_scalar(
            "INSERT INTO businesses (owner_id, name, street, city, postal_code, latitude,
                 longitude, status)
             VALUES (1, $1, 'Main Street 1', 'Berlin', '10115', $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(at.latitude)
        .bind(at.longitude)
        .bind(status)
        .fetch_one(pool)
        .await
    }

    async fn offer(
        pool: &PgPool,
        business_id: i64,
        title: &str,
        ends_in: Duration,
        units: i32,
        state: &str,
    ) -> sqlx::Result<i64> {
        let now = Utc::now();
        sqlx::query_scalar(
            "INSERT INTO offers (business_id, category, title, description, pickup_start,
                 pickup_end, units_available, price_minor, currency, state, created_by)
             VALUES ($1, 'bakery', $2, '', $3, $4, $5, 400, 'EUR', $6, 1) RETURNING id",
        )
        .bind(business_id)
        .bind(title)
        .bind(now - Duration::hours(30))
        .bind(now + ends_in)
        .bind(units)
        .bind(state)
        .fetch_one(pool)
        .await
    }

    fn titles(listings: &[Listing]) -> Vec<&str> {
        listings.iter().map(|l| l.offer.title.as_str()).collect()
    }

    fn query(filter: Filter, origin: Option<Point>, radius_km: f64) -> Query {
        Query {
            filter,
            origin,
            radius_km,
            now: Utc::now(),
        }
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn nearby_ranks_by_distance_then_window_end_within_the_radius(
        pool: PgPool,
    ) -> sqlx::Result<()> {
        let near = business(
            &pool,
            "Near",
            Point {
                latitude: 52.521,
                longitude: 13.405,
            },
            "approved",
        )
        .await?;
        let farther = business(
            &pool,
            "Farther",
            Point {
                latitude: 52.54,
                longitude: 13.405,
            },
            "approved",
        )
        .await?;
        let far = business(
            &pool,
            "Far",
            Point {
                latitude: 52.70,
                longitude: 13.405,
            },
            "approved",
        )
        .await?;
        let pending = business(&pool, "Pending", BERLIN, "pending").await?;
        offer(
            &pool,
            farther,
            "farther bag",
            Duration::hours(1),
            3,
            "ACTIVE",
        )
        .await?;
        offer(
            &pool,
            near,
            "near late bag",
            Duration::hours(5),
            3,
            "ACTIVE",
        )
        .await?;
        offer(
            &pool,
            near,
            "near early bag",
            Duration::hours(1),
            3,
            "ACTIVE",
        )
        .await?;
        offer(&pool, near, "paused bag", Duration::hours(1), 3, "PAUSED").await?;
        offer(
            &pool,
            near,
            "sold out bag",
            Duration::hours(1),
            0,
            "SOLD_OUT",
        )
        .await?;
        offer(&pool, near, "ended bag", Duration::minutes(-5), 3, "ACTIVE").await?;
        offer(&pool, far, "far bag", Duration::hours(1), 3, "ACTIVE").await?;
        offer(
            &pool,
            pending,
            "unapproved bag",
            Duration::hours(1),
            3,
            "ACTIVE",
        )
        .await?;

        let mut conn = pool.acquire().await?;
        let hits = page(&mut conn, &query(Filter::Nearby, Some(BERLIN), 5.0), 0, 10).await?;
        assert_eq!(
            titles(&hits),
            ["near early bag", "near late bag", "farther bag"]
        );
        assert_eq!(hits[0].total, 3);
        let distance = hits[2].distance_km.unwrap_or_default();
        assert!((distance - 2.22).abs() < 0.05, "{distance}");

        let wide = page(&mut conn, &query(Filter::Nearby, Some(BERLIN), 25.0), 0, 10).await?;
        assert_eq!(titles(&wide).last(), Some(&"far bag"));

        let second_page = page(&mut conn, &query(Filter::Nearby, Some(BERLIN), 5.0), 1, 1).await?;
        assert_eq!(titles(&second_page), ["near late bag"]);

        let none = page(&mut conn, &query(Filter::Nearby, None, 5.0), 0, 10).await?;
        assert!(none.is_empty());
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn all_and_ending_soon_need_no_location(pool: PgPool) -> sqlx::Result<()> {
        let shop = business(&pool, "Shop", BERLIN, "approved").await?;
        offer(&pool, shop, "tonight bag", Duration::hours(6), 3, "ACTIVE").await?;
        offer(&pool, shop, "soon bag", Duration::minutes(30), 3, "ACTIVE").await?;
        let mut conn = pool.acquire().await?;

        let all = page(&mut conn, &query(Filter::All, None, 5.0), 0, 10).await?;
        assert_eq!(titles(&all), ["soon bag", "tonight bag"]);
        assert_eq!(all[0].distance_km, None);

        let soon = page(
            &mut conn,
            &query(Filter::EndingSoon, Some(BERLIN), 5.0),
            0,
            10,
        )
        .await?;
        assert_eq!(titles(&soon), ["soon bag"]);
        assert!(soon[0].distance_km.is_some());
        Ok(())
    }

    #[test]
    fn filters_round_trip_their_codes() {
        for filter in Filter::ALL {
            assert_eq!(Filter::from_code(filter.code()), Some(filter));
        }
        assert_eq!(Filter::from_code(9), None);
    }
}
