//! The webhook intake end to end: the real bot binary, real PostgreSQL and Redis, the Telegram
//! fake over HTTP.

use std::time::Duration;

use serde_json::Value;
use toogoodtogo_tests::harness::{self, Stack, WEBHOOK_SECRET_PREVIOUS, unique_user};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn start_greets_and_offers_the_role_choice() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let bot = stack.start_bot().await?;
    let user = unique_user("Ada");

    let status = bot
        .webhook()
        .post(&stack.updates.text(&user, "/start"))
        .await?;
    assert_eq!(status, 200);

    let messages = stack.fake.wait_for_messages(user.id, 1, WAIT).await?;
    let greeting = &messages[0];
    assert!(
        greeting["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("Hi Ada!"),
        "{greeting}"
    );
    let buttons: Vec<&str> = greeting["reply_markup"]["keyboard"][0]
        .as_array()
        .map(|row| row.iter().filter_map(|b| b["text"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(buttons, ["🛒 I'm a customer", "🏪 I'm a business"]);

    stack.wait_until_processed(1).await?;
    let (first_name, language): (String, Option<String>) =
        sqlx::query_as("SELECT first_name, language_code FROM users WHERE telegram_id = $1")
            .bind(user.id)
            .fetch_one(&stack.pool)
            .await?;
    assert_eq!(
        (first_name.as_str(), language.as_deref()),
        ("Ada", Some("en"))
    );
    Ok(())
}

#[tokio::test]
async fn a_redelivered_update_is_processed_once() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let bot = stack.start_bot().await?;
    let user = unique_user("Bob");
    let update = stack.updates.text(&user, "/help");

    for _ in 0..3 {
        assert_eq!(bot.webhook().post(&update).await?, 200);
    }
    stack.fake.wait_for_messages(user.id, 1, WAIT).await?;
    // Give a wrongly duplicated processing every chance to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stack.fake.transcript(user.id).len(), 1);
    stack.wait_until_processed(1).await?;

    let (attempts, outcome): (i32, String) =
        sqlx::query_as("SELECT attempts, outcome FROM inbox_updates WHERE update_id = $1")
            .bind(update["update_id"].as_i64())
            .fetch_one(&stack.pool)
            .await?;
    assert_eq!((attempts, outcome.as_str()), (1, "handled"));
    Ok(())
}

#[tokio::test]
async fn wrong_secrets_are_refused_and_the_previous_secret_is_accepted()
-> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let bot = stack.start_bot().await?;
    let user = unique_user("Cy");
    let webhook = bot.webhook();
    let body = serde_json::to_vec(&stack.updates.text(&user, "/help"))?;

    assert_eq!(webhook.post_raw(body.clone(), None).await?, 401);
    assert_eq!(webhook.post_raw(body.clone(), Some("guess")).await?, 401);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        stack.fake.transcript(user.id).is_empty(),
        "a refused update must not be processed"
    );

    assert_eq!(
        webhook
            .post_raw(body, Some(WEBHOOK_SECRET_PREVIOUS))
            .await?,
        200
    );
    stack.fake.wait_for_messages(user.id, 1, WAIT).await?;
    Ok(())
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_refused_without_harm() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let bot = BotProcessWithSmallBody::start(&stack).await?;
    let webhook = bot.webhook();

    assert_eq!(
        webhook
            .post_raw(b"{not json".to_vec(), Some(harness::WEBHOOK_SECRET))
            .await?,
        400
    );
    assert_eq!(
        webhook
            .post_raw(b"{\"message\":{}}".to_vec(), Some(harness::WEBHOOK_SECRET))
            .await?,
        400
    );
    let oversized = format!(
        "{{\"update_id\": 1, \"padding\": \"{}\"}}",
        "x".repeat(20_000)
    );
    assert_eq!(
        webhook
            .post_raw(oversized.into_bytes(), Some(harness::WEBHOOK_SECRET))
            .await?,
        413
    );

    // The service is unharmed: the next update is handled.
    let user = unique_user("Di");
    assert_eq!(
        webhook.post(&stack.updates.text(&user, "/start")).await?,
        200
    );
    stack.fake.wait_for_messages(user.id, 1, WAIT).await?;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox_updates")
        .fetch_one(&stack.pool)
        .await?;
    assert_eq!(stored, 1, "refused bodies are not stored");
    Ok(())
}

struct BotProcessWithSmallBody;

impl BotProcessWithSmallBody {
    async fn start(stack: &Stack) -> Result<harness::BotProcess, harness::Error> {
        harness::BotProcess::start(stack.env().set("WEBHOOK_MAX_BODY_BYTES", "10000")).await
    }
}

#[tokio::test]
async fn health_reports_the_contract_and_metrics_count_updates() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let bot = stack.start_bot().await?;
    let user = unique_user("Eve");
    bot.webhook()
        .post(&stack.updates.text(&user, "/start"))
        .await?;
    stack.fake.wait_for_messages(user.id, 1, WAIT).await?;

    // Redis connects in the background; wait for it to be reported.
    let health = harness::eventually(WAIT, || async {
        let response = bot.get("/health").await.ok()?;
        let cache = response
            .headers()
            .get("cache-control")?
            .to_str()
            .ok()?
            .to_owned();
        let body: Value = response.json().await.ok()?;
        (body["status"] == "healthy").then_some((cache, body))
    })
    .await
    .ok_or("health never became healthy")?;
    let (cache_control, body) = health;
    assert_eq!(cache_control, "no-cache");
    assert!(
        body["version"].as_str().unwrap_or("").starts_with('v'),
        "{body}"
    );
    assert!(body["uptime_seconds"].is_u64());
    assert!(body["timestamp"].is_string());
    for dependency in ["postgres", "redis"] {
        assert_eq!(body["dependencies"][dependency]["status"], "healthy");
        assert!(body["dependencies"][dependency]["response_time_ms"].is_number());
    }

    assert_eq!(bot.get("/live").await?.status(), 200);
    assert_eq!(bot.get("/ready").await?.status(), 200);
    // Counted once the update's transaction has committed, just after the reply went out.
    let metrics = harness::eventually(WAIT, || async {
        let text = bot.get("/metrics").await.ok()?.text().await.ok()?;
        text.contains("toogoodtogo_updates_processed_total{outcome=\"handled\"} 1")
            .then_some(text)
    })
    .await
    .ok_or("the processed update was not counted")?;
    assert!(
        metrics.contains("toogoodtogo_updates_received_total{source=\"webhook\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "toogoodtogo_http_requests_total{method=\"POST\",route=\"/webhook\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    Ok(())
}

#[tokio::test]
async fn commands_and_free_text_always_get_an_answer() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let bot = stack.start_bot().await?;
    let user = unique_user("Fay");
    let webhook = bot.webhook();
    for text in [
        "/help",
        "/privacy",
        "/frobnicate",
        "hello there",
        "/start offer_17",
        "/start nonsense!",
    ] {
        webhook.post(&stack.updates.text(&user, text)).await?;
    }
    webhook
        .post(&stack.updates.photo(&user, "AgAD-photo"))
        .await?;
    // A deal link answers with the deal (here: that it is not available); an invalid payload
    // answers twice (the notice, then the greeting).
    let messages = stack.fake.wait_for_messages(user.id, 8, WAIT).await?;
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap_or(""))
        .collect();
    assert!(
        texts[0].contains("/privacy"),
        "help lists the commands: {}",
        texts[0]
    );
    assert!(texts[1].starts_with("What the bot stores about you"));
    assert!(texts[2].starts_with("I don't know that command"));
    assert!(texts[3].starts_with("I understand commands and buttons"));
    assert!(texts[4].starts_with("That deal is not available"));
    assert!(texts[5].starts_with("That link isn't valid"));
    assert!(texts[6].starts_with("Hi Fay!"));
    assert!(texts[7].starts_with("I can't handle that kind of message"));
    Ok(())
}
