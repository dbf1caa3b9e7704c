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

    /// The same user with the `language_code` Telegram reports for them (`None`: none at all).
    pub fn speaking(mut self, language_code: Option<&str>) -> Self {
        self.language_code = language_code.map(str::to_owned);
        self
    }

    /// The user as Telegram describes it in updates.
    pub fn json(&self) -> Value {
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

    /// The user pressed Pay on an invoice: the pre-checkout query Telegram sends before it charges
    /// (the bot must answer it with answerPreCheckoutQuery within 10 seconds). Its id is
    /// `pcq-<update_id>`.
    pub fn pre_checkout_query(
        &self,
        user: &TestUser,
        payload: &str,
        currency: &str,
        total_amount: i64,
    ) -> Value {
        let update_id = self.next_update_id();
        json!({
            "update_id": update_id,
            "pre_checkout_query": {
                "id": format!("pcq-{update_id}"),
                "from": user.json(),
                "currency": currency,
                "total_amount": total_amount,
                "invoice_payload": payload,
            }
        })
    }

    /// The service message Telegram sends to the bot once a payment went through.
    pub fn successful_payment(
        &self,
        user: &TestUser,
        payload: &str,
        currency: &str,
        total_amount: i64,
        telegram_charge_id: &str,
        provider_charge_id: &str,
    ) -> Value {
        self.message(
            user,
            json!({
                "successful_payment": {
                    "currency": currency,
                    "total_amount": total_amount,
                    "invoice_payload": payload,
                    "telegram_payment_charge_id": telegram_charge_id,
                    "provider_payment_charge_id": provider_charge_id,
                }
            }),
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::{Update, UpdateKind};

    /// Parsed from text as the bot parses a webhook body: teloxide's `Update` does not
    /// deserialize from a `serde_json::Value`.
    #[test]
    fn payment_updates_parse_as_telegram_updates() {
        let factory = UpdateFactory::default();
        let user = TestUser::new(42, "Ann");

        let update = factory.pre_checkout_query(&user, "hold:7", "EUR", 450);
        let parsed: Update = serde_json::from_str(&update.to_string()).unwrap();
        let UpdateKind::PreCheckoutQuery(query) = parsed.kind else {
            panic!("not a pre-checkout query: {parsed:?}");
        };
        assert_eq!(query.id.0, format!("pcq-{}", update["update_id"]));
        assert_eq!(query.from.id.0, 42);
        assert_eq!(
            (
                query.currency.as_str(),
                query.total_amount,
                query.invoice_payload.as_str()
            ),
            ("EUR", 450, "hold:7")
        );

        let update = factory.successful_payment(&user, "hold:7", "EUR", 450, "tg_1", "ch_1");
        let parsed: Update = serde_json::from_str(&update.to_string()).unwrap();
        let UpdateKind::Message(message) = parsed.kind else {
            panic!("not a message: {parsed:?}");
        };
        assert_eq!(message.chat.id.0, 42);
        let payment = message.successful_payment().expect("a successful_payment");
        assert_eq!(payment.invoice_payload, "hold:7");
        assert_eq!(payment.total_amount, 450);
        assert_eq!(payment.currency, "EUR");
        assert_eq!(payment.telegram_payment_charge_id.0, "tg_1");
        assert_eq!(payment.provider_payment_charge_id, "ch_1");
    }
}
