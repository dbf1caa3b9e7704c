//! Marketplace benchmark, customer side: a city of 5,000 approved businesses with 100,000
//! offers (10,000 of them ACTIVE) in a fresh database, seeded with set-based SQL.
//!
//! 1. The search (`store::search::page`) called directly: Nearby from random origins, All deals
//!    and Ending soon; latency percentiles, and Nearby's executed plan with a check that it
//!    reads `offers` and `businesses` through indexes only.
//! 2. A full /browse round trip through the real (release) bot: customers with a saved location
//!    press the Nearby page button (a signed `br_page` callback query), timed from the webhook
//!    POST until the Telegram fake receives the bot's editMessageText. One press at a time, then
//!    over concurrent webhook connections.
//! 3. Reservations under contention: many customers, one offer, each attempt its own
//!    transaction (`store::reservations::reserve`), then a race for the last units of a scarce
//!    offer; units sold are checked against the reservations.
//!
//! Run with `make bench` (builds the release bot first). Tunables: BENCH_BUSINESSES (default
//! 5000), BENCH_OFFERS (100000), BENCH_ACTIVE_OFFERS (10000), BENCH_QUERIES (1000 per filter),
//! BENCH_CUSTOMERS (2000), BENCH_SERIAL_PRESSES (1000), BENCH_PRESSES (6000),
//! BENCH_CONNECTIONS (40), BENCH_RESERVATIONS (4000), BENCH_RESERVE_CONNECTIONS (50),
//! BENCH_SCARCE_UNITS (100); BENCH_BOT_<VAR> sets the bot's VAR.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use rand::RngExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::{broadcast, oneshot};
use toogoodtogo_bot::config::Secret;
use toogoodtogo_bot::marketplace::geo::Point;
use toogoodtogo_bot::store::reservations::{self, ReserveOutcome};
use toogoodtogo_bot::store::search::{self, Filter, Query};
use toogoodtogo_bot::telegram::callback::CallbackCodec;
use toogoodtogo_tests::bench::{
    cpu_seconds, env_number, memory_kib, percentile, postgres_cpu, summary, with_bot_overrides,
};
use toogoodtogo_tests::driver::{TestUser, UpdateFactory, WebhookClient};
use toogoodtogo_tests::harness::{
    self, BotEnv, BotProcess, TEST_SECRET_KEY, TEST_TOKEN, TestDatabase, WEBHOOK_SECRET,
};
use toogoodtogo_tests::telegram_fake::{ChatEvent, FakeTelegram};

type Error = harness::Error;

/// Berlin. Businesses are spread ±0.3° around it (about 67 × 41 km), customers ±0.2°.
const CENTER: Point = Point {
    latitude: 52.52,
    longitude: 13.405,
};
const BUSINESS_SPREAD: f64 = 0.3;
const CUSTOMER_SPREAD: f64 = 0.2;
const RADIUS_KM: f64 = 5.0;
/// Telegram ids of the seeded owners and customers (clear of the other suites' ranges).
const OWNER_IDS: i64 = 3_100_000_000;
const CUSTOMER_IDS: i64 = 3_200_000_000;
/// Pages a customer steps through with [Next]; consecutive presses show different deals, so
/// every press edits the message (Telegram refuses an edit that changes nothing).
const PAGES: i64 = 5;

fn random_point(spread: f64) -> Point {
    let mut rng = rand::rng();
    Point {
        latitude: CENTER.latitude + rng.random_range(-spread..spread),
        longitude: CENTER.longitude + rng.random_range(-spread..spread),
    }
}

async fn seed(
    pool: &PgPool,
    businesses: i64,
    offers: i64,
    active: i64,
    customers: i64,
) -> Result<(), Error> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT setseed(0.42)")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO users (telegram_id, first_name)
         SELECT $2 + i, 'Owner ' || i FROM generate_series(1, $1) i",
    )
    .bind(businesses)
    .bind(OWNER_IDS)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO businesses (owner_id, name, street, city, postal_code, latitude, longitude,
             status, decided_at)
         SELECT $2 + i, 'Bench shop ' || i, 'Bench Street ' || i, 'Berlin', '10115',
                $3 + (random() * 2 - 1) * $5, $4 + (random() * 2 - 1) * $5, 'approved', now()
         FROM generate_series(1, $1) i",
    )
    .bind(businesses)
    .bind(OWNER_IDS)
    .bind(CENTER.latitude)
    .bind(CENTER.longitude)
    .bind(BUSINESS_SPREAD)
    .execute(&mut *conn)
    .await?;
    // The first `active` offers are ACTIVE with units left and a window that ends 15 min to
    // 8 h from now; the others are mostly history (EXPIRED in the last 90 days), some SOLD_OUT,
    // PAUSED or EXPIRED_EARLY. Offers go round the businesses.
    sqlx::query(
        "INSERT INTO offers (business_id, category, title, description, pickup_start, pickup_end,
             units_available, price_minor, original_minor, currency, state, created_by,
             created_at, ended_at)
         SELECT b.id, (ARRAY['ready_meals', 'bakery', 'produce', 'groceries', 'other'])[1 + i % 5],
                'Surprise bag ' || i, 'Bread, pastries and sandwiches of the day',
                w.start, w.start + w.length,
                CASE WHEN s.state IN ('ACTIVE', 'PAUSED') THEN 1 + i % 10
                     WHEN s.state = 'SOLD_OUT' THEN 0 ELSE i % 4 END,
                300 + i % 700, 500 + i % 700 + i % 1500, 'EUR', s.state, b.owner_id,
                w.start - interval '3 hours',
                CASE WHEN s.state IN ('EXPIRED', 'EXPIRED_EARLY') THEN w.start + w.length END
         FROM generate_series(1, $1) i
         JOIN businesses b ON b.id = 1 + i % $3
         CROSS JOIN LATERAL (SELECT CASE WHEN i <= $2 THEN 'ACTIVE'
             ELSE (ARRAY['EXPIRED', 'EXPIRED', 'EXPIRED', 'EXPIRED', 'EXPIRED', 'EXPIRED',
                         'SOLD_OUT', 'PAUSED', 'EXPIRED_EARLY'])[1 + i % 9] END AS state) s
         CROSS JOIN LATERAL (SELECT
             CASE WHEN s.state IN ('EXPIRED', 'EXPIRED_EARLY')
                  THEN now() - interval '1 day' - interval '90 days' * random()
                  ELSE now() - interval '1 hour' * random() END AS start,
             interval '75 minutes' + interval '8 hours' * random() AS length) w",
    )
    .bind(offers)
    .bind(active)
    .bind(businesses)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO users (telegram_id, first_name, language_code)
         SELECT $2 + i, 'Customer', 'en' FROM generate_series(1, $1) i",
    )
    .bind(customers)
    .bind(CUSTOMER_IDS)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO customer_settings (user_id, latitude, longitude, radius_km)
         SELECT $2 + i, $3 + (random() * 2 - 1) * $5, $4 + (random() * 2 - 1) * $5, $6
         FROM generate_series(1, $1) i",
    )
    .bind(customers)
    .bind(CUSTOMER_IDS)
    .bind(CENTER.latitude)
    .bind(CENTER.longitude)
    .bind(CUSTOMER_SPREAD)
    .bind(RADIUS_KM as i32)
    .execute(&mut *conn)
    .await?;
    sqlx::query("ANALYZE").execute(&mut *conn).await?;
    Ok(())
}

fn query(filter: Filter, origin: Point) -> Query {
    Query {
        filter,
        origin: Some(origin),
        radius_km: RADIUS_KM,
        now: Utc::now(),
    }
}

/// `count` searches one after another on one connection, from random origins and pages 0-4.
/// Returns the latencies and the mean number of matches.
async fn time_searches(
    pool: &PgPool,
    filter: Filter,
    count: usize,
) -> Result<(Vec<Duration>, f64), Error> {
    let mut conn = pool.acquire().await?;
    let mut latencies = Vec::with_capacity(count);
    let mut matches = 0i64;
    for i in 0..count {
        let search = query(filter, random_point(CUSTOMER_SPREAD));
        let started = Instant::now();
        let hits = search::page(&mut conn, &search, (i as i64) % PAGES, 1).await?;
        latencies.push(started.elapsed());
        matches += hits.first().map_or(0, |h| h.total);
    }
    Ok((latencies, matches as f64 / count.max(1) as f64))
}

/// The plan's scan nodes, and whether one of them reads a whole table the search needs.
fn scans(plan: &[String]) -> (Vec<String>, bool) {
    let nodes: Vec<String> = plan
        .iter()
        .filter(|line| line.contains("Scan"))
        .map(|line| {
            let node = line.trim().trim_start_matches("->").trim();
            node.split("  (").next().unwrap_or(node).to_owned()
        })
        .collect();
    let full = nodes
        .iter()
        .any(|n| n.starts_with("Seq Scan on offers") || n.starts_with("Seq Scan on businesses"));
    (nodes, full)
}

/// One customer of the round-trip phase and the bot message their presses edit.
struct Customer {
    user: TestUser,
    message: Value,
    presses: i64,
}

/// Who waits for the next edit in which chat.
type Waiters = Arc<Mutex<HashMap<i64, oneshot::Sender<Instant>>>>;

struct Browse {
    webhook: WebhookClient,
    factory: UpdateFactory,
    codec: CallbackCodec,
    waiters: Waiters,
}

impl Browse {
    /// Pages on through the customer's Nearby results; the time until the bot's edit arrived.
    async fn press(&self, customer: &mut Customer) -> Result<Duration, Error> {
        customer.presses += 1;
        let data = self.codec.encode(
            "br_page",
            &[Filter::Nearby.code(), customer.presses % PAGES],
        )?;
        let update = self
            .factory
            .callback(&customer.user, &customer.message, &data);
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .map_err(|_| "waiters poisoned")?
            .insert(customer.user.id, tx);
        let started = Instant::now();
        let status = self.webhook.post(&update).await?;
        if !status.is_success() {
            return Err(format!("webhook answered {status}").into());
        }
        let edited = tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .map_err(|_| format!("no edit in chat {} within 30 s", customer.user.id))??;
        Ok(edited.saturating_duration_since(started))
    }
}

/// Forwards the fake's edits to whoever waits for them.
fn dispatch_edits(mut events: broadcast::Receiver<ChatEvent>, waiters: Waiters) {
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(ChatEvent::MessageEdited { chat_id, .. }) => {
                    let at = Instant::now();
                    let waiter = waiters.lock().ok().and_then(|mut w| w.remove(&chat_id));
                    if let Some(waiter) = waiter {
                        let _ = waiter.send(at);
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

/// `total` presses over `connections` concurrent senders, each with its own customers (one
/// press of a customer in flight at a time). Returns the latencies and the wall time.
async fn drive_presses(
    browse: &Arc<Browse>,
    customers: Vec<Customer>,
    total: usize,
    connections: usize,
) -> Result<(Vec<Duration>, Duration, Vec<Customer>), Error> {
    let mut groups: Vec<Vec<Customer>> = (0..connections).map(|_| Vec::new()).collect();
    for (i, customer) in customers.into_iter().enumerate() {
        groups[i % connections].push(customer);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut group in groups.into_iter().filter(|g| !g.is_empty()) {
        let (browse, next) = (Arc::clone(browse), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut turn = 0;
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let index = turn % group.len();
                let customer = &mut group[index];
                turn += 1;
                latencies.push(browse.press(customer).await?);
            }
            Ok::<_, Error>((latencies, group))
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut customers = Vec::new();
    for task in tasks {
        let (l, group) = task.await??;
        latencies.extend(l);
        customers.extend(group);
    }
    Ok((latencies, started.elapsed(), customers))
}

/// The message every customer's presses edit, sent through the fake as the bot would.
async fn browse_message(
    http: &reqwest::Client,
    fake_url: &str,
    codec: &CallbackCodec,
    chat_id: i64,
) -> Result<Value, Error> {
    let markup = json!({ "inline_keyboard": [[{
        "text": "📍 Nearby (5 km)",
        "callback_data": codec.encode("br_page", &[Filter::Nearby.code(), 0])?,
    }]] });
    let answer: Value = http
        .post(format!("{fake_url}/bot{TEST_TOKEN}/sendMessage"))
        .json(&json!({ "chat_id": chat_id, "text": "What are you looking for?", "reply_markup": markup }))
        .send()
        .await?
        .json()
        .await?;
    answer
        .get("result")
        .cloned()
        .ok_or_else(|| format!("sendMessage failed: {answer}").into())
}

struct Contention {
    reserved: usize,
    refused: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    sold: i64,
    reserved_units: i64,
    reservation_rows: i64,
    state: String,
}

/// `attempts` reservations of one unit each by `customers` concurrent customers over `pool`,
/// of an offer that has `units` units; each attempt is its own transaction.
async fn contend(
    pool: &PgPool,
    offer_id: i64,
    units: i32,
    attempts: usize,
    customers: usize,
) -> Result<Contention, Error> {
    sqlx::query(
        "UPDATE offers SET units_available = $2, pickup_end = now() + interval '6 hours'
         WHERE id = $1",
    )
    .bind(offer_id)
    .bind(units)
    .execute(pool)
    .await?;
    // Each customer makes their share of the attempts, which the per-customer cap allows.
    let cap = i32::try_from(attempts.div_ceil(customers)).unwrap_or(i32::MAX);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..customers {
        let pool = pool.clone();
        let customer = CUSTOMER_IDS + 1 + c as i64;
        let share = attempts / customers + usize::from(c < attempts % customers);
        tasks.push(tokio::spawn(async move {
            let (mut reserved, mut refused, mut latencies) = (0, 0, Vec::new());
            for _ in 0..share {
                let attempt = Instant::now();
                let mut tx = pool.begin().await?;
                let outcome =
                    reservations::reserve(&mut tx, offer_id, customer, 1, cap, Utc::now()).await?;
                tx.commit().await?;
                latencies.push(attempt.elapsed());
                match outcome {
                    ReserveOutcome::Reserved { .. } => reserved += 1,
                    ReserveOutcome::Refused(_) => refused += 1,
                    ReserveOutcome::NoSuchOffer => return Err("the offer vanished".into()),
                }
            }
            Ok::<_, Error>((reserved, refused, latencies))
        }));
    }
    let (mut reserved, mut refused, mut latencies) = (0, 0, Vec::with_capacity(attempts));
    for task in tasks {
        let (a, b, l) = task.await??;
        reserved += a;
        refused += b;
        latencies.extend(l);
    }
    let elapsed = started.elapsed();
    let (left, state): (i32, String) =
        sqlx::query_as("SELECT units_available, state FROM offers WHERE id = $1")
            .bind(offer_id)
            .fetch_one(pool)
            .await?;
    let (reservation_rows, reserved_units): (i64, i64) = sqlx::query_as(
        "SELECT count(*), coalesce(sum(quantity), 0)::int8 FROM reservations
         WHERE offer_id = $1 AND state = 'CONFIRMED'",
    )
    .bind(offer_id)
    .fetch_one(pool)
    .await?;
    Ok(Contention {
        reserved,
        refused,
        elapsed,
        latencies,
        sold: i64::from(units - left),
        reserved_units,
        reservation_rows,
        state,
    })
}

fn print_contention(
    label: &str,
    units: i32,
    attempts: usize,
    customers: usize,
    c: &mut Contention,
) {
    println!(
        "  {label}: {attempts} attempts by {customers} customers at an offer with {units} units"
    );
    println!(
        "    {:.0} attempts/s: {} reserved, {} refused in {:.2} s; attempt latency (with the wait for a connection) {}",
        attempts as f64 / c.elapsed.as_secs_f64(),
        c.reserved,
        c.refused,
        c.elapsed.as_secs_f64(),
        summary(&mut c.latencies)
    );
    let consistent = c.sold == c.reserved_units
        && c.reservation_rows == c.reserved as i64
        && c.reserved_units == c.reserved as i64;
    println!(
        "    units sold {} = units reserved {} in {} reservations: {}; offer now {}",
        c.sold,
        c.reserved_units,
        c.reservation_rows,
        if consistent {
            "consistent"
        } else {
            "INCONSISTENT"
        },
        c.state
    );
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let businesses = env_number("BENCH_BUSINESSES", 5_000).max(1);
    let offers = env_number("BENCH_OFFERS", 100_000).max(1);
    let active = env_number("BENCH_ACTIVE_OFFERS", 10_000).min(offers);
    let queries = env_number("BENCH_QUERIES", 1_000).max(1);
    let customer_count = env_number("BENCH_CUSTOMERS", 2_000).max(1);
    let serial_presses = env_number("BENCH_SERIAL_PRESSES", 1_000).max(1);
    let presses = env_number("BENCH_PRESSES", 6_000).max(1);
    let connections = env_number("BENCH_CONNECTIONS", 40).clamp(1, customer_count);
    let attempts = env_number("BENCH_RESERVATIONS", 4_000).max(1);
    let reserve_connections = env_number("BENCH_RESERVE_CONNECTIONS", 50).max(1);
    let scarce_units = env_number("BENCH_SCARCE_UNITS", 100).max(1);

    let db = TestDatabase::create().await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(u32::try_from(reserve_connections).unwrap_or(50))
        .connect(&db.url)
        .await?;
    toogoodtogo_bot::store::MIGRATOR.run(&pool).await?;
    let started = Instant::now();
    seed(
        &pool,
        businesses as i64,
        offers as i64,
        active as i64,
        customer_count as i64,
    )
    .await?;
    println!(
        "marketplace benchmark: {offers} offers ({active} ACTIVE) across {businesses} businesses \
         within ±{BUSINESS_SPREAD}° of Berlin, radius {RADIUS_KM} km (seeded in {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    // 1. The search, called directly.
    let mut conn = pool.acquire().await?;
    let plan = search::explain(&mut conn, &query(Filter::Nearby, CENTER), 0, 1).await?;
    println!("  Nearby plan (from the centre, page 1):");
    for line in &plan {
        println!("    {line}");
    }
    for filter in Filter::ALL {
        let plan = search::explain(&mut conn, &query(filter, CENTER), 0, 1).await?;
        let (nodes, full) = scans(&plan);
        println!(
            "  {filter:?} reads {}; full scan of offers or businesses: {}",
            nodes.join(", "),
            if full { "YES" } else { "no" }
        );
    }
    drop(conn);
    time_searches(&pool, Filter::Nearby, 200).await?;
    for filter in Filter::ALL {
        let (mut latencies, matches) = time_searches(&pool, filter, queries).await?;
        println!(
            "  {filter:?} query ({queries} from random origins, one page): {}; {matches:.0} matches on average",
            summary(&mut latencies)
        );
        if filter == Filter::Nearby {
            let met = percentile(&latencies, 0.99) < Duration::from_millis(20);
            println!(
                "    target p99 < 20 ms: {}",
                if met { "met" } else { "NOT met" }
            );
        }
    }

    // 2. The /browse round trip through the bot.
    let fake = FakeTelegram::start(TEST_TOKEN).await?;
    let env = BotEnv::new(&db.url, &fake.url())
        .set("LOG_LEVEL", "warn")
        .set("TIMEZONE", "Europe/Berlin")
        .set("RATE_LIMIT_PER_MINUTE", "100000");
    let env = with_bot_overrides(env);
    let bot = BotProcess::start(env).await?;
    let bot_pid = bot.pid().ok_or("bot exited")?;
    let codec = CallbackCodec::new(Secret::new(TEST_SECRET_KEY), None);
    let http = reqwest::Client::new();
    let mut customers = Vec::with_capacity(customer_count);
    for i in 0..customer_count {
        let user = TestUser::new(CUSTOMER_IDS + 1 + i as i64, "Customer");
        let message = browse_message(&http, &fake.url(), &codec, user.id).await?;
        customers.push(Customer {
            user,
            message,
            presses: 0,
        });
    }
    let waiters: Waiters = Arc::default();
    dispatch_edits(fake.subscribe(), Arc::clone(&waiters));
    let browse = Arc::new(Browse {
        webhook: WebhookClient::new(bot.url("/webhook"), WEBHOOK_SECRET),
        factory: UpdateFactory::starting_at(1),
        codec: codec.clone(),
        waiters,
    });

    let (_, _, customers) = drive_presses(&browse, customers, 500, connections).await?;
    let (mut serial, serial_elapsed, customers) =
        drive_presses(&browse, customers, serial_presses, 1).await?;
    println!(
        "  /browse Nearby page, webhook POST -> editMessageText at the fake, one at a time ({serial_presses} presses): {}",
        summary(&mut serial)
    );
    println!(
        "    {:.0} offer-listing updates/s one at a time",
        serial_presses as f64 / serial_elapsed.as_secs_f64()
    );
    let self_pid = std::process::id();
    let cpu_before = (cpu_seconds(bot_pid), cpu_seconds(self_pid), postgres_cpu());
    let (mut concurrent, elapsed, _) =
        drive_presses(&browse, customers, presses, connections).await?;
    let cpu_after = (cpu_seconds(bot_pid), cpu_seconds(self_pid), postgres_cpu());
    println!(
        "  same over {connections} connections ({presses} presses by {customer_count} customers): {}",
        summary(&mut concurrent)
    );
    let per_update = |cpu: f64| 1e3 * cpu / presses as f64;
    println!(
        "    {:.0} offer-listing updates/s; CPU per update: bot {:.2} ms, PostgreSQL {:.2} ms, fake and load generator {:.2} ms; bot peak RSS {:.1} MiB",
        presses as f64 / elapsed.as_secs_f64(),
        per_update(cpu_after.0 - cpu_before.0),
        per_update(cpu_after.2 - cpu_before.2),
        per_update(cpu_after.1 - cpu_before.1),
        memory_kib(bot_pid, "VmHWM:") as f64 / 1024.0
    );
    drop(bot);
    drop(fake);

    // 3. Reservations under contention.
    let offer_ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM offers WHERE state = 'ACTIVE' ORDER BY id LIMIT 2")
            .fetch_all(&pool)
            .await?;
    let [plenty, scarce] = offer_ids[..] else {
        return Err("fewer than two ACTIVE offers".into());
    };
    let units = i32::try_from(attempts + 1_000).unwrap_or(i32::MAX);
    let mut c = contend(&pool, plenty, units, attempts, customer_count).await?;
    println!(
        "  reservations over a pool of {reserve_connections} connections, one transaction each:"
    );
    print_contention("plenty", units, attempts, customer_count, &mut c);
    let units = i32::try_from(scarce_units).unwrap_or(100);
    let mut c = contend(&pool, scarce, units, attempts, customer_count).await?;
    print_contention("the last units", units, attempts, customer_count, &mut c);
    pool.close().await;
    Ok(())
}
