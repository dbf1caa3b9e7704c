//! Inbox workers. Stored updates reach a worker straight from the intake (no query needed) or
//! from the sweeper, which takes over updates whose claim lapsed. Updates are sharded by chat,
//! so a chat's updates are handled one at a time and in order within a replica; the processing
//! transaction keeps that order across replicas.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::handlers;
use crate::metrics::OutcomeLabels;
use crate::store::inbox::{self, Claim, Outcome, PendingUpdate};

/// Attempts before a failing update is given up so that it cannot block its chat forever.
pub const MAX_ATTEMPTS: i32 = 5;
const SHARD_CAPACITY: usize = 256;
/// An update waiting for an older one of its chat (held by another replica) is retried this
/// often, this many times, before it is left to the sweeper.
const DEFER_DELAY: Duration = Duration::from_millis(100);
const MAX_DEFERRALS: u32 = 100;
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Job {
    update: PendingUpdate,
    deferrals: u32,
}

/// The intake side: hands stored updates to the worker of their chat.
pub struct Workers {
    shards: Vec<mpsc::Sender<Job>>,
}

pub struct WorkerReceivers(Vec<mpsc::Receiver<Job>>);

impl Workers {
    pub fn new(count: usize) -> (Self, WorkerReceivers) {
        let (senders, receivers) = (0..count.max(1))
            .map(|_| mpsc::channel(SHARD_CAPACITY))
            .unzip();
        (Self { shards: senders }, WorkerReceivers(receivers))
    }

    /// Queues a stored update for processing. When the worker is saturated the update simply
    /// stays in the inbox; the sweeper brings it back once its claim lapses.
    pub fn dispatch(&self, update: PendingUpdate) {
        self.send(Job {
            update,
            deferrals: 0,
        });
    }

    fn send(&self, job: Job) {
        let mut hasher = DefaultHasher::new();
        job.update.ordering_key.hash(&mut hasher);
        let shard = (hasher.finish() % self.shards.len() as u64) as usize;
        if self.shards[shard].try_send(job).is_err() {
            tracing::debug!(
                update_id = job.update.update_id,
                "worker saturated; left to the sweeper"
            );
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
    loop {
        let job = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            job = receiver.recv() => job,
        };
        let Some(job) = job else { break };
        process(&app, job).await;
    }
    // Hand queued updates back at once so that another replica need not wait for the claim.
    receiver.close();
    while let Ok(job) = receiver.try_recv() {
        if let Err(error) = inbox::release(&app.pool, job.update.update_id).await {
            tracing::warn!(%error, update_id = job.update.update_id, "could not release a claim at shutdown");
        }
    }
}

async fn process(app: &Arc<App>, job: Job) {
    let update_id = job.update.update_id;
    let started = Instant::now();
    match try_process(app, update_id).await {
        Ok(Processed::Done(outcome)) => {
            app.metrics
                .updates_processed
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.as_str(),
                })
                .inc();
            app.metrics
                .update_processing
                .observe(started.elapsed().as_secs_f64());
        }
        Ok(Processed::Skipped) => {}
        Ok(Processed::WaitForEarlier) => defer(app, job),
        Err(Failure { attempts, error }) => {
            app.metrics.updates_failed.inc();
            let retry_in = Duration::from_secs(1u64 << attempts.clamp(0, 6));
            tracing::warn!(update_id, attempts = attempts + 1, error = %error, "processing an update failed");
            match inbox::record_failure(&app.pool, update_id, &error, retry_in, MAX_ATTEMPTS).await
            {
                Ok(true) => {
                    tracing::error!(update_id, "update given up after {MAX_ATTEMPTS} attempts");
                    app.metrics
                        .updates_processed
                        .get_or_create(&OutcomeLabels {
                            outcome: Outcome::Failed.as_str(),
                        })
                        .inc();
                }
                Ok(false) => {}
                // The claim lapses on its own and the sweeper retries: nothing is lost.
                Err(error) => tracing::warn!(%error, update_id, "could not record the failure"),
            }
        }
    }
}

fn defer(app: &Arc<App>, mut job: Job) {
    if job.deferrals >= MAX_DEFERRALS {
        return;
    }
    job.deferrals += 1;
    let app = Arc::clone(app);
    tokio::spawn(async move {
        tokio::time::sleep(DEFER_DELAY).await;
        app.workers.send(job);
    });
}

enum Processed {
    Done(Outcome),
    Skipped,
    WaitForEarlier,
}

struct Failure {
    attempts: i32,
    error: String,
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        Self {
            attempts: 0,
            error: error.to_string(),
        }
    }
}

async fn try_process(app: &App, update_id: i64) -> Result<Processed, Failure> {
    let mut tx = app.pool.begin().await?;
    let (payload, attempts) = match inbox::begin_processing(&mut tx, update_id).await? {
        Claim::Ready { payload, attempts } => (payload, attempts),
        Claim::AlreadyProcessed | Claim::Missing => return Ok(Processed::Skipped),
        Claim::WaitForEarlier => return Ok(Processed::WaitForEarlier),
    };
    let outcome = match serde_json::from_str::<teloxide::types::Update>(&payload) {
        Ok(update) => match handlers::handle(app, &mut tx, &update).await {
            Ok(outcome) => outcome,
            Err(error) => {
                drop(tx);
                return Err(Failure {
                    attempts,
                    error: error.to_string(),
                });
            }
        },
        Err(error) => {
            tracing::warn!(update_id, %error, "stored update cannot be decoded; ignored");
            Outcome::Ignored
        }
    };
    inbox::set_outcome(&mut tx, update_id, outcome).await?;
    tx.commit().await.map_err(|e| Failure {
        attempts,
        error: e.to_string(),
    })?;
    Ok(Processed::Done(outcome))
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
                        app.workers.dispatch(update);
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
