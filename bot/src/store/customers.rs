//! What a customer chose in /settings and where Nearby searches from. A customer without a row
//! has the defaults.

use sqlx::PgConnection;

use crate::marketplace::geo::Point;
use crate::marketplace::quiet_hours::QuietHours;

pub const DEFAULT_RADIUS_KM: i32 = 5;
/// The radii /settings offers.
pub const RADII_KM: [i32; 5] = [1, 2, 5, 10, 25];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CustomerSettings {
    pub location: Option<Point>,
    pub radius_km: i32,
    pub notifications: bool,
    pub quiet_hours: Option<QuietHours>,
}

impl Default for CustomerSettings {
    fn default() -> Self {
        Self {
            location: None,
            radius_km: DEFAULT_RADIUS_KM,
            notifications: true,
            quiet_hours: None,
        }
    }
}

type Row = (
    Option<f64>,
    Option<f64>,
    i32,
    bool,
    Option<i32>,
    Option<i32>,
);

pub async fn get(conn: &mut PgConnection, user_id: i64) -> sqlx::Result<CustomerSettings> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT latitude, longitude, radius_km, notifications, quiet_start_minute,
                quiet_end_minute
         FROM customer_settings WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        None => CustomerSettings::default(),
        Some((latitude, longitude, radius_km, notifications, quiet_start, quiet_end)) => {
            CustomerSettings {
                location: latitude.zip(longitude).map(|(latitude, longitude)| Point {
                    latitude,
                    longitude,
                }),
                radius_km,
                notifications,
                quiet_hours: QuietHours::from_columns(quiet_start, quiet_end),
            }
        }
    })
}

/// Upserts one column; the others keep their values (or defaults for a new row).
async fn upsert(
    conn: &mut PgConnection,
    user_id: i64,
    columns: &'static str,
    values: &'static str,
    bind: impl FnOnce(
        sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> sqlx::Result<()> {
    let updates = columns
        .split(", ")
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO customer_settings (user_id, {columns}) VALUES ($1, {values})
         ON CONFLICT (user_id) DO UPDATE SET {updates}, updated_at = now()"
    );
    bind(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_location(conn: &mut PgConnection, user_id: i64, at: Point) -> sqlx::Result<()> {
    upsert(conn, user_id, "latitude, longitude", "$2, $3", |q| {
        q.bind(at.latitude).bind(at.longitude)
    })
    .await
}

pub async fn set_radius(conn: &mut PgConnection, user_id: i64, km: i32) -> sqlx::Result<()> {
    upsert(conn, user_id, "radius_km", "$2", |q| q.bind(km)).await
}

pub async fn set_notifications(
    conn: &mut PgConnection,
    user_id: i64,
    enabled: bool,
) -> sqlx::Result<()> {
    upsert(conn, user_id, "notifications", "$2", |q| q.bind(enabled)).await
}

pub async fn set_quiet_hours(
    conn: &mut PgConnection,
    user_id: i64,
    quiet: Option<QuietHours>,
) -> sqlx::Result<()> {
    upsert(
        conn,
        user_id,
        "quiet_start_minute, quiet_end_minute",
        "$2, $3",
        |q| {
            q.bind(quiet.map(|h| h.start_minute))
                .bind(quiet.map(|h| h.end_minute))
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::PgPool;

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn settings_start_at_the_defaults_and_keep_each_choice(pool: PgPool) -> sqlx::Result<()> {
        let mut conn = pool.acquire().await?;
        sqlx::query("INSERT INTO users (telegram_id) VALUES (7)")
            .execute(&mut *conn)
            .await?;
        assert_eq!(get(&mut conn, 7).await?, CustomerSettings::default());

        let berlin = Point {
            latitude: 52.52,
            longitude: 13.405,
        };
        set_location(&mut conn, 7, berlin).await?;
        set_radius(&mut conn, 7, 10).await?;
        set_notifications(&mut conn, 7, false).await?;
        let quiet = QuietHours::new(22 * 60, 7 * 60);
        set_quiet_hours(&mut conn, 7, Some(quiet)).await?;
        let settings = get(&mut conn, 7).await?;
        assert_eq!(
            settings,
            CustomerSettings {
                location: Some(berlin),
                radius_km: 10,
                notifications: false,
                quiet_hours: Some(quiet),
            }
        );
        set_quiet_hours(&mut conn, 7, None).await?;
        assert_eq!(get(&mut conn, 7).await?.quiet_hours, None);
        assert_eq!(get(&mut conn, 7).await?.radius_km, 10, "other choices stay");
        Ok(())
    }
}
