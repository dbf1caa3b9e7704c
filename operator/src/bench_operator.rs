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
//! With `BENCH_SEPARATE=1` (`make bench-operator SEPARATE=1`) the operator binary runs in its own
//! process against the double's HTTP front instead, and the memory reported is that process's.
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
    memory_of("self")
}

/// `(VmRSS, VmHWM)` of the process `pid` (`self`: this one), in MiB.
fn memory_of(pid: &str) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
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

/// The operator under measurement: the controller in this process, or (`BENCH_SEPARATE=1`)
/// the operator binary in its own process on the double's HTTP front, so its memory is its own.
enum Operator {
    InProcess {
        ctx: Arc<Context>,
        task: tokio::task::JoinHandle<()>,
    },
    Process {
        child: std::process::Child,
        metrics: String,
        http: reqwest::Client,
    },
}

impl Operator {
    async fn reconciles(&self, platforms: usize) -> u64 {
        match self {
            Self::InProcess { ctx, .. } => reconciles(ctx, platforms),
            Self::Process { metrics, http, .. } => {
                let text = match http.get(metrics).send().await {
                    Ok(response) => response.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                text.lines()
                    .filter(|l| l.starts_with("toogoodtogo_operator_reconciliations_total{"))
                    .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                    .sum::<f64>() as u64
            }
        }
    }

    /// The operator's `(VmRSS, VmHWM)` in MiB: this whole process when it runs in it.
    fn memory(&self) -> (f64, f64) {
        match self {
            Self::InProcess { .. } => memory_mib(),
            Self::Process { child, .. } => memory_of(&child.id().to_string()),
        }
    }

    fn stop(self) -> Option<(usize, usize)> {
        match self {
            Self::InProcess { ctx, task } => {
                task.abort();
                Some(ctx.reads.footprint())
            }
            Self::Process { mut child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        }
    }
}

/// Start the operator binary (built beside this test binary) against the double over HTTP.
async fn operator_process(server: &ApiServer) -> Operator {
    let address = server
        .serve_http()
        .await
        .unwrap_or_else(|e| panic!("cannot serve the double over HTTP: {e}"));
    let directory = std::env::temp_dir().join(format!("bench-operator-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap_or_else(|e| panic!("{e}"));
    let kubeconfig = directory.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: double\n  cluster:\n    server: http://{address}\nusers:\n- name: bench\n  user: {{}}\ncontexts:\n- name: double\n  context:\n    cluster: double\n    user: bench\ncurrent-context: double\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // target/<profile>/deps/<this test> -> target/<profile>/toogoodtogo-operator
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("toogoodtogo-operator")))
        .filter(|path| path.exists())
        .unwrap_or_else(|| panic!("build the operator binary first (make bench-operator does)"));
    let listen = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        probe.local_addr().unwrap_or_else(|e| panic!("{e}"))
    };
    let child = std::process::Command::new(binary)
        .args(["run", "--no-leader-election", "--log-format", "json"])
        .env("KUBECONFIG", &kubeconfig)
        .env("LISTEN_ADDR", listen.to_string())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the operator: {e}"));
    Operator::Process {
        child,
        metrics: format!("http://{listen}/metrics"),
        http: reqwest::Client::new(),
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
    let separate = std::env::var("BENCH_SEPARATE").is_ok_and(|v| v == "1");
    let started = Instant::now();
    let operator = if separate {
        operator_process(&server).await
    } else {
        let ctx = Arc::new(
            Context::new(
                client,
                Arc::new(Generated),
                Arc::new(Metrics::default()),
                Some("bench".to_owned()),
            )
            .with_scheduling(scheduling),
        );
        let running = ctx.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = controller::run(running, None).await {
                panic!("the controller did not start: {error}");
            }
        });
        Operator::InProcess { ctx, task }
    };
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
                operator.reconciles(platforms).await,
                operator.memory().0
            );
        }
        if elapsed > READY_LIMIT {
            break None;
        }
    };
    let (rss_ready, _) = operator.memory();
    let startup_reconciles = operator.reconciles(platforms).await;
    startup_requests.extend(settle(&server).await);
    let settled_reconciles = operator.reconciles(platforms).await;

    // Converged reconciles: each round touches every platform once.
    let before = operator.reconciles(platforms).await;
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
        while operator.reconciles(platforms).await < target && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            converged_requests.extend(server.take_requests());
        }
    }
    converged_requests.extend(settle(&server).await);
    let touch_elapsed = touch_started.elapsed();
    let converged_reconciles = operator.reconciles(platforms).await - before;
    let still_ready = ready_count(&server, platforms);
    let (rss_end, hwm_end) = operator.memory();
    let stored_bytes: usize = server
        .paths("")
        .iter()
        .filter_map(|p| server.get(p))
        .map(|o| serde_json::to_vec(&o).map_or(0, |b| b.len()))
        .sum();
    let stored_objects = server.paths("").len();
    stop.store(true, Ordering::Relaxed);
    let footprint = operator.stop();
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
    match footprint {
        Some((cached_objects, cached_bytes)) => {
            println!(
                "memory (MiB), one process  RSS at start {rss_start:.0}, with the inputs {rss_inputs:.0}, all Ready {rss_ready:.0}, end {rss_end:.0}, peak (VmHWM) {hwm_end:.0}"
            );
            println!(
                "the operator's stores      {cached_objects} objects, {:.0} MiB as JSON (the typed copies in memory are larger)",
                cached_bytes as f64 / 1024.0 / 1024.0
            );
        }
        None => println!(
            "operator process (MiB)     RSS all Ready {rss_ready:.0}, end {rss_end:.0}, peak (VmHWM) {hwm_end:.0}"
        ),
    }
    println!(
        "the double stores          {stored_objects} objects, {:.0} MiB as JSON (more in memory: parsed values, field sets, history)",
        stored_bytes as f64 / 1024.0 / 1024.0
    );
}
