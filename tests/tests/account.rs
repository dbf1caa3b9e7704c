//! /delete_my_data and signed buttons, end to end.

use std::time::Duration;

use toogoodtogo_tests::harness::{self, Stack, unique_user};

const WAIT: Duration = Duration::from_secs(10);

fn button_data(message: &serde_json::Value, row: usize, column: usize) -> String {
    message["reply_markup"]["inline_keyboard"][row][column]["callback_data"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn delete_my_data_erases_after_confirmation() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let bot = stack.start_bot().await?;
    let user = unique_user("Gus");
    let webhook = bot.webhook();

    webhook
        .post(&stack.updates.text(&user, "/delete_my_data"))
        .await?;
    let question = stack
        .fake
        .wait_for_messages(user.id, 1, WAIT)
        .await?
        .remove(0);
    assert!(
        question["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("Erase your personal data?")
    );
    let yes = button_data(&question, 0, 0);
    assert!(yes.len() <= 64);

    webhook
        .post(&stack.updates.callback(&user, &question, &yes))
        .await?;
    let edited = stack
        .fake
        .wait_until(WAIT, || {
            let m = stack.fake.transcript(user.id).remove(0);
            (m["text"] == "Done: your personal data has been erased.").then_some(m)
        })
        .await
        .map_err(|_| "confirmation message was not edited")?;
    assert!(
        edited.get("reply_markup").is_none(),
        "buttons are gone after the answer"
    );
    assert_eq!(stack.fake.callback_answers().len(), 1);
    stack.wait_until_processed(2).await?;

    let (first_name, username, erased): (String, Option<String>, bool) = sqlx::query_as(
        "SELECT first_name, username, erased_at IS NOT NULL FROM users WHERE telegram_id = $1",
    )
    .bind(user.id)
    .fetch_one(&stack.pool)
    .await?;
    assert_eq!((first_name.as_str(), username, erased), ("", None, true));
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'user.personal_data_erased' AND actor_id = $1",
    )
    .bind(user.id)
    .fetch_one(&stack.pool)
    .await?;
    assert_eq!(audited, 1);
    Ok(())
}

#[tokio::test]
async fn forged_or_foreign_button_data_is_refused() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let bot = stack.start_bot().await?;
    let owner = unique_user("Hal");
    let intruder = unique_user("Ivy");
    let webhook = bot.webhook();

    webhook
        .post(&stack.updates.text(&owner, "/delete_my_data"))
        .await?;
    let question = stack
        .fake
        .wait_for_messages(owner.id, 1, WAIT)
        .await?
        .remove(0);
    let yes = button_data(&question, 0, 0);

    // The owner's id swapped for the intruder's: the signature no longer matches.
    let forged = yes.replacen(&owner.id.to_string(), &intruder.id.to_string(), 1);
    webhook
        .post(&stack.updates.callback(&intruder, &question, &forged))
        .await?;
    // A genuine button pressed by someone else.
    webhook
        .post(&stack.updates.callback(&intruder, &question, &yes))
        .await?;
    webhook
        .post(&stack.updates.callback(&owner, &question, "garbage"))
        .await?;

    let answers = stack
        .fake
        .wait_until(WAIT, || {
            let answers = stack.fake.callback_answers();
            (answers.len() >= 3).then_some(answers)
        })
        .await
        .map_err(|_| "callbacks were not answered")?;
    stack.wait_until_processed(4).await?;
    for answer in &answers {
        assert_eq!(answer["text"], "This button is no longer valid.");
    }
    let erased: bool =
        sqlx::query_scalar("SELECT erased_at IS NOT NULL FROM users WHERE telegram_id = $1")
            .bind(owner.id)
            .fetch_one(&stack.pool)
            .await?;
    assert!(!erased, "nothing was erased");
    Ok(())
}
