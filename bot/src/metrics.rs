//! Prometheus metrics, named `toogoodtogo_*` after Prometheus conventions.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    pub source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub job: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabels {
    pub version: String,
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_request_duration: Family<RouteLabels, Histogram>,
    pub updates_received: Family<SourceLabels, Counter>,
    pub updates_duplicate: Counter,
    pub updates_refused: Counter,
    pub updates_undecodable: Counter,
    pub updates_processed: Family<OutcomeLabels, Counter>,
    pub updates_failed: Counter,
    pub update_processing: Histogram,
    pub inbox_backlog: Gauge,
    pub outbound_queue_depth: Gauge,
    pub outbound_sent: Counter,
    pub telegram_api_errors: Family<CodeLabels, Counter>,
    pub db_pool_connections: Family<StateLabels, Gauge>,
    pub rate_limited: Counter,
    pub payments: Counter,
    pub refund_attempts: Family<OutcomeLabels, Counter>,
    pub stripe_webhook_events: Family<OutcomeLabels, Counter>,
    pub job_row_failures: Family<JobLabels, Counter>,
    pub payment_discrepancies: Gauge,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]
    .into_iter()
}

impl Metrics {
    pub fn new(version: &str) -> Self {
        let mut registry = Registry::with_prefix("toogoodtogo");
        let build_info = Family::<VersionLabels, Gauge>::default();
        build_info
            .get_or_create(&VersionLabels {
                version: version.to_owned(),
            })
            .set(1);
        registry.register("build_info", "Version of the running bot", build_info);

        let metrics = Self {
            http_requests: Family::default(),
            http_request_duration: Family::new_with_constructor(|| {
                Histogram::new(latency_buckets())
            }),
            updates_received: Family::default(),
            updates_duplicate: Counter::default(),
            updates_refused: Counter::default(),
            updates_undecodable: Counter::default(),
            updates_processed: Family::default(),
            updates_failed: Counter::default(),
            update_processing: Histogram::new(latency_buckets()),
            inbox_backlog: Gauge::default(),
            outbound_queue_depth: Gauge::default(),
            outbound_sent: Counter::default(),
            telegram_api_errors: Family::default(),
            db_pool_connections: Family::default(),
            rate_limited: Counter::default(),
            payments: Counter::default(),
            refund_attempts: Family::default(),
            stripe_webhook_events: Family::default(),
            job_row_failures: Family::default(),
            payment_discrepancies: Gauge::default(),
            registry,
        };
        let mut m = metrics;
        let r = &mut m.registry;
        r.register(
            "http_requests",
            "HTTP requests served, by route and status",
            m.http_requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            m.http_request_duration.clone(),
        );
        r.register(
            "updates_received",
            "Telegram updates stored in the inbox, by source (webhook, polling)",
            m.updates_received.clone(),
        );
        r.register(
            "updates_duplicate",
            "Redelivered updates that were already in the inbox",
            m.updates_duplicate.clone(),
        );
        r.register(
            "updates_refused",
            "Webhook updates refused with 400 because PostgreSQL cannot store their payload",
            m.updates_refused.clone(),
        );
        r.register(
            "updates_undecodable",
            "Stored updates the bot cannot decode, kept with a reason and not processed",
            m.updates_undecodable.clone(),
        );
        r.register(
            "updates_processed",
            "Updates processed, by outcome",
            m.updates_processed.clone(),
        );
        r.register(
            "updates_failed",
            "Update processing attempts that failed and will be retried or given up",
            m.updates_failed.clone(),
        );
        r.register(
            "update_processing_seconds",
            "Time from claiming an update to committing its processing",
            m.update_processing.clone(),
        );
        r.register(
            "inbox_backlog",
            "Updates stored but not yet processed",
            m.inbox_backlog.clone(),
        );
        r.register(
            "outbound_queue_depth",
            "Bot-initiated messages waiting to be sent",
            m.outbound_queue_depth.clone(),
        );
        r.register(
            "outbound_sent",
            "Bot-initiated messages sent",
            m.outbound_sent.clone(),
        );
        r.register(
            "telegram_api_errors",
            "Telegram Bot API errors, by error code",
            m.telegram_api_errors.clone(),
        );
        r.register(
            "db_pool_connections",
            "PostgreSQL pool connections, by state",
            m.db_pool_connections.clone(),
        );
        r.register(
            "rate_limited",
            "Updates dropped or answered with a slow-down because of the per-user rate limit",
            m.rate_limited.clone(),
        );
        r.register(
            "payments",
            "Payments received in the chat (each Telegram charge once)",
            m.payments.clone(),
        );
        r.register(
            "refund_attempts",
            "Refund requests to Stripe, by outcome (succeeded, pending, retry, failed)",
            m.refund_attempts.clone(),
        );
        r.register(
            "stripe_webhook_events",
            "Stripe webhook deliveries, by outcome (handled, duplicate, ignored, bad_signature)",
            m.stripe_webhook_events.clone(),
        );
        r.register(
            "job_row_failures",
            "Rows a background job could not process (retried on its next run), by job",
            m.job_row_failures.clone(),
        );
        r.register(
            "payment_discrepancies",
            "Differences between the bot's payments and Stripe's found by the last reconciliation",
            m.payment_discrepancies.clone(),
        );
        m
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_uses_the_project_prefix_and_conventions() {
        let m = Metrics::new("v9.9.9");
        m.updates_received
            .get_or_create(&SourceLabels { source: "webhook" })
            .inc();
        let text = m.encode();
        assert!(text.contains("toogoodtogo_updates_received_total{source=\"webhook\"} 1"));
        assert!(text.contains("toogoodtogo_build_info{version=\"v9.9.9\"} 1"));
        assert!(text.contains("# TYPE toogoodtogo_update_processing_seconds histogram"));
        assert!(text.ends_with("# EOF\n"));
    }
}
