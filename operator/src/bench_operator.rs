//! The operator at scale, on the API double: `make bench-operator` (ignored by the test suite).
//!
//! `BENCH_PLATFORMS` platforms (default 1,000), each in its own namespace with the Secrets it
//! references, alternately the `minimal.yaml` and `production.yaml` samples, are created at once;
//! then the real controller ([`controller::run`], all namespaces) starts. The cluster's
//! controllers are simulated as objects appear: StatefulSets get their volumes and become ready,
//! Deployments roll out, migration and payments-check Jobs succeed. Measured:
//!
//! - the time until every platform is Ready, with the API requests made on the way;
//! - API requests per converged reconcile: after everything is Ready and quiet, every platform
//!   is touched (an annotation) `BENCH_ROUNDS` times (default 3), and the requests are counted by
//!   verb and kind per finished reconcile;
//! - the process's memory (VmRSS, VmHWM). The double runs in the same process and holds every
//!   object with its field managers and change history, so its share is measured too: the RSS
//!   after the inputs are created (before the controller starts) and the JSON size of what it
//!   stores at the end. Its change history is compacted as the run goes, as etcd's is.
//!
//! `BENCH_CONCURRENCY` and `BENCH_DEBOUNCE_MS` override the controller's pacing
//! ([`Scheduling`]; concurrency 0 is unbounded, as kube's default), to compare.
//!
//! Targets for 1,000 platforms: all Ready within 60 s on 2 cores, at most 3 API requests per
//! converged reconcile, at most 100 MiB for the operator.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::controller::{self, Context, Scheduling};
use crate::generator::SecretGenerator;
use crate::metrics::{Metrics, ResourceLabels};
use crate::testing::api_server::{ApiServer, Recorded};
use crate::testing::sample;

const SAMPLES: [&str; 2] = ["minimal.yaml", "production.yaml"];
const NAME: &str = "tgtg";
/// How long the benchmark waits for all platforms to be Ready before reporting what it reached.
const READY_LIMIT: Duration = Duration::from_secs(600);
/// No request for this long: the operator has settled.
const QUIET: Duration = Duration::from_secs(3);

struct Generated;

impl SecretGenerator for Generated {
    fn generate(&self, purpose: &str) -> String {
        format!("{purpose}-{}", rand::random::<u64>())
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn namespace(i: usize) -> String {
    format!("platform-{i:04}")
}

fn resource_path(ns: &str) -> String {
    format!("/apis/toogoodtogo.io/v1alpha1/namespaces/{ns}/toogoodtogos/{NAME}")
}

/// `(VmRSS, VmHWM)` of this process, in MiB.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The platforms, their Secrets and namespaces, as users would create them.
fn create_platforms(server: &ApiServer, platforms: usize) {
    for i in 0..platforms {
        let ns = namespace(i);
        let secret = |name: &str, keys: &[&str]| {
            let data: serde_json::Map<String, Value> = keys
                .iter()
                .map(|k| ((*k).to_owned(), json!("cGxhY2Vob2xkZXI=")))
                .collect();
            server.create(
                &format!("/api/v1/namespaces/{ns}/secrets/{name}"),
                json!({"apiVersion": "v1", "kind": "Secret", "data": data}),
            );
        };
        secret("tgtg-telegram", &["token"]);
        secret("tgtg-stripe", &["providerToken", "apiKey", "webhookSecret"]);
        let mut cr = serde_json::to_value(sample(SAMPLES[i % SAMPLES.len()])).unwrap_or_default();
        cr["metadata"]["namespace"] = json!(ns);
        server.create(&resource_path(&ns), cr);
    }
}

/// The cluster's controllers: what they do to the objects the operator created. Objects already
/// acted on at their current resourceVersion are skipped.
fn controllers_act(server: &ApiServer, seen: &mut HashMap<String, Value>) {
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let now = k8s_openapi::jiff::Timestamp::from_second(now)
        .unwrap_or_default()
        .to_string();
    let mut fresh = |path: &str| -> Option<Value> {
        let object = server.get(path)?;
        let rv = object["metadata"]["resourceVersion"].clone();
        if seen.get(path) == Some(&rv) {
            return None;
        }
        seen.insert(path.to_owned(), rv);
        Some(object)
    };
    for path in server.paths("/apis/apps/v1/namespaces/") {
        if path.contains("/statefulsets/") {
            let Some(sts) = fresh(&path) else { continue };
            let ns = sts["metadata"]["namespace"].as_str().unwrap_or_default();
            let name = sts["metadata"]["name"].as_str().unwrap_or_default();
            for template in sts["spec"]["volumeClaimTemplates"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let claim = format!(
                    "/api/v1/namespaces/{ns}/persistentvolumeclaims/{}-{name}-0",
                    template["metadata"]["name"].as_str().unwrap_or_default()
                );
                if !server.exists(&claim) {
                    server.create(
                        &claim,
                        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                            "metadata": {"labels": sts["spec"]["selector"]["matchLabels"]},
                            "spec": template["spec"]}),
                    );
                }
            }
            server.edit(&path, |s| {
                s["status"] = json!({"replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                    "observedGeneration": s["metadata"]["generation"]});
            });
        } else if path.contains("/deployments/") {
            if fresh(&path).is_none() {
                continue;
            }
            server.edit(&path, |d| {
                let n = d["spec"]["replicas"].clone();
                d["status"] = json!({"observedGeneration": d["metadata"]["generation"],
                    "replicas": n, "updatedReplicas": n, "readyReplicas": n, "availableReplicas": n});
            });
        }
    }
    for path in server.paths("/apis/batch/v1/namespaces/") {
        if !path.contains("/jobs/") || fresh(&path).is_none() {
            continue;
        }
        server.edit(&path, |job| {
            let component = &job["metadata"]["labels"]["app.kubernetes.io/component"];
            if (component == "migration" || component == "payments-check")
                && job["status"].get("succeeded").is_none()
            {
                job["status"] = json!({"succeeded": 1, "completionTime": now});
            }
        });
    }
}

/// `GET toogoodtogos/status`-like kind of a request: verb (LIST and WATCH told apart from GET),
/// the resource's plural and subresource.
fn kind_of(request: &Recorded) -> String {
    let query = &request.query;
    let segments: Vec<&str> = request.path.trim_start_matches('/').split('/').collect();
    let rest = match segments.first() {
        Some(&"api") => segments.get(2..).unwrap_or_default(),
        Some(&"apis") => segments.get(3..).unwrap_or_default(),
        _ => &segments[..],
    };
    let rest = match rest {
        ["namespaces", _, tail @ ..] if !tail.is_empty() => tail,
        _ => rest,
    };
    let verb = match (request.method.as_str(), rest.len()) {
        ("GET", 1) if query.contains("watch=true") => "WATCH",
        ("GET", 1) => "LIST",
        (method, _) => method,
    };
    let what = match rest {
        [plural] | [plural, _] => (*plural).to_owned(),
        [plural, _, sub, ..] => format!("{plural}/{sub}"),
        _ => request.path.clone(),
    };
    format!("{verb} {what}")
}

fn count_by_kind(requests: &[Recorded]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in requests {
        *counts.entry(kind_of(request)).or_insert(0) += 1;
    }
    counts
}

fn reconciles(ctx: &Context, platforms: usize) -> u64 {
    (0..platforms)
        .map(|i| {
            ctx.metrics
                .reconciliations
                .get_or_create(&ResourceLabels {
                    namespace: namespace(i),
                    name: NAME.to_owned(),
                })
                .get()
        })
        .sum()
}

fn ready_count(server: &ApiServer, platforms: usize) -> usize {
    (0..platforms)
        .filter(|i| {
            server
                .get(&resource_path(&namespace(*i)))
                .is_some_and(|cr| cr["status"]["phase"] == "Ready")
        })
        .count()
}

/// Wait until no request has reached the double for [`QUIET`]; the requests made meanwhile.
async fn settle(server: &ApiServer) -> Vec<Recorded> {
    let mut requests = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < QUIET {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let more = server.take_requests();
        if !more.is_empty() {
            last = Instant::now();
            requests.extend(more);
        }
    }
    requests
}

fn print_counts(title: &str, counts: &BTreeMap<String, usize>, per: f64) {
    println!("{title}");
    let mut sorted: Vec<_> = counts.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (kind, count) in sorted {
        println!("  {:<44} {count:>8}  {:>7.2}", kind, *count as f64 / per);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: make bench-operator"]
async fn bench_operator() {
    let platforms = env_number("BENCH_PLATFORMS", 1000);
    let rounds = env_number("BENCH_ROUNDS", 3);
    let (rss_start, _) = memory_mib();
    let (client, server) = ApiServer::start();
    server.uninstalled("servicemonitors");
    create_platforms(&server, platforms);
    let (rss_inputs, _) = memory_mib();
    server.take_requests();
    server.take_changes();

    let defaults = Scheduling::default();
    let scheduling = Scheduling {
        concurrency: env_number("BENCH_CONCURRENCY", usize::from(defaults.concurrency))
            .try_into()
            .unwrap_or(u16::MAX),
        debounce: Duration::from_millis(env_number(
            "BENCH_DEBOUNCE_MS",
            defaults.debounce.as_millis() as usize,
        ) as u64),
    };
    let ctx = Arc::new(
        Context::new(
            client,
            Arc::new(Generated),
            Arc::new(Metrics::default()),
            Some("bench".to_owned()),
        )
        .with_scheduling(scheduling),
    );
    let started = Instant::now();
    let running = ctx.clone();
    let operator = tokio::spawn(async move {
        if let Err(error) = controller::run(running, None).await {
            panic!("the controller did not start: {error}");
        }
    });
    // The cluster's controllers act on their own thread, as they run elsewhere.
    let stop = Arc::new(AtomicBool::new(false));
    let cluster = {
        let server = server.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = HashMap::new();
            while !stop.load(Ordering::Relaxed) {
                controllers_act(&server, &mut seen);
                // The double keeps every change for watches that resume; etcd compacts too.
                server.compact();
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let mut startup_requests = Vec::new();
    let mut next_report = Duration::from_secs(5);
    let ready_after = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        startup_requests.extend(server.take_requests());
        let ready = ready_count(&server, platforms);
        let elapsed = started.elapsed();
        if ready == platforms {
            break Some(elapsed);
        }
        if elapsed >= next_report {
            next_report += Duration::from_secs(5);
            println!(
                "{:>5.1} s: {ready}/{platforms} Ready, {} requests, {} reconciles, RSS {:.0} MiB",
                elapsed.as_secs_f64(),
                startup_requests.len(),
                reconciles(&ctx, platforms),
                memory_mib().0
            );
        }
        if elapsed > READY_LIMIT {
            break None;
        }
    };
    let (rss_ready, _) = memory_mib();
    let startup_reconciles = reconciles(&ctx, platforms);
    startup_requests.extend(settle(&server).await);
    let settled_reconciles = reconciles(&ctx, platforms);

    // Converged reconciles: each round touches every platform once.
    let before = reconciles(&ctx, platforms);
    let touch_started = Instant::now();
    let mut converged_requests = Vec::new();
    for round in 0..rounds {
        let target = before + ((round + 1) * platforms) as u64;
        for i in 0..platforms {
            server.edit(&resource_path(&namespace(i)), |cr| {
                cr["metadata"]["annotations"]["bench.toogoodtogo.io/touch"] =
                    json!(round.to_string());
            });
        }
        let deadline = Instant::now() + READY_LIMIT;
        while reconciles(&ctx, platforms) < target && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            converged_requests.extend(server.take_requests());
        }
    }
    converged_requests.extend(settle(&server).await);
    let touch_elapsed = touch_started.elapsed();
    let converged_reconciles = reconciles(&ctx, platforms) - before;
    let still_ready = ready_count(&server, platforms);
    let (rss_end, hwm_end) = memory_mib();
    let stored_bytes: usize = server
        .paths("")
        .iter()
        .filter_map(|p| server.get(p))
        .map(|o| serde_json::to_vec(&o).map_or(0, |b| b.len()))
        .sum();
    let stored_objects = server.paths("").len();
    let (cached_objects, cached_bytes) = ctx.reads.footprint();

    stop.store(true, Ordering::Relaxed);
    operator.abort();
    let _ = cluster.join();

    println!();
    println!(
        "operator benchmark: {platforms} platforms ({}), concurrency {} (0: unbounded), debounce {} ms",
        SAMPLES.join(", "),
        scheduling.concurrency,
        scheduling.debounce.as_millis()
    );
    match ready_after {
        Some(t) => println!("all Ready after            {:.1} s", t.as_secs_f64()),
        None => println!(
            "NOT all Ready after        {:.0} s ({} Ready)",
            READY_LIMIT.as_secs_f64(),
            ready_count(&server, platforms)
        ),
    }
    println!(
        "start-up                   {} requests, {startup_reconciles} reconciles until Ready, {settled_reconciles} until quiet",
        startup_requests.len()
    );
    let startup = count_by_kind(&startup_requests);
    print_counts(
        "start-up requests by kind (count, per platform):",
        &startup,
        platforms as f64,
    );
    let per = converged_reconciles.max(1) as f64;
    println!(
        "converged reconciles       {converged_reconciles} in {:.1} s ({rounds} touches of each platform), {still_ready}/{platforms} still Ready",
        touch_elapsed.as_secs_f64()
    );
    println!(
        "API requests per converged reconcile: {:.2}",
        converged_requests.len() as f64 / per
    );
    print_counts(
        "converged requests by kind (count, per reconcile):",
        &count_by_kind(&converged_requests),
        per,
    );
    println!(
        "memory (MiB)               RSS at start {rss_start:.0}, with the inputs {rss_inputs:.0}, all Ready {rss_ready:.0}, end {rss_end:.0}, peak (VmHWM) {hwm_end:.0}"
    );
    println!(
        "the operator's stores      {cached_objects} objects, {:.0} MiB as JSON (the typed copies in memory are larger)",
        cached_bytes as f64 / 1024.0 / 1024.0
    );
    println!(
        "the double stores          {stored_objects} objects, {:.0} MiB as JSON (more in memory: parsed values, field sets, history)",
        stored_bytes as f64 / 1024.0 / 1024.0
    );
}
