//! The `/health` contract: overall status, version, uptime and each dependency's status and
//! response time. PostgreSQL down makes the bot unhealthy; Redis down only degrades it.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::app::App;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Healthy,
    Degraded,
    Unhealthy,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DependencyHealth {
    pub status: Status,
    /// Milliseconds; null when the dependency did not answer.
    pub response_time_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dependencies {
    pub postgres: DependencyHealth,
    pub redis: DependencyHealth,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthReport {
    pub status: Status,
    pub version: String,
    pub uptime_seconds: u64,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub dependencies: Dependencies,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

fn dependency(result: Result<Duration, String>, down: Status) -> DependencyHealth {
    match result {
        Ok(elapsed) => DependencyHealth {
            status: Status::Healthy,
            response_time_ms: Some(millis(elapsed)),
            error: None,
        },
        Err(error) => DependencyHealth {
            status: down,
            response_time_ms: None,
            error: Some(error),
        },
    }
}

pub async fn check_postgres(pool: &sqlx::PgPool) -> Result<Duration, String> {
    let started = Instant::now();
    let query = sqlx::query("SELECT 1").execute(pool);
    match tokio::time::timeout(CHECK_TIMEOUT, query).await {
        Ok(Ok(_)) => Ok(started.elapsed()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
    }
}

pub async fn report(app: &App) -> HealthReport {
    let (postgres, redis) = tokio::join!(check_postgres(&app.pool), app.redis.ping(CHECK_TIMEOUT));
    let postgres = dependency(postgres, Status::Unhealthy);
    let redis = dependency(redis.map_err(|e| e.to_string()), Status::Degraded);
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    if postgres.status != Status::Healthy {
        errors.push("PostgreSQL unreachable: updates cannot be stored or processed".to_owned());
    }
    if redis.status != Status::Healthy {
        warnings.push("Rate limiting temporarily disabled".to_owned());
    }
    let status = if !errors.is_empty() {
        Status::Unhealthy
    } else if !warnings.is_empty() {
        Status::Degraded
    } else {
        Status::Healthy
    };
    if status != Status::Unhealthy {
        // Warnings are reported with degraded, errors with unhealthy.
        errors.clear();
    }
    HealthReport {
        status,
        version: app.version.to_owned(),
        uptime_seconds: app.started.elapsed().as_secs(),
        timestamp: chrono::Utc::now(),
        dependencies: Dependencies { postgres, redis },
        warnings,
        errors,
    }
}
