//! The sandbox against the local PostgreSQL and Redis: the page's HTTP API drives the real bot
//! binary through the Telegram fake, and the bot's answers arrive on the SSE stream and in the
//! transcript export.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{EventStream, start_sandbox};

#[tokio::test]
async fn text_buttons_and_locations_round_trip_through_the_real_bot() -> support::Result {
    let sandbox = start_sandbox().await?;
    let http = reqwest::Client::new();
    let customer = sandbox.session.ids.customer;
    let mut events = EventStream::open(&sandbox.url, 0).await?;

    // The page itself is served.
    let page = http.get(&sandbox.url).send().await?.text().await?;
    assert!(page.contains("TooGoodToGo sandbox"));
    assert!(
        http.get(format!("{}/app.js", sandbox.url))
            .send()
            .await?
            .status()
            .is_success()
    );

    // Text: /start is echoed as the user's entry, then the bot greets with the role keyboard.
    let sent: Value = http
        .post(format!("{}/api/users/{customer}/text", sandbox.url))
        .json(&json!({ "text": "/start" }))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(sent["kind"], "user_text");
    let greeting = events
        .next_matching(|e| e["kind"] == "bot_message" && e["chat_id"] == customer)
        .await?;
    let text = greeting["message"]["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Hi Carla!"), "{greeting}");
    let keyboard = &greeting["message"]["reply_markup"]["keyboard"];
    let first_button = keyboard[0][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(first_button.contains("customer"), "{keyboard}");
    // A user message and the bot's answer share one message id sequence, as in Telegram.
    assert!(greeting["message"]["message_id"].as_i64() > sent["message_id"].as_i64());

    // A reply keyboard button sends its text.
    http.post(format!("{}/api/users/{customer}/text", sandbox.url))
        .json(&json!({ "text": first_button }))
        .send()
        .await?
        .error_for_status()?;
    let welcome = events
        .next_matching(|e| e["kind"] == "bot_message" && e["chat_id"] == customer)
        .await?;
    assert!(welcome["message"].is_object(), "{welcome}");
    // The customer's browse menu follows the welcome; it is not the question below.
    events
        .next_matching(|e| {
            e["kind"] == "bot_message"
                && e["chat_id"] == customer
                && e["message"]["reply_markup"]["inline_keyboard"].is_array()
        })
        .await?;

    // An inline button: /delete_my_data asks for confirmation with signed callback data;
    // pressing "No" sends a real callback_query, which the bot answers and edits the message.
    http.post(format!("{}/api/users/{customer}/text", sandbox.url))
        .json(&json!({ "text": "/delete_my_data" }))
        .send()
        .await?
        .error_for_status()?;
    let question = events
        .next_matching(|e| {
            e["kind"] == "bot_message" && e["message"]["reply_markup"]["inline_keyboard"].is_array()
        })
        .await?;
    let buttons = question["message"]["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .cloned()
        .collect::<Vec<_>>();
    let keep = buttons
        .iter()
        .find(|b| b["text"].as_str().unwrap_or_default().starts_with("No"))
        .ok_or("no 'No' button")?;
    let message_id = question["message"]["message_id"].clone();
    let pressed = http
        .post(format!("{}/api/users/{customer}/button", sandbox.url))
        .json(&json!({ "message_id": message_id, "data": keep["callback_data"] }))
        .send()
        .await?;
    assert!(pressed.status().is_success());
    // The bot answers the callback query and edits the question, in either order.
    let (mut edited, mut callback_answered) = (None, false);
    while edited.is_none() || !callback_answered {
        let entry = events
            .next_matching(|e| {
                e["kind"] == "callback_answer"
                    || (e["kind"] == "bot_edit" && e["message"]["message_id"] == message_id)
            })
            .await?;
        if entry["kind"] == "callback_answer" {
            assert_eq!(entry["chat_id"], customer);
            callback_answered = true;
        } else {
            edited = Some(entry);
        }
    }
    let edited = edited.unwrap_or_default();
    let edited_text = edited["message"]["text"].as_str().unwrap_or_default();
    assert!(edited_text.contains("Nothing was erased"), "{edited}");

    // A button that is not on the message cannot be pressed.
    let forged = http
        .post(format!("{}/api/users/{customer}/button", sandbox.url))
        .json(&json!({ "message_id": message_id, "data": "forged" }))
        .send()
        .await?;
    assert_eq!(forged.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);

    // A location reaches the bot, which answers (whatever the current flows make of it).
    let located: Value = http
        .post(format!("{}/api/users/{customer}/location", sandbox.url))
        .json(&json!({ "latitude": 52.5219, "longitude": 13.4132, "label": "Alexanderplatz" }))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(located["kind"], "user_location");
    let after_location = events
        .next_matching(|e| {
            e["kind"] == "bot_message"
                && e["chat_id"] == customer
                && e["seq"].as_u64() > located["seq"].as_u64()
        })
        .await?;
    assert!(after_location["message"].is_object());
    let bad_location = http
        .post(format!("{}/api/users/{customer}/location", sandbox.url))
        .json(&json!({ "latitude": 95.0, "longitude": 13.0 }))
        .send()
        .await?;
    assert_eq!(
        bad_location.status(),
        reqwest::StatusCode::UNPROCESSABLE_ENTITY
    );

    // A (placeholder) photo reaches the bot as a real photo message.
    let photo: Value = http
        .post(format!("{}/api/users/{customer}/photo", sandbox.url))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(photo["kind"], "user_photo");
    events
        .next_matching(|e| {
            e["kind"] == "bot_message"
                && e["chat_id"] == customer
                && e["seq"].as_u64() > photo["seq"].as_u64()
        })
        .await?;

    // The transcript export holds all of it, in order.
    let transcript: Value = http
        .get(format!("{}/api/transcript?download=1", sandbox.url))
        .send()
        .await?
        .json()
        .await?;
    let kinds: Vec<&str> = transcript["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["chat_id"] == customer)
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for kind in [
        "user_text",
        "bot_message",
        "bot_edit",
        "button_pressed",
        "callback_answer",
        "user_location",
        "user_photo",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let seqs: Vec<u64> = transcript["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let report = sandbox.shutdown().await;
    assert!(
        report.iter().any(|l| l.starts_with("dropped database")),
        "{report:?}"
    );
    Ok(())
}

#[tokio::test]
async fn new_users_admins_and_reconnecting_pages() -> support::Result {
    let sandbox = start_sandbox().await?;
    let http = reqwest::Client::new();

    let state: Value = http
        .get(format!("{}/api/state", sandbox.url))
        .send()
        .await?
        .json()
        .await?;
    let roles: Vec<&str> = state["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["role"].as_str())
        .collect();
    assert_eq!(roles, ["customer", "business_owner", "admin"]);
    // The bot registered its command menu with the fake at start; the page shows it.
    let commands = state["commands"].as_array().cloned().unwrap_or_default();
    assert!(
        commands.iter().any(|c| c["command"] == "start"),
        "{commands:?}"
    );

    let user: Value = http
        .post(format!("{}/api/users", sandbox.url))
        .json(&json!({ "first_name": "Nora" }))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(user["role"], "new_user");
    let id = user["id"].as_i64().ok_or("no id")?;
    http.post(format!("{}/api/users/{id}/text", sandbox.url))
        .json(&json!({ "text": "/start" }))
        .send()
        .await?
        .error_for_status()?;
    let mut events = EventStream::open(&sandbox.url, 0).await?;
    let greeting = events
        .next_matching(|e| e["kind"] == "bot_message" && e["chat_id"] == id)
        .await?;
    assert!(
        greeting["message"]["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Hi Nora!")
    );

    // A page that reconnects after the greeting gets only what came later.
    let seq = greeting["seq"].as_u64().ok_or("no seq")?;
    let admin = sandbox.session.ids.admin;
    http.post(format!("{}/api/users/{admin}/text", sandbox.url))
        .json(&json!({ "text": "/help" }))
        .send()
        .await?
        .error_for_status()?;
    let mut resumed = EventStream::open(&sandbox.url, seq).await?;
    let first = resumed.next().await?;
    assert!(first["seq"].as_u64() > Some(seq), "{first}");

    let unknown = http
        .post(format!("{}/api/users/999/text", sandbox.url))
        .json(&json!({ "text": "hi" }))
        .send()
        .await?;
    assert_eq!(unknown.status(), reqwest::StatusCode::NOT_FOUND);

    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn the_sandbox_works_in_its_own_database_and_drops_it() -> support::Result {
    let mut options = support::options();
    options.keep = false;
    let sandbox = toogoodtogo_sandbox::Sandbox::start(options).await?;
    let name = sandbox.database_name.clone();
    assert!(name.starts_with("toogoodtogo_sandbox_"), "{name}");
    let admin = sqlx::PgPool::connect(&support::admin_url()).await?;
    let exists = |admin: sqlx::PgPool, name: String| async move {
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
        )
        .bind(name)
        .fetch_one(&admin)
        .await
    };
    assert!(exists(admin.clone(), name.clone()).await?);
    // The bot migrated it: the foundation's tables are there.
    let pool = sqlx::PgPool::connect(&sandbox.database_url).await?;
    let inbox: Option<String> = sqlx::query_scalar("SELECT to_regclass('inbox_updates')::text")
        .fetch_one(&pool)
        .await?;
    assert_eq!(inbox.as_deref(), Some("inbox_updates"));
    pool.close().await;

    sandbox.shutdown().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!exists(admin.clone(), name).await?);
    admin.close().await;
    Ok(())
}
