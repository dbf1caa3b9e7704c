//! `toogoodtogo-sandbox`: try the bot in a browser. Starts the real bot binary, the Telegram
//! and Stripe fakes and a chat page on http://127.0.0.1:8080, with storage it finds or starts
//! itself.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgAction, Parser};
use toogoodtogo_sandbox::session::UserIds;
use toogoodtogo_sandbox::{Sandbox, SandboxOptions, StorageMode};

#[derive(Debug, Parser)]
#[command(
    name = "toogoodtogo-sandbox",
    version,
    about = "Chat with the real bot in a browser: no Telegram token, no internet",
    long_about = "Starts the real toogoodtogo-bot binary (long polling against an in-process \
                  Telegram fake, paying through an in-process Stripe fake), and a chat page with a customer, a business owner, an admin and \
                  new users. Storage: DATABASE_URL/REDIS_URL when set, else servers on the default \
                  local ports, else private servers started from the installed binaries. The \
                  sandbox works in a fresh database of its own and drops it on exit (Ctrl-C)."
)]
struct Args {
    /// Port of the page on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Where the storage comes from.
    #[arg(long, value_enum, default_value_t = StorageMode::Auto)]
    storage: StorageMode,
    /// Keep the sandbox's database on exit.
    #[arg(long)]
    keep: bool,
    /// Seed demo businesses around Berlin with live offers (`--demo-data=false`: start empty).
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    demo_data: bool,
    /// Data directory of private servers [default: <cargo target dir>/sandbox].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The bot binary [default: toogoodtogo-bot next to this binary].
    #[arg(long, env = "TOOGOODTOGO_BOT_BIN")]
    bot_binary: Option<PathBuf>,
    /// Do not print the bot's log lines.
    #[arg(long)]
    quiet_bot: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The cause chain on one line each, without a backtrace: these are user errors.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SANDBOX_LOG")
                // sqlx warns about slow statements; DROP DATABASE is slow by nature.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=error")),
        )
        .with_target(false)
        .init();
    let args = Args::parse();
    let mut options = SandboxOptions::new(
        args.data_dir
            .unwrap_or_else(toogoodtogo_sandbox::default_state_dir),
    );
    options.port = args.port;
    options.storage = args.storage;
    options.keep = args.keep;
    options.demo_data = args.demo_data;
    options.database_url = std::env::var("DATABASE_URL").ok().filter(|v| !v.is_empty());
    options.redis_url = std::env::var("REDIS_URL").ok().filter(|v| !v.is_empty());
    options.users = UserIds::from_base(1000);
    options.echo_bot_logs = !args.quiet_bot;
    if let Some(binary) = args.bot_binary {
        options.bot_binary = binary;
    }

    println!(
        "Starting the sandbox (bot binary {})...",
        options.bot_binary.display()
    );
    let mut sandbox = Sandbox::start(options)
        .await
        .context("the sandbox did not start")?;
    for line in &sandbox.storage_report {
        println!("  {line}");
    }
    if let Some(bot_url) = sandbox.bot_url() {
        println!(
            "  bot: {bot_url}/health (long polling the Telegram fake at {})",
            sandbox.fake.url()
        );
    }
    let ids = sandbox.session.ids;
    println!(
        "  users: customer {}, business owner {}, admin {} (ADMIN_TELEGRAM_IDS)",
        ids.customer, ids.business_owner, ids.admin
    );
    println!();
    println!("  Sandbox ready: open {}", sandbox.url);
    println!();
    println!("Ctrl-C stops it and cleans up.");

    let bot_died = wait_for_stop(&mut sandbox).await?;
    if let Some(status) = bot_died {
        eprintln!(
            "The bot exited on its own ({status}); its last output:\n{}",
            sandbox.bot_output()
        );
    }
    println!("Stopping...");
    for line in sandbox.shutdown().await {
        println!("  {line}");
    }
    if let Some(status) = bot_died {
        anyhow::bail!("the bot exited unexpectedly ({status})");
    }
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM; returns the bot's exit status if it died first.
async fn wait_for_stop(sandbox: &mut Sandbox) -> anyhow::Result<Option<std::process::ExitStatus>> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(None),
            _ = terminate.recv() => return Ok(None),
            _ = check.tick() => {
                if let Some(status) = sandbox.bot_exited() {
                    return Ok(Some(status));
                }
            }
        }
    }
}
