//! Demo data: a few approved businesses around the demo city with live offers, so that Browse
//! shows results at once. The marketplace schema is not there yet, so this is a hook that says
//! so; it must not invent those tables (the migrations own them).

use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoOutcome {
    /// `--demo-data=false`.
    Disabled,
    /// The `businesses`/`offers` tables do not exist yet: nothing to seed.
    TablesMissing,
    /// The tables exist but seeding them is not written yet.
    NotImplemented,
}

#[derive(Debug, thiserror::Error)]
#[error("checking for the marketplace tables failed: {0}")]
pub struct DemoError(#[from] sqlx::Error);

/// Seeds the demo data when enabled and possible; logs what it did.
pub async fn seed_demo_data(database_url: &str, enabled: bool) -> Result<DemoOutcome, DemoError> {
    if !enabled {
        tracing::info!("demo data: disabled (--demo-data=false)");
        return Ok(DemoOutcome::Disabled);
    }
    let mut connection = sqlx::PgConnection::connect(database_url).await?;
    let tables_exist: bool = sqlx::query_scalar(
        "SELECT to_regclass('businesses') IS NOT NULL AND to_regclass('offers') IS NOT NULL",
    )
    .fetch_one(&mut connection)
    .await?;
    let _ = connection.close().await;
    if tables_exist {
        tracing::info!(
            "demo data: the businesses and offers tables exist, but seeding them is not written yet"
        );
        Ok(DemoOutcome::NotImplemented)
    } else {
        tracing::info!(
            "demo data: skipped, the businesses/offers tables do not exist yet in this bot version"
        );
        Ok(DemoOutcome::TablesMissing)
    }
}
