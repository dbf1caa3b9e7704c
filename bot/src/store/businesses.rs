//! Businesses: registration, the admin decision and suspension.

use sqlx::PgConnection;

/// Where a business stands with the marketplace admins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusinessStatus {
    Pending,
    Approved,
    Rejected,
    Suspended,
}

impl BusinessStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Approved,
            Self::Rejected,
            Self::Suspended,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Business {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub phone: Option<String>,
    pub logo_file_id: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    status: String,
    pub rejection_reason: Option<String>,
}

impl Business {
    pub fn status(&self) -> BusinessStatus {
        // The column's CHECK constraint allows only the four values.
        BusinessStatus::parse(&self.status).unwrap_or(BusinessStatus::Pending)
    }
}

const COLUMNS: &str = "b.id, b.owner_id, b.name, b.street, b.city, b.postal_code, b.phone, \
                       b.logo_file_id, b.latitude, b.longitude, b.status, b.rejection_reason";

#[derive(Debug, Clone, PartialEq)]
pub struct NewBusiness {
    pub owner_id: i64,
    pub name: String,
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub phone: Option<String>,
    pub logo_file_id: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("a business with this name and address is already registered")]
    Duplicate,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Registers a business as pending, with its owner as first member.
pub async fn register(conn: &mut PgConnection, new: &NewBusiness) -> Result<i64, RegisterError> {
    // A savepoint keeps the processing transaction usable when the unique index refuses.
    let mut savepoint = sqlx::Connection::begin(&mut *conn).await?;
    let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "INSERT INTO businesses (owner_id, name, street, city, postal_code, phone, logo_file_id,
                                 latitude, longitude)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(new.owner_id)
    .bind(&new.name)
    .bind(&new.street)
    .bind(&new.city)
    .bind(&new.postal_code)
    .bind(&new.phone)
    .bind(&new.logo_file_id)
    .bind(new.latitude)
    .bind(new.longitude)
    .fetch_one(&mut *savepoint)
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(sqlx::Error::Database(error))
            if error.constraint() == Some("businesses_unique_name_address") =>
        {
            savepoint.rollback().await?;
            return Err(RegisterError::Duplicate);
        }
        Err(error) => return Err(error.into()),
    };
    sqlx::query(
        "INSERT INTO business_members (business_id, user_id, role) VALUES ($1, $2, 'owner')",
    )
    .bind(id)
    .bind(new.owner_id)
    .execute(&mut *savepoint)
    .await?;
    savepoint.commit().await?;
    Ok(id)
}

/// How long an application waits for an admin before it expires.
pub const APPLICATION_VALID_DAYS: i32 = 14;

/// The other live businesses and applications with this name and address, ignoring case: the
/// ones an admin compares an application with. Oldest first.
pub async fn same_name_and_address(
    conn: &mut PgConnection,
    business: &Business,
) -> sqlx::Result<Vec<Business>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM businesses b
         WHERE lower(b.name) = lower($2) AND lower(b.street) = lower($3)
           AND lower(b.city) = lower($4) AND lower(b.postal_code) = lower($5)
           AND b.status <> 'rejected' AND b.id <> $1
         ORDER BY b.created_at, b.id"
    )))
    .bind(business.id)
    .bind(&business.name)
    .bind(&business.street)
    .bind(&business.city)
    .bind(&business.postal_code)
    .fetch_all(conn)
    .await
}

/// Applications that expire within a day and whose owner was not told yet; marks them told.
/// `SKIP LOCKED`: several replicas share the work without telling anyone twice.
pub async fn warn_before_expiry(
    conn: &mut PgConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<Vec<Business>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE businesses b SET expiry_warned_at = $1
         WHERE b.id IN (
             SELECT id FROM businesses
             WHERE status = 'pending' AND expiry_warned_at IS NULL
               AND created_at <= $1 - make_interval(days => $2 - 1)
               AND created_at > $1 - make_interval(days => $2)
             FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}"
    )))
    .bind(now)
    .bind(APPLICATION_VALID_DAYS)
    .fetch_all(conn)
    .await
}

/// Rejects the applications no admin decided within [`APPLICATION_VALID_DAYS`], with `reason`,
/// so that their name and address no longer wait on them.
pub async fn expire_applications(
    conn: &mut PgConnection,
    now: chrono::DateTime<chrono::Utc>,
    reason: &str,
) -> sqlx::Result<Vec<Business>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE businesses b SET status = 'rejected', rejection_reason = $3, decided_at = $1,
             updated_at = $1
         WHERE b.id IN (
             SELECT id FROM businesses
             WHERE status = 'pending' AND created_at <= $1 - make_interval(days => $2)
             FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}"
    )))
    .bind(now)
    .bind(APPLICATION_VALID_DAYS)
    .bind(reason)
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Business>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM businesses b WHERE b.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Applications waiting for an admin, oldest first.
pub async fn pending(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<Business>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM businesses b WHERE b.status = 'pending'
         ORDER BY b.created_at, b.id LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Moves a business from `from` to `to` (approve, reject, suspend, reinstate). Returns the
/// business after the change, or `None` when it was not in `from` (decided meanwhile).
pub async fn change_status(
    conn: &mut PgConnection,
    id: i64,
    from: BusinessStatus,
    to: BusinessStatus,
    admin_id: i64,
    reason: Option<&str>,
) -> sqlx::Result<Option<Business>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE businesses b SET status = $3, rejection_reason = $4, decided_by = $5,
             decided_at = now(), updated_at = now()
         WHERE b.id = $1 AND b.status = $2
         RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(reason)
    .bind(admin_id)
    .fetch_optional(conn)
    .await
}

/// The businesses a user acts for, with their role, oldest first.
pub async fn of_member(
    conn: &mut PgConnection,
    user_id: i64,
) -> sqlx::Result<Vec<(Business, String)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        business: Business,
        role: String,
    }
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, m.role FROM businesses b
         JOIN business_members m ON m.business_id = b.id AND m.user_id = $1
         ORDER BY b.id"
    )))
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.business, r.role)).collect())
}

/// Whether `user_id` acts for the business (owner or staff).
pub async fn is_member(
    conn: &mut PgConnection,
    business_id: i64,
    user_id: i64,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM business_members WHERE business_id = $1 AND user_id = $2)",
    )
    .bind(business_id)
    .bind(user_id)
    .fetch_one(conn)
    .await
}

/// Everyone who acts for a business, with their language, owner first.
pub async fn members(
    conn: &mut PgConnection,
    business_id: i64,
) -> sqlx::Result<Vec<(i64, Option<String>)>> {
    sqlx::query_as(
        "SELECT m.user_id, u.language_code FROM business_members m
         JOIN users u ON u.telegram_id = m.user_id
         WHERE m.business_id = $1
         ORDER BY (m.role <> 'owner'), m.added_at",
    )
    .bind(business_id)
    .fetch_all(conn)
    .await
}

/// Replaces a business's profile (name, address, phone, logo, location). The owner and status
/// stay. A name and address another business already uses is refused.
pub async fn update_profile(
    conn: &mut PgConnection,
    id: i64,
    profile: &NewBusiness,
) -> Result<(), RegisterError> {
    let mut savepoint = sqlx::Connection::begin(&mut *conn).await?;
    let updated = sqlx::query(
        "UPDATE businesses SET name = $2, street = $3, city = $4, postal_code = $5, phone = $6,
             logo_file_id = $7, latitude = $8, longitude = $9, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(&profile.name)
    .bind(&profile.street)
    .bind(&profile.city)
    .bind(&profile.postal_code)
    .bind(&profile.phone)
    .bind(&profile.logo_file_id)
    .bind(profile.latitude)
    .bind(profile.longitude)
    .execute(&mut *savepoint)
    .await;
    match updated {
        Ok(_) => {
            savepoint.commit().await?;
            Ok(())
        }
        Err(sqlx::Error::Database(error))
            if error.constraint() == Some("businesses_unique_name_address") =>
        {
            savepoint.rollback().await?;
            Err(RegisterError::Duplicate)
        }
        Err(error) => Err(error.into()),
    }
}

/// A proposed change of an approved business's identity (name, address, logo, location),
/// waiting for an admin; the listing keeps the approved values meanwhile.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct IdentityChange {
    pub id: i64,
    pub business_id: i64,
    pub requested_by: i64,
    pub name: String,
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub logo_file_id: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    pub status: String,
    pub reason: Option<String>,
}

const CHANGE_COLUMNS: &str = "c.id, c.business_id, c.requested_by, c.name, c.street, c.city, \
                              c.postal_code, c.logo_file_id, c.latitude, c.longitude, c.status, \
                              c.reason";

/// Proposes `identity` for the business: replaces its pending change, or opens one. Returns
/// the change's id.
pub async fn propose_identity_change(
    conn: &mut PgConnection,
    business_id: i64,
    requested_by: i64,
    identity: &NewBusiness,
) -> sqlx::Result<i64> {
    let updated: Option<i64> = sqlx::query_scalar(
        "UPDATE business_changes SET requested_by = $2, name = $3, street = $4, city = $5,
             postal_code = $6, logo_file_id = $7, latitude = $8, longitude = $9,
             created_at = now()
         WHERE business_id = $1 AND status = 'pending'
         RETURNING id",
    )
    .bind(business_id)
    .bind(requested_by)
    .bind(&identity.name)
    .bind(&identity.street)
    .bind(&identity.city)
    .bind(&identity.postal_code)
    .bind(&identity.logo_file_id)
    .bind(identity.latitude)
    .bind(identity.longitude)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = updated {
        return Ok(id);
    }
    sqlx::query_scalar(
        "INSERT INTO business_changes (business_id, requested_by, name, street, city,
             postal_code, logo_file_id, latitude, longitude)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING id",
    )
    .bind(business_id)
    .bind(requested_by)
    .bind(&identity.name)
    .bind(&identity.street)
    .bind(&identity.city)
    .bind(&identity.postal_code)
    .bind(&identity.logo_file_id)
    .bind(identity.latitude)
    .bind(identity.longitude)
    .fetch_one(conn)
    .await
}

pub async fn pending_change(
    conn: &mut PgConnection,
    business_id: i64,
) -> sqlx::Result<Option<IdentityChange>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CHANGE_COLUMNS} FROM business_changes c
         WHERE c.business_id = $1 AND c.status = 'pending'"
    )))
    .bind(business_id)
    .fetch_optional(conn)
    .await
}

pub async fn get_change(
    conn: &mut PgConnection,
    change_id: i64,
) -> sqlx::Result<Option<IdentityChange>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CHANGE_COLUMNS} FROM business_changes c WHERE c.id = $1"
    )))
    .bind(change_id)
    .fetch_optional(conn)
    .await
}

/// Changes waiting for an admin, oldest first.
pub async fn pending_changes(
    conn: &mut PgConnection,
    limit: i64,
) -> sqlx::Result<Vec<IdentityChange>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CHANGE_COLUMNS} FROM business_changes c WHERE c.status = 'pending'
         ORDER BY c.created_at, c.id LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Accepts a pending change: the business takes its values. `Ok(None)` when it was decided
/// meanwhile; `Duplicate` when another live business has the new name and address.
pub async fn accept_change(
    conn: &mut PgConnection,
    change_id: i64,
    admin_id: i64,
) -> Result<Option<IdentityChange>, RegisterError> {
    let mut savepoint = sqlx::Connection::begin(&mut *conn).await?;
    let change: Option<IdentityChange> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE business_changes c SET status = 'accepted', decided_by = $2, decided_at = now()
         WHERE c.id = $1 AND c.status = 'pending'
         RETURNING {CHANGE_COLUMNS}"
    )))
    .bind(change_id)
    .bind(admin_id)
    .fetch_optional(&mut *savepoint)
    .await?;
    let Some(change) = change else {
        savepoint.rollback().await?;
        return Ok(None);
    };
    let applied = sqlx::query(
        "UPDATE businesses SET name = $2, street = $3, city = $4, postal_code = $5,
             logo_file_id = $6, latitude = $7, longitude = $8, updated_at = now()
         WHERE id = $1",
    )
    .bind(change.business_id)
    .bind(&change.name)
    .bind(&change.street)
    .bind(&change.city)
    .bind(&change.postal_code)
    .bind(&change.logo_file_id)
    .bind(change.latitude)
    .bind(change.longitude)
    .execute(&mut *savepoint)
    .await;
    match applied {
        Ok(_) => {
            savepoint.commit().await?;
            Ok(Some(change))
        }
        Err(sqlx::Error::Database(error))
            if error.constraint() == Some("businesses_unique_name_address") =>
        {
            savepoint.rollback().await?;
            Err(RegisterError::Duplicate)
        }
        Err(error) => Err(error.into()),
    }
}

/// Rejects a pending change with the admin's reason; `None` when it was decided meanwhile.
pub async fn reject_change(
    conn: &mut PgConnection,
    change_id: i64,
    admin_id: i64,
    reason: &str,
) -> sqlx::Result<Option<IdentityChange>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE business_changes c SET status = 'rejected', reason = $3, decided_by = $2,
             decided_at = now()
         WHERE c.id = $1 AND c.status = 'pending'
         RETURNING {CHANGE_COLUMNS}"
    )))
    .bind(change_id)
    .bind(admin_id)
    .bind(reason)
    .fetch_optional(conn)
    .await
}
