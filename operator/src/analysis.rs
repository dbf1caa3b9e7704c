//! Rollout analysis: a new version that starts and passes readiness can still fail every update
//! (a handler bug, a query the new schema refuses). For `spec.rollout.analysisMinutes` after its
//! rollout completed, the operator reads the new version's pods' own `/metrics` and rolls back
//! when too many of their update attempts failed or too many webhook calls got a 5xx.
//!
//! The counters are the bot's cumulative ones (`toogoodtogo_updates_failed_total`,
//! `toogoodtogo_updates_processed_total{outcome}`, `toogoodtogo_http_requests_total{route,
//! status}`); every pod of the version started with it, so their sums are the version's own.
//! A version is judged only on enough traffic (`minUpdates` attempts or webhook calls): a quiet
//! night proves nothing either way, and a rollback on two failed updates would be worse than the
//! failures.

use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use tracing::{debug, info, warn};

use crate::backups::BackupError;
use crate::crd::TooGoodToGo;
use crate::names::Owner;
use crate::observe::running_version;

/// Defaults of `spec.rollout`.
pub const DEFAULT_ANALYSIS_MINUTES: i32 = 5;
pub const DEFAULT_MAX_FAILURE_RATIO: f64 = 0.2;
pub const DEFAULT_MIN_UPDATES: i64 = 20;

/// How long one pod's `/metrics` may take before it counts as unreachable.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

/// The analysis settings of a resource.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    pub window: Duration,
    pub max_failure_ratio: f64,
    pub min_updates: u64,
}

impl Policy {
    /// `None` when analysis is off (`analysisMinutes: 0`).
    pub fn of(cr: &TooGoodToGo) -> Option<Self> {
        let rollout = cr.spec.rollout.as_ref();
        let minutes = rollout
            .and_then(|r| r.analysis_minutes)
            .unwrap_or(DEFAULT_ANALYSIS_MINUTES);
        let minutes = u64::try_from(minutes).ok().filter(|m| *m > 0)?;
        Some(Self {
            window: Duration::from_secs(minutes * 60),
            max_failure_ratio: rollout
                .and_then(|r| r.max_failure_ratio)
                .unwrap_or(DEFAULT_MAX_FAILURE_RATIO),
            min_updates: rollout
                .and_then(|r| r.min_updates)
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(DEFAULT_MIN_UPDATES.unsigned_abs()),
        })
    }
}

/// What the pods of one version counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub update_attempts: u64,
    pub update_failures: u64,
    pub webhook_calls: u64,
    pub webhook_errors: u64,
}

/// One sample line of the Prometheus text format: name, labels, value.
fn sample(line: &str) -> Option<(&str, &str, f64)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    match series.split_once('{') {
        Some((name, labels)) => Some((name, labels.trim_end_matches('}'), value)),
        None => Some((series, "", value)),
    }
}

/// The value of one label in a `{a="x",b="y"}` label set.
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    labels.split(',').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"'))
    })
}

fn count(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        // Counters are whole numbers; the text format writes them as floats.
        value.round() as u64
    } else {
        0
    }
}

impl Counts {
    /// The counts in one pod's `/metrics` text; series it does not know are ignored.
    pub fn parse(text: &str) -> Self {
        let mut counts = Self::default();
        for (name, labels, value) in text.lines().filter_map(sample) {
            let value = count(value);
            match name {
                "toogoodtogo_updates_failed_total" => {
                    counts.update_failures += value;
                    counts.update_attempts += value;
                }
                // A given-up update was counted as a failed attempt already.
                "toogoodtogo_updates_processed_total"
                    if label(labels, "outcome") != Some("failed") =>
                {
                    counts.update_attempts += value;
                }
                "toogoodtogo_http_requests_total" if label(labels, "route") == Some("/webhook") => {
                    counts.webhook_calls += value;
                    if label(labels, "status").is_some_and(|s| s.starts_with('5')) {
                        counts.webhook_errors += value;
                    }
                }
                _ => {}
            }
        }
        counts
    }

    fn add(self, other: Self) -> Self {
        Self {
            update_attempts: self.update_attempts + other.update_attempts,
            update_failures: self.update_failures + other.update_failures,
            webhook_calls: self.webhook_calls + other.webhook_calls,
            webhook_errors: self.webhook_errors + other.webhook_errors,
        }
    }
}

fn percent(part: u64, whole: u64) -> u64 {
    (part * 100).checked_div(whole).unwrap_or(0)
}

/// Whether `part` of `whole` exceeds the ratio, on enough of them to tell.
fn exceeds(part: u64, whole: u64, policy: &Policy) -> bool {
    whole >= policy.min_updates.max(1) && part as f64 > policy.max_failure_ratio * whole as f64
}

/// The verdict on a version's counts so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Its failure ratio is over the limit: the evidence, with the numbers.
    Failing(String),
    /// Nothing against it (yet): what was seen.
    Healthy(String),
}

impl Verdict {
    pub fn judge(version: &str, counts: &Counts, pods: usize, policy: &Policy) -> Self {
        let seen = format!(
            "{} of {} update attempts failed ({}%), {} of {} webhook calls answered 5xx ({}%) on {pods} pod(s) of version {version}",
            counts.update_failures,
            counts.update_attempts,
            percent(counts.update_failures, counts.update_attempts),
            counts.webhook_errors,
            counts.webhook_calls,
            percent(counts.webhook_errors, counts.webhook_calls),
        );
        let failing = exceeds(counts.update_failures, counts.update_attempts, policy)
            || exceeds(counts.webhook_errors, counts.webhook_calls, policy);
        if failing {
            Self::Failing(format!(
                "{seen}: over the limit of {}% (spec.rollout.maxFailureRatio)",
                (policy.max_failure_ratio * 100.0).round()
            ))
        } else {
            Self::Healthy(seen)
        }
    }
}

/// What the scrape of a version's pods found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scrape {
    pub counts: Counts,
    /// Pods that answered.
    pub pods: usize,
    /// Pods that did not, with the reason (they count for nothing either way).
    pub unreachable: Vec<String>,
}

/// Where a pod serves `/metrics`: its IP and the bot container's `http` port.
fn metrics_url(pod: &Pod) -> Option<String> {
    let ip = pod.status.as_ref()?.pod_ip.as_deref()?;
    let port = pod
        .spec
        .as_ref()?
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref() == Some("http"))?
        .container_port;
    let host = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_owned()
    };
    Some(format!("http://{host}:{port}/metrics"))
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<String, String> {
    let response = http
        .get(url)
        .timeout(SCRAPE_TIMEOUT)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    response.text().await.map_err(|e| e.to_string())
}

/// Reads every pod's `/metrics` at once and adds up their counts.
pub async fn scrape(http: &reqwest::Client, pods: &[Pod]) -> Scrape {
    let fetches = pods.iter().map(|pod| async move {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let result = match metrics_url(pod) {
            Some(url) => fetch(http, &url).await,
            None => Err("no pod IP yet".to_owned()),
        };
        (name, result)
    });
    let mut scrape = Scrape::default();
    for (pod, result) in futures::future::join_all(fetches).await {
        match result {
            Ok(text) => {
                scrape.counts = scrape.counts.add(Counts::parse(&text));
                scrape.pods += 1;
            }
            Err(reason) => {
                debug!(%pod, %reason, "pod metrics unreachable");
                scrape.unreachable.push(format!("{pod}: {reason}"));
            }
        }
    }
    scrape
}

/// Where the analysis of the running version stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Watched until `since` plus the window; what its pods counted so far.
    Analysing {
        version: String,
        since: Timestamp,
        seen: String,
    },
    /// Over the limit: roll back, with this evidence.
    Failed { version: String, evidence: String },
}

/// Every replica of the Deployment runs its current template and is available, none of an
/// older ReplicaSet is left: the rollout completed.
fn rolled_out(deployment: &Deployment) -> bool {
    let wanted = deployment.spec.replicas.unwrap_or(1);
    let Some(status) = deployment.status.as_ref() else {
        return false;
    };
    status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0)
        && status.updated_replicas.unwrap_or(0) >= wanted
        && status.available_replicas.unwrap_or(0) >= wanted
        && status.replicas.unwrap_or(0) == status.updated_replicas.unwrap_or(0)
}

fn http() -> &'static reqwest::Client {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    HTTP.get_or_init(reqwest::Client::new)
}

/// The analysis of `spec.version` after its rollout completed: `None` when there is nothing to
/// analyse (analysis off, no earlier good version to go back to, the version already good or
/// rolled back, its rollout not complete) or when its window ended without a failing verdict.
pub async fn assess(
    client: &Client,
    cr: &TooGoodToGo,
    deployment: Option<&Deployment>,
    now: Timestamp,
) -> Result<Option<State>, BackupError> {
    let Some(policy) = Policy::of(cr) else {
        return Ok(None);
    };
    let version = cr.spec.version.as_str();
    let status = cr.status.clone().unwrap_or_default();
    let Some(deployment) = deployment else {
        return Ok(None);
    };
    let goes_back_to = status
        .last_good_version
        .as_deref()
        .filter(|good| *good != version);
    let rolled_back = status
        .rolled_back
        .as_ref()
        .is_some_and(|r| r.from == version);
    if goes_back_to.is_none()
        || rolled_back
        || running_version(deployment).as_deref() != Some(version)
        || !cr.auto_rollback()
        || !rolled_out(deployment)
    {
        return Ok(None);
    }
    // Kept in the status; a lost status write only starts the window later (the safe side).
    let since = status
        .analysis
        .as_ref()
        .filter(|a| a.version == version)
        .map_or(now, |a| a.since.0);
    let pods = crate::rollback::pods_of_version(client, &Owner::of(cr), version).await?;
    let scrape = scrape(http(), &pods).await;
    if !scrape.unreachable.is_empty() {
        debug!(%version, unreachable = ?scrape.unreachable, "pods whose metrics could not be read");
    }
    let over = now.duration_since(since).as_secs()
        >= i64::try_from(policy.window.as_secs()).unwrap_or(i64::MAX);
    match Verdict::judge(version, &scrape.counts, scrape.pods, &policy) {
        Verdict::Failing(evidence) => {
            warn!(%version, %evidence, "the new version fails its analysis");
            Ok(Some(State::Failed {
                version: version.to_owned(),
                evidence,
            }))
        }
        Verdict::Healthy(seen) if over => {
            info!(%version, %seen, "the new version passed its analysis");
            Ok(None)
        }
        Verdict::Healthy(seen) => Ok(Some(State::Analysing {
            version: version.to_owned(),
            since,
            seen,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        window: Duration::from_secs(300),
        max_failure_ratio: 0.2,
        min_updates: 20,
    };

    const METRICS: &str = r#"# HELP toogoodtogo_updates_processed Updates processed, by outcome.
# TYPE toogoodtogo_updates_processed counter
toogoodtogo_updates_processed_total{outcome="handled"} 70
toogoodtogo_updates_processed_total{outcome="ignored"} 5
toogoodtogo_updates_processed_total{outcome="failed"} 3
# TYPE toogoodtogo_updates_failed counter
toogoodtogo_updates_failed_total 25
toogoodtogo_http_requests_total{method="POST",route="/webhook",status="200"} 90
toogoodtogo_http_requests_total{method="POST",route="/webhook",status="503"} 10
toogoodtogo_http_requests_total{method="GET",route="/health",status="503"} 40
toogoodtogo_updates_received_total{source="webhook"} 100
"#;

    #[test]
    fn the_bots_metrics_give_attempts_failures_and_webhook_errors() {
        assert_eq!(
            Counts::parse(METRICS),
            Counts {
                // 75 that ended well or were ignored, plus 25 failed attempts.
                update_attempts: 100,
                update_failures: 25,
                webhook_calls: 100,
                webhook_errors: 10,
            }
        );
    }

    /// The names and labels are the bot's own, as its `/metrics` encodes them.
    #[test]
    fn the_counts_are_read_from_what_the_bot_itself_exports() {
        use toogoodtogo_bot::metrics::{HttpLabels, Metrics, OutcomeLabels};
        let bot = Metrics::new("1.5.0");
        let outcome = |outcome| OutcomeLabels { outcome };
        bot.updates_processed
            .get_or_create(&outcome("handled"))
            .inc_by(40);
        bot.updates_processed
            .get_or_create(&outcome("failed"))
            .inc_by(2);
        bot.updates_failed.inc_by(12);
        let webhook = |status| HttpLabels {
            method: "POST".to_owned(),
            route: "/webhook".to_owned(),
            status,
        };
        bot.http_requests.get_or_create(&webhook(200)).inc_by(50);
        bot.http_requests.get_or_create(&webhook(503)).inc_by(7);
        assert_eq!(
            Counts::parse(&bot.encode()),
            Counts {
                update_attempts: 52,
                update_failures: 12,
                webhook_calls: 57,
                webhook_errors: 7,
            }
        );
    }

    #[test]
    fn over_the_ratio_on_enough_updates_fails_with_the_numbers() {
        let counts = Counts::parse(METRICS);
        match Verdict::judge("1.5.0", &counts, 2, &POLICY) {
            Verdict::Failing(evidence) => assert_eq!(
                evidence,
                "25 of 100 update attempts failed (25%), 10 of 100 webhook calls answered 5xx \
                 (10%) on 2 pod(s) of version 1.5.0: over the limit of 20% \
                 (spec.rollout.maxFailureRatio)"
            ),
            healthy => panic!("25% failures passed: {healthy:?}"),
        }
    }

    #[test]
    fn at_the_ratio_or_on_too_few_updates_is_no_reason_to_roll_back() {
        let at_limit = Counts {
            update_attempts: 100,
            update_failures: 20,
            ..Counts::default()
        };
        assert!(matches!(
            Verdict::judge("1.5.0", &at_limit, 1, &POLICY),
            Verdict::Healthy(_)
        ));
        let quiet = Counts {
            update_attempts: 19,
            update_failures: 19,
            webhook_calls: 19,
            webhook_errors: 19,
        };
        assert!(matches!(
            Verdict::judge("1.5.0", &quiet, 1, &POLICY),
            Verdict::Healthy(_)
        ));
    }

    #[test]
    fn webhook_errors_alone_fail_a_version() {
        let counts = Counts {
            webhook_calls: 50,
            webhook_errors: 30,
            ..Counts::default()
        };
        assert!(matches!(
            Verdict::judge("1.5.0", &counts, 1, &POLICY),
            Verdict::Failing(_)
        ));
    }

    #[test]
    fn malformed_lines_are_ignored() {
        let text = "toogoodtogo_updates_failed_total\ntoogoodtogo_updates_failed_total x\n\
                    toogoodtogo_updates_failed_total NaN\ntoogoodtogo_updates_failed_total 4\n";
        assert_eq!(Counts::parse(text).update_failures, 4);
    }

    fn pod(name: &str, ip: Option<&str>, port: i32) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "bot",
                "ports": [{"name": "http", "containerPort": port}]}]},
            "status": {"podIP": ip},
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A bot pod's metrics endpoint: real HTTP on a local port.
    async fn serve(text: &'static str) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let app =
            axum::Router::new().route("/metrics", axum::routing::get(move || async move { text }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        port
    }

    #[tokio::test]
    async fn the_scrape_adds_up_the_pods_that_answer_and_names_the_others() {
        let first = serve(METRICS).await;
        let second = serve("toogoodtogo_updates_failed_total 5\n").await;
        // A port nothing listens on: bound, then released.
        let closed = {
            let listener =
                std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
            listener.local_addr().map(|a| a.port()).unwrap_or_default()
        };
        let pods = [
            pod("bot-a", Some("127.0.0.1"), i32::from(first)),
            pod("bot-b", Some("127.0.0.1"), i32::from(second)),
            pod("bot-c", Some("127.0.0.1"), i32::from(closed)),
            pod("bot-d", None, 8080),
        ];
        let scrape = scrape(&reqwest::Client::new(), &pods).await;
        assert_eq!(scrape.pods, 2);
        assert_eq!(scrape.counts.update_failures, 30);
        assert_eq!(scrape.counts.update_attempts, 105);
        assert_eq!(scrape.unreachable.len(), 2, "{:?}", scrape.unreachable);
        assert!(scrape.unreachable.iter().any(|u| u.starts_with("bot-c: ")));
        assert!(
            scrape
                .unreachable
                .contains(&"bot-d: no pod IP yet".to_owned())
        );
    }
}
