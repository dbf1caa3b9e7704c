//! The service's edges hold against broken peers and hostile input: no secret reaches a log
//! line, unauthenticated requests cannot grow the metrics, a payload PostgreSQL refuses costs
//! only its own request, and updates nobody understands are kept with a reason and counted.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use toogoodtogo_tests::harness::{
    self, BotProcess, Stack, TEST_SECRET_KEY, TEST_TOKEN, WEBHOOK_SECRET, WEBHOOK_SECRET_PREVIOUS,
    eventually, free_port, unique_user,
};
use toogoodtogo_tests::telegram_fake::Injected;

type Result<T = ()> = std::result::Result<T, harness::Error>;

const WAIT: Duration = Duration::from_secs(20);
const STRIPE_KEY: &str = "sk_test_secret_stripe_key_4242";
const STRIPE_PROVIDER: &str = "284685063:TEST:provider_secret";
const STRIPE_WEBHOOK: &str = "whsec_secret_webhook_signing";

fn secrets() -> Vec<&'static str> {
    let token_secret = TEST_TOKEN.split_once(':').map_or(TEST_TOKEN, |(_, s)| s);
    vec![
        TEST_TOKEN,
        token_secret,
        TEST_SECRET_KEY,
        WEBHOOK_SECRET,
        WEBHOOK_SECRET_PREVIOUS,
        STRIPE_KEY,
        STRIPE_PROVIDER,
        STRIPE_WEBHOOK,
    ]
}

fn assert_no_secret(log: &str) {
    for secret in secrets() {
        if let Some(line) = log.lines().find(|line| line.contains(secret)) {
            panic!(
                "a log line carries a secret ({} chars): {line}",
                secret.len()
            );
        }
    }
}

async fn log_shows(bot: &BotProcess, needle: &str) -> Result {
    eventually(WAIT, || async { bot.log().contains(needle).then_some(()) })
        .await
        .ok_or_else(|| format!("the log never showed {needle:?}:\n{}", bot.log()).into())
}

#[tokio::test]
async fn no_log_line_carries_a_secret_when_peers_fail() -> Result {
    // Long polling against a closed port: every getUpdates fails at the connection.
    let stack = Stack::new().await?;
    let closed = format!("http://127.0.0.1:{}", free_port());
    let with_stripe = |env: harness::BotEnv| {
        env.set("STRIPE_API_KEY", STRIPE_KEY)
            .set("STRIPE_PROVIDER_TOKEN", STRIPE_PROVIDER)
            .set("STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK)
            .set("STRIPE_API_URL", closed.clone())
            .set("LOG_LEVEL", "debug")
    };
    let polling = BotProcess::start(
        with_stripe(stack.env().polling()).set("TELEGRAM_API_URL", closed.clone()),
    )
    .await?;
    log_shows(&polling, "getUpdates failed").await?;
    assert_no_secret(&polling.log());
    drop(polling);

    // Webhook mode against a Telegram that answers errors, and a reply that fails.
    let stack = Stack::new().await?;
    stack.fake.inject(
        "setWebhook",
        None,
        Injected::Error {
            code: 500,
            description: "Internal Server Error".to_owned(),
        },
    );
    let user = unique_user("Carl");
    stack.fake.inject(
        "sendMessage",
        Some(user.id),
        Injected::Error {
            code: 502,
            description: "Bad Gateway".to_owned(),
        },
    );
    let bot = BotProcess::start(with_stripe(stack.env())).await?;
    let status = bot
        .webhook()
        .post(&stack.updates.text(&user, "/start"))
        .await?;
    assert!(status.is_success());
    log_shows(&bot, "reply not taken").await?;
    stack.fake.wait_for_messages(user.id, 1, WAIT).await?;
    assert_no_secret(&bot.log());
    Ok(())
}

async fn http_request_series(bot: &BotProcess) -> Result<Vec<String>> {
    let text = bot.get("/metrics").await?.text().await?;
    Ok(text
        .lines()
        .filter(|line| line.starts_with("toogoodtogo_http_requests_total{"))
        .map(|line| {
            line.rsplit_once(' ')
                .map_or(line, |(series, _)| series)
                .to_owned()
        })
        .collect())
}

#[tokio::test]
async fn ten_thousand_made_up_methods_create_no_metric_series() -> Result {
    let stack = Stack::new().await?;
    let bot = BotProcess::start(stack.env()).await?;
    let client = reqwest::Client::new();
    let url = bot.url("/webhook");
    // Every route the service has, once, so that their series exist before counting.
    for method in ["GET", "POST", "PUT"] {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        client.request(method, &url).send().await?;
    }
    client
        .request(reqwest::Method::from_bytes(b"X")?, &url)
        .send()
        .await?;
    // A scrape counts itself from the next one on.
    http_request_series(&bot).await?;
    let before = http_request_series(&bot).await?;

    let answered = futures::stream::iter(0..10_000)
        .map(|i| {
            let client = client.clone();
            let url = url.clone();
            async move {
                let method = reqwest::Method::from_bytes(format!("X{i}").as_bytes())?;
                client.request(method, &url).send().await?;
                Ok::<_, harness::Error>(())
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    assert!(answered.iter().all(Result::is_ok), "every request answered");
    let after = http_request_series(&bot).await?;
    assert_eq!(after, before, "no new series");
    assert!(
        after.iter().all(|series| !series.contains("X1")),
        "{after:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_payload_postgres_refuses_fails_its_own_request_alone() -> Result {
    let stack = Stack::new().await?;
    let bot = BotProcess::start(stack.env()).await?;
    let webhook = bot.webhook();
    let users: Vec<_> = (0..24).map(|i| unique_user(&format!("User{i}"))).collect();
    let poisoned = stack.updates.text(&users[0], "nul \u{0000} inside");
    let poisoned_id = poisoned["update_id"].as_i64().ok_or("no update_id")?;
    let mut updates = vec![poisoned];
    updates.extend(users[1..].iter().map(|u| stack.updates.text(u, "/start")));
    // All at once, so that they share intake batches.
    let statuses = futures::future::join_all(updates.iter().map(|u| webhook.post(u))).await;
    let mut refused = 0;
    for (update, status) in updates.iter().zip(statuses) {
        let status = status?;
        if update["update_id"].as_i64() == Some(poisoned_id) {
            assert_eq!(status.as_u16(), 400, "the refused payload gets 400");
            refused += 1;
        } else {
            assert!(status.is_success(), "the others are stored: {status}");
        }
    }
    assert_eq!(refused, 1);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox_updates")
        .fetch_one(&stack.pool)
        .await?;
    assert_eq!(stored, 23);
    for user in &users[1..] {
        stack.fake.wait_for_messages(user.id, 1, WAIT).await?;
    }
    log_shows(&bot, "update refused by the database").await?;
    Ok(())
}

#[tokio::test]
async fn updates_nobody_understands_are_kept_with_a_reason_and_counted() -> Result {
    let stack = Stack::new().await?;
    let bot = BotProcess::start(stack.env()).await?;
    let update_id = stack.updates.next_update_id();
    let unknown = json!({
        "update_id": update_id,
        "future_kind_of_update": { "id": 7, "anything": true },
    });
    let status = bot.webhook().post(&unknown).await?;
    assert!(status.is_success());
    stack.wait_until_processed(1).await?;
    let (outcome, reason): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT outcome, last_error FROM inbox_updates WHERE update_id = $1")
            .bind(update_id)
            .fetch_one(&stack.pool)
            .await?;
    assert_eq!(outcome.as_deref(), Some("undecodable"));
    let reason = reason.unwrap_or_default();
    assert!(reason.contains("future_kind_of_update"), "{reason}");
    log_shows(&bot, "stored update cannot be decoded").await?;
    let metrics = bot.get("/metrics").await?.text().await?;
    assert!(
        metrics.contains("toogoodtogo_updates_undecodable_total 1"),
        "{metrics}"
    );
    Ok(())
}

/// A message in a group, from `user`.
fn group_message(
    stack: &Stack,
    user: &toogoodtogo_tests::driver::TestUser,
    chat: i64,
    text: &str,
) -> serde_json::Value {
    json!({
        "update_id": stack.updates.next_update_id(),
        "message": {
            "message_id": stack.fake.allocate_message_id(chat),
            "date": toogoodtogo_tests::stripe_fake::unix_now(),
            "chat": { "id": chat, "type": "supergroup", "title": "Neighbours" },
            "from": user.json(),
            "text": text,
            "entities": if text.starts_with('/') {
                json!([{ "type": "bot_command", "offset": 0, "length": text.split_whitespace().next().map_or(0, str::len) }])
            } else {
                json!([])
            },
        }
    })
}

#[tokio::test]
async fn groups_are_told_once_to_use_a_private_chat_and_get_nothing_private() -> Result {
    let stack = Stack::new().await?;
    let bot = BotProcess::start(stack.env()).await?;
    let group = -1_001_234_567_890_i64;
    let ada = unique_user("Ada");
    let bo = unique_user("Bo");
    for (user, text) in [(&ada, "/start"), (&bo, "/browse"), (&ada, "hello")] {
        let status = bot
            .webhook()
            .post(&group_message(&stack, user, group, text))
            .await?;
        assert!(status.is_success());
    }
    stack.wait_until_processed(3).await?;
    let told = stack.fake.wait_for_messages(group, 1, WAIT).await?;
    let text = told[0]["text"].as_str().unwrap_or("");
    assert!(text.contains("private chats only"), "{text}");
    assert!(text.contains("https://t.me/"), "{text}");

    // A button of a bot message shared in the group: a notice, no edit of the group's message.
    let shared = told[0].clone();
    let press = json!({
        "update_id": stack.updates.next_update_id(),
        "callback_query": {
            "id": "cbq-group", "from": bo.json(), "message": shared,
            "chat_instance": "ci-group", "data": "anything",
        }
    });
    bot.webhook().post(&press).await?;
    stack.wait_until_processed(4).await?;
    let answers = stack.fake.callback_answers();
    let answer = answers
        .iter()
        .find(|a| a["callback_query_id"] == json!("cbq-group"))
        .ok_or("the press was not answered")?;
    assert!(
        answer["text"]
            .as_str()
            .unwrap_or("")
            .contains("private chats only"),
        "{answer}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let transcript = stack.fake.transcript(group);
    assert_eq!(
        transcript.len(),
        1,
        "told once, nothing else: {transcript:?}"
    );
    assert_eq!(transcript[0]["text"], told[0]["text"], "never edited");
    assert!(stack.fake.transcript(ada.id).is_empty());
    Ok(())
}
