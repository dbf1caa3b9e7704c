//! Inbox workers. Stored updates reach a worker straight from the intake (no query needed) or
//! from the sweeper, which takes over updates whose claim lapsed. Updates are sharded by chat,
//! so a chat's updates are handled one at a time and in order within a replica; the processing
//! transaction keeps that order across replicas.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::handlers;
use crate::metrics::OutcomeLabels;
use crate::replies::Reply;
use crate::store::inbox::{self, Outcome, PendingUpdate};

/// Attempts before a failing update is given up so that it cannot block its chat forever.
pub const MAX_ATTEMPTS: i32 = 5;
const SHARD_CAPACITY: usize = 256;
/// The most updates a worker processes in one transaction. Batches form only from updates that
/// are already waiting, so at low load every update still commits on its own at once.
const MAX_BATCH: usize = 16;
/// An update waiting for an older one of its chat (held by another replica) is retried this
/// often, this many times, before it is left to the sweeper.
const DEFER_DELAY: Duration = Duration::from_millis(100);
const MAX_DEFERRALS: u32 = 100;
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
const DISPATCH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
struct Job {
    update: PendingUpdate,
    deferrals: u32,
}

/// The intake side: hands stored updates to the worker of their chat.
pub struct Workers {
    shards: Vec<mpsc::Sender<Job>>,
    /// To hand back the claim of an update no worker could take.
    pool: sqlx::PgPool,
}

pub struct WorkerReceivers(Vec<mpsc::Receiver<Job>>);

impl Workers {
    pub fn new(count: usize, pool: sqlx::PgPool) -> (Self, WorkerReceivers) {
        let (senders, receivers) = (0..count.max(1))
            .map(|_| mpsc::channel(SHARD_CAPACITY))
            .unzip();
        (
            Self {
                shards: senders,
                pool,
            },
            WorkerReceivers(receivers),
        )
    }

    /// Queues a stored update for processing. A saturated worker makes the caller wait (the
    /// webhook answers a little later, which is Telegram's cue to slow down); only after
    /// `DISPATCH_TIMEOUT` is the update left in the inbox, its claim handed back so that the
    /// sweeper takes it as soon as a worker has room (not after the whole claim timeout).
    pub async fn dispatch(&self, update: PendingUpdate) {
        self.send(Job {
            update,
            deferrals: 0,
        })
        .await;
    }

    async fn send(&self, job: Job) {
        let mut hasher = DefaultHasher::new();
        job.update.ordering_key.hash(&mut hasher);
        let shard = (hasher.finish() % self.shards.len() as u64) as usize;
        if self.shards[shard]
            .send_timeout(job, DISPATCH_TIMEOUT)
            .await
            .is_err()
        {
            tracing::warn!(
                update_id = job.update.update_id,
                "worker saturated; the update waits for the sweeper"
            );
            if let Err(error) = inbox::release(&self.pool, job.update.update_id).await {
                tracing::warn!(%error, update_id = job.update.update_id, "could not hand back a claim");
            }
        }
    }

    fn free_capacity(&self) -> usize {
        self.shards.iter().map(|s| s.capacity()).sum()
    }
}

/// Starts the workers and the sweeper; they stop at `shutdown`, finishing the update in hand.
pub fn spawn(
    app: &Arc<App>,
    receivers: WorkerReceivers,
    shutdown: &CancellationToken,
    tasks: &mut JoinSet<()>,
) {
    for receiver in receivers.0 {
        tasks.spawn(work(Arc::clone(app), receiver, shutdown.clone()));
    }
    tasks.spawn(sweep(Arc::clone(app), shutdown.clone()));
}

async fn work(app: Arc<App>, mut receiver: mpsc::Receiver<Job>, shutdown: CancellationToken) {
    // Later updates of a chat that already has one in the current batch wait here, in order.
    let mut carried: VecDeque<Job> = VecDeque::new();
    loop {
        if carried.is_empty() {
            let job = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                job = receiver.recv() => job,
            };
            let Some(job) = job else { break };
            carried.push_back(job);
        }
        if shutdown.is_cancelled() {
            break;
        }
        let batch = next_batch(&mut carried, &mut receiver);
        process_batch(&app, batch).await;
    }
    // Hand queued updates back at once so that another replica need not wait for the claim.
    receiver.close();
    let queued = carried
        .into_iter()
        .chain(std::iter::from_fn(|| receiver.try_recv().ok()));
    for job in queued {
        if let Err(error) = inbox::release(&app.pool, job.update.update_id).await {
            tracing::warn!(%error, update_id = job.update.update_id, "could not release a claim at shutdown");
        }
    }
}

/// The next batch: at most one update per chat (a batch never holds two of one chat), the
/// oldest waiting update of each chat with a backlog first, then new arrivals. A chat with a
/// backlog gets one update per batch like every other chat, never a batch of its own.
fn next_batch(carried: &mut VecDeque<Job>, receiver: &mut mpsc::Receiver<Job>) -> Vec<Job> {
    let mut chats = HashSet::new();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut waiting = VecDeque::with_capacity(carried.len());
    for job in carried.drain(..) {
        if batch.len() < MAX_BATCH && chats.insert(job.update.ordering_key) {
            batch.push(job);
        } else {
            waiting.push_back(job);
        }
    }
    *carried = waiting;
    while batch.len() < MAX_BATCH {
        let Ok(job) = receiver.try_recv() else { break };
        if chats.insert(job.update.ordering_key) {
            batch.push(job);
        } else {
            carried.push_back(job);
        }
    }
    batch
}

/// Processes a batch of updates of different chats in one transaction (one commit), each
/// handler in its own savepoint so that one failing update does not undo the others.
async fn process_batch(app: &Arc<App>, batch: Vec<Job>) {
    let started = Instant::now();
    let ids: Vec<i64> = batch.iter().map(|j| j.update.update_id).collect();
    let finished = match run_batch(app, &ids).await {
        Ok(finished) => finished,
        Err(error) => {
            // Nothing committed: the updates stay claimed until their claim lapses, then the
            // sweeper (of any replica) retries them. Nothing is lost.
            app.metrics.updates_failed.inc_by(ids.len() as u64);
            tracing::warn!(%error, updates = ids.len(), "processing a batch failed; retried after the claim lapses");
            return;
        }
    };
    // Replies go out only now that their updates' changes have committed; chats in parallel,
    // each update's replies in order. The worker waits for them, so a chat's next update
    // cannot overtake its replies.
    let replies = finished
        .replies
        .into_iter()
        .map(|replies| crate::replies::deliver(app, replies));
    futures::future::join_all(replies).await;
    if !finished.processed.is_empty() {
        let app = Arc::clone(app);
        let processed = finished.processed;
        tokio::spawn(async move {
            if let Err(error) = inbox::mark_replied(&app.pool, &processed).await {
                tracing::debug!(%error, "could not mark updates replied");
            }
        });
    }
    let elapsed = started.elapsed().as_secs_f64();
    for outcome in &finished.outcomes {
        app.metrics
            .updates_processed
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .inc();
        app.metrics.update_processing.observe(elapsed);
    }
    app.metrics.updates_failed.inc_by(finished.failed);
    let unclaimed: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !finished.claimed.contains(id))
        .collect();
    if unclaimed.is_empty() {
        return;
    }
    // Unclaimed updates are done already, gone, or wait for an older update of their chat.
    match inbox::still_pending(&app.pool, &unclaimed).await {
        Ok(waiting) => {
            for job in batch
                .iter()
                .filter(|j| waiting.contains(&j.update.update_id))
            {
                defer(app, *job);
            }
        }
        Err(error) => tracing::warn!(%error, "could not check unclaimed updates"),
    }
}

struct Finished {
    claimed: Vec<i64>,
    /// Updates that reached an outcome (not to be retried).
    processed: Vec<i64>,
    outcomes: Vec<Outcome>,
    /// The replies of each processed update, in the order its handler produced them.
    replies: Vec<Vec<Reply>>,
    failed: u64,
}

async fn run_batch(app: &App, ids: &[i64]) -> Result<Finished, sqlx::Error> {
    let mut tx = app.pool.begin().await?;
    let claimed = inbox::begin_processing_batch(&mut tx, ids).await?;
    let mut finished = Finished {
        claimed: claimed.iter().map(|c| c.update_id).collect(),
        processed: Vec::with_capacity(claimed.len()),
        outcomes: Vec::with_capacity(claimed.len()),
        replies: Vec::with_capacity(claimed.len()),
        failed: 0,
    };
    for update in claimed {
        let update_id = update.update_id;
        let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
        let mut replies = Vec::new();
        let handled = match decode(&update.payload) {
            Ok(decoded) => handlers::handle(app, &mut savepoint, &decoded, &mut replies)
                .await
                .map_err(|e| e.to_string()),
            Err(reason) => {
                tracing::warn!(update_id, %reason, "stored update cannot be decoded; kept, not processed");
                app.metrics.updates_undecodable.inc();
                inbox::mark_undecodable(&mut savepoint, update_id, &reason).await?;
                Ok(Outcome::Undecodable)
            }
        };
        match handled {
            Ok(outcome) => {
                savepoint.commit().await?;
                inbox::set_outcome(&mut tx, update_id, outcome).await?;
                finished.processed.push(update_id);
                finished.outcomes.push(outcome);
                finished.replies.push(replies);
            }
            Err(error) => {
                savepoint.rollback().await?;
                finished.failed += 1;
                let attempts = update.attempts + 1;
                let retry_in = Duration::from_secs(1u64 << attempts.clamp(0, 6));
                tracing::warn!(update_id, attempts, error = %error, "processing an update failed");
                if inbox::fail_in_batch(&mut tx, update_id, &error, retry_in, MAX_ATTEMPTS).await? {
                    tracing::error!(update_id, "update given up after {MAX_ATTEMPTS} attempts");
                    finished.processed.push(update_id);
                    finished.outcomes.push(Outcome::Failed);
                }
            }
        }
    }
    tx.commit().await?;
    Ok(finished)
}

/// Decodes a stored update. teloxide turns an update it does not know into `UpdateKind::Error`
/// rather than failing; both are refused here with a reason naming the update's top-level keys,
/// except a payment: Telegram has taken the money, so its essentials are decoded on their own
/// (see [`salvage_payment`]).
fn decode(payload: &str) -> Result<teloxide::types::Update, String> {
    let keys = || {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(payload)
            .map(|map| map.keys().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let refused = match serde_json::from_str::<teloxide::types::Update>(payload) {
        Ok(update) if !matches!(update.kind, teloxide::types::UpdateKind::Error(_)) => {
            return Ok(update);
        }
        Ok(_) => format!(
            "an update kind the bot does not understand (keys: {})",
            keys()
        ),
        Err(error) => format!("{error} (keys: {})", keys()),
    };
    match salvage_payment(payload) {
        Some(update) => {
            tracing::warn!(reason = %refused, "a successful_payment with fields the bot cannot read is handled from its essentials");
            Ok(update)
        }
        None => Err(refused),
    }
}

/// A `successful_payment` message the library cannot decode as a whole (a field it does not
/// know or no longer reads the same way), rebuilt from what recording the money needs: the
/// payer, the chat and the payment's own fields. None for anything else.
fn salvage_payment(payload: &str) -> Option<teloxide::types::Update> {
    let update: serde_json::Value = serde_json::from_str(payload).ok()?;
    let message = update.get("message")?;
    let paid = message.get("successful_payment")?;
    let from = message.get("from")?;
    let essentials = serde_json::json!({
        "update_id": update.get("update_id")?,
        "message": {
            "message_id": message.get("message_id")?,
            "date": message.get("date").filter(|d| d.is_i64()).cloned().unwrap_or(serde_json::json!(0)),
            "chat": {
                "id": message.get("chat")?.get("id")?,
                "type": "private",
                "first_name": from.get("first_name").cloned().unwrap_or_default(),
            },
            "from": {
                "id": from.get("id")?,
                "is_bot": false,
                "first_name": from.get("first_name").cloned().unwrap_or_default(),
                "language_code": from.get("language_code"),
            },
            "successful_payment": {
                "currency": paid.get("currency")?,
                "total_amount": paid.get("total_amount")?,
                "invoice_payload": paid.get("invoice_payload")?,
                "telegram_payment_charge_id": paid.get("telegram_payment_charge_id")?,
                "provider_payment_charge_id": paid.get("provider_payment_charge_id")?,
            },
        },
    });
    // From text, as the intake does: teloxide's update decoding reads borrowed strings.
    let update: teloxide::types::Update = serde_json::from_str(&essentials.to_string()).ok()?;
    let teloxide::types::UpdateKind::Message(message) = &update.kind else {
        return None;
    };
    message.successful_payment().is_some().then_some(update)
}

fn defer(app: &Arc<App>, mut job: Job) {
    if job.deferrals >= MAX_DEFERRALS {
        return;
    }
    job.deferrals += 1;
    let app = Arc::clone(app);
    tokio::spawn(async move {
        tokio::time::sleep(DEFER_DELAY).await;
        app.workers.send(job).await;
    });
}

/// Takes over lapsed claims and keeps the backlog gauges current.
async fn sweep(app: Arc<App>, shutdown: CancellationToken) {
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_INTERVAL) => {}
        }
        let capacity = app.workers.free_capacity() as i64;
        if capacity > 0 {
            match inbox::claim_lapsed(
                &app.pool,
                capacity.min(1000),
                app.config.inbox.claim_timeout,
            )
            .await
            {
                Ok(updates) => {
                    if !updates.is_empty() {
                        tracing::info!(count = updates.len(), "took over pending updates");
                    }
                    for update in updates {
                        app.workers.dispatch(update).await;
                    }
                }
                Err(error) => tracing::warn!(%error, "sweeping the inbox failed"),
            }
        }
        if ticks.is_multiple_of(5) {
            app.refresh_gauges().await;
        }
        ticks += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(update_id: i64, chat: i64) -> Job {
        Job {
            update: PendingUpdate {
                update_id,
                ordering_key: chat,
            },
            deferrals: 0,
        }
    }

    #[test]
    fn a_chat_with_a_backlog_gets_one_update_per_batch_like_everyone_else() {
        let (sender, mut receiver) = mpsc::channel(64);
        let mut carried: VecDeque<Job> = (0..100).map(|i| job(i, 1)).collect();
        for chat in 2..22 {
            sender.try_send(job(1000 + chat, chat)).ok();
        }
        let batch = next_batch(&mut carried, &mut receiver);
        let chats: Vec<i64> = batch.iter().map(|j| j.update.ordering_key).collect();
        assert_eq!(chats.len(), MAX_BATCH);
        assert_eq!(chats[0], 1, "the backlog's oldest update first");
        assert_eq!(batch[0].update.update_id, 0);
        assert_eq!(
            chats[1..],
            (2..2 + MAX_BATCH as i64 - 1).collect::<Vec<_>>()[..]
        );
        assert_eq!(carried.len(), 99, "the rest of the backlog waits, in order");
        assert_eq!(carried.front().map(|j| j.update.update_id), Some(1));

        // The next batch: the backlog's next update and the arrivals left in the channel.
        let batch = next_batch(&mut carried, &mut receiver);
        let chats: Vec<i64> = batch.iter().map(|j| j.update.ordering_key).collect();
        assert_eq!(chats[0], 1);
        assert_eq!(chats.len(), 1 + 20 - (MAX_BATCH - 1));
    }

    #[test]
    fn a_payment_the_library_cannot_read_is_decoded_from_its_essentials() {
        let payload = serde_json::json!({
            "update_id": 41,
            "message": {
                "message_id": 7,
                "date": "a date in a format from the future",
                "chat": { "id": 5005, "type": "private", "first_name": "Bea" },
                "from": { "id": 5005, "is_bot": false, "first_name": "Bea" },
                "successful_payment": {
                    "currency": "EUR", "total_amount": 450, "invoice_payload": "res:12",
                    "telegram_payment_charge_id": "tg_1", "provider_payment_charge_id": "ch_1",
                },
            },
        })
        .to_string();
        let update = decode(&payload).expect("decoded from its essentials");
        let teloxide::types::UpdateKind::Message(message) = update.kind else {
            panic!("not a message");
        };
        let paid = message.successful_payment().expect("a payment");
        assert_eq!(paid.total_amount, 450);
        assert_eq!(paid.telegram_payment_charge_id.0, "tg_1");
        assert_eq!(message.from.map(|u| u.id.0), Some(5005));

        // Anything else the library cannot read stays refused, with its keys.
        let other = r#"{"update_id": 42, "message": {"message_id": 1, "date": "x", "text": "hi"}}"#;
        assert!(decode(other).is_err());
    }

    #[test]
    fn new_updates_of_a_chat_in_the_batch_wait_behind_it() {
        let (sender, mut receiver) = mpsc::channel(8);
        let mut carried = VecDeque::from([job(1, 7)]);
        sender.try_send(job(2, 7)).ok();
        sender.try_send(job(3, 8)).ok();
        let batch = next_batch(&mut carried, &mut receiver);
        let ids: Vec<i64> = batch.iter().map(|j| j.update.update_id).collect();
        assert_eq!(ids, [1, 3]);
        assert_eq!(
            carried
                .iter()
                .map(|j| j.update.update_id)
                .collect::<Vec<_>>(),
            [2]
        );
    }
}
