//! A marketplace under test: the real bot binary with an admin, the Telegram fake, and helpers
//! that talk to it update by update as a user would (say, press, register, publish).

use std::time::Duration;

use serde_json::Value;

use crate::driver::TestUser;
use crate::harness::{self, BotEnv, BotProcess, Stack, unique_user};

pub const WAIT: Duration = Duration::from_secs(15);

pub type Result<T = ()> = std::result::Result<T, harness::Error>;

/// One bot with an admin, and a way to talk to it update by update.
pub struct Marketplace {
    pub stack: Stack,
    pub bot: BotProcess,
    /// The bot's environment, to start it again (e.g. after a kill -9).
    pub env: BotEnv,
    pub admin: TestUser,
    posted: i64,
}

pub fn text(message: &Value) -> &str {
    message["text"].as_str().unwrap_or("")
}

/// The callback data of the inline button whose label contains `label`.
pub fn button(message: &Value, label: &str) -> Option<String> {
    message["reply_markup"]["inline_keyboard"]
        .as_array()?
        .iter()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .find(|b| b["text"].as_str().unwrap_or("").contains(label))
        .and_then(|b| b["callback_data"].as_str().map(str::to_owned))
}

impl Marketplace {
    pub async fn start() -> Result<Self> {
        Self::start_with(|env| env).await
    }

    /// Starts the bot with extra configuration (e.g. Stripe's).
    pub async fn start_with(configure: impl FnOnce(BotEnv) -> BotEnv) -> Result<Self> {
        let stack = Stack::new().await?;
        let admin = unique_user("Admin");
        let env = stack
            .env()
            .set("ADMIN_TELEGRAM_IDS", admin.id.to_string())
            .set("TIMEZONE", "Europe/Berlin")
            .set("RATE_LIMIT_PER_MINUTE", "1000");
        let env = configure(env);
        let bot = BotProcess::start(env.clone()).await?;
        Ok(Self {
            stack,
            bot,
            env,
            admin,
            posted: 0,
        })
    }

    /// Posts an update, waits until it is processed and committed, and returns the bot's direct
    /// replies to it in the user's chat: messages the outbound queue delivered meanwhile (alerts,
    /// notices, confirmations of payments) are left out, so that a reply is never confused with
    /// a message some other event caused. Those are waited for with [`Self::wait_for_text`].
    pub async fn post(&mut self, user: &TestUser, update: Value) -> Result<Vec<Value>> {
        let before = self.stack.fake.transcript(user.id).len();
        let started: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
            .fetch_one(&self.stack.pool)
            .await?;
        let status = self.bot.webhook().post(&update).await?;
        assert!(status.is_success(), "webhook answered {status}");
        self.posted += 1;
        self.stack.wait_until_processed(self.posted).await?;
        // Let the chat's due queued messages go out first, so that every one sent meanwhile is
        // both in the transcript and marked sent.
        let pool = &self.stack.pool;
        let drained = harness::eventually(WAIT, || async {
            let due: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM outbound_messages
                 WHERE chat_id = $1 AND status = 'pending' AND not_before <= now()
                   AND NOT EXISTS (SELECT 1 FROM outbound_messages waiting
                                   WHERE waiting.chat_id = $1 AND waiting.status = 'pending'
                                     AND waiting.retry_at > now())",
            )
            .bind(user.id)
            .fetch_one(pool)
            .await
            .ok()?;
            (due == 0).then_some(())
        })
        .await;
        if drained.is_none() {
            return Err(format!("chat {}: queued messages were not sent in time", user.id).into());
        }
        let mut sent = self.stack.fake.transcript(user.id).split_off(before);
        // Each queued message sent meanwhile hides one message with its text.
        let queued: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT payload->>'text' FROM outbound_messages
             WHERE chat_id = $1 AND status = 'sent' AND sent_at >= $2",
        )
        .bind(user.id)
        .bind(started)
        .fetch_all(&self.stack.pool)
        .await?;
        for queued in queued.into_iter().flatten() {
            if let Some(at) = sent.iter().position(|m| text(m) == queued) {
                sent.remove(at);
            }
        }
        Ok(sent)
    }

    /// Posts an update and waits until it is processed and committed; returns nothing (use it
    /// when the replies may not go out, e.g. while Telegram hangs).
    pub async fn deliver(&mut self, update: Value) -> Result {
        let status = self.bot.webhook().post(&update).await?;
        assert!(status.is_success(), "webhook answered {status}");
        self.posted += 1;
        self.stack.wait_until_committed(self.posted).await
    }

    /// Posts an update and returns as soon as the webhook took it (stored, not yet processed);
    /// [`Self::wait_until_done`] waits for it and every update posted before.
    pub async fn submit(&mut self, update: Value) -> Result {
        let status = self.bot.webhook().post(&update).await?;
        assert!(status.is_success(), "webhook answered {status}");
        self.posted += 1;
        Ok(())
    }

    /// Waits until every update posted so far is processed and its replies went out.
    pub async fn wait_until_done(&self) -> Result {
        self.stack.wait_until_processed(self.posted).await
    }

    /// Kills the bot with SIGKILL (no shutdown of any kind) and starts it again.
    pub async fn kill9_and_restart(&mut self) -> Result {
        self.bot.kill9().await?;
        self.bot = BotProcess::start(self.env.clone()).await?;
        Ok(())
    }

    pub async fn say(&mut self, user: &TestUser, message: &str) -> Result<Vec<Value>> {
        let update = self.stack.updates.text(user, message);
        self.post(user, update).await
    }

    /// Says something and returns the text of the last reply.
    pub async fn ask(&mut self, user: &TestUser, message: &str) -> Result<String> {
        let replies = self.say(user, message).await?;
        Ok(replies
            .last()
            .map(|m| text(m).to_owned())
            .unwrap_or_default())
    }

    /// Presses the button labelled `label` on `message` (as the fake holds it now).
    pub async fn press(
        &mut self,
        user: &TestUser,
        message: &Value,
        label: &str,
    ) -> Result<Vec<Value>> {
        let current = self.current(user.id, message);
        let data =
            button(&current, label).ok_or_else(|| format!("no button {label:?} on {current}"))?;
        let update = self.stack.updates.callback(user, &current, &data);
        self.post(user, update).await
    }

    /// Opens a deal by its deep link and presses [Reserve]; returns the quantity selector.
    pub async fn open_selector(&mut self, customer: &TestUser, offer: i64) -> Result<Value> {
        let replies = self.say(customer, &format!("/start offer_{offer}")).await?;
        let details = replies.last().cloned().ok_or("no details")?;
        self.press(customer, &details, "Reserve").await?;
        Ok(self.current(customer.id, &details))
    }

    /// The latest form of a bot message (edits replace it in the transcript).
    pub fn current(&self, chat: i64, message: &Value) -> Value {
        self.stack
            .fake
            .transcript(chat)
            .into_iter()
            .find(|m| m["message_id"] == message["message_id"])
            .unwrap_or_else(|| message.clone())
    }

    pub fn last_callback_answer(&self) -> String {
        self.stack
            .fake
            .callback_answers()
            .last()
            .and_then(|a| a["text"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Waits for a message (sent through the outbound queue) containing `needle`.
    pub async fn wait_for_text(&self, chat: i64, needle: &str) -> Result<Value> {
        self.stack
            .fake
            .wait_until(WAIT, || {
                self.stack
                    .fake
                    .transcript(chat)
                    .into_iter()
                    .rev()
                    .find(|m| text(m).contains(needle))
            })
            .await
            .map_err(|_| {
                format!(
                    "no message containing {needle:?} in chat {chat}: {:?}",
                    self.stack.fake.transcript(chat)
                )
                .into()
            })
    }

    /// Registers a business through the dialogue and returns the submitted summary message.
    pub async fn register(&mut self, owner: &TestUser, name: &str) -> Result<Value> {
        assert!(
            self.ask(owner, "/register_business")
                .await?
                .contains("business called")
        );
        assert!(
            self.ask(owner, name)
                .await?
                .starts_with("Street and house number?")
        );
        self.ask(owner, "Main Street 12").await?;
        self.ask(owner, "Berlin").await?;
        self.ask(owner, "10115").await?;
        self.ask(owner, "/skip").await?;
        self.ask(owner, "Skip").await?;
        let update = self.stack.updates.location(owner, 52.52, 13.405);
        let replies = self.post(owner, update).await?;
        let summary = replies.last().cloned().ok_or("no summary")?;
        assert!(
            text(&summary).contains(&format!("Name: {name}")),
            "{summary}"
        );
        let replies = self.press(owner, &summary, "Submit for approval").await?;
        assert!(replies.is_empty(), "the summary is edited in place");
        let submitted = self.current(owner.id, &summary);
        assert!(
            text(&submitted).contains("submitted for approval"),
            "{submitted}"
        );
        Ok(submitted)
    }

    pub async fn business_id(&self, name: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT id FROM businesses WHERE name = $1")
                .bind(name)
                .fetch_one(&self.stack.pool)
                .await?,
        )
    }

    /// A registered business approved directly in the database (for tests about later steps).
    pub async fn approved_business(&mut self, owner: &TestUser, name: &str) -> Result<i64> {
        self.register(owner, name).await?;
        let id = self.business_id(name).await?;
        sqlx::query("UPDATE businesses SET status = 'approved' WHERE id = $1")
            .bind(id)
            .execute(&self.stack.pool)
            .await?;
        Ok(id)
    }

    /// Walks /newdeal to the summary card and returns it.
    pub async fn draft_deal(&mut self, owner: &TestUser, title: &str) -> Result<Value> {
        assert!(
            self.ask(owner, "/newdeal")
                .await?
                .contains("What kind of food")
        );
        assert!(self.ask(owner, "🥐 Bakery").await?.contains("title"));
        self.ask(owner, title).await?;
        self.ask(owner, "Bread and pastries of the day").await?;
        self.ask(owner, "Skip").await?;
        assert!(
            self.ask(owner, "tomorrow 18:00-20:00")
                .await?
                .starts_with("How many units")
        );
        assert!(
            self.ask(owner, "5")
                .await?
                .starts_with("Price per unit in EUR")
        );
        self.ask(owner, "4.50").await?;
        let replies = self.say(owner, "12").await?;
        replies
            .last()
            .cloned()
            .ok_or_else(|| "no deal summary".into())
    }

    /// Posts a deal and returns its id and the published message.
    pub async fn publish_deal(&mut self, owner: &TestUser, title: &str) -> Result<(i64, Value)> {
        let summary = self.draft_deal(owner, title).await?;
        self.press(owner, &summary, "Publish").await?;
        let published = self.current(owner.id, &summary);
        assert!(
            text(&published).starts_with("✅ Your deal is live!"),
            "{published}"
        );
        let id = sqlx::query_scalar("SELECT id FROM offers WHERE title = $1")
            .bind(title)
            .fetch_one(&self.stack.pool)
            .await?;
        Ok((id, published))
    }

    pub async fn offer_state(&self, offer_id: i64) -> Result<(String, i32)> {
        Ok(
            sqlx::query_as("SELECT state, units_available FROM offers WHERE id = $1")
                .bind(offer_id)
                .fetch_one(&self.stack.pool)
                .await?,
        )
    }

    pub async fn audited(&self, action: &str, entity_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM audit_events WHERE action = $1 AND entity_id = $2",
        )
        .bind(action)
        .bind(entity_id.to_string())
        .fetch_one(&self.stack.pool)
        .await?)
    }
}

/// Customer-side helpers: deals seeded straight into the database (the supply side has its own
/// suite), a customer's location, and raw button presses.
impl Marketplace {
    /// An approved business owned by `owner` at a location, without the registration dialogue.
    pub async fn seeded_business(
        &mut self,
        owner: &TestUser,
        name: &str,
        latitude: f64,
        longitude: f64,
    ) -> Result<i64> {
        // The owner writes once so that the bot knows them (language, name).
        self.say(owner, "/help").await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO businesses (owner_id, name, street, city, postal_code, latitude,
                 longitude, status)
             VALUES ($1, $2, 'Main Street 12', 'Berlin', '10115', $3, $4, 'approved')
             RETURNING id",
        )
        .bind(owner.id)
        .bind(name)
        .bind(latitude)
        .bind(longitude)
        .fetch_one(&self.stack.pool)
        .await?;
        sqlx::query(
            "INSERT INTO business_members (business_id, user_id, role) VALUES ($1, $2, 'owner')",
        )
        .bind(id)
        .bind(owner.id)
        .execute(&self.stack.pool)
        .await?;
        Ok(id)
    }

    /// A live deal (ACTIVE, EUR 4.50 per unit, worth EUR 12) whose window runs from
    /// `starts_in_minutes` to `ends_in_minutes` from now.
    pub async fn seeded_offer(
        &self,
        business_id: i64,
        title: &str,
        units: i32,
        starts_in_minutes: i64,
        ends_in_minutes: i64,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO offers (business_id, category, title, description, pickup_start,
                 pickup_end, units_available, price_minor, original_minor, currency,
                 created_by)
             SELECT $1, 'bakery', $2, 'Bread and pastries of the day',
                    now() + make_interval(mins => $4::int), now() + make_interval(mins => $5::int),
                    $3, 450, 1200, 'EUR', owner_id
             FROM businesses WHERE id = $1
             RETURNING id",
        )
        .bind(business_id)
        .bind(title)
        .bind(units)
        .bind(starts_in_minutes)
        .bind(ends_in_minutes)
        .fetch_one(&self.stack.pool)
        .await?)
    }

    /// Shares a location as a customer outside any dialogue; returns the replies.
    pub async fn share_location(
        &mut self,
        user: &TestUser,
        latitude: f64,
        longitude: f64,
    ) -> Result<Vec<Value>> {
        let update = self.stack.updates.location(user, latitude, longitude);
        self.post(user, update).await
    }

    /// Presses a button with hand-made callback data on `message` (forged or replayed presses).
    pub async fn press_data(
        &mut self,
        user: &TestUser,
        message: &Value,
        data: &str,
    ) -> Result<Vec<Value>> {
        let update = self.stack.updates.callback(user, message, data);
        self.post(user, update).await
    }

    /// The text of the bot's message as the fake holds it now.
    pub fn current_text(&self, chat: i64, message: &Value) -> String {
        text(&self.current(chat, message)).to_owned()
    }

    /// Fails when a message or button label in `chat` shows a text that did not render: a
    /// Fluent placeholder left in (`{$name}`, `{???}`) or a bare message id such as
    /// `cust-reserve-button` (what the bot shows for a message no language has).
    pub fn assert_rendered(&self, chat: i64) -> Result {
        let unrendered = |shown: &str| {
            shown.contains("{$")
                || shown.contains("{???}")
                || shown.lines().any(|line| {
                    line.contains('-')
                        && line
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                })
        };
        for message in self.stack.fake.transcript(chat) {
            let mut shown = vec![text(&message).to_owned()];
            for markup in ["inline_keyboard", "keyboard"] {
                if let Some(rows) = message["reply_markup"][markup].as_array() {
                    for row in rows {
                        for label in row.as_array().into_iter().flatten() {
                            shown.push(label["text"].as_str().unwrap_or("").to_owned());
                        }
                    }
                }
            }
            if let Some(bad) = shown.iter().find(|s| unrendered(s)) {
                return Err(format!("chat {chat}: an unrendered text {bad:?} in {message}").into());
            }
        }
        Ok(())
    }

    /// Messages in a chat containing `needle`.
    pub fn count_messages(&self, chat: i64, needle: &str) -> usize {
        self.stack
            .fake
            .transcript(chat)
            .iter()
            .filter(|m| text(m).contains(needle))
            .count()
    }
}
