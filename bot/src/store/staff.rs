//! Who may act for a business (owner, staff) and single-use staff invitations.

use sqlx::PgConnection;

use chrono::{DateTime, Utc};

pub use crate::marketplace::permissions::Role;

pub async fn role_of(
    conn: &mut PgConnection,
    business_id: i64,
    user_id: i64,
) -> sqlx::Result<Option<Role>> {
    let role: Option<String> = sqlx::query_scalar(
        "SELECT role FROM business_members WHERE business_id = $1 AND user_id = $2",
    )
    .bind(business_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    Ok(role.as_deref().and_then(Role::parse))
}

/// The member's role for a press: the row is share-locked until the update commits, so a
/// removal that commits first is seen, and one that comes later waits for this press.
pub async fn role_for_press(
    conn: &mut PgConnection,
    business_id: i64,
    user_id: i64,
) -> sqlx::Result<Option<Role>> {
    let role: Option<String> = sqlx::query_scalar(
        "SELECT role FROM business_members WHERE business_id = $1 AND user_id = $2 FOR SHARE",
    )
    .bind(business_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    Ok(role.as_deref().and_then(Role::parse))
}

/// Someone who acts for a business, as `/staff` lists them.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Member {
    pub user_id: i64,
    pub role: String,
    pub first_name: String,
    pub username: Option<String>,
    pub added_at: DateTime<Utc>,
    /// Who invited them (empty when that person erased their data or is unknown).
    pub invited_by_name: Option<String>,
}

impl Member {
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }
}

/// Everyone who acts for a business: the owner first, then staff by when they joined.
pub async fn members(conn: &mut PgConnection, business_id: i64) -> sqlx::Result<Vec<Member>> {
    sqlx::query_as(
        "SELECT m.user_id, m.role, u.first_name, u.username, m.added_at,
                i.first_name AS invited_by_name
         FROM business_members m
         JOIN users u ON u.telegram_id = m.user_id
         LEFT JOIN users i ON i.telegram_id = m.invited_by
         WHERE m.business_id = $1
         ORDER BY (m.role <> 'owner'), m.added_at, m.user_id",
    )
    .bind(business_id)
    .fetch_all(conn)
    .await
}

/// Removes a staff member (never the owner). Returns whether they were staff until now.
pub async fn remove(conn: &mut PgConnection, business_id: i64, user_id: i64) -> sqlx::Result<bool> {
    let removed = sqlx::query(
        "DELETE FROM business_members WHERE business_id = $1 AND user_id = $2 AND role = 'staff'",
    )
    .bind(business_id)
    .bind(user_id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(removed == 1)
}

/// An invitation link nobody has used yet and that has not expired.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OpenInvite {
    pub id: i64,
    pub expires_at: DateTime<Utc>,
}

pub async fn open_invites(
    conn: &mut PgConnection,
    business_id: i64,
) -> sqlx::Result<Vec<OpenInvite>> {
    sqlx::query_as(
        "SELECT id, expires_at FROM business_invites
         WHERE business_id = $1 AND used_at IS NULL AND expires_at > now()
         ORDER BY id",
    )
    .bind(business_id)
    .fetch_all(conn)
    .await
}

/// Revokes an unused invitation: its link stops working. Returns whether it was still open.
pub async fn revoke_invite(
    conn: &mut PgConnection,
    business_id: i64,
    invite_id: i64,
) -> sqlx::Result<bool> {
    let revoked = sqlx::query(
        "DELETE FROM business_invites
         WHERE id = $2 AND business_id = $1 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(business_id)
    .bind(invite_id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(revoked == 1)
}

/// Creates an invitation valid for `valid_hours`; returns its token (32 hex characters, so the
/// deep-link payload `business_invite_<token>` stays within Telegram's 64 characters).
pub async fn create_invite(
    conn: &mut PgConnection,
    business_id: i64,
    created_by: i64,
    valid_hours: i32,
) -> sqlx::Result<String> {
    sqlx::query_scalar(
        "INSERT INTO business_invites (token, business_id, created_by, expires_at)
         VALUES (replace(gen_random_uuid()::text, '-', ''), $1, $2,
                 now() + make_interval(hours => $3))
         RETURNING token",
    )
    .bind(business_id)
    .bind(created_by)
    .bind(valid_hours)
    .fetch_one(conn)
    .await
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteOutcome {
    /// The user joined the business as staff.
    Joined { business_id: i64, invited_by: i64 },
    /// The user already acts for this business; the invitation stays unused.
    AlreadyMember { business_id: i64 },
    /// Unknown, used or expired.
    Invalid,
}

/// Uses an invitation: single use, and only before it expires.
pub async fn accept_invite(
    conn: &mut PgConnection,
    token: &str,
    user_id: i64,
) -> sqlx::Result<InviteOutcome> {
    let invite: Option<(i64, i64)> = sqlx::query_as(
        "SELECT business_id, created_by FROM business_invites
         WHERE token = $1 AND used_at IS NULL AND expires_at > now()
         FOR UPDATE",
    )
    .bind(token)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((business_id, invited_by)) = invite else {
        return Ok(InviteOutcome::Invalid);
    };
    if role_of(conn, business_id, user_id).await?.is_some() {
        return Ok(InviteOutcome::AlreadyMember { business_id });
    }
    sqlx::query("UPDATE business_invites SET used_by = $2, used_at = now() WHERE token = $1")
        .bind(token)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO business_members (business_id, user_id, role, invited_by)
         VALUES ($1, $2, 'staff', $3)",
    )
    .bind(business_id)
    .bind(user_id)
    .bind(invited_by)
    .execute(&mut *conn)
    .await?;
    Ok(InviteOutcome::Joined {
        business_id,
        invited_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::businesses::{self, NewBusiness};

    async fn business(conn: &mut PgConnection, owner: i64) -> i64 {
        sqlx::query("INSERT INTO users (telegram_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(owner)
            .execute(&mut *conn)
            .await
            .unwrap();
        businesses::register(
            conn,
            &NewBusiness {
                owner_id: owner,
                name: format!("Shop {owner}"),
                street: "Main Street 1".into(),
                city: "Berlin".into(),
                postal_code: "10115".into(),
                phone: None,
                logo_file_id: None,
                latitude: 52.5,
                longitude: 13.4,
            },
        )
        .await
        .unwrap()
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn invitations_are_single_use_and_expire(pool: sqlx::PgPool) -> sqlx::Result<()> {
        let mut conn = pool.acquire().await?;
        let business_id = business(&mut conn, 1).await;
        sqlx::query("INSERT INTO users (telegram_id) VALUES (2), (3)")
            .execute(&mut *conn)
            .await?;
        let token = create_invite(&mut conn, business_id, 1, 24).await?;
        assert_eq!(token.len(), 32);
        assert_eq!(
            accept_invite(&mut conn, &token, 1).await?,
            InviteOutcome::AlreadyMember { business_id }
        );
        assert_eq!(
            accept_invite(&mut conn, &token, 2).await?,
            InviteOutcome::Joined {
                business_id,
                invited_by: 1
            }
        );
        assert_eq!(role_of(&mut conn, business_id, 2).await?, Some(Role::Staff));
        assert_eq!(
            accept_invite(&mut conn, &token, 3).await?,
            InviteOutcome::Invalid
        );

        let expired = create_invite(&mut conn, business_id, 1, 0).await?;
        assert_eq!(
            accept_invite(&mut conn, &expired, 3).await?,
            InviteOutcome::Invalid
        );
        assert_eq!(role_of(&mut conn, business_id, 3).await?, None);
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn staff_are_listed_removed_once_and_links_revoked(
        pool: sqlx::PgPool,
    ) -> sqlx::Result<()> {
        let mut conn = pool.acquire().await?;
        let business_id = business(&mut conn, 1).await;
        sqlx::query("INSERT INTO users (telegram_id, first_name) VALUES (2, 'Jon'), (3, 'Kim')")
            .execute(&mut *conn)
            .await?;
        sqlx::query("UPDATE users SET first_name = 'Ida' WHERE telegram_id = 1")
            .execute(&mut *conn)
            .await?;
        let token = create_invite(&mut conn, business_id, 1, 24).await?;
        accept_invite(&mut conn, &token, 2).await?;
        let open = create_invite(&mut conn, business_id, 1, 24).await?;

        let members = members(&mut conn, business_id).await?;
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].role(), Some(Role::Owner));
        assert_eq!(members[1].first_name, "Jon");
        assert_eq!(members[1].invited_by_name.as_deref(), Some("Ida"));

        assert!(!remove(&mut conn, business_id, 1).await?, "never the owner");
        assert!(remove(&mut conn, business_id, 2).await?);
        assert!(!remove(&mut conn, business_id, 2).await?, "once");
        assert_eq!(role_of(&mut conn, business_id, 2).await?, None);

        let invites = open_invites(&mut conn, business_id).await?;
        assert_eq!(invites.len(), 1, "the used link is not listed");
        assert!(revoke_invite(&mut conn, business_id, invites[0].id).await?);
        assert!(!revoke_invite(&mut conn, business_id, invites[0].id).await?);
        assert_eq!(
            accept_invite(&mut conn, &open, 3).await?,
            InviteOutcome::Invalid
        );
        Ok(())
    }
}
