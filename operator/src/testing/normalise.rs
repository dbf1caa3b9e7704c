//! What the API server does to an object before storing it: drop empty and omitted values,
//! canonicalise quantities, fill in defaults. Used by the API double.

use serde_json::{Map, Value, json};

/// Keys whose value is a map (`map[string]string` or `ResourceList`) that Go omits when empty.
/// Struct-valued fields (`emptyDir: {}`, `securityContext: {}`, `podSelector: {}`) are kept.
const MAP_KEYS: &[&str] = &[
    "labels",
    "annotations",
    "data",
    "stringData",
    "binaryData",
    "nodeSelector",
    "limits",
    "requests",
    "matchLabels",
];

/// `bool` fields with `omitempty` (not pointers): `false` is not stored.
const OMITEMPTY_BOOLS: &[&str] = &[
    "readOnly",
    "stdin",
    "stdinOnce",
    "tty",
    "hostNetwork",
    "hostPID",
    "hostIPC",
];

/// Parents whose every value is a quantity.
const QUANTITY_MAPS: &[&str] = &["limits", "requests", "capacity", "hard"];
/// Keys whose value is a quantity.
const QUANTITY_KEYS: &[&str] = &["sizeLimit"];

/// Drop what the server drops and canonicalise quantities, recursively.
pub fn normalise(value: &mut Value) {
    normalise_in(value, "");
}

fn is_empty(key: &str, value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty() && MAP_KEYS.contains(&key),
        Value::Bool(false) => OMITEMPTY_BOOLS.contains(&key),
        _ => false,
    }
}

fn normalise_in(value: &mut Value, key: &str) {
    match value {
        Value::Object(map) => {
            let quantities = QUANTITY_MAPS.contains(&key);
            for (k, v) in map.iter_mut() {
                if quantities || QUANTITY_KEYS.contains(&k.as_str()) {
                    if let Value::String(q) = v
                        && let Some(canonical) = canonical_quantity(q)
                    {
                        *q = canonical;
                    }
                    if let Value::Number(n) = v {
                        *v = Value::String(canonical_quantity(&n.to_string()).unwrap_or_default());
                    }
                }
                normalise_in(v, k);
            }
            map.retain(|k, v| !is_empty(k, v));
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                normalise_in(item, "");
            }
        }
        _ => {}
    }
}

const BINARY: &[(&str, u32)] = &[
    ("Ei", 60),
    ("Pi", 50),
    ("Ti", 40),
    ("Gi", 30),
    ("Mi", 20),
    ("Ki", 10),
];
const DECIMAL: &[(&str, i32)] = &[
    ("E", 18),
    ("P", 15),
    ("T", 12),
    ("G", 9),
    ("M", 6),
    ("k", 3),
    ("", 0),
    ("m", -3),
    ("u", -6),
    ("n", -9),
];

/// The API server's canonical spelling of a quantity: `0.5` -> `500m`, `1024Mi` -> `1Gi`,
/// `1.5Gi` -> `1536Mi`, `2000` -> `2k`. Binary suffixes stay binary while the value is a whole
/// number of bytes. Exponent forms are not handled (None).
pub fn canonical_quantity(quantity: &str) -> Option<String> {
    let split = quantity
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(quantity.len());
    let (number, suffix) = quantity.split_at(split);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    // value = digits * 10^(-fraction_len) * unit, kept exact in nano-units.
    let digits: i128 = format!("{whole}{fraction}").parse().ok()?;
    let scale = i32::try_from(fraction.len()).ok()?;
    let nanos = if let Some((_, shift)) = BINARY.iter().find(|(s, _)| *s == suffix) {
        let value = digits.checked_mul(1i128 << shift)?;
        let unit = 10i128.checked_pow(u32::try_from(scale).ok()?)?;
        if value % unit == 0 {
            let bytes = value / unit;
            let (suffix, shift) = BINARY
                .iter()
                .find(|(_, shift)| bytes != 0 && bytes % (1i128 << shift) == 0)
                .map_or(("", 0), |(s, shift)| (*s, *shift));
            return Some(format!("{}{suffix}", bytes >> shift));
        }
        value.checked_mul(10i128.pow(9))? / unit
    } else {
        let (_, exponent) = DECIMAL.iter().find(|(s, _)| *s == suffix)?;
        let power = 9 + exponent - scale;
        if power >= 0 {
            digits.checked_mul(10i128.checked_pow(u32::try_from(power).ok()?)?)?
        } else {
            digits / 10i128.checked_pow(u32::try_from(-power).ok()?)?
        }
    };
    if nanos == 0 {
        return Some("0".to_owned());
    }
    DECIMAL.iter().find_map(|(suffix, exponent)| {
        let unit = 10i128.pow(u32::try_from(exponent + 9).ok()?);
        (nanos % unit == 0).then(|| format!("{}{suffix}", nanos / unit))
    })
}

fn default(map: &mut Map<String, Value>, key: &str, value: Value) {
    map.entry(key.to_owned()).or_insert(value);
}

fn pod_defaults(pod: &mut Value) {
    let Some(spec) = pod.as_object_mut() else {
        return;
    };
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "securityContext", json!({}));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    for list in ["containers", "initContainers"] {
        for container in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(c) = container.as_object_mut() else {
                continue;
            };
            let latest = c
                .get("image")
                .and_then(Value::as_str)
                .is_some_and(|i| i.ends_with(":latest") || !i.contains(':'));
            default(c, "terminationMessagePath", json!("/dev/termination-log"));
            default(c, "terminationMessagePolicy", json!("File"));
            default(
                c,
                "imagePullPolicy",
                json!(if latest { "Always" } else { "IfNotPresent" }),
            );
            for port in c
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(p) = port.as_object_mut() {
                    default(p, "protocol", json!("TCP"));
                }
            }
        }
    }
}

fn template_defaults(spec: &mut Value) {
    if let Some(pod) = spec.pointer_mut("/template/spec") {
        pod_defaults(pod);
    }
}

fn job_defaults(spec: &mut Value) {
    if let Some(s) = spec.as_object_mut() {
        default(s, "backoffLimit", json!(6));
        default(s, "completions", json!(1));
        default(s, "parallelism", json!(1));
        default(s, "completionMode", json!("NonIndexed"));
        default(s, "suspend", json!(false));
    }
    template_defaults(spec);
}

/// Fill in the defaults a real API server adds to `object` of `kind` (a subset that matters for
/// comparisons: pod templates, workloads, Services, Jobs, CronJobs, claims, Secrets).
pub fn add_defaults(kind: &str, object: &mut Value) {
    if kind == "Secret" {
        if let Some(o) = object.as_object_mut() {
            default(o, "type", json!("Opaque"));
        }
        return;
    }
    let Some(spec) = object.get_mut("spec") else {
        return;
    };
    match kind {
        "Deployment" => {
            if let Some(s) = spec.as_object_mut() {
                default(s, "replicas", json!(1));
                default(s, "revisionHistoryLimit", json!(10));
                default(s, "progressDeadlineSeconds", json!(600));
                default(
                    s,
                    "strategy",
                    json!({"type": "RollingUpdate",
                           "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
                );
            }
            template_defaults(spec);
        }
        "StatefulSet" => {
            if let Some(s) = spec.as_object_mut() {
                default(s, "replicas", json!(1));
                default(s, "revisionHistoryLimit", json!(10));
                default(s, "podManagementPolicy", json!("OrderedReady"));
                default(
                    s,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                );
                default(
                    s,
                    "persistentVolumeClaimRetentionPolicy",
                    json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
                );
                for claim in s
                    .get_mut("volumeClaimTemplates")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(c) = claim.pointer_mut("/spec").and_then(Value::as_object_mut) {
                        default(c, "volumeMode", json!("Filesystem"));
                    }
                }
            }
            template_defaults(spec);
        }
        "Job" => job_defaults(spec),
        "CronJob" => {
            if let Some(s) = spec.as_object_mut() {
                default(s, "suspend", json!(false));
                default(s, "concurrencyPolicy", json!("Allow"));
                default(s, "successfulJobsHistoryLimit", json!(3));
                default(s, "failedJobsHistoryLimit", json!(1));
            }
            if let Some(job) = spec.pointer_mut("/jobTemplate/spec") {
                job_defaults(job);
            }
        }
        "Service" => {
            if let Some(s) = spec.as_object_mut() {
                default(s, "type", json!("ClusterIP"));
                default(s, "sessionAffinity", json!("None"));
                default(s, "internalTrafficPolicy", json!("Cluster"));
                default(s, "ipFamilies", json!(["IPv4"]));
                default(s, "ipFamilyPolicy", json!("SingleStack"));
                if !s.contains_key("clusterIP") {
                    s.insert("clusterIP".to_owned(), json!("10.96.0.10"));
                }
                let ip = s.get("clusterIP").cloned().unwrap_or(Value::Null);
                default(s, "clusterIPs", json!([ip]));
                for port in s
                    .get_mut("ports")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(p) = port.as_object_mut() {
                        default(p, "protocol", json!("TCP"));
                        let number = p.get("port").cloned().unwrap_or(Value::Null);
                        default(p, "targetPort", number);
                    }
                }
            }
        }
        "PersistentVolumeClaim" => {
            if let Some(s) = spec.as_object_mut() {
                default(s, "volumeMode", json!("Filesystem"));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_canonical() {
        let cases = [
            ("0.5", "500m"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("2000", "2k"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("100Mi", "100Mi"),
            ("10Gi", "10Gi"),
            ("500M", "500M"),
            ("0", "0"),
            ("128974848", "128974848"),
        ];
        for (input, canonical) in cases {
            assert_eq!(
                canonical_quantity(input).as_deref(),
                Some(canonical),
                "{input}"
            );
        }
        assert_eq!(canonical_quantity("lots"), None);
    }

    #[test]
    fn empty_values_are_dropped_but_empty_structs_kept() {
        let mut v = json!({"env": [{"name": "X", "value": ""}], "args": [], "labels": {},
            "emptyDir": {}, "resources": {"limits": {"cpu": "0.5"}, "requests": {}},
            "volumeMounts": [{"name": "v", "readOnly": false}]});
        normalise(&mut v);
        assert_eq!(
            v,
            json!({"env": [{"name": "X"}], "emptyDir": {}, "resources": {"limits": {"cpu": "500m"}},
                "volumeMounts": [{"name": "v"}]})
        );
    }
}
