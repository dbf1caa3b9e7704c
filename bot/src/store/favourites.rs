//! Favourite businesses and who to alert when one of them publishes a deal.

use sqlx::PgConnection;

use crate::marketplace::quiet_hours::QuietHours;

/// Adds a favourite; returns whether it is new.
pub async fn add(conn: &mut PgConnection, user_id: i64, business_id: i64) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO favourites (user_id, business_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(business_id)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub async fn remove(conn: &mut PgConnection, user_id: i64, business_id: i64) -> sqlx::Result<bool> {
    let deleted = sqlx::query("DELETE FROM favourites WHERE user_id = $1 AND business_id = $2")
        .bind(user_id)
        .bind(business_id)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

pub async fn contains(
    conn: &mut PgConnection,
    user_id: i64,
    business_id: i64,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM favourites WHERE user_id = $1 AND business_id = $2)",
    )
    .bind(user_id)
    .bind(business_id)
    .fetch_one(conn)
    .await
}

/// A favourite as /favourites lists it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Favourite {
    pub business_id: i64,
    pub name: String,
    pub street: String,
    pub city: String,
    pub rating_count: i32,
    pub rating_sum: i32,
    /// Deals that can be reserved right now.
    pub live_offers: i64,
}

pub async fn list(conn: &mut PgConnection, user_id: i64) -> sqlx::Result<Vec<Favourite>> {
    sqlx::query_as(
        "SELECT b.id AS business_id, b.name, b.street, b.city, b.rating_count, b.rating_sum,
                (SELECT count(*) FROM offers o
                 WHERE o.business_id = b.id AND o.state = 'ACTIVE' AND o.pickup_end > now())
                    AS live_offers
         FROM favourites f JOIN businesses b ON b.id = f.business_id
         WHERE f.user_id = $1 AND b.status = 'approved'
         ORDER BY f.created_at",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await
}

/// Someone to alert about a new deal.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscriber {
    pub user_id: i64,
    pub language_code: Option<String>,
    pub quiet_hours: Option<QuietHours>,
}

/// The followers of a business who want alerts: notifications on, not blocked or erased, and
/// not acting for the business themselves.
pub async fn subscribers(
    conn: &mut PgConnection,
    business_id: i64,
) -> sqlx::Result<Vec<Subscriber>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        user_id: i64,
        language_code: Option<String>,
        quiet_start_minute: Option<i32>,
        quiet_end_minute: Option<i32>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT f.user_id, u.language_code, s.quiet_start_minute, s.quiet_end_minute
         FROM favourites f
         JOIN users u ON u.telegram_id = f.user_id
         LEFT JOIN customer_settings s ON s.user_id = f.user_id
         WHERE f.business_id = $1
           AND u.blocked_at IS NULL AND u.erased_at IS NULL
           AND coalesce(s.notifications, true)
           AND NOT EXISTS (SELECT 1 FROM business_members m
                           WHERE m.business_id = f.business_id AND m.user_id = f.user_id)
         ORDER BY f.user_id",
    )
    .bind(business_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Subscriber {
            user_id: row.user_id,
            language_code: row.language_code,
            quiet_hours: QuietHours::from_columns(row.quiet_start_minute, row.quiet_end_minute),
        })
        .collect())
}
