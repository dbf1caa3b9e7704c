//! End-to-end webhook throughput: the real (release) bot binary, the Telegram fake in its own
//! process, real PostgreSQL and Redis. 40 concurrent webhook connections (Telegram's default)
//! post /start updates from thousands of distinct users; every update is stored, processed and
//! answered with a Bot API call.
//!
//! Run with `make bench` (builds the release bot first). Tunables: BENCH_UPDATES (default
//! 20000), BENCH_USERS (4000), BENCH_CONNECTIONS (40); BENCH_BOT_<VAR> sets the bot's VAR.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;
use toogoodtogo_tests::bench::{
    cpu_seconds, env_number, memory_kib, percentile, postgres_cpu, with_bot_overrides,
};
use toogoodtogo_tests::driver::{TestUser, UpdateFactory, WebhookClient};
use toogoodtogo_tests::harness::{self, BotEnv, BotProcess, TestDatabase, WEBHOOK_SECRET};

type Error = harness::Error;

async fn messages_delivered(http: &reqwest::Client, fake_url: &str) -> usize {
    let stats: serde_json::Value = match http.get(format!("{fake_url}/_fake/stats")).send().await {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(_) => return 0,
    };
    stats["messages"].as_u64().unwrap_or(0) as usize
}

async fn drive(
    webhook: &WebhookClient,
    updates: Arc<Vec<serde_json::Value>>,
    connections: usize,
) -> Result<Vec<Duration>, Error> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (webhook, updates, next) = (webhook.clone(), Arc::clone(&updates), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(update) = updates.get(i) else { break };
                let started = Instant::now();
                let status = webhook.post(update).await?;
                latencies.push(started.elapsed());
                if !status.is_success() {
                    return Err(format!("webhook answered {status}").into());
                }
            }
            Ok::<_, Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(all)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let total = env_number("BENCH_UPDATES", 20_000);
    let user_count = env_number("BENCH_USERS", 4_000).max(1);
    let connections = env_number("BENCH_CONNECTIONS", 40).max(1);

    let db = TestDatabase::create().await?;
    let mut fake = tokio::process::Command::new(env!("CARGO_BIN_EXE_fake-telegram"))
        .arg("--token")
        .arg(harness::TEST_TOKEN)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let fake_pid = fake.id().ok_or("fake exited")?;
    let fake_url = {
        let stdout = fake.stdout.take().ok_or("no fake stdout")?;
        tokio::io::BufReader::new(stdout)
            .lines()
            .next_line()
            .await?
            .ok_or("fake printed no URL")?
    };
    let env = BotEnv::new(&db.url, &fake_url)
        .set("LOG_LEVEL", "warn")
        .set("RATE_LIMIT_PER_MINUTE", "60");
    let env = with_bot_overrides(env);
    let bot = BotProcess::start(env).await?;
    let bot_pid = bot.pid().ok_or("bot exited")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = memory_kib(bot_pid, "VmRSS:");

    let factory = UpdateFactory::starting_at(1);
    let users: Vec<TestUser> = (0..user_count)
        .map(|i| TestUser::new(2_000_000_000 + i as i64, "Bench"))
        .collect();
    let warmup: Vec<_> = (0..500)
        .map(|i| factory.text(&users[i % users.len()], "/start"))
        .collect();
    let measured: Vec<_> = (0..total)
        .map(|i| factory.text(&users[i % users.len()], "/start"))
        .collect();
    let webhook = WebhookClient::new(bot.url("/webhook"), WEBHOOK_SECRET);
    let http = reqwest::Client::new();

    drive(&webhook, Arc::new(warmup), connections).await?;
    while messages_delivered(&http, &fake_url).await < 500 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let self_pid = std::process::id();
    let cpu_before = (
        cpu_seconds(bot_pid),
        cpu_seconds(fake_pid),
        cpu_seconds(self_pid),
        postgres_cpu(),
    );
    let started = Instant::now();
    let mut latencies = drive(&webhook, Arc::new(measured), connections).await?;
    let accepted_in = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(300);
    while messages_delivered(&http, &fake_url).await < 500 + total {
        if Instant::now() > deadline {
            return Err("not every update was answered within 300 s".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    let cpu_after = (
        cpu_seconds(bot_pid),
        cpu_seconds(fake_pid),
        cpu_seconds(self_pid),
        postgres_cpu(),
    );
    latencies.sort_unstable();

    let per_second = |cpu: f64| 100.0 * cpu / elapsed.as_secs_f64();
    println!(
        "webhook throughput benchmark: {total} /start updates from {user_count} users over {connections} connections"
    );
    println!(
        "  end to end (webhook -> inbox -> handler -> sendMessage): {:.0} updates/s ({:.2} s)",
        total as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "  webhook acknowledged:  {:.0} updates/s ({:.2} s)",
        total as f64 / accepted_in.as_secs_f64(),
        accepted_in.as_secs_f64()
    );
    println!(
        "  webhook latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "  bot RSS: idle {:.1} MiB, peak {:.1} MiB",
        idle_rss as f64 / 1024.0,
        memory_kib(bot_pid, "VmHWM:") as f64 / 1024.0
    );
    println!(
        "  CPU (% of one core, during the measured run): bot {:.0}%, fake {:.0}%, load generator {:.0}%, PostgreSQL {:.0}%",
        per_second(cpu_after.0 - cpu_before.0),
        per_second(cpu_after.1 - cpu_before.1),
        per_second(cpu_after.2 - cpu_before.2),
        per_second(cpu_after.3 - cpu_before.3)
    );
    let per_update = |cpu: f64| 1e3 * cpu / total as f64;
    println!(
        "  CPU per update: bot {:.3} ms, PostgreSQL {:.3} ms, fake {:.3} ms",
        per_update(cpu_after.0 - cpu_before.0),
        per_update(cpu_after.3 - cpu_before.3),
        per_update(cpu_after.1 - cpu_before.1)
    );
    drop(bot);
    let _ = fake.kill().await;
    Ok(())
}
