//! Nothing is lost: database outages, Redis outages, crashes, graceful shutdown and several
//! replicas sharing one database.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use toogoodtogo_tests::harness::{self, BotProcess, Stack, TcpProxy, unique_user};
use toogoodtogo_tests::telegram_fake::Injected;

const WAIT: Duration = Duration::from_secs(20);

fn postgres_addr(url: &str) -> SocketAddr {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host_port = host_port.split('/').next().unwrap_or("127.0.0.1:5432");
    let host_port = host_port.replace("localhost", "127.0.0.1");
    let with_port = if host_port.contains(':') {
        host_port
    } else {
        format!("{host_port}:5432")
    };
    with_port
        .parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 5432)))
}

async fn health(bot: &BotProcess) -> Option<(u16, Value)> {
    let response = bot.get("/health").await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.ok()?))
}

#[tokio::test]
async fn a_database_outage_is_unhealthy_refuses_updates_and_recovers() -> Result<(), harness::Error>
{
    let stack = Stack::new().await?;
    let proxy = TcpProxy::start(postgres_addr(&stack.db.url)).await?;
    let bot = BotProcess::start(
        stack
            .env()
            .set("DATABASE_URL", proxy.postgres_url(&stack.db.url)),
    )
    .await?;
    let user = unique_user("Max");

    proxy.cut();
    let (status, body) = harness::eventually(WAIT, || async {
        health(&bot).await.filter(|(status, _)| *status == 503)
    })
    .await
    .ok_or("health did not turn unhealthy")?;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["dependencies"]["postgres"]["status"], "unhealthy");
    assert!(body["dependencies"]["postgres"]["response_time_ms"].is_null());
    assert!(body["errors"].as_array().is_some_and(|e| !e.is_empty()));
    assert_eq!(bot.get("/ready").await?.status(), 503);

    let update = stack.updates.text(&user, "/start");
    let refused = bot.webhook().post(&update).await?;
    assert!(
        refused.is_server_error(),
        "webhook answered {refused} while the database was down"
    );

    // Telegram retries after the outage: the same update is stored and processed.
    proxy.restore();
    let accepted = harness::eventually(WAIT, || async {
        let status = bot.webhook().post(&update).await.ok()?;
        status.is_success().then_some(status)
    })
    .await;
    assert!(accepted.is_some(), "update never accepted after recovery");
    stack.fake.wait_for_messages(user.id, 1, WAIT).await?;
    let (status, body) = health(&bot).await.ok_or("no health")?;
    assert_ne!(status, 503, "{body}");
    Ok(())
}

#[tokio::test]
async fn without_redis_the_bot_is_degraded_and_keeps_answering() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let closed_port = harness::free_port();
    let bot = BotProcess::start(
        stack
            .env()
            .set("REDIS_URL", format!("redis://127.0.0.1:{closed_port}")),
    )
    .await?;
    let user = unique_user("Ned");

    let (status, body) = health(&bot).await.ok_or("no health")?;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["dependencies"]["redis"]["status"], "degraded");
    assert!(body["dependencies"]["redis"]["error"].is_string());
    assert_eq!(body["warnings"][0], "Rate limiting temporarily disabled");
    assert_eq!(
        bot.get("/ready").await?.status(),
        200,
        "Redis never affects readiness"
    );

    bot.webhook()
        .post(&stack.updates.text(&user, "/start"))
        .await?;
    stack.fake.wait_for_messages(user.id, 1, WAIT).await?;
    Ok(())
}

#[tokio::test]
async fn an_update_stored_before_a_crash_is_processed_after_restart() -> Result<(), harness::Error>
{
    let stack = Stack::new().await?;
    let mut bot = stack.start_bot().await?;
    let user = unique_user("Ola");
    // The test's own uncommitted insert of the user's row makes the bot's processing
    // transaction wait on the row lock, so the update is stored and being processed when the
    // process dies.
    let mut blocker = stack.pool.begin().await?;
    sqlx::query("INSERT INTO users (telegram_id, first_name) VALUES ($1, 'Ola')")
        .bind(user.id)
        .execute(&mut *blocker)
        .await?;
    let update = stack.updates.text(&user, "/start");
    assert_eq!(bot.webhook().post(&update).await?, 200);
    let waiting = harness::eventually(WAIT, || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE application_name = 'toogoodtogo-bot' AND wait_event_type = 'Lock'
               AND datname = current_database()",
        )
        .fetch_one(&stack.pool)
        .await
        .ok()?;
        (waiting > 0).then_some(())
    })
    .await;
    assert!(waiting.is_some(), "processing never started");
    bot.kill9().await?;
    blocker.rollback().await?;

    let pending: Option<i64> =
        sqlx::query_scalar("SELECT update_id FROM inbox_updates WHERE processed_at IS NULL")
            .fetch_optional(&stack.pool)
            .await?;
    assert_eq!(
        pending,
        update["update_id"].as_i64(),
        "the update is stored and unprocessed"
    );

    let _restarted = BotProcess::start(stack.env()).await?;
    let messages = stack.fake.wait_for_messages(user.id, 1, WAIT).await?;
    assert!(
        messages[0]["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("Hi Ola!")
    );
    stack.wait_until_processed(1).await?;
    let processed: bool = sqlx::query_scalar(
        "SELECT processed_at IS NOT NULL FROM inbox_updates WHERE update_id = $1",
    )
    .bind(update["update_id"].as_i64())
    .fetch_one(&stack.pool)
    .await?;
    assert!(processed);
    Ok(())
}

#[tokio::test]
async fn sigterm_drains_in_flight_work_and_reports_not_ready() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let mut bot = stack.start_bot().await?;
    let user = unique_user("Pia");
    stack.fake.inject(
        "sendMessage",
        Some(user.id),
        Injected::Delay(Duration::from_secs(2)),
    );
    bot.webhook()
        .post(&stack.updates.text(&user, "/start"))
        .await?;
    stack
        .fake
        .wait_until(WAIT, || {
            (!stack.fake.calls_of("sendMessage").is_empty()).then_some(())
        })
        .await
        .map_err(|_| "processing never started")?;

    bot.terminate().await?;
    let not_ready = harness::eventually(Duration::from_secs(2), || async {
        let status = bot.get("/ready").await.ok()?.status().as_u16();
        (status == 503).then_some(status)
    })
    .await;
    assert_eq!(not_ready, Some(503), "/ready must say 503 while draining");
    let code = bot.wait_exit(Duration::from_secs(15)).await?;
    assert_eq!(code, Some(0), "{}", bot.log());

    assert_eq!(
        stack.fake.transcript(user.id).len(),
        1,
        "the in-flight reply was finished"
    );
    let processed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM inbox_updates WHERE processed_at IS NOT NULL")
            .fetch_one(&stack.pool)
            .await?;
    assert_eq!(processed, 1);
    // The webhook stays registered: other replicas keep receiving updates.
    assert!(stack.fake.webhook().is_some());
    assert!(stack.fake.calls_of("deleteWebhook").is_empty());
    Ok(())
}

#[tokio::test]
async fn two_replicas_process_each_update_once_in_per_chat_order() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let first = stack.start_bot().await?;
    let second = BotProcess::start(stack.env()).await?;
    let users: Vec<_> = (0..10).map(|i| unique_user(&format!("U{i}"))).collect();
    let per_user = 12;

    // Chats run concurrently; within a chat, updates arrive one after another (as Telegram
    // delivers them) and alternate between the replicas.
    let hooks = [first.webhook(), second.webhook()];
    let mut chats = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let updates: Vec<_> = (0..per_user)
            .map(|_| stack.updates.text(user, "/help"))
            .collect();
        let hooks = hooks.clone();
        chats.push(tokio::spawn(async move {
            for (round, update) in updates.iter().enumerate() {
                let status = hooks[(round + i) % 2].post(update).await?;
                assert_eq!(status, 200);
            }
            Ok::<_, reqwest::Error>(())
        }));
    }
    for chat in chats {
        chat.await??;
    }
    for user in &users {
        stack
            .fake
            .wait_for_messages(user.id, per_user, WAIT)
            .await?;
    }
    stack
        .wait_until_processed((users.len() * per_user) as i64)
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for user in &users {
        assert_eq!(
            stack.fake.transcript(user.id).len(),
            per_user,
            "chat {} answered once per update",
            user.id
        );
    }
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM inbox_updates WHERE outcome = 'handled' AND attempts = 1",
    )
    .fetch_one(&stack.pool)
    .await?;
    assert_eq!(total, (users.len() * per_user) as i64);
    // Within each chat, updates were processed in update_id order.
    let out_of_order: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
             SELECT processed_at < lag(processed_at) OVER (PARTITION BY ordering_key ORDER BY update_id) AS earlier
             FROM inbox_updates) t
         WHERE earlier",
    )
    .fetch_one(&stack.pool)
    .await?;
    assert_eq!(out_of_order, 0);
    Ok(())
}

/// A worker that cannot take an update within the dispatch timeout leaves it in the inbox. Its
/// claim is handed back at once, so it is processed as soon as the worker has room, not after
/// the whole claim timeout (30 s) — under overload that cliff made every late update wait 30 s.
#[tokio::test]
async fn an_update_no_worker_could_take_is_processed_once_there_is_room_not_after_its_claim()
-> Result<(), harness::Error> {
    const CHANNEL: usize = 256;
    let stack = Stack::new().await?;
    let bot = BotProcess::start(
        stack
            .env()
            .set("INBOX_WORKERS", "1")
            .set("INBOX_CLAIM_TIMEOUT", "30"),
    )
    .await?;
    // The one worker waits on a row lock the test holds, so its channel fills up.
    let stuck = unique_user("Stu");
    let mut blocker = stack.pool.begin().await?;
    sqlx::query("INSERT INTO users (telegram_id, first_name) VALUES ($1, 'Stu')")
        .bind(stuck.id)
        .execute(&mut *blocker)
        .await?;
    assert_eq!(
        bot.webhook()
            .post(&stack.updates.text(&stuck, "/start"))
            .await?,
        200
    );
    let users: Vec<_> = (0..=CHANNEL).map(|_| unique_user("Queued")).collect();
    for user in &users {
        // The last one waits out the dispatch timeout (5 s), then is answered 200 all the same.
        assert_eq!(
            bot.webhook()
                .post(&stack.updates.text(user, "/start"))
                .await?,
            200
        );
    }
    assert!(
        bot.log().contains("worker saturated"),
        "the worker never ran out of room"
    );
    blocker.rollback().await?;
    let unblocked = std::time::Instant::now();
    stack.wait_until_committed(users.len() as i64 + 1).await?;
    let waited = unblocked.elapsed();
    assert!(
        waited < Duration::from_secs(15),
        "the last update waited {waited:?}: its claim was not handed back"
    );
    Ok(())
}
