//! Latency under a noisy neighbour: one chat floods BENCH_FLOOD (200) updates while Telegram
//! answers that chat with a 429 retry_after=BENCH_RETRY_AFTER (20 s); meanwhile BENCH_OTHERS (50)
//! other users send /start and /browse at BENCH_RATE (300) updates/s for BENCH_SECONDS (20 s).
//!
//! Reports the other users' latency from "update stored" (the webhook's 200) to "reply received
//! by the Telegram fake", and checks that the flooding chat's replies all arrive, in order, after
//! its retry_after. The real (release) bot, real PostgreSQL and Redis; the fake runs in this
//! process so that both instants are read from one clock.
//!
//! Run with `make bench` (builds the release bot first), or alone:
//! `cargo build --release -p toogoodtogo-bot && cargo bench -p toogoodtogo-tests --bench
//! noisy_neighbour`. BENCH_BOT_<VAR> sets the bot's VAR.

use std::sync::Arc;
use std::time::{Duration, Instant};

use toogoodtogo_tests::bench::{
    cpu_seconds, env_number, percentile, postgres_cpu, with_bot_overrides,
};
use toogoodtogo_tests::driver::{TestUser, UpdateFactory, WebhookClient};
use toogoodtogo_tests::harness::{self, BotEnv, BotProcess, TestDatabase, WEBHOOK_SECRET};
use toogoodtogo_tests::telegram_fake::{FakeTelegram, Injected};

type Error = harness::Error;

const FLOODER_ID: i64 = 1_900_000_000;

/// When the fake received each sendMessage to `chat` (refused ones too), in order.
fn sends_to(fake: &FakeTelegram, chat: i64) -> Vec<Instant> {
    fake.calls_of("sendMessage")
        .into_iter()
        .filter(|call| call.params["chat_id"].as_i64() == Some(chat))
        .map(|call| call.at)
        .collect()
}

/// The texts of the messages `chat` holds, in order.
fn texts_in(fake: &FakeTelegram, chat: i64) -> Vec<String> {
    fake.transcript(chat)
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let flood = env_number("BENCH_FLOOD", 200);
    let others = env_number("BENCH_OTHERS", 50).max(1);
    let rate = env_number("BENCH_RATE", 300).max(1);
    let seconds = env_number("BENCH_SECONDS", 20).max(1);
    let retry_after = env_number("BENCH_RETRY_AFTER", 20) as u32;

    let db = TestDatabase::create().await?;
    let fake = FakeTelegram::start(harness::TEST_TOKEN).await?;
    // The other users send 6 updates/s each: above the default per-user limit, which would
    // answer them with "slow down" instead of the replies measured here.
    let env = BotEnv::new(&db.url, &fake.url())
        .set("LOG_LEVEL", "warn")
        .set("RATE_LIMIT_PER_MINUTE", "100000");
    let env = with_bot_overrides(env);
    let bot = BotProcess::start(env).await?;
    let bot_pid = bot.pid().ok_or("bot exited")?;
    let webhook = WebhookClient::new(bot.url("/webhook"), WEBHOOK_SECRET);
    let factory = Arc::new(UpdateFactory::starting_at(1));
    let flooder = TestUser::new(FLOODER_ID, "Flood");
    let users: Vec<TestUser> = (0..others)
        .map(|i| TestUser::new(2_000_000_000 + i as i64, "Neighbour"))
        .collect();

    // Warm-up: every user once, so that first-contact work is not measured.
    for user in users.iter().chain([&flooder]) {
        webhook.post(&factory.text(user, "/start")).await?;
    }
    let warmed = fake
        .wait_until(Duration::from_secs(30), || {
            users
                .iter()
                .chain([&flooder])
                .all(|u| !fake.transcript(u.id).is_empty())
                .then_some(())
        })
        .await;
    if warmed.is_err() {
        return Err("warm-up replies did not arrive".into());
    }
    let before: Vec<usize> = users.iter().map(|u| sends_to(&fake, u.id).len()).collect();
    let flood_before = texts_in(&fake, flooder.id).len();
    let flood_calls_before = sends_to(&fake, flooder.id).len();

    // The flooding chat's first reply gets the 429; the bot must hold that chat only.
    fake.inject(
        "sendMessage",
        Some(flooder.id),
        Injected::RetryAfter(retry_after),
    );
    let cpu_before = (cpu_seconds(bot_pid), postgres_cpu());
    let started = Instant::now();
    // Two commands with distinct replies, alternating, so that the replies show their order.
    let texts = toogoodtogo_bot::texts::for_language(None);
    let (flood_texts, expected_flood): (Vec<&'static str>, Vec<String>) = (0..flood)
        .map(|i: usize| {
            if i.is_multiple_of(2) {
                ("/help", texts.help.to_owned())
            } else {
                ("/privacy", texts.privacy.to_owned())
            }
        })
        .unzip();
    let flooding = {
        let (webhook, factory, flooder) = (webhook.clone(), Arc::clone(&factory), flooder.clone());
        let texts = flood_texts.clone();
        tokio::spawn(async move {
            for text in texts {
                webhook.post(&factory.text(&flooder, text)).await?;
            }
            Ok::<_, Error>(())
        })
    };

    // The others: open loop at `rate` updates/s, round robin over the users.
    let total = rate * seconds;
    let interval = Duration::from_secs(1) / rate as u32;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut posts = Vec::with_capacity(total);
    for i in 0..total {
        ticker.tick().await;
        let user = &users[i % users.len()];
        let text = if (i / users.len()).is_multiple_of(2) {
            "/start"
        } else {
            "/browse"
        };
        let update = factory.text(user, text);
        let webhook = webhook.clone();
        let chat = user.id;
        posts.push(tokio::spawn(async move {
            let status = webhook.post(&update).await?;
            if !status.is_success() {
                return Err::<_, Error>(format!("webhook answered {status}").into());
            }
            Ok((chat, Instant::now()))
        }));
    }
    let mut stored: std::collections::HashMap<i64, Vec<Instant>> = Default::default();
    for post in posts {
        let (chat, at) = post.await??;
        stored.entry(chat).or_default().push(at);
    }
    flooding.await??;
    let offered_in = started.elapsed();

    // Every other user's replies, one per update.
    let all_replied = fake
        .wait_until(Duration::from_secs(120), || {
            users
                .iter()
                .zip(&before)
                .all(|(u, before)| {
                    sends_to(&fake, u.id).len() >= before + stored.get(&u.id).map_or(0, Vec::len)
                })
                .then_some(())
        })
        .await;
    if all_replied.is_err() {
        return Err("the other users' replies did not all arrive within 120 s".into());
    }
    let others_done = started.elapsed();
    let cpu_after = (cpu_seconds(bot_pid), postgres_cpu());
    let mut latencies = Vec::with_capacity(total);
    for (user, before) in users.iter().zip(&before) {
        let replies = sends_to(&fake, user.id);
        let posted = stored.get(&user.id).map_or(&[][..], Vec::as_slice);
        for (stored_at, replied_at) in posted.iter().zip(&replies[*before..]) {
            // Sorting instants from two tasks: a reply can be recorded a hair before the
            // poster's task resumes; that counts as zero.
            latencies.push(replied_at.saturating_duration_since(*stored_at));
        }
    }
    latencies.sort_unstable();

    // The flooding chat: every reply arrives, in the order of its updates, after the wait.
    let flood_deadline = Duration::from_secs(u64::from(retry_after) + 2 * flood as u64 + 60);
    let flood_replied = fake
        .wait_until(flood_deadline, || {
            (texts_in(&fake, flooder.id).len() >= flood_before + flood).then_some(())
        })
        .await;
    let flood_replies = texts_in(&fake, flooder.id).split_off(flood_before);
    let in_order = flood_replies == expected_flood;
    // The first call after the warm-up is the one Telegram refused with the 429.
    let flood_sends = sends_to(&fake, flooder.id);
    let delivered = flood_sends
        .get(flood_calls_before + 1..)
        .unwrap_or_default();
    let first_after = delivered
        .first()
        .map(|at| at.saturating_duration_since(started));
    let last_after = delivered
        .last()
        .map(|at| at.saturating_duration_since(started));

    let cpu_ms = |cpu: f64| 1e3 * cpu / (total + flood) as f64;
    println!(
        "noisy neighbour benchmark: {others} users at {rate} updates/s for {seconds} s, one chat flooding {flood} updates under a {retry_after} s 429"
    );
    println!(
        "  other users, update stored -> reply received: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} updates, offered in {:.1} s, all answered after {:.1} s)",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        latencies.len(),
        offered_in.as_secs_f64(),
        others_done.as_secs_f64()
    );
    println!(
        "  flooding chat: {} of {flood} replies, {}, first after {:.1} s, last after {:.1} s{}",
        flood_replies.len(),
        if in_order { "in order" } else { "OUT OF ORDER" },
        first_after.unwrap_or_default().as_secs_f64(),
        last_after.unwrap_or_default().as_secs_f64(),
        if flood_replied.is_err() {
            " (gave up waiting)"
        } else {
            ""
        }
    );
    println!(
        "  CPU per update while the others ran: bot {:.3} ms, PostgreSQL {:.3} ms",
        cpu_ms(cpu_after.0 - cpu_before.0),
        cpu_ms(cpu_after.1 - cpu_before.1)
    );
    let early = first_after.is_some_and(|at| at < Duration::from_secs(u64::from(retry_after)));
    drop(bot);
    if !in_order || flood_replied.is_err() || early {
        return Err(
            "the flooding chat's replies were lost, reordered or sent during its wait".into(),
        );
    }
    Ok(())
}
