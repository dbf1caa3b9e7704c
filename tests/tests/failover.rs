//! The bot survives a failover of a replicated PostgreSQL: a primary and a synchronous standby
//! run on this machine behind one address (a proxy, as the `-rw` Service of an HA operator);
//! the primary dies, the standby is promoted and the address switched to it. Meanwhile the
//! webhook answers 503 (Telegram sends the update again), /health turns unhealthy, and then the
//! pool reconnects by itself: every update is processed once, in order per chat, with one reply.

use std::time::{Duration, Instant};

use serde_json::Value;
use toogoodtogo_tests::driver::{TestUser, UpdateFactory};
use toogoodtogo_tests::harness::{
    self, BotEnv, BotProcess, TEST_TOKEN, TcpProxy, eventually, unique_user,
};
use toogoodtogo_tests::replication::Replicated;
use toogoodtogo_tests::telegram_fake::FakeTelegram;

type Result<T = ()> = std::result::Result<T, harness::Error>;

const WAIT: Duration = Duration::from_secs(30);
const PER_USER: usize = 4;

/// Telegram's part: an update the webhook did not answer with 200 is sent again.
async fn deliver(bot: &BotProcess, update: &Value) -> Result {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match bot.webhook().post(update).await {
            Ok(status) if status.is_success() => return Ok(()),
            _ if Instant::now() > deadline => {
                return Err("the webhook kept refusing an update for 60 s".into());
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Each user sends `/start` PER_USER times, one user after the other, each update once the
/// previous one was taken; returns the update ids.
async fn send_round(
    bot: &BotProcess,
    updates: &UpdateFactory,
    users: &[TestUser],
) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    for _ in 0..PER_USER {
        for user in users {
            let update = updates.text(user, "/start");
            ids.push(update["update_id"].as_i64().unwrap_or_default());
            deliver(bot, &update).await?;
        }
    }
    Ok(ids)
}

async fn health_status(bot: &BotProcess) -> Option<u16> {
    bot.get("/health").await.ok().map(|r| r.status().as_u16())
}

#[tokio::test]
async fn updates_survive_a_primary_failover_each_processed_once_in_order() -> Result {
    let postgres = Replicated::start().await?;
    let admin = sqlx::PgPool::connect(&postgres.url(postgres.primary, "postgres")).await?;
    sqlx::query("CREATE DATABASE toogoodtogo")
        .execute(&admin)
        .await?;
    admin.close().await;
    let rw = TcpProxy::start(postgres.primary).await?;
    let fake = FakeTelegram::start(TEST_TOKEN).await?;
    let bot = BotProcess::start(BotEnv::new(
        &format!("postgres://postgres@{}/toogoodtogo", rw.addr),
        &fake.url(),
    ))
    .await?;
    let updates = UpdateFactory::default();
    let users: Vec<TestUser> = (0..5).map(|_| unique_user("Fay")).collect();

    // Before: everything answered.
    send_round(&bot, &updates, &users).await?;
    for user in &users {
        fake.wait_for_messages(user.id, PER_USER, WAIT).await?;
    }

    // The primary's node dies; the address answers nothing until it points at the new primary.
    rw.cut();
    postgres.fail_over().await?;
    let unhealthy = eventually(WAIT, || async {
        (health_status(&bot).await == Some(503)).then_some(())
    })
    .await;
    assert!(unhealthy.is_some(), "/health never turned unhealthy");
    // Updates keep coming while the database is away; the webhook refuses them until it is back.
    let during = send_round(&bot, &updates, &users);
    let switch = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        rw.retarget(postgres.standby);
        rw.restore();
    };
    let (sent_during, ()) = tokio::join!(during, switch);
    let sent_during = sent_during?;
    let healthy = eventually(WAIT, || async {
        (health_status(&bot).await == Some(200)).then_some(())
    })
    .await;
    assert!(
        healthy.is_some(),
        "/health never recovered after the failover"
    );

    // After: every update of both rounds processed once, in order per chat, answered once.
    let pool = sqlx::PgPool::connect(&postgres.url(postgres.standby, "toogoodtogo")).await?;
    let replied = eventually(WAIT, || async {
        let replied: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM inbox_updates WHERE update_id = ANY($1) AND replied_at IS NOT NULL",
        )
        .bind(&sent_during)
        .fetch_one(&pool)
        .await
        .ok()?;
        (replied == sent_during.len() as i64).then_some(())
    })
    .await;
    assert!(
        replied.is_some(),
        "updates sent during the failover were not all answered"
    );
    let (stored, processed): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(processed_at) FROM inbox_updates WHERE outcome IS DISTINCT FROM 'failed'",
    )
    .fetch_one(&pool)
    .await?;
    let total = (2 * PER_USER * users.len()) as i64;
    assert_eq!(
        (stored, processed),
        (total, total),
        "lost or unprocessed updates"
    );
    let out_of_order: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
             SELECT processed_at < lag(processed_at) OVER (PARTITION BY ordering_key ORDER BY update_id) AS earlier
             FROM inbox_updates) t
         WHERE earlier",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(
        out_of_order, 0,
        "a chat's updates were processed out of order"
    );
    for user in &users {
        assert_eq!(
            fake.transcript(user.id).len(),
            2 * PER_USER,
            "chat {} answered once per update",
            user.id
        );
    }
    let greeted: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE telegram_id = ANY($1)")
        .bind(users.iter().map(|u| u.id).collect::<Vec<_>>())
        .fetch_one(&pool)
        .await?;
    assert_eq!(greeted, users.len() as i64);
    pool.close().await;
    Ok(())
}
