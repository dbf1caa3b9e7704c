//! Operator metrics on `/metrics`: reconciliations, errors and duration, by resource; and per
//! platform the backup metrics the single host's `pg-backup.sh` writes for node-exporter
//! (`toogoodtogo_backup_last_success_timestamp_seconds`, `toogoodtogo_backup_last_size_bytes`,
//! same names, labelled with the platform), so the same alert rule judges both.

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
    /// Completion time (Unix seconds) of the platform's newest completed backup.
    pub backup_last_success: Family<ResourceLabels, Gauge>,
    /// Size of that backup.
    pub backup_last_size: Family<ResourceLabels, Gauge>,
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
        let backup_last_success = Family::<ResourceLabels, Gauge>::default();
        let backup_last_size = Family::<ResourceLabels, Gauge>::default();
        // No common prefix: the backup metrics keep the single host's names.
        let mut registry = Registry::default();
        let operator = registry.sub_registry_with_prefix("toogoodtogo_operator");
        operator.register(
            "reconciliations",
            "Reconciliations run",
            reconciliations.clone(),
        );
        operator.register(
            "reconcile_errors",
            "Reconciliations that failed",
            errors.clone(),
        );
        operator.register(
            "reconcile_duration_seconds",
            "Time spent in one reconciliation",
            duration.clone(),
        );
        operator.register(
            "object_writes",
            "Objects created, patched or deleted",
            writes.clone(),
        );
        operator.register(
            "leader",
            "1 while this replica holds the leader lease",
            leader.clone(),
        );
        registry.register(
            "toogoodtogo_backup_last_success_timestamp_seconds",
            "Time of the last verified PostgreSQL backup",
            backup_last_success.clone(),
        );
        registry.register(
            "toogoodtogo_backup_last_size_bytes",
            "Size of the last verified PostgreSQL backup",
            backup_last_size.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            reconciliations,
            errors,
            duration,
            writes,
            leader,
            backup_last_success,
            backup_last_size,
        }
    }
}

/// Every `reason` of `_reconcile_errors_total` ([`crate::controller::Error::reason`]).
pub const ERROR_REASONS: [&str; 4] = ["missing_input", "api", "build", "apply"];

impl Metrics {
    /// Remove every series of a deleted resource: a deleted platform must not leave its last
    /// backup time behind to age into a backup alert, nor counters nobody reads.
    pub fn forget(&self, namespace: &str, name: &str) {
        let labels = ResourceLabels {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        self.reconciliations.remove(&labels);
        self.duration.remove(&labels);
        self.writes.remove(&labels);
        self.backup_last_success.remove(&labels);
        self.backup_last_size.remove(&labels);
        for reason in ERROR_REASONS {
            self.errors.remove(&ErrorLabels {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                reason: reason.to_owned(),
            });
        }
    }

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

    #[test]
    fn a_deleted_resource_leaves_no_series() {
        let metrics = Metrics::default();
        let labels = |name: &str| ResourceLabels {
            namespace: "shop".to_owned(),
            name: name.to_owned(),
        };
        for name in ["gone", "kept"] {
            metrics.reconciliations.get_or_create(&labels(name)).inc();
            metrics
                .backup_last_success
                .get_or_create(&labels(name))
                .set(1);
            metrics
                .errors
                .get_or_create(&ErrorLabels {
                    namespace: "shop".to_owned(),
                    name: name.to_owned(),
                    reason: "api".to_owned(),
                })
                .inc();
        }
        metrics.forget("shop", "gone");
        let text = metrics.render();
        assert!(!text.contains(r#"name="gone""#), "{text}");
        assert!(
            text.contains(
                r#"toogoodtogo_backup_last_success_timestamp_seconds{namespace="shop",name="kept"} 1"#
            ),
            "{text}"
        );
    }

    /// The single host's names (`deployment/scripts/lib/pg-backup.sh`), one series per platform.
    #[test]
    fn exposes_the_backup_metrics_under_the_single_hosts_names() {
        let metrics = Metrics::default();
        let labels = ResourceLabels {
            namespace: "shop".to_owned(),
            name: "tgtg".to_owned(),
        };
        metrics
            .backup_last_success
            .get_or_create(&labels)
            .set(1_764_385_209);
        metrics.backup_last_size.get_or_create(&labels).set(52_431);
        let text = metrics.render();
        for line in [
            r#"toogoodtogo_backup_last_success_timestamp_seconds{namespace="shop",name="tgtg"} 1764385209"#,
            r#"toogoodtogo_backup_last_size_bytes{namespace="shop",name="tgtg"} 52431"#,
            "toogoodtogo_operator_leader 0",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
        let script = std::fs::read_to_string(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../deployment/scripts/lib/pg-backup.sh"),
        )
        .unwrap_or_default();
        for name in [
            "toogoodtogo_backup_last_success_timestamp_seconds",
            "toogoodtogo_backup_last_size_bytes",
        ] {
            assert!(script.contains(&format!("echo \"{name} ")), "{name}");
        }
    }
}
