//! Operator metrics on `/metrics`: reconciliations, errors and duration, by resource.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabels {
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub namespace: String,
    pub name: String,
    pub reason: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub reconciliations: Family<ResourceLabels, Counter>,
    pub errors: Family<ErrorLabels, Counter>,
    pub duration: Family<ResourceLabels, Histogram>,
    pub writes: Family<ResourceLabels, Counter>,
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let reconciliations = Family::<ResourceLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let duration = Family::<ResourceLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
        });
        let writes = Family::<ResourceLabels, Counter>::default();
        let leader = Gauge::default();
        let mut registry = Registry::with_prefix("toogoodtogo_operator");
        registry.register(
            "reconciliations",
            "Reconciliations run",
            reconciliations.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconciliations that failed",
            errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time spent in one reconciliation",
            duration.clone(),
        );
        registry.register(
            "object_writes",
            "Objects created, patched or deleted",
            writes.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader lease",
            leader.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            reconciliations,
            errors,
            duration,
            writes,
            leader,
        }
    }
}

impl Metrics {
    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            // Writing into a String cannot fail.
            let _ = encode(&mut out, &registry);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_reconcile_counters_by_resource() {
        let metrics = Metrics::default();
        let labels = ResourceLabels {
            namespace: "shop".to_owned(),
            name: "tgtg".to_owned(),
        };
        metrics.reconciliations.get_or_create(&labels).inc();
        metrics.duration.get_or_create(&labels).observe(0.02);
        let text = metrics.render();
        assert!(
            text.contains(
                r#"toogoodtogo_operator_reconciliations_total{namespace="shop",name="tgtg"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains("toogoodtogo_operator_reconcile_duration_seconds_bucket"),
            "{text}"
        );
    }
}
