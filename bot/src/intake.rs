//! Update intake with in-process group commit: concurrent webhook requests are stored with one
//! multi-row INSERT and one commit per batch, then each request is answered with its own result.
//! Commits are what a durable inbox pays for, so batching them is what lets the intake scale.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinSet;

use crate::store::inbox::{self, PendingUpdate, Stored};

/// The most updates stored with one statement.
const MAX_BATCH: usize = 128;
/// Batches in flight at once (each holds one database connection while it commits).
const INSERTERS: usize = 4;

#[derive(Debug, Clone, thiserror::Error)]
pub enum IntakeError {
    /// Storing failed (e.g. the database is down): Telegram should deliver it again later.
    #[error("the update could not be stored: {0}")]
    Unavailable(String),
    /// PostgreSQL refuses this payload itself (e.g. a `\u0000` inside a string, which `jsonb`
    /// cannot hold): delivering it again cannot help.
    #[error("the update cannot be stored: {0}")]
    Refused(String),
}

struct Request {
    update: PendingUpdate,
    payload: String,
    claim: Duration,
    reply: oneshot::Sender<Result<Stored, IntakeError>>,
}

#[derive(Clone)]
pub struct Intake {
    sender: mpsc::Sender<Request>,
}

impl Intake {
    /// Starts the inserters. They stop once every `Intake` handle is dropped.
    pub fn start(pool: sqlx::PgPool, tasks: &mut JoinSet<()>) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * INSERTERS * 2);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..INSERTERS {
            tasks.spawn(insert_batches(pool.clone(), Arc::clone(&receiver)));
        }
        Self { sender }
    }

    /// Stores one update durably; returns once its batch has committed.
    pub async fn store(
        &self,
        update: PendingUpdate,
        payload: String,
        claim: Duration,
    ) -> Result<Stored, IntakeError> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            update,
            payload,
            claim,
            reply,
        };
        self.sender
            .send(request)
            .await
            .map_err(|_| IntakeError::Unavailable("intake is shutting down".into()))?;
        answer
            .await
            .map_err(|_| IntakeError::Unavailable("intake stopped before answering".into()))?
    }
}

async fn insert_batches(pool: sqlx::PgPool, receiver: Arc<Mutex<mpsc::Receiver<Request>>>) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
    loop {
        {
            // One inserter collects at a time: whatever queued up while the others committed.
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
        }
        store(&pool, &mut batch).await;
    }
}

async fn store(pool: &sqlx::PgPool, batch: &mut Vec<Request>) {
    // Claims differ only while draining (zero); store each claim length as its own statement.
    let mut by_claim: Vec<(Duration, Vec<Request>)> = Vec::new();
    for request in batch.drain(..) {
        match by_claim
            .iter_mut()
            .find(|(claim, _)| *claim == request.claim)
        {
            Some((_, group)) => group.push(request),
            None => by_claim.push((request.claim, vec![request])),
        }
    }
    for (claim, group) in by_claim {
        let rows: Vec<(PendingUpdate, String)> = group
            .iter()
            .map(|r| (r.update, r.payload.clone()))
            .collect();
        match inbox::store_batch(pool, &rows, claim).await {
            Ok(new) => {
                let mut new: HashSet<i64> = new.iter().map(|u| u.update_id).collect();
                for request in group {
                    // A redelivery inside the same batch is a duplicate of the first copy.
                    let stored = if new.remove(&request.update.update_id) {
                        Stored::New
                    } else {
                        Stored::Duplicate
                    };
                    let _ = request.reply.send(Ok(stored));
                }
            }
            // One payload PostgreSQL refuses fails the whole statement: store each on its own so
            // that only that one is refused.
            Err(error) if inbox::refuses_payload(&error) && group.len() > 1 => {
                for request in group {
                    let row = [(request.update, request.payload.clone())];
                    let stored = match inbox::store_batch(pool, &row, claim).await {
                        Ok(new) if new.is_empty() => Ok(Stored::Duplicate),
                        Ok(_) => Ok(Stored::New),
                        Err(error) => Err(intake_error(&error)),
                    };
                    let _ = request.reply.send(stored);
                }
            }
            Err(error) => {
                let error = intake_error(&error);
                for request in group {
                    let _ = request.reply.send(Err(error.clone()));
                }
            }
        }
    }
}

fn intake_error(error: &sqlx::Error) -> IntakeError {
    if inbox::refuses_payload(error) {
        IntakeError::Refused(error.to_string())
    } else {
        IntakeError::Unavailable(error.to_string())
    }
}
