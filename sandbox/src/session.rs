//! The simulated users and the session log: what each user did (turned into real updates in the
//! fake's getUpdates queue) and what the bot answered (from the fake's event stream), in order.
//! The page renders the log live; the transcript export is the log as JSON.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use toogoodtogo_tests::driver::{TestUser, UpdateFactory};
use toogoodtogo_tests::telegram_fake::{ChatEvent, FakeTelegram};

/// Telegram's limit on a message text.
const MAX_TEXT_CHARS: usize = 4096;

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
}

impl SimulatedUser {
    fn test_user(&self) -> TestUser {
        let mut user = TestUser::new(self.id, &self.first_name);
        user.username.clone_from(&self.username);
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
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("there is no simulated user {0}")]
    UnknownUser(i64),
    #[error("{0}")]
    Invalid(String),
    #[error("message {message_id} in chat {chat_id} has no inline button with that data")]
    NoSuchButton { chat_id: i64, message_id: i64 },
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
}

/// The shared session: users, log and the update factory.
pub struct Session {
    fake: Arc<FakeTelegram>,
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
    pub fn new(fake: Arc<FakeTelegram>, ids: UserIds) -> Arc<Self> {
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
            })
            .collect();
        Arc::new(Self {
            fake,
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

    pub fn add_user(&self, first_name: &str) -> Result<SimulatedUser, ActionError> {
        let first_name = first_name.trim();
        if first_name.is_empty() || first_name.chars().count() > 64 {
            return Err(ActionError::Invalid(
                "a first name has 1 to 64 characters".to_owned(),
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
