use clap::Parser;
use toogoodtogo_bot::cli::{self, Cli, Command};
use toogoodtogo_bot::config::Config;
use tracing_subscriber::EnvFilter;

fn init_logging() {
    let filter = EnvFilter::try_new(std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".into()))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("LOG_FORMAT").as_deref() == Ok("pretty") {
        builder.init();
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    }
}

#[tokio::main]
async fn main() {
    // A .env file is a development convenience; real deployments pass the environment.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    init_logging();
    let code = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => match Config::from_env() {
            Err(error) => {
                eprintln!("{error}");
                tracing::error!(problems = ?error.problems, "invalid configuration");
                1
            }
            Ok(config) => match toogoodtogo_bot::app::serve(config).await {
                Ok(()) => 0,
                Err(error) => {
                    eprintln!("error: {error}");
                    tracing::error!(%error, "serve failed");
                    1
                }
            },
        },
        Command::Migrate { check } => report(cli::migrate(check).await),
        Command::Healthcheck {
            strict,
            url,
            timeout,
        } => cli::healthcheck(strict, url, timeout).await,
        Command::Webhook { action } => report(cli::webhook(action).await),
        Command::PaymentsCheck => report(cli::payments_check().await),
        Command::ReconcilePayments { day } => report(cli::reconcile_payments(day).await),
        Command::Texts { check, dir } => report(cli::texts(check, dir.as_deref())),
    };
    std::process::exit(code);
}

fn report(result: Result<cli::ExitCode, cli::CommandError>) -> cli::ExitCode {
    result.unwrap_or_else(|error| {
        eprintln!("error: {error}");
        1
    })
}
