//! How the bot meets Telegram's limits and refusals: 429 retry_after, users who blocked the bot,
//! the outbound queue's pacing, and per-user rate limiting.

use std::time::Duration;

use serde_json::json;
use toogoodtogo_bot::store::outbound::{self, OutboundMessage};
use toogoodtogo_tests::harness::{self, BotProcess, Stack, unique_user};
use toogoodtogo_tests::telegram_fake::Injected;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn a_reply_is_retried_after_retry_after() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let bot = stack.start_bot().await?;
    let user = unique_user("Jo");
    stack
        .fake
        .inject("sendMessage", Some(user.id), Injected::RetryAfter(1));

    bot.webhook()
        .post(&stack.updates.text(&user, "/help"))
        .await?;
    stack.fake.wait_for_messages(user.id, 1, WAIT).await?;

    let attempts: Vec<_> = stack
        .fake
        .calls_of("sendMessage")
        .into_iter()
        .filter(|c| c.params["chat_id"] == json!(user.id))
        .collect();
    assert_eq!(attempts.len(), 2, "one refused attempt, one delivered");
    let waited = attempts[1].at.duration_since(attempts[0].at);
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}, before retry_after"
    );
    Ok(())
}

async fn blocked_at(stack: &Stack, user_id: i64) -> Option<bool> {
    sqlx::query_scalar("SELECT blocked_at IS NOT NULL FROM users WHERE telegram_id = $1")
        .bind(user_id)
        .fetch_optional(&stack.pool)
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn forbidden_marks_the_user_blocked_and_my_chat_member_unblocks() -> Result<(), harness::Error>
{
    let stack = Stack::new().await?;
    let bot = stack.start_bot().await?;
    let user = unique_user("Kim");
    stack.fake.block_chat(user.id);

    bot.webhook()
        .post(&stack.updates.text(&user, "/start"))
        .await?;
    harness::eventually(WAIT, || async {
        blocked_at(&stack, user.id).await.filter(|b| *b)
    })
    .await
    .ok_or("user was not marked blocked after 403")?;
    let (outcome,): (String,) = sqlx::query_as("SELECT outcome FROM inbox_updates")
        .fetch_one(&stack.pool)
        .await?;
    assert_eq!(
        outcome, "handled",
        "a blocked recipient is not a processing failure"
    );

    // Nothing is queued for a blocked user.
    let mut conn = stack.pool.acquire().await?;
    let queued =
        outbound::enqueue(&mut conn, user.id, &OutboundMessage::text("deal alert")).await?;
    assert_eq!(queued, 0);

    // The user restarts the bot.
    stack.fake.unblock_chat(user.id);
    bot.webhook()
        .post(&stack.updates.my_chat_member(&user, "kicked", "member"))
        .await?;
    harness::eventually(WAIT, || async {
        blocked_at(&stack, user.id).await.filter(|b| !*b)
    })
    .await
    .ok_or("my_chat_member did not unblock")?;
    // And blocks it again, announced by Telegram.
    bot.webhook()
        .post(&stack.updates.my_chat_member(&user, "member", "kicked"))
        .await?;
    harness::eventually(WAIT, || async {
        blocked_at(&stack, user.id).await.filter(|b| *b)
    })
    .await
    .ok_or("my_chat_member kicked did not block")?;
    Ok(())
}

#[tokio::test]
async fn the_outbound_queue_paces_chats_honours_429_and_drops_blocked_users()
-> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    // The bot creates the schema; the queue is filled once it runs.
    let bot = stack.start_bot().await?;
    let (alice, bob, blocked) = (unique_user("Al"), unique_user("Bo"), unique_user("Cat"));
    stack.fake.block_chat(blocked.id);
    stack
        .fake
        .inject("sendMessage", Some(bob.id), Injected::RetryAfter(2));

    let mut conn = stack.pool.acquire().await?;
    for text in ["first", "second"] {
        outbound::enqueue(&mut conn, alice.id, &OutboundMessage::text(text)).await?;
    }
    outbound::enqueue(&mut conn, bob.id, &OutboundMessage::text("for bob")).await?;
    outbound::enqueue(&mut conn, blocked.id, &OutboundMessage::text("never")).await?;

    let to_alice = stack.fake.wait_for_messages(alice.id, 2, WAIT).await?;
    assert_eq!(
        (to_alice[0]["text"].clone(), to_alice[1]["text"].clone()),
        (json!("first"), json!("second"))
    );
    let alice_calls: Vec<_> = stack
        .fake
        .calls_of("sendMessage")
        .into_iter()
        .filter(|c| c.params["chat_id"] == json!(alice.id))
        .collect();
    let gap = alice_calls[1].at.duration_since(alice_calls[0].at);
    assert!(
        gap >= Duration::from_millis(950),
        "two messages to one chat {gap:?} apart"
    );

    stack.fake.wait_for_messages(bob.id, 1, WAIT).await?;
    let bob_calls: Vec<_> = stack
        .fake
        .calls_of("sendMessage")
        .into_iter()
        .filter(|c| c.params["chat_id"] == json!(bob.id))
        .collect();
    assert_eq!(bob_calls.len(), 2);
    assert!(bob_calls[1].at.duration_since(bob_calls[0].at) >= Duration::from_millis(1900));

    let status = harness::eventually(WAIT, || async {
        let status: String =
            sqlx::query_scalar("SELECT status FROM outbound_messages WHERE chat_id = $1")
                .bind(blocked.id)
                .fetch_one(&stack.pool)
                .await
                .ok()?;
        (status != "pending").then_some(status)
    })
    .await;
    assert_eq!(status.as_deref(), Some("dropped"));
    assert_eq!(blocked_at(&stack, blocked.id).await, Some(true));
    drop(bot);
    Ok(())
}

#[tokio::test]
async fn a_queued_message_outlasts_more_429s_than_it_has_attempts() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let bot = stack.start_bot().await?;
    let user = unique_user("Flo");
    // One more flood-control answer than the queue's attempts (8) in a row.
    for _ in 0..9 {
        stack
            .fake
            .inject("sendMessage", Some(user.id), Injected::RetryAfter(1));
    }
    let mut conn = stack.pool.acquire().await?;
    outbound::enqueue(&mut conn, user.id, &OutboundMessage::text("patience")).await?;
    let delivered = stack
        .fake
        .wait_for_messages(user.id, 1, Duration::from_secs(40))
        .await?;
    assert_eq!(delivered[0]["text"], json!("patience"));
    // The sender marks it sent when its transaction commits, just after Telegram took it.
    let (status, attempts) = harness::eventually(WAIT, || async {
        let row: (String, i32) =
            sqlx::query_as("SELECT status, attempts FROM outbound_messages WHERE chat_id = $1")
                .bind(user.id)
                .fetch_one(&stack.pool)
                .await
                .ok()?;
        (row.0 != "pending").then_some(row)
    })
    .await
    .ok_or("the message stayed pending")?;
    assert_eq!(status, "sent");
    assert!(
        attempts <= 1,
        "{attempts} attempts: waiting counted as failing"
    );
    drop(bot);
    Ok(())
}

#[tokio::test]
async fn a_user_over_the_rate_limit_is_told_once_then_dropped() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let bot = BotProcess::start(stack.env().set("RATE_LIMIT_PER_MINUTE", "3")).await?;
    let user = unique_user("Lu");
    // Rate limits live in Redis, which connects in the background.
    harness::eventually(WAIT, || async {
        let body: serde_json::Value = bot.get("/health").await.ok()?.json().await.ok()?;
        (body["dependencies"]["redis"]["status"] == "healthy").then_some(())
    })
    .await
    .ok_or("redis never connected")?;
    for _ in 0..7 {
        bot.webhook()
            .post(&stack.updates.text(&user, "/help"))
            .await?;
    }
    harness::eventually(WAIT, || async {
        let done: i64 =
            sqlx::query_scalar("SELECT count(*) FROM inbox_updates WHERE processed_at IS NOT NULL")
                .fetch_one(&stack.pool)
                .await
                .ok()?;
        (done == 7).then_some(())
    })
    .await
    .ok_or("updates were not all processed")?;
    let texts: Vec<String> = stack
        .fake
        .transcript(user.id)
        .iter()
        .map(|m| m["text"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert!(texts[3].starts_with("You're sending messages faster"));
    let limited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM inbox_updates WHERE outcome = 'rate_limited'")
            .fetch_one(&stack.pool)
            .await?;
    assert_eq!(limited, 4);
    Ok(())
}

/// One chat that Telegram makes wait (a 429 longer than a reply may wait) holds no worker: with a
/// single worker for every chat, another user is answered at once, and the waiting chat's replies
/// arrive after the wait, in order.
#[tokio::test]
async fn a_chat_telegram_makes_wait_holds_up_nobody_and_keeps_its_order()
-> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let bot = BotProcess::start(stack.env().set("INBOX_WORKERS", "1")).await?;
    let noisy = unique_user("Noisy");
    let other = unique_user("Other");
    stack
        .fake
        .inject("sendMessage", Some(noisy.id), Injected::RetryAfter(8));
    let started = std::time::Instant::now();
    bot.webhook()
        .post(&stack.updates.text(&noisy, "/start"))
        .await?;
    bot.webhook()
        .post(&stack.updates.text(&noisy, "/help"))
        .await?;
    stack.wait_until_processed(2).await?;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the waiting chat's updates were processed without waiting: {:?}",
        started.elapsed()
    );
    bot.webhook()
        .post(&stack.updates.text(&other, "/help"))
        .await?;
    stack.fake.wait_for_messages(other.id, 1, WAIT).await?;
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "the other user was answered while the noisy chat waits: {:?}",
        started.elapsed()
    );
    assert!(
        stack.fake.transcript(noisy.id).is_empty(),
        "nothing before the wait is over"
    );

    let replies = stack.fake.wait_for_messages(noisy.id, 2, WAIT).await?;
    assert!(
        started.elapsed() >= Duration::from_secs(7),
        "sent after Telegram's retry_after"
    );
    let texts: Vec<&str> = replies
        .iter()
        .map(|m| m["text"].as_str().unwrap_or(""))
        .collect();
    assert!(
        texts[1].starts_with("Too Good To Go helps"),
        "in order: {texts:?}"
    );
    assert!(
        !texts[0].starts_with("Too Good To Go helps"),
        "in order: {texts:?}"
    );
    Ok(())
}
