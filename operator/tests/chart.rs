//! The Helm chart under `charts/toogoodtogo-operator/`, tested without a `helm` binary: what a
//! broken chart would show a platform engineer (invalid YAML, a value a template reads but
//! `values.yaml` lacks, stale CRDs, RBAC that differs from what the operator uses) fails here.

use std::path::{Path, PathBuf};

use serde_json::Value;
use toogoodtogo_operator::crd;
use toogoodtogo_operator::install::{self, InstallOptions};
use toogoodtogo_operator::rbac;

mod common;
use common::update_requested;

fn chart_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/toogoodtogo-operator")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse_yaml(path: &Path, text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple(text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}\n{text}", path.display()))
}

/// Every `*.yaml` template, sorted.
fn templates() -> Vec<PathBuf> {
    let dir = chart_dir().join("templates");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no templates in {}", dir.display());
    paths
}

/// The template with every `{{ ... }}` action removed: what remains must be YAML on its own.
fn without_actions(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => rest = &rest[start + end + 2..],
            None => panic!("unclosed template action in:\n{template}"),
        }
    }
    out.push_str(rest);
    out
}

/// The documents of one template after removing its actions.
fn template_documents(name: &str) -> Vec<Value> {
    let path = chart_dir().join("templates").join(name);
    let stripped = without_actions(&read(&path));
    parse_yaml(&path, &stripped)
        .into_iter()
        .filter(|doc| !doc.is_null())
        .collect()
}

fn values() -> Value {
    let path = chart_dir().join("values.yaml");
    let mut docs = parse_yaml(&path, &read(&path));
    assert_eq!(docs.len(), 1, "values.yaml must be one document");
    docs.remove(0)
}

/// Every `.Values.a.b.c` path the text reads, as its keys.
fn values_paths(text: &str) -> Vec<Vec<String>> {
    const MARKER: &str = ".Values.";
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(MARKER) {
        rest = &rest[at + MARKER.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        let path: Vec<String> = rest[..end]
            .trim_end_matches('.')
            .split('.')
            .map(str::to_owned)
            .collect();
        paths.push(path);
        rest = &rest[end..];
    }
    paths
}

#[test]
fn chart_yaml_and_values_yaml_are_valid_yaml() {
    for name in ["Chart.yaml", "values.yaml"] {
        let path = chart_dir().join(name);
        let docs = parse_yaml(&path, &read(&path));
        assert!(
            docs.first().is_some_and(Value::is_object),
            "{name} is not a mapping"
        );
    }
}

#[test]
fn every_template_is_valid_yaml_once_its_actions_are_removed() {
    for path in templates() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let docs = template_documents(&name);
        assert!(!docs.is_empty(), "{name} renders no object");
        for doc in docs {
            assert!(
                doc["apiVersion"].is_string(),
                "{name}: an object without apiVersion: {doc}"
            );
        }
    }
}

#[test]
fn every_value_a_template_reads_exists_in_values_yaml() {
    let values = values();
    let dir = chart_dir().join("templates");
    let mut files = templates();
    files.push(dir.join("_helpers.tpl"));
    files.push(dir.join("NOTES.txt"));
    let mut missing = Vec::new();
    for file in files {
        for path in values_paths(&read(&file)) {
            let mut node = &values;
            for key in &path {
                match node.get(key) {
                    Some(child) => node = child,
                    None => {
                        missing.push(format!(
                            "{}: .Values.{}",
                            file.file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default(),
                            path.join(".")
                        ));
                        break;
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "not in values.yaml: {missing:?}");
}

#[test]
fn the_value_path_scanner_finds_nested_and_piped_paths() {
    assert_eq!(
        values_paths(
            r#"{{ .Values.image.tag | default .Chart.AppVersion }} {{- with $.Values.a_b }}"#
        ),
        [
            vec!["image".to_owned(), "tag".to_owned()],
            vec!["a_b".to_owned()]
        ]
    );
}

#[test]
fn the_charts_crds_are_the_top_level_crds_byte_for_byte() {
    if update_requested() {
        for (name, yaml) in crd::crd_files().unwrap_or_else(|e| panic!("{e}")) {
            let chart_crd = chart_dir().join("crds").join(name);
            std::fs::write(&chart_crd, yaml)
                .unwrap_or_else(|e| panic!("{}: {e}", chart_crd.display()));
        }
        return;
    }
    let top_level = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crds");
    let names = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let chart_crds = chart_dir().join("crds");
    let files = names(&top_level);
    assert_eq!(
        names(&chart_crds),
        files,
        "the chart's crds/ holds other files"
    );
    for file in files {
        assert!(
            std::fs::read(top_level.join(&file)).ok() == std::fs::read(chart_crds.join(&file)).ok(),
            "charts/toogoodtogo-operator/crds/{file} differs from crds/{file}: \
             run `UPDATE_GOLDEN=1 cargo nextest run -p toogoodtogo-operator`"
        );
    }
}

/// The `rules` of the template's objects that have them.
fn template_rules(name: &str) -> Value {
    let docs = template_documents(name);
    let with_rules: Vec<&Value> = docs.iter().filter(|d| d.get("rules").is_some()).collect();
    assert_eq!(
        with_rules.len(),
        1,
        "{name}: expected one object with rules"
    );
    with_rules[0]["rules"].clone()
}

fn expected_rules(rules: &[rbac::Rule]) -> Value {
    serde_json::to_value(install::policy_rules(rules)).unwrap_or_else(|e| panic!("{e}"))
}

/// The block to paste into the template when rbac.rs changes.
fn as_template_block(rules: &Value) -> String {
    let mut block = String::from("rules:\n");
    for rule in rules.as_array().into_iter().flatten() {
        let list = |key: &str| {
            rule[key]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| format!("\"{}\"", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        block.push_str(&format!(
            "  - apiGroups: [{}]\n    resources: [{}]\n    verbs: [{}]\n",
            list("apiGroups"),
            list("resources"),
            list("verbs")
        ));
    }
    block
}

#[test]
fn the_charts_controller_rules_are_the_ones_the_operator_uses() {
    let expected = expected_rules(rbac::CONTROLLER_RULES);
    assert!(
        template_rules("rbac.yaml") == expected,
        "templates/rbac.yaml differs from operator/src/rbac.rs CONTROLLER_RULES; it should read:\n{}",
        as_template_block(&expected)
    );
}

#[test]
fn the_charts_leader_election_rules_are_the_ones_the_operator_uses() {
    let expected = expected_rules(rbac::LEADER_ELECTION_RULES);
    assert!(
        template_rules("leader-election-rbac.yaml") == expected,
        "templates/leader-election-rbac.yaml differs from operator/src/rbac.rs \
         LEADER_ELECTION_RULES; it should read:\n{}",
        as_template_block(&expected)
    );
}

#[test]
fn the_charts_app_version_is_the_operators_version() {
    let path = chart_dir().join("Chart.yaml");
    let chart = &parse_yaml(&path, &read(&path))[0];
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(chart["name"], "toogoodtogo-operator");
}

#[test]
fn by_default_two_leader_elected_replicas_run_hardened() {
    let values = values();
    assert_eq!(values["replicaCount"], 2);
    assert_eq!(values["leaderElection"]["enabled"], true);
    assert_eq!(values["podSecurityContext"]["runAsNonRoot"], true);
    assert_eq!(
        values["podSecurityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(values["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(values["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(values["securityContext"]["capabilities"]["drop"][0], "ALL");
    assert_eq!(values["metrics"]["port"], install::METRICS_PORT);
    assert_eq!(values["metrics"]["serviceMonitor"]["enabled"], false);
}

#[test]
fn the_charts_deployment_probes_and_environment_match_the_plain_install() {
    let chart = &template_documents("deployment.yaml")[0];
    let plain = serde_json::to_value(install::deployment(&InstallOptions::default()))
        .unwrap_or_else(|e| panic!("{e}"));
    let chart_container = &chart["spec"]["template"]["spec"]["containers"][0];
    let plain_container = &plain["spec"]["template"]["spec"]["containers"][0];
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(
            chart_container[probe], plain_container[probe],
            "{probe} of the chart and of `manifests` differ"
        );
    }
    assert_eq!(
        chart_container["ports"][0]["name"],
        install::METRICS_PORT_NAME
    );
    let env_names = |container: &Value| -> Vec<String> {
        container["env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["name"].as_str().map(str::to_owned))
            .collect()
    };
    let chart_env = env_names(chart_container);
    for name in env_names(plain_container) {
        assert!(chart_env.contains(&name), "the chart does not set {name}");
    }
}

#[test]
fn the_service_monitor_scrapes_the_metrics_port() {
    let monitor = &template_documents("servicemonitor.yaml")[0];
    assert_eq!(monitor["kind"], "ServiceMonitor");
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"],
        install::METRICS_PORT_NAME
    );
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    let service = &template_documents("service.yaml")[0];
    assert_eq!(
        service["spec"]["ports"][0]["name"],
        install::METRICS_PORT_NAME
    );
}

/// The Grafana dashboard the chart ships is the single host's, byte for byte (one source), in a
/// ConfigMap Grafana's dashboard sidecar loads.
#[test]
fn the_charts_grafana_dashboard_is_the_single_hosts_for_the_sidecar() {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deployment/monitoring/grafana/dashboards/toogoodtogo.json");
    let copy = chart_dir().join("dashboards/toogoodtogo.json");
    if update_requested() {
        std::fs::copy(&source, &copy).unwrap_or_else(|e| panic!("{}: {e}", copy.display()));
    }
    assert!(
        read(&source) == read(&copy),
        "charts/toogoodtogo-operator/dashboards/toogoodtogo.json differs from \
         deployment/monitoring/grafana/dashboards/toogoodtogo.json: \
         run `UPDATE_GOLDEN=1 cargo nextest run -p toogoodtogo-operator`"
    );
    let template = read(&chart_dir().join("templates/grafana-dashboard.yaml"));
    assert!(
        template.contains(r#".Files.Get "dashboards/toogoodtogo.json""#),
        "{template}"
    );
    let docs = template_documents("grafana-dashboard.yaml");
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["kind"], "ConfigMap");
    assert_eq!(docs[0]["metadata"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(values()["grafanaDashboard"]["enabled"], false);
}

/// The chart's alert rules are the single host's that apply on Kubernetes, per namespace
/// (`src/monitoring.rs`); `deployment/tests/monitoring.bats` runs the promtool tests over them.
#[test]
fn the_charts_alert_rules_are_generated_from_the_single_hosts() {
    use toogoodtogo_operator::monitoring;
    let rules = monitoring::kubernetes_rules(monitoring::ALERTS).unwrap_or_else(|e| panic!("{e}"));
    let path = chart_dir().join("rules/toogoodtogo.rules.yml");
    if update_requested() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(&path, &rules).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    assert!(
        read(&path) == rules,
        "{} is stale: run `UPDATE_GOLDEN=1 cargo test -p toogoodtogo-operator --test chart`",
        path.display()
    );
    let template = read(&chart_dir().join("templates/prometheusrule.yaml"));
    assert!(
        template.contains(r#".Files.Get "rules/toogoodtogo.rules.yml""#)
            && template.contains(
                r#".Capabilities.APIVersions.Has "monitoring.coreos.com/v1/PrometheusRule""#
            ),
        "{template}"
    );
    let docs = template_documents("prometheusrule.yaml");
    assert_eq!(docs[0]["kind"], "PrometheusRule");
    assert_eq!(values()["prometheusRule"]["enabled"], false);
}
