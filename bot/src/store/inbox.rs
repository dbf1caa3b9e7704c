//! The durable update inbox: every update is stored here before Telegram gets its 200, and is
//! processed exactly once, in order per chat, by whichever replica holds its claim.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};

/// The per-chat ordering key and id of a stored update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PendingUpdate {
    pub update_id: i64,
    pub ordering_key: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    /// Telegram redelivered an update that is already stored.
    Duplicate,
}

/// How an update's processing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Handled,
    RateLimited,
    Ignored,
    Failed,
    /// Neither teloxide nor the bot understands it: kept with the reason, not processed.
    Undecodable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Handled => "handled",
            Self::RateLimited => "rate_limited",
            Self::Ignored => "ignored",
            Self::Failed => "failed",
            Self::Undecodable => "undecodable",
        }
    }
}

fn interval_secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Stores an update claimed by the calling replica for `claim`.
pub async fn store(
    pool: &PgPool,
    update: PendingUpdate,
    payload: &str,
    claim: Duration,
) -> sqlx::Result<Stored> {
    let result = sqlx::query(
        "INSERT INTO inbox_updates (update_id, ordering_key, payload, claimed_until)
         VALUES ($1, $2, $3::jsonb, now() + make_interval(secs => $4))
         ON CONFLICT (update_id) DO NOTHING",
    )
    .bind(update.update_id)
    .bind(update.ordering_key)
    .bind(payload)
    .bind(interval_secs(claim))
    .persistent(true)
    .execute(pool)
    .await?;
    Ok(if result.rows_affected() == 1 {
        Stored::New
    } else {
        Stored::Duplicate
    })
}

/// Whether PostgreSQL refused a payload itself (SQLSTATE class 22, data exception, e.g. a
/// `\u0000` that `jsonb` cannot hold) rather than failing to store it.
pub fn refuses_payload(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code.starts_with("22"))
}

/// Stores a batch of updates (long polling) in one statement; returns the ones that were new.
pub async fn store_batch(
    pool: &PgPool,
    updates: &[(PendingUpdate, String)],
    claim: Duration,
) -> sqlx::Result<Vec<PendingUpdate>> {
    let ids: Vec<i64> = updates.iter().map(|(u, _)| u.update_id).collect();
    let keys: Vec<i64> = updates.iter().map(|(u, _)| u.ordering_key).collect();
    let payloads: Vec<&str> = updates.iter().map(|(_, p)| p.as_str()).collect();
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "INSERT INTO inbox_updates (update_id, ordering_key, payload, claimed_until)
         SELECT u.id, u.key, u.payload::jsonb, now() + make_interval(secs => $4)
         FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(id, key, payload)
         ON CONFLICT (update_id) DO NOTHING
         RETURNING update_id, ordering_key",
    )
    .bind(&ids)
    .bind(&keys)
    .bind(&payloads)
    .bind(interval_secs(claim))
    .fetch_all(pool)
    .await?;
    let mut new: Vec<PendingUpdate> = rows
        .into_iter()
        .map(|(update_id, ordering_key)| PendingUpdate {
            update_id,
            ordering_key,
        })
        .collect();
    new.sort_by_key(|u| u.update_id);
    Ok(new)
}

/// Takes over pending updates whose claim lapsed (their replica crashed, or processing failed
/// and backed off), oldest first.
pub async fn claim_lapsed(
    pool: &PgPool,
    limit: i64,
    claim: Duration,
) -> sqlx::Result<Vec<PendingUpdate>> {
    let mut rows: Vec<(i64, i64)> = sqlx::query_as(
        "UPDATE inbox_updates SET claimed_until = now() + make_interval(secs => $2)
         WHERE update_id IN (
             SELECT update_id FROM inbox_updates
             WHERE processed_at IS NULL AND claimed_until < now()
             ORDER BY claimed_until, update_id
             LIMIT $1
             FOR UPDATE SKIP LOCKED)
         RETURNING update_id, ordering_key",
    )
    .bind(limit)
    .bind(interval_secs(claim))
    .fetch_all(pool)
    .await?;
    rows.sort_unstable();
    Ok(rows
        .into_iter()
        .map(|(update_id, ordering_key)| PendingUpdate {
            update_id,
            ordering_key,
        })
        .collect())
}

/// One update taken for processing by [`begin_processing_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedUpdate {
    pub update_id: i64,
    pub payload: String,
    /// Attempts before this one.
    pub attempts: i32,
}

/// Starts processing updates of DIFFERENT chats inside the caller's transaction: marks them
/// processed (undone if the transaction rolls back) and returns their payloads. The row locks
/// make concurrent processors of the same update wait for each other; the check for an older
/// pending update of the same chat keeps per-chat order across replicas. Returns the updates that are ready, oldest first; the others
/// are already processed, missing, or wait for an older update of their chat.
pub async fn begin_processing_batch(
    conn: &mut PgConnection,
    update_ids: &[i64],
) -> sqlx::Result<Vec<ClaimedUpdate>> {
    let mut claimed: Vec<(i64, String, i32)> = sqlx::query_as(
        "UPDATE inbox_updates u
         SET processed_at = clock_timestamp(), outcome = 'handled', attempts = attempts + 1
         WHERE u.update_id = ANY($1) AND u.processed_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM inbox_updates e
                           WHERE e.ordering_key = u.ordering_key AND e.processed_at IS NULL
                             AND e.update_id < u.update_id)
         RETURNING u.update_id, u.payload::text, u.attempts - 1",
    )
    .bind(update_ids)
    .persistent(true)
    .fetch_all(conn)
    .await?;
    claimed.sort_unstable_by_key(|(id, _, _)| *id);
    Ok(claimed
        .into_iter()
        .map(|(update_id, payload, attempts)| ClaimedUpdate {
            update_id,
            payload,
            attempts,
        })
        .collect())
}

/// Of updates that [`begin_processing_batch`] did not return, the ones still pending: they
/// wait for an older update of their chat.
pub async fn still_pending(pool: &PgPool, update_ids: &[i64]) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT update_id FROM inbox_updates WHERE update_id = ANY($1) AND processed_at IS NULL",
    )
    .bind(update_ids)
    .fetch_all(pool)
    .await
}

/// Undoes the processing mark of an update whose handler failed, inside the batch transaction:
/// it is retried after `retry_in`, or given up (outcome `failed`) once it used `max_attempts`.
/// Returns true when it was given up.
pub async fn fail_in_batch(
    conn: &mut PgConnection,
    update_id: i64,
    error: &str,
    retry_in: Duration,
    max_attempts: i32,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "UPDATE inbox_updates SET
             last_error = left($2, 2000),
             claimed_until = now() + make_interval(secs => $3),
             processed_at = CASE WHEN attempts >= $4 THEN processed_at END,
             outcome = CASE WHEN attempts >= $4 THEN 'failed' END
         WHERE update_id = $1
         RETURNING processed_at IS NOT NULL",
    )
    .bind(update_id)
    .bind(error)
    .bind(interval_secs(retry_in))
    .bind(max_attempts)
    .fetch_one(conn)
    .await
}

/// Records how processing ended, when it was not simply `handled`.
pub async fn set_outcome(
    conn: &mut PgConnection,
    update_id: i64,
    outcome: Outcome,
) -> sqlx::Result<()> {
    if outcome == Outcome::Handled {
        return Ok(());
    }
    sqlx::query("UPDATE inbox_updates SET outcome = $2 WHERE update_id = $1")
        .bind(update_id)
        .bind(outcome.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Records that the replies of processed updates have been handed to Telegram (or to the
/// outbound queue). Only a marker for observers (tests, latency checks): it is committed
/// without waiting for the disk, since losing it in a crash loses nothing.
pub async fn mark_replied(pool: &PgPool, update_ids: &[i64]) -> sqlx::Result<()> {
    // One statement, one round trip: set_config(.., true) lasts for the statement's own
    // transaction, whose commit then does not wait for the disk.
    sqlx::query(
        "UPDATE inbox_updates SET replied_at = clock_timestamp()
         WHERE update_id = ANY($1)
           AND set_config('synchronous_commit', 'off', true) IS NOT NULL",
    )
    .bind(update_ids)
    .persistent(true)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks an update undecodable with the reason, in the processing transaction.
pub async fn mark_undecodable(
    conn: &mut PgConnection,
    update_id: i64,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE inbox_updates SET outcome = 'undecodable', last_error = $2 WHERE update_id = $1",
    )
    .bind(update_id)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(())
}

/// Hands a claim back so that the sweeper can pick the update up at once.
pub async fn release(pool: &PgPool, update_id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE inbox_updates SET claimed_until = now() WHERE update_id = $1 AND processed_at IS NULL",
    )
    .bind(update_id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn backlog(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM inbox_updates WHERE processed_at IS NULL")
        .fetch_one(pool)
        .await
}

/// Deletes processed updates older than `days`; returns how many.
pub async fn prune(pool: &PgPool, days: u32) -> sqlx::Result<u64> {
    let result = sqlx::query(
        "DELETE FROM inbox_updates
         WHERE processed_at IS NOT NULL AND processed_at < now() - make_interval(days => $1)",
    )
    .bind(days as i32)
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAIM: Duration = Duration::from_secs(30);

    fn update(update_id: i64, ordering_key: i64) -> PendingUpdate {
        PendingUpdate {
            update_id,
            ordering_key,
        }
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn redelivered_updates_are_stored_once(pool: PgPool) -> sqlx::Result<()> {
        assert_eq!(
            store(&pool, update(1, 9), "{\"update_id\":1}", CLAIM).await?,
            Stored::New
        );
        assert_eq!(
            store(&pool, update(1, 9), "{\"update_id\":1}", CLAIM).await?,
            Stored::Duplicate
        );
        let batch = vec![
            (update(1, 9), "{}".to_owned()),
            (update(2, 9), "{}".to_owned()),
        ];
        assert_eq!(store_batch(&pool, &batch, CLAIM).await?, vec![update(2, 9)]);
        Ok(())
    }

    fn ids(claimed: &[ClaimedUpdate]) -> Vec<i64> {
        claimed.iter().map(|c| c.update_id).collect()
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn only_the_oldest_pending_update_of_a_chat_is_ready(pool: PgPool) -> sqlx::Result<()> {
        for (id, chat) in [(1, 100), (2, 100), (3, 200)] {
            store(&pool, update(id, chat), "{}", CLAIM).await?;
        }
        let mut tx = pool.begin().await?;
        let claimed = begin_processing_batch(&mut tx, &[2, 3]).await?;
        assert_eq!(ids(&claimed), vec![3], "2 waits for 1");
        assert_eq!(claimed[0].attempts, 0);
        assert_eq!(still_pending(&pool, &[2]).await?, vec![2]);
        assert_eq!(ids(&begin_processing_batch(&mut tx, &[1]).await?), vec![1]);
        set_outcome(&mut tx, 1, Outcome::RateLimited).await?;
        tx.commit().await?;

        // Another replica's transaction, while this one processes update 2.
        let mut tx = pool.begin().await?;
        assert_eq!(ids(&begin_processing_batch(&mut tx, &[2]).await?), vec![2]);
        let mut other = pool.begin().await?;
        assert!(
            begin_processing_batch(&mut other, &[1, 99])
                .await?
                .is_empty()
        );
        assert!(
            still_pending(&pool, &[1, 99]).await?.is_empty(),
            "done or missing"
        );
        // A rolled-back processing leaves the update pending.
        tx.rollback().await?;
        assert_eq!(
            ids(&begin_processing_batch(&mut other, &[2]).await?),
            vec![2]
        );
        let outcome: String =
            sqlx::query_scalar("SELECT outcome FROM inbox_updates WHERE update_id = 1")
                .fetch_one(&mut *other)
                .await?;
        assert_eq!(outcome, "rate_limited");
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn lapsed_claims_are_taken_over_once(pool: PgPool) -> sqlx::Result<()> {
        store(&pool, update(1, 1), "{}", Duration::ZERO).await?;
        store(&pool, update(2, 2), "{}", CLAIM).await?;
        assert_eq!(claim_lapsed(&pool, 10, CLAIM).await?, vec![update(1, 1)]);
        assert!(
            claim_lapsed(&pool, 10, CLAIM).await?.is_empty(),
            "now claimed for 30 s"
        );
        release(&pool, 2).await?;
        assert_eq!(claim_lapsed(&pool, 10, CLAIM).await?, vec![update(2, 2)]);
        assert_eq!(backlog(&pool).await?, 2);
        Ok(())
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn a_failing_update_is_retried_then_given_up(pool: PgPool) -> sqlx::Result<()> {
        store(&pool, update(1, 1), "{}", CLAIM).await?;
        for attempt in 1..=3 {
            let mut tx = pool.begin().await?;
            assert_eq!(ids(&begin_processing_batch(&mut tx, &[1]).await?), vec![1]);
            let given_up = fail_in_batch(&mut tx, 1, "boom", Duration::ZERO, 3).await?;
            tx.commit().await?;
            assert_eq!(given_up, attempt == 3, "attempt {attempt}");
            if attempt < 3 {
                assert_eq!(
                    claim_lapsed(&pool, 10, CLAIM).await?,
                    vec![update(1, 1)],
                    "retried"
                );
            }
        }
        let (outcome, error, attempts): (String, String, i32) = sqlx::query_as(
            "SELECT outcome, last_error, attempts FROM inbox_updates WHERE update_id = 1",
        )
        .fetch_one(&pool)
        .await?;
        assert_eq!(
            (outcome.as_str(), error.as_str(), attempts),
            ("failed", "boom", 3)
        );
        assert_eq!(
            backlog(&pool).await?,
            0,
            "a given-up update no longer blocks its chat"
        );
        Ok(())
    }
}
