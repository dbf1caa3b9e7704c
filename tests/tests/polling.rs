//! Long polling feeds the same inbox as the webhook.

use std::time::Duration;

use toogoodtogo_tests::harness::{self, BotProcess, Stack, unique_user};

#[tokio::test]
async fn long_polling_receives_and_answers_updates() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let bot = BotProcess::start(stack.env().polling()).await?;
    let user = unique_user("Quin");

    let first = stack.fake.push_update(stack.updates.text(&user, "/start"));
    let second = stack.fake.push_update(stack.updates.text(&user, "/help"));
    let messages = stack
        .fake
        .wait_for_messages(user.id, 2, Duration::from_secs(10))
        .await?;
    assert!(
        messages[0]["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("Hi Quin!")
    );
    assert!(
        messages[1]["text"]
            .as_str()
            .unwrap_or("")
            .contains("/privacy")
    );

    let stored: Vec<i64> =
        sqlx::query_scalar("SELECT update_id FROM inbox_updates ORDER BY update_id")
            .fetch_all(&stack.pool)
            .await?;
    assert_eq!(stored, vec![first, second]);
    // The next poll confirmed them: Telegram would not deliver them again.
    let confirmed = stack
        .fake
        .wait_until(Duration::from_secs(5), || {
            stack
                .fake
                .calls_of("getUpdates")
                .iter()
                .any(|c| c.params["offset"] == serde_json::json!(second + 1))
                .then_some(())
        })
        .await;
    assert!(confirmed.is_ok());
    assert!(
        stack.fake.webhook().is_none(),
        "polling mode registers no webhook"
    );
    drop(bot);
    Ok(())
}
