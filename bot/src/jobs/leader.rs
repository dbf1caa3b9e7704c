//! Leadership through a session-level PostgreSQL advisory lock, held on a dedicated connection:
//! when the process dies or the connection drops, PostgreSQL releases the lock and another
//! replica takes over.

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

/// Advisory lock keys, one per singleton job.
pub const LONG_POLLING: i64 = 0x7467_7467_0001;
pub const OUTBOUND_SENDER: i64 = 0x7467_7467_0002;

pub struct Leadership {
    conn: PoolConnection<Postgres>,
    key: i64,
}

/// Takes the lock if no other replica holds it.
pub async fn try_acquire(pool: &PgPool, key: i64) -> sqlx::Result<Option<Leadership>> {
    let mut conn = pool.acquire().await?;
    let acquired: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut *conn)
        .await?;
    Ok(acquired.then_some(Leadership { conn, key }))
}

impl Leadership {
    /// Whether the lock's connection is still alive (and so the lock still held).
    pub async fn still_held(&mut self) -> bool {
        sqlx::query("SELECT 1")
            .execute(&mut *self.conn)
            .await
            .is_ok()
    }

    pub async fn release(mut self) {
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .execute(&mut *self.conn)
            .await;
    }
}
