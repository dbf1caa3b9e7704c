//! PostgreSQL: the connection pool, the embedded migrations and the tables the service owns.

pub mod audit;
pub mod businesses;
pub mod conversations;
pub mod customers;
pub mod favourites;
pub mod groups;
pub mod inbox;
pub mod offers;
pub mod outbound;
pub mod payments;
pub mod ratings;
pub mod reservations;
pub mod search;
pub mod staff;
pub mod users;

use std::time::{Duration, Instant};

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use crate::config::Secret;

/// The migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("PostgreSQL is unreachable after {waited:?}: {source}")]
    Unreachable {
        waited: Duration,
        #[source]
        source: sqlx::Error,
    },
    #[error("invalid database URL: {0}")]
    InvalidUrl(#[source] sqlx::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Connects, retrying for `retry_for` while PostgreSQL is not (yet) answering.
pub async fn connect(
    url: &Secret,
    max_connections: u32,
    retry_for: Duration,
) -> Result<PgPool, StoreError> {
    let options: PgConnectOptions = url
        .expose()
        .parse::<PgConnectOptions>()
        .map_err(StoreError::InvalidUrl)?
        .application_name("toogoodtogo-bot")
        .log_statements(tracing::log::LevelFilter::Trace);
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let attempt = PgPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await;
        match attempt {
            Ok(pool) => return Ok(pool),
            Err(error) if started.elapsed() + delay < retry_for => {
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "PostgreSQL not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(3));
            }
            Err(source) => {
                return Err(StoreError::Unreachable {
                    waited: started.elapsed(),
                    source,
                });
            }
        }
    }
}

/// How the database schema relates to the migrations this binary carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Migrations of this binary not yet applied: the schema is behind.
    pub pending: Vec<(i64, String)>,
    /// Applied migrations this binary does not know: the schema is ahead (a newer release ran).
    pub ahead: Vec<i64>,
    /// An applied migration whose content differs from this binary's copy of it.
    pub modified: Vec<i64>,
}

impl SchemaStatus {
    pub fn is_behind(&self) -> bool {
        !self.pending.is_empty()
    }

    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.pending.is_empty() && self.ahead.is_empty() {
            parts.push("schema is current".to_owned());
        }
        if !self.pending.is_empty() {
            let list: Vec<String> = self
                .pending
                .iter()
                .map(|(v, d)| format!("{v} {d}"))
                .collect();
            parts.push(format!(
                "schema is behind by {}: {}",
                self.pending.len(),
                list.join(", ")
            ));
        }
        if !self.ahead.is_empty() {
            parts.push(format!(
                "schema is ahead by {} (applied by a newer release: {:?})",
                self.ahead.len(),
                self.ahead
            ));
        }
        if !self.modified.is_empty() {
            parts.push(format!(
                "applied migrations differ from this binary's copy: {:?}",
                self.modified
            ));
        }
        parts.join("; ")
    }
}

/// Compares applied migrations with the embedded ones.
pub async fn schema_status(pool: &PgPool) -> Result<SchemaStatus, StoreError> {
    let table_exists: bool =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    let applied: Vec<(i64, Vec<u8>)> = if table_exists {
        sqlx::query_as(
            "SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(pool)
        .await?
    } else {
        Vec::new()
    };
    let known: Vec<_> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .collect();
    let pending = known
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .map(|m| (m.version, m.description.to_string()))
        .collect();
    let ahead = applied
        .iter()
        .filter(|(v, _)| !known.iter().any(|m| m.version == *v))
        .map(|(v, _)| *v)
        .collect();
    let modified = applied
        .iter()
        .filter(|(v, checksum)| {
            known
                .iter()
                .any(|m| m.version == *v && m.checksum.as_ref() != checksum.as_slice())
        })
        .map(|(v, _)| *v)
        .collect();
    Ok(SchemaStatus {
        pending,
        ahead,
        modified,
    })
}

/// Applies pending migrations. Migrations applied by a newer release are accepted, so a rolled
/// back release still migrates and starts.
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut migrator = Migrator {
        migrations: MIGRATOR.migrations.clone(),
        ..Migrator::DEFAULT
    };
    migrator.set_ignore_missing(true);
    migrator.run(pool).await?;
    Ok(())
}
