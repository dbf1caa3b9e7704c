//! The simulated users and the session log: what each user did (turned into real updates in the
//! fake's getUpdates queue) and what the bot answered (from the fake's event stream), in order.
//! The page renders the log live; the transcript export is the log as JSON.
//!
//! Paying an invoice plays Telegram's part: a pre_checkout_query update, the bot's
//! answerPreCheckoutQuery (as the fake recorded it), then — when the bot said ok — the charge in
//! the Stripe fake and the successful_payment message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use toogoodtogo_tests::driver::{TestUser, UpdateFactory};
use toogoodtogo_tests::stripe_fake::StripeFake;
use toogoodtogo_tests::telegram_fake::{ChatEvent, FakeTelegram};

/// Telegram's limit on a message text.
const MAX_TEXT_CHARS: usize = 4096;
/// How long Telegram waits for the bot's answer to a pre-checkout query before it gives up.
pub const PRE_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    BusinessOwner,
    Admin,
    NewUser,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimulatedUser {
    pub id: i64,
    pub first_name: String,
    pub username: Option<String>,
    pub role: Role,
    /// The `language_code` Telegram reports for the user (the bot answers in it if it has it).
    pub language_code: Option<String>,
}

impl SimulatedUser {
    fn test_user(&self) -> TestUser {
        let mut user = TestUser::new(self.id, &self.first_name);
        user.username.clone_from(&self.username);
        user.language_code.clone_from(&self.language_code);
        user
    }
}

/// Ids of the three preset users; the owners of the other demo businesses and new users are
/// numbered after them.
#[derive(Debug, Clone, Copy)]
pub struct UserIds {
    pub customer: i64,
    pub business_owner: i64,
    pub admin: i64,
    /// The demo businesses that the business owner does not own belong to users from here on
    /// (they are not on the page; the bot's messages to them are in the transcript).
    pub first_demo_owner: i64,
    pub first_new_user: i64,
}

impl UserIds {
    /// Preset ids counted from `base` (e.g. 1000 gives 1001, 1002, 1003, demo owners 1051...
    /// and new users 1101...).
    pub fn from_base(base: i64) -> Self {
        Self {
            customer: base + 1,
            business_owner: base + 2,
            admin: base + 3,
            first_demo_owner: base + 51,
            first_new_user: base + 101,
        }
    }
}

/// One line of the session log.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub chat_id: Option<i64>,
    #[serde(flatten)]
    pub kind: EntryKind,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryKind {
    UserAdded {
        user: SimulatedUser,
    },
    UserText {
        message_id: i64,
        text: String,
    },
    UserLocation {
        message_id: i64,
        latitude: f64,
        longitude: f64,
        label: Option<String>,
    },
    UserPhoto {
        message_id: i64,
        file_id: String,
    },
    ButtonPressed {
        message_id: i64,
        data: String,
        button_text: String,
        callback_query_id: String,
    },
    BotMessage {
        message: Value,
        parse_mode: Option<String>,
    },
    BotEdit {
        message: Value,
        parse_mode: Option<String>,
    },
    BotDelete {
        message_id: i64,
    },
    CallbackAnswer {
        callback_query_id: String,
        text: Option<String>,
        show_alert: bool,
    },
    /// The user pressed Pay on invoice `message_id`: Telegram sends the pre_checkout_query.
    PayPressed {
        message_id: i64,
        title: String,
        currency: String,
        total_amount: i64,
        pre_checkout_query_id: String,
    },
    /// The bot's answerPreCheckoutQuery; `timed_out` when it did not answer within
    /// [`PRE_CHECKOUT_TIMEOUT`] (Telegram then cancels the payment).
    PreCheckoutAnswered {
        invoice_message_id: i64,
        pre_checkout_query_id: String,
        ok: bool,
        error_message: Option<String>,
        timed_out: bool,
    },
    /// The payment went through: the successful_payment message (`message_id`) of invoice
    /// `invoice_message_id`, charged in the Stripe fake as `provider_payment_charge_id`.
    PaymentSent {
        message_id: i64,
        invoice_message_id: i64,
        title: String,
        currency: String,
        total_amount: i64,
        telegram_payment_charge_id: String,
        provider_payment_charge_id: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("there is no simulated user {0}")]
    UnknownUser(i64),
    #[error("{0}")]
    Invalid(String),
    #[error("message {message_id} in chat {chat_id} has no inline button with that data")]
    NoSuchButton { chat_id: i64, message_id: i64 },
    #[error("message {message_id} in chat {chat_id} is not an invoice")]
    NoSuchInvoice { chat_id: i64, message_id: i64 },
    #[error("{0}")]
    Conflict(String),
}

/// Where an invoice's payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PaymentState {
    /// Between Pay and the outcome: a second Pay is refused, as Telegram's form does.
    Paying,
    /// Paid: Telegram shows a receipt instead of the Pay button from then on.
    Paid,
}

/// What came of pressing Pay, as the page's API answers it.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentOutcome {
    pub ok: bool,
    pub pre_checkout_query_id: String,
    /// The bot's refusal (shown to the user as Telegram shows it), or why the payment failed.
    pub error_message: Option<String>,
    pub timed_out: bool,
    /// The successful_payment message's id, once paid.
    pub message_id: Option<i64>,
    pub provider_payment_charge_id: Option<String>,
}

#[derive(Default)]
struct Log {
    users: Vec<SimulatedUser>,
    entries: Vec<Entry>,
    next_seq: u64,
    next_new_user_id: i64,
    /// Which chat pressed a button, by callback query id: the fake's answer names only the id.
    callback_chats: HashMap<String, i64>,
    photos_sent: u64,
    /// Invoices being paid or paid, by (chat, message id).
    payments: HashMap<(i64, i64), PaymentState>,
}

/// The shared session: users, log and the update factory.
pub struct Session {
    fake: Arc<FakeTelegram>,
    stripe: Arc<StripeFake>,
    updates: UpdateFactory,
    log: Mutex<Log>,
    entries: broadcast::Sender<Entry>,
    pub started_at_ms: u64,
    pub ids: UserIds,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Session {
    pub fn new(fake: Arc<FakeTelegram>, stripe: Arc<StripeFake>, ids: UserIds) -> Arc<Self> {
        let (entries, _) = broadcast::channel(1024);
        let preset = [
            (ids.customer, "Carla", Role::Customer),
            (ids.business_owner, "Bruno", Role::BusinessOwner),
            (ids.admin, "Ada", Role::Admin),
        ];
        let users = preset
            .into_iter()
            .map(|(id, name, role)| SimulatedUser {
                id,
                first_name: name.to_owned(),
                username: Some(format!("{}_{id}", name.to_lowercase())),
                role,
                language_code: Some("en".to_owned()),
            })
            .collect();
        Arc::new(Self {
            fake,
            stripe,
            // A fresh database per run: update ids cannot collide with earlier runs.
            updates: UpdateFactory::starting_at(1),
            log: Mutex::new(Log {
                users,
                next_new_user_id: ids.first_new_user,
                ..Log::default()
            }),
            entries,
            started_at_ms: now_ms(),
            ids,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Entry> {
        self.entries.subscribe()
    }

    pub fn users(&self) -> Vec<SimulatedUser> {
        self.lock().users.clone()
    }

    /// Entries with `seq` greater than `after`.
    pub fn entries_after(&self, after: u64) -> Vec<Entry> {
        let log = self.lock();
        let start = log.entries.partition_point(|e| e.seq <= after);
        log.entries
            .get(start..)
            .map(<[Entry]>::to_vec)
            .unwrap_or_default()
    }

    fn record(&self, chat_id: Option<i64>, kind: EntryKind) -> Entry {
        let mut log = self.lock();
        log.next_seq += 1;
        let entry = Entry {
            seq: log.next_seq,
            at_ms: now_ms(),
            chat_id,
            kind,
        };
        log.entries.push(entry.clone());
        // Sent while the log is locked, so subscribers see entries in `seq` order.
        let _ = self.entries.send(entry.clone());
        entry
    }

    fn user(&self, user_id: i64) -> Result<SimulatedUser, ActionError> {
        self.lock()
            .users
            .iter()
            .find(|u| u.id == user_id)
            .cloned()
            .ok_or(ActionError::UnknownUser(user_id))
    }

    /// A new user whose Telegram reports `language_code` (an IETF tag such as `de` or `pt-BR`;
    /// `None` when it reports none).
    pub fn add_user(
        &self,
        first_name: &str,
        language_code: Option<&str>,
    ) -> Result<SimulatedUser, ActionError> {
        let first_name = first_name.trim();
        if first_name.is_empty() || first_name.chars().count() > 64 {
            return Err(ActionError::Invalid(
                "a first name has 1 to 64 characters".to_owned(),
            ));
        }
        let language_code = language_code.map(str::trim).filter(|code| !code.is_empty());
        if let Some(code) = language_code
            && (code.len() > 35 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(ActionError::Invalid(
                "a language code is a tag like en, de or pt-BR".to_owned(),
            ));
        }
        let user = {
            let mut log = self.lock();
            let id = log.next_new_user_id;
            log.next_new_user_id += 1;
            let user = SimulatedUser {
                id,
                first_name: first_name.to_owned(),
                username: None,
                role: Role::NewUser,
                language_code: language_code.map(str::to_owned),
            };
            log.users.push(user.clone());
            user
        };
        self.record(Some(user.id), EntryKind::UserAdded { user: user.clone() });
        Ok(user)
    }

    /// Queues a user's message: its message id comes from the chat's sequence in the fake, and
    /// the log shows it before the bot can answer.
    fn push_message(
        &self,
        user_id: i64,
        mut update: Value,
        kind: impl FnOnce(i64) -> EntryKind,
    ) -> Entry {
        let message_id = self.fake.allocate_message_id(user_id);
        update["message"]["message_id"] = json!(message_id);
        let entry = self.record(Some(user_id), kind(message_id));
        self.fake.push_update(update);
        entry
    }

    pub fn send_text(&self, user_id: i64, text: &str) -> Result<Entry, ActionError> {
        let user = self.user(user_id)?;
        let length = text.chars().count();
        if text.trim().is_empty() || length > MAX_TEXT_CHARS {
            return Err(ActionError::Invalid(format!(
                "a message text has 1 to {MAX_TEXT_CHARS} characters"
            )));
        }
        let update = self.updates.text(&user.test_user(), text);
        Ok(
            self.push_message(user_id, update, |message_id| EntryKind::UserText {
                message_id,
                text: text.to_owned(),
            }),
        )
    }

    pub fn share_location(
        &self,
        user_id: i64,
        latitude: f64,
        longitude: f64,
        label: Option<String>,
    ) -> Result<Entry, ActionError> {
        let user = self.user(user_id)?;
        let valid = latitude.is_finite()
            && longitude.is_finite()
            && (-90.0..=90.0).contains(&latitude)
            && (-180.0..=180.0).contains(&longitude);
        if !valid {
            return Err(ActionError::Invalid(
                "latitude must be within -90..90 and longitude within -180..180".to_owned(),
            ));
        }
        let update = self
            .updates
            .location(&user.test_user(), latitude, longitude);
        Ok(
            self.push_message(user_id, update, |message_id| EntryKind::UserLocation {
                message_id,
                latitude,
                longitude,
                label,
            }),
        )
    }

    /// Sends a placeholder photo (the sandbox has no image upload; the bot sees a file id).
    pub fn send_photo(&self, user_id: i64) -> Result<Entry, ActionError> {
        let user = self.user(user_id)?;
        let file_id = {
            let mut log = self.lock();
            log.photos_sent += 1;
            format!("sandbox-photo-{}-{}", user_id, log.photos_sent)
        };
        let update = self.updates.photo(&user.test_user(), &file_id);
        Ok(
            self.push_message(user_id, update, |message_id| EntryKind::UserPhoto {
                message_id,
                file_id,
            }),
        )
    }

    /// Presses an inline button: a real callback_query carrying the message as the fake stored
    /// it. Only buttons that are on the message can be pressed, as in Telegram.
    pub fn press_button(
        &self,
        user_id: i64,
        message_id: i64,
        data: &str,
    ) -> Result<Entry, ActionError> {
        let user = self.user(user_id)?;
        let no_such_button = || ActionError::NoSuchButton {
            chat_id: user_id,
            message_id,
        };
        let message = self
            .fake
            .transcript(user_id)
            .into_iter()
            .find(|m| m["message_id"] == json!(message_id))
            .ok_or_else(no_such_button)?;
        let button_text = message["reply_markup"]["inline_keyboard"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .find(|b| b["callback_data"].as_str() == Some(data))
            .and_then(|b| b["text"].as_str())
            .map(str::to_owned)
            .ok_or_else(no_such_button)?;
        let update = self.updates.callback(&user.test_user(), &message, data);
        let callback_query_id = update["callback_query"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.lock()
            .callback_chats
            .insert(callback_query_id.clone(), user_id);
        let entry = self.record(
            Some(user_id),
            EntryKind::ButtonPressed {
                message_id,
                data: data.to_owned(),
                button_text,
                callback_query_id,
            },
        );
        self.fake.push_update(update);
        Ok(entry)
    }

    /// Presses Pay on invoice `message_id`, as Telegram's payment form would after the user
    /// filled it in: the bot gets a pre_checkout_query; when it answers ok, the charge is made
    /// in the Stripe fake and the bot gets the successful_payment message. The flow runs to its
    /// end even when the caller stops waiting.
    pub async fn pay(
        self: &Arc<Self>,
        user_id: i64,
        message_id: i64,
    ) -> Result<PaymentOutcome, ActionError> {
        let user = self.user(user_id)?;
        let invoice = self
            .fake
            .invoices(user_id)
            .into_iter()
            .find(|i| i["message_id"] == json!(message_id))
            .ok_or(ActionError::NoSuchInvoice {
                chat_id: user_id,
                message_id,
            })?;
        let invoice = Invoice {
            message_id,
            title: invoice["title"].as_str().unwrap_or_default().to_owned(),
            payload: invoice["payload"].as_str().unwrap_or_default().to_owned(),
            currency: invoice["currency"].as_str().unwrap_or_default().to_owned(),
            total_amount: invoice["total_amount"].as_i64().unwrap_or_default(),
        };
        {
            let mut log = self.lock();
            match log.payments.get(&(user_id, message_id)) {
                Some(PaymentState::Paying) => {
                    return Err(ActionError::Conflict(
                        "this invoice is being paid".to_owned(),
                    ));
                }
                Some(PaymentState::Paid) => {
                    return Err(ActionError::Conflict(
                        "this invoice is paid already".to_owned(),
                    ));
                }
                None => {
                    log.payments
                        .insert((user_id, message_id), PaymentState::Paying);
                }
            }
        }
        let session = Arc::clone(self);
        let flow = tokio::spawn(async move {
            let outcome = session.checkout(&user, &invoice).await;
            let mut log = session.lock();
            if outcome.ok {
                log.payments
                    .insert((user.id, invoice.message_id), PaymentState::Paid);
            } else {
                log.payments.remove(&(user.id, invoice.message_id));
            }
            outcome
        });
        flow.await.map_err(|error| {
            self.lock().payments.remove(&(user_id, message_id));
            ActionError::Conflict(format!("the payment flow failed: {error}"))
        })
    }

    async fn checkout(&self, user: &SimulatedUser, invoice: &Invoice) -> PaymentOutcome {
        let customer = user.test_user();
        let update = self.updates.pre_checkout_query(
            &customer,
            &invoice.payload,
            &invoice.currency,
            invoice.total_amount,
        );
        let query_id = update["pre_checkout_query"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.record(
            Some(user.id),
            EntryKind::PayPressed {
                message_id: invoice.message_id,
                title: invoice.title.clone(),
                currency: invoice.currency.clone(),
                total_amount: invoice.total_amount,
                pre_checkout_query_id: query_id.clone(),
            },
        );
        self.fake.push_update(update);
        let answer = self
            .fake
            .wait_until(PRE_CHECKOUT_TIMEOUT, || {
                self.fake
                    .pre_checkout_answers()
                    .into_iter()
                    .find(|a| a["pre_checkout_query_id"].as_str() == Some(&query_id))
            })
            .await
            .ok();
        let (ok, error_message) = match &answer {
            Some(answer) => (
                answer["ok"].as_bool() == Some(true),
                answer["error_message"].as_str().map(str::to_owned),
            ),
            None => (
                false,
                Some(format!(
                    "The bot did not confirm the order within {} seconds, so Telegram \
                     cancelled the payment.",
                    PRE_CHECKOUT_TIMEOUT.as_secs()
                )),
            ),
        };
        let timed_out = answer.is_none();
        self.record(
            Some(user.id),
            EntryKind::PreCheckoutAnswered {
                invoice_message_id: invoice.message_id,
                pre_checkout_query_id: query_id.clone(),
                ok,
                error_message: error_message.clone(),
                timed_out,
            },
        );
        let mut outcome = PaymentOutcome {
            ok,
            pre_checkout_query_id: query_id,
            error_message,
            timed_out,
            message_id: None,
            provider_payment_charge_id: None,
        };
        if !ok {
            return outcome;
        }
        // The charge exists at Stripe before Telegram tells the bot, so it can be refunded.
        let suffix = format!("{:024x}", rand::random::<u128>() >> 32);
        let provider_charge_id = format!("ch_sandbox_{suffix}");
        let telegram_charge_id = format!("tg_sandbox_{suffix}");
        self.stripe
            .add_charge(&provider_charge_id, invoice.total_amount, &invoice.currency);
        let update = self.updates.successful_payment(
            &customer,
            &invoice.payload,
            &invoice.currency,
            invoice.total_amount,
            &telegram_charge_id,
            &provider_charge_id,
        );
        let entry = self.push_message(user.id, update, |message_id| EntryKind::PaymentSent {
            message_id,
            invoice_message_id: invoice.message_id,
            title: invoice.title.clone(),
            currency: invoice.currency.clone(),
            total_amount: invoice.total_amount,
            telegram_payment_charge_id: telegram_charge_id.clone(),
            provider_payment_charge_id: provider_charge_id.clone(),
        });
        if let EntryKind::PaymentSent { message_id, .. } = entry.kind {
            outcome.message_id = Some(message_id);
        }
        outcome.provider_payment_charge_id = Some(provider_charge_id);
        outcome
    }

    /// Records what the bot did in a chat, as the fake reports it.
    pub fn record_chat_event(&self, event: ChatEvent) -> Entry {
        match event {
            ChatEvent::MessageSent { chat_id, message } => {
                let parse_mode = self.parse_mode_of(chat_id, &message);
                self.record(
                    Some(chat_id),
                    EntryKind::BotMessage {
                        message,
                        parse_mode,
                    },
                )
            }
            ChatEvent::MessageEdited { chat_id, message } => {
                let parse_mode = self.parse_mode_of(chat_id, &message);
                self.record(
                    Some(chat_id),
                    EntryKind::BotEdit {
                        message,
                        parse_mode,
                    },
                )
            }
            ChatEvent::MessageDeleted {
                chat_id,
                message_id,
            } => self.record(Some(chat_id), EntryKind::BotDelete { message_id }),
            ChatEvent::CallbackAnswered {
                callback_query_id,
                text,
                show_alert,
            } => {
                let chat_id = self.lock().callback_chats.get(&callback_query_id).copied();
                self.record(
                    chat_id,
                    EntryKind::CallbackAnswer {
                        callback_query_id,
                        text,
                        show_alert,
                    },
                )
            }
        }
    }

    fn parse_mode_of(&self, chat_id: i64, message: &Value) -> Option<String> {
        let message_id = message["message_id"].as_i64()?;
        self.fake.parse_mode(chat_id, message_id)
    }

    /// The whole session as JSON, for bug reports.
    pub fn transcript(&self) -> Value {
        let log = self.lock();
        json!({
            "format": "toogoodtogo-sandbox-transcript/1",
            "started_at_ms": self.started_at_ms,
            "exported_at_ms": now_ms(),
            "sandbox_version": env!("CARGO_PKG_VERSION"),
            "users": log.users,
            "commands": self.fake.commands(),
            "entries": log.entries,
        })
    }

    pub fn bot_commands(&self) -> Value {
        self.fake.commands()
    }
}

/// What a payment needs from an invoice the fake stored.
struct Invoice {
    message_id: i64,
    title: String,
    payload: String,
    currency: String,
    total_amount: i64,
}

/// Copies the fake's chat events into the session log until the fake stops.
pub fn forward_chat_events(
    session: Arc<Session>,
    mut events: broadcast::Receiver<ChatEvent>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    session.record_chat_event(event);
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the page missed bot events (too many at once)");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    })
}
