//! Builds updates in Telegram's real JSON format and posts them to the bot's webhook with the
//! secret header, as Telegram does.

use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Value, json};

pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// A simulated Telegram user chatting with the bot in a private chat.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: i64,
    pub first_name: String,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

impl TestUser {
    pub fn new(id: i64, first_name: &str) -> Self {
        Self {
            id,
            first_name: first_name.to_owned(),
            username: Some(format!("{}_{id}", first_name.to_lowercase())),
            language_code: Some("en".to_owned()),
        }
    }

    fn json(&self) -> Value {
        let mut user = json!({ "id": self.id, "is_bot": false, "first_name": self.first_name });
        if let Some(username) = &self.username {
            user["username"] = json!(username);
        }
        if let Some(code) = &self.language_code {
            user["language_code"] = json!(code);
        }
        user
    }

    fn chat(&self) -> Value {
        json!({ "id": self.id, "type": "private", "first_name": self.first_name })
    }
}

/// Numbers updates and messages like Telegram does: increasing ids.
pub struct UpdateFactory {
    next_update_id: AtomicI64,
    next_message_id: AtomicI64,
}

impl Default for UpdateFactory {
    fn default() -> Self {
        Self::starting_at(1_000)
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl UpdateFactory {
    pub fn starting_at(update_id: i64) -> Self {
        Self {
            next_update_id: AtomicI64::new(update_id),
            next_message_id: AtomicI64::new(1),
        }
    }

    pub fn next_update_id(&self) -> i64 {
        self.next_update_id.fetch_add(1, Ordering::Relaxed)
    }

    fn message(&self, user: &TestUser, extra: Value) -> Value {
        let mut message = json!({
            "message_id": self.next_message_id.fetch_add(1, Ordering::Relaxed),
            "date": unix_now(),
            "chat": user.chat(),
            "from": user.json(),
        });
        if let (Value::Object(m), Value::Object(extra)) = (&mut message, extra) {
            m.extend(extra);
        }
        json!({ "update_id": self.next_update_id(), "message": message })
    }

    /// A text message; a leading `/command` carries a bot_command entity as Telegram sends it.
    pub fn text(&self, user: &TestUser, text: &str) -> Value {
        let mut extra = json!({ "text": text });
        if text.starts_with('/') {
            let length = text
                .split_whitespace()
                .next()
                .map_or(0, |c| c.encode_utf16().count());
            extra["entities"] = json!([{ "type": "bot_command", "offset": 0, "length": length }]);
        }
        self.message(user, extra)
    }

    pub fn location(&self, user: &TestUser, latitude: f64, longitude: f64) -> Value {
        self.message(
            user,
            json!({ "location": { "latitude": latitude, "longitude": longitude } }),
        )
    }

    pub fn photo(&self, user: &TestUser, file_id: &str) -> Value {
        self.message(
            user,
            json!({ "photo": [{ "file_id": file_id, "file_unique_id": file_id, "width": 800, "height": 600 }] }),
        )
    }

    /// A press of an inline button with `data` on a message the bot sent (as the fake recorded it).
    pub fn callback(&self, user: &TestUser, bot_message: &Value, data: &str) -> Value {
        let update_id = self.next_update_id();
        json!({
            "update_id": update_id,
            "callback_query": {
                "id": format!("cbq-{update_id}"),
                "from": user.json(),
                "message": bot_message,
                "chat_instance": format!("ci-{}", user.id),
                "data": data,
            }
        })
    }

    /// The user blocked (`kicked`) or restarted (`member`) the bot.
    pub fn my_chat_member(&self, user: &TestUser, old_status: &str, new_status: &str) -> Value {
        let bot = json!({ "id": crate::telegram_fake::BOT_ID, "is_bot": true, "first_name": "TooGoodToGo", "username": crate::telegram_fake::BOT_USERNAME });
        let member = |status: &str| {
            let mut m = json!({ "user": bot, "status": status });
            if status == "kicked" {
                m["until_date"] = json!(0);
            }
            m
        };
        json!({
            "update_id": self.next_update_id(),
            "my_chat_member": {
                "chat": user.chat(),
                "from": user.json(),
                "date": unix_now(),
                "old_chat_member": member(old_status),
                "new_chat_member": member(new_status),
            }
        })
    }
}

/// Posts updates to a webhook.
#[derive(Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    url: String,
    secret: String,
}

impl WebhookClient {
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .unwrap_or_default(),
            url: url.into(),
            secret: secret.into(),
        }
    }

    pub async fn post(&self, update: &Value) -> reqwest::Result<reqwest::StatusCode> {
        self.post_raw(
            serde_json::to_vec(update).unwrap_or_default(),
            Some(&self.secret),
        )
        .await
    }

    pub async fn post_raw(
        &self,
        body: Vec<u8>,
        secret: Option<&str>,
    ) -> reqwest::Result<reqwest::StatusCode> {
        let mut request = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(secret) = secret {
            request = request.header(SECRET_HEADER, secret);
        }
        Ok(request.send().await?.status())
    }
}
