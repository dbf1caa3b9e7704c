//! Who may act for a business (owner, staff) and single-use staff invitations.

use sqlx::PgConnection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Staff,
}

impl Role {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "owner" => Some(Self::Owner),
            "staff" => Some(Self::Staff),
            _ => None,
        }
    }
}

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
        "INSERT INTO business_members (business_id, user_id, role) VALUES ($1, $2, 'staff')",
    )
    .bind(business_id)
    .bind(user_id)
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
}
