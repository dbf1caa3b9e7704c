//! The `toogoodtogo-bot` command line: `serve` (default), `migrate`, `healthcheck`, `webhook`,
//! `payments-check`.

use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::{DatabaseConfig, TelegramConfig, WebhookConfig};
use crate::health::{HealthReport, Status};
use crate::store;

#[derive(Debug, Parser)]
#[command(name = "toogoodtogo-bot", version = crate::app::VERSION, about = "TooGoodToGo Telegram marketplace bot")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default): webhook intake or long polling, workers, jobs, /health.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate {
        /// Only report: exit 1 and list pending migrations without applying them.
        #[arg(long)]
        check: bool,
    },
    /// Query the local /health and exit 0 when healthy (for container health checks).
    Healthcheck {
        /// Treat "degraded" as a failure (exit 1).
        #[arg(long)]
        strict: bool,
        /// Health endpoint; defaults to the port of BIND_ADDR on 127.0.0.1.
        #[arg(long, env = "HEALTHCHECK_URL")]
        url: Option<String>,
        /// Seconds to wait for an answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// Manage the Telegram webhook registration.
    Webhook {
        #[command(subcommand)]
        action: WebhookAction,
    },
    /// Check the payment setup (e.g. after rotating the Stripe key): the provider token is set
    /// and Stripe accepts STRIPE_API_KEY. No money moves. Exit 0 when payments work.
    PaymentsCheck,
    /// Compare a day's payments and refunds with Stripe (default: yesterday, UTC) and record what
    /// differs. Exit 0 when everything matches, 1 when something differs.
    ReconcilePayments {
        /// The day to reconcile, as YYYY-MM-DD (UTC).
        #[arg(long)]
        day: Option<chrono::NaiveDate>,
    },
    /// The translations: with --check, verify that every language has every message with the
    /// same variables, that every file parses and every message renders, and that labels fit
    /// Telegram's limits. Exit 0 when all is well, 1 with the list of problems.
    Texts {
        /// Check the translations (the only action so far).
        #[arg(long)]
        check: bool,
        /// A folder laid out like bot/locales (one sub-folder per language) to check instead of
        /// the translations built into this binary.
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookAction {
    /// Register WEBHOOK_URL with WEBHOOK_SECRET_TOKEN (idempotent).
    Set,
    /// Remove the webhook (e.g. to switch to long polling).
    Delete {
        /// Also drop updates Telegram is still holding.
        #[arg(long)]
        drop_pending_updates: bool,
    },
    /// Show what Telegram knows about the webhook.
    Info,
}

/// What a finished command asks the process to exit with.
pub type ExitCode = i32;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Telegram(#[from] crate::telegram::ClientError),
    #[error("Telegram API: {0}")]
    Api(#[from] teloxide::RequestError),
    #[error(transparent)]
    Reconcile(#[from] crate::reconcile::ReconcileError),
    #[error("translations: {0}")]
    Texts(String),
}

/// `migrate [--check]`.
pub async fn migrate(check: bool) -> Result<ExitCode, CommandError> {
    let database = DatabaseConfig::from_env()?;
    let pool = store::connect(&database.url, 2, crate::app::DATABASE_START_TIMEOUT).await?;
    let status = store::schema_status(&pool).await?;
    println!("{}", status.summary());
    if check {
        return Ok(if status.is_behind() { 1 } else { 0 });
    }
    if status.is_behind() {
        store::migrate(&pool).await?;
        println!("applied {} migration(s)", status.pending.len());
    }
    Ok(0)
}

/// `healthcheck`: prints the report; 0 healthy, 0 plus a warning when degraded (1 with
/// `--strict`), 1 unhealthy or unreachable.
pub async fn healthcheck(strict: bool, url: Option<String>, timeout: u64) -> ExitCode {
    let url = url.unwrap_or_else(|| {
        let port = std::env::var("BIND_ADDR")
            .ok()
            .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
            .map_or(8000, |a| a.port());
        format!("http://127.0.0.1:{port}/health")
    });
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(timeout))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            eprintln!("cannot build an HTTP client: {error}");
            return 1;
        }
    };
    let response = match client.get(&url).send().await {
        Ok(response) => response,
        Err(error) => {
            eprintln!("unhealthy: {url} is unreachable: {error}");
            return 1;
        }
    };
    let body = response.text().await.unwrap_or_default();
    println!("{body}");
    match serde_json::from_str::<HealthReport>(&body) {
        Ok(report) => match report.status {
            Status::Healthy => 0,
            Status::Degraded => {
                eprintln!("WARNING: degraded: {}", report.warnings.join("; "));
                if strict { 1 } else { 0 }
            }
            Status::Unhealthy => {
                eprintln!("unhealthy: {}", report.errors.join("; "));
                1
            }
        },
        Err(error) => {
            eprintln!("unhealthy: {url} did not answer with a health report: {error}");
            1
        }
    }
}

/// `payments-check`.
pub async fn payments_check() -> Result<ExitCode, CommandError> {
    let stripe = crate::config::StripeConfig::from_env()?;
    let mut ok = true;
    match &stripe.provider_token {
        Some(_) => println!("STRIPE_PROVIDER_TOKEN: set"),
        None => {
            println!("STRIPE_PROVIDER_TOKEN: missing (invoices cannot be sent)");
            ok = false;
        }
    }
    match &stripe.api_key {
        None => {
            println!("STRIPE_API_KEY: missing (refunds cannot be made)");
            ok = false;
        }
        Some(key) => {
            let client = crate::stripe::StripeClient::new(
                crate::telegram::http_client()?,
                &stripe.api_url,
                key.clone(),
            );
            match client.check_key().await {
                Ok(live) => println!(
                    "STRIPE_API_KEY: accepted by {} ({} mode)",
                    stripe.api_url,
                    if live { "live" } else { "test" }
                ),
                Err(error) => {
                    println!("STRIPE_API_KEY: refused: {error}");
                    ok = false;
                }
            }
        }
    }
    if stripe.webhook_secret.is_none() {
        println!("STRIPE_WEBHOOK_SECRET: missing (POST /stripe/webhook answers 503)");
    }
    println!(
        "{}",
        if ok {
            "payments: ready"
        } else {
            "payments: NOT ready"
        }
    );
    Ok(if ok { 0 } else { 1 })
}

/// `reconcile-payments [--day YYYY-MM-DD]`.
pub async fn reconcile_payments(day: Option<chrono::NaiveDate>) -> Result<ExitCode, CommandError> {
    let database = DatabaseConfig::from_env()?;
    let stripe = crate::config::StripeConfig::from_env()?;
    let Some(key) = stripe.api_key.clone() else {
        println!("STRIPE_API_KEY: missing (nothing to reconcile with)");
        return Ok(1);
    };
    let pool = store::connect(&database.url, 2, crate::app::DATABASE_START_TIMEOUT).await?;
    let client =
        crate::stripe::StripeClient::new(crate::telegram::http_client()?, &stripe.api_url, key);
    let day = day.unwrap_or_else(|| chrono::Utc::now().date_naive() - chrono::Duration::days(1));
    let report = crate::reconcile::reconcile_day(&pool, &client, day).await?;
    println!(
        "reconciled {day}: {} charge(s) at Stripe, {} discrepancy(ies)",
        report.charges,
        report.discrepancies.len()
    );
    for found in &report.discrepancies {
        println!(
            "{} {}: {}",
            found.kind.as_str(),
            found.charge_id,
            found.detail
        );
    }
    Ok(if report.discrepancies.is_empty() {
        0
    } else {
        1
    })
}

/// `webhook set|delete|info`.
pub async fn webhook(action: WebhookAction) -> Result<ExitCode, CommandError> {
    let telegram = TelegramConfig::from_env()?;
    let bot = crate::telegram::bot(&telegram, crate::telegram::http_client()?)?;
    match action {
        WebhookAction::Set => {
            let webhook = WebhookConfig::from_env()?;
            crate::telegram::webhook::register(&bot, &webhook).await?;
            println!("webhook set to {}", webhook.url);
        }
        WebhookAction::Delete {
            drop_pending_updates,
        } => {
            crate::telegram::webhook::delete(&bot, drop_pending_updates).await?;
            println!("webhook deleted");
        }
        WebhookAction::Info => {
            let info = crate::telegram::webhook::info(&bot).await?;
            let url = info
                .url
                .as_ref()
                .map_or("(none: long polling)".to_owned(), |u| u.to_string());
            println!("url: {url}");
            println!("pending_update_count: {}", info.pending_update_count);
            if let Some(message) = &info.last_error_message {
                println!("last_error_message: {message}");
            }
            if let Some(max) = info.max_connections {
                println!("max_connections: {max}");
            }
        }
    }
    Ok(0)
}

/// `texts --check`: prints every problem of the translations; exit 1 when there is one.
pub fn texts(check: bool, dir: Option<&std::path::Path>) -> Result<ExitCode, CommandError> {
    use crate::texts::check;
    let languages = match dir {
        Some(dir) => check::from_dir(dir).map_err(|error| {
            CommandError::Texts(format!("cannot read {}: {error}", dir.display()))
        })?,
        None => check::embedded(),
    };
    let codes: Vec<&str> = languages.iter().map(|l| l.language.as_str()).collect();
    if !check {
        println!("languages: {}", codes.join(", "));
        return Ok(0);
    }
    let problems = check::check(&languages);
    if problems.is_empty() {
        println!("translations are complete: {}", codes.join(", "));
        return Ok(0);
    }
    eprintln!("{} problem(s) in the translations:", problems.len());
    for problem in &problems {
        eprintln!("  {problem}");
    }
    Ok(1)
}
