//! Apply: make the live objects match the rendered ones with server-side apply (one field
//! manager, forced), delete optional objects that are no longer wanted, and expand the database
//! volume.
//!
//! Every object is read first (from the controller's watches, [`crate::cache`]) and written only
//! when the live object differs from the rendered one, so a converged resource costs no request. "Differs" is judged as the API server
//! stores objects: values it drops (empty strings, lists and maps) and quantities it
//! canonicalises are not drift, while a field the operator's field manager owns in
//! `managedFields` and no longer renders is (applying the full object removes it). A write is
//! counted only when the server's resourceVersion moved.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::build::{Manifest, WriteMode, service_monitor_resource};
use crate::cache::Reads;
use crate::names::{Component, FIELD_MANAGER, Owner};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot apply {kind} {name}: {source}")]
    Write {
        kind: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot read {kind} {name}: {source}")]
    Read {
        kind: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl ApplyError {
    /// A 409: the object changed since it was read.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::Write { source: kube::Error::Api(status), .. } | Self::Read { source: kube::Error::Api(status), .. }
                if status.code == 409
        )
    }
}

/// What the apply step did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// `Kind/name` of each object written.
    pub applied: Vec<String>,
    pub deleted: Vec<String>,
    /// Objects whose kind is not installed (a ServiceMonitor without prometheus-operator).
    pub unsupported: Vec<String>,
    /// Why the database volume could not be resized, when it could not.
    pub volume_problem: Option<String>,
    /// Objects the API server refused, with its message; the other objects were still applied.
    pub failed: Vec<String>,
}

impl ApplyReport {
    pub fn writes(&self) -> usize {
        self.applied.len() + self.deleted.len()
    }
}

/// A value the API server does not store: it comes back absent.
fn dropped_by_server(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// True when every field set in `desired` has the same value in `live`. Fields the API server
/// adds (defaults, status, managedFields) are ignored; lists must match element by element;
/// empty values the server drops match an absent field.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(key, dv)| match l.get(key) {
            Some(lv) => is_subset(dv, lv),
            None => dropped_by_server(dv),
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| is_subset(dv, lv))
        }
        (Value::Number(d), Value::Number(l)) => d.as_f64() == l.as_f64(),
        // The API server canonicalises quantities (`0.5` -> `500m`, `1024Mi` -> `1Gi`); without
        // this a user's spelling would be re-applied on every reconcile.
        (Value::String(d), Value::String(l)) => {
            d == l || quantity_value(d).is_some_and(|q| Some(q) == quantity_value(l))
        }
        (d, l) => d == l,
    }
}

/// Whether the field set `owned` (`fieldsV1` of a managedFields entry) holds a field that
/// `desired` does not set: applying `desired` would remove it. List items (`k:`, `v:`, `i:`) are
/// not followed; a list that differs is caught by [`is_subset`].
fn owns_more_than(owned: &Value, desired: &Value) -> bool {
    let Value::Object(owned) = owned else {
        return false;
    };
    owned.iter().any(|(key, sub)| {
        let Some(field) = key.strip_prefix("f:") else {
            return false;
        };
        match desired.get(field) {
            None => true,
            Some(value) if dropped_by_server(value) => {
                sub.as_object().is_some_and(|s| !s.is_empty())
            }
            Some(value) => owns_more_than(sub, value),
        }
    })
}

/// The fields the operator's server-side applies own on `live` (not those of a subresource).
fn owned_by_operator(live: &Value) -> Option<&Value> {
    live.pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|entry| {
            entry["manager"] == FIELD_MANAGER
                && entry["operation"] == "Apply"
                && entry.get("subresource").is_none_or(|s| s == "")
        })
        .and_then(|entry| entry.get("fieldsV1"))
}

/// Whether the live object already is what applying `desired` would make it.
pub fn converged(desired: &Value, live: &Value) -> bool {
    is_subset(desired, live)
        && !owned_by_operator(live).is_some_and(|owned| owns_more_than(owned, desired))
}

fn api_for(client: &Client, namespace: &str, resource: &ApiResource) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, resource)
}

fn label(resource: &ApiResource, name: &str) -> String {
    format!("{}/{name}", resource.kind)
}

fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 404)
}

/// Apply one manifest unless the live object already matches. Returns whether it wrote.
async fn apply_one(
    reads: &Reads,
    namespace: &str,
    manifest: &Manifest,
) -> Result<bool, ApplyError> {
    let api = api_for(reads.client(), namespace, &manifest.resource);
    let name = manifest.name();
    let read_error = |source| ApplyError::Read {
        kind: manifest.resource.kind.clone(),
        name: name.to_owned(),
        source,
    };
    let desired = serde_json::to_value(&manifest.object).unwrap_or(Value::Null);
    let digest = crate::digest::hex(desired.to_string().as_bytes());
    // Unchanged since it was applied or found converged, and rendered the same: nothing to read.
    if manifest.mode == WriteMode::Apply
        && reads.still_applied(&manifest.resource, namespace, name, &digest)
    {
        return Ok(false);
    }
    let mut live = reads
        .get_value(&manifest.resource, namespace, name)
        .await
        .map_err(read_error)?;
    // A store that does not hold the object yet must not make the operator write over one
    // that exists (a generated Secret above all): absence is confirmed with the API server.
    if live.is_none() && reads.watching(namespace) && Reads::kept_whole(&manifest.resource) {
        live = api
            .get_opt(name)
            .await
            .map_err(read_error)?
            .and_then(|object| serde_json::to_value(object).ok());
    }
    let live_version = match live {
        Some(live) => {
            if manifest.mode == WriteMode::CreateOnly {
                return Ok(false);
            }
            let version = live
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if converged(&desired, &live) {
                reads.applied(
                    &manifest.resource,
                    namespace,
                    name,
                    version.as_deref(),
                    &digest,
                );
                return Ok(false);
            }
            version
        }
        None => None,
    };
    let written = api
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&manifest.object),
        )
        .await
        .map_err(|source| ApplyError::Write {
            kind: manifest.resource.kind.clone(),
            name: name.to_owned(),
            source,
        })?;
    reads.wrote_version(
        &manifest.resource.kind,
        namespace,
        name,
        written.metadata.resource_version.clone(),
    );
    reads.applied(
        &manifest.resource,
        namespace,
        name,
        written.metadata.resource_version.as_deref(),
        &digest,
    );
    // The server no-ops an apply that sets nothing new: only a moved resourceVersion is a write.
    Ok(live_version.is_none() || written.metadata.resource_version != live_version)
}

/// Delete an object that is no longer wanted, if it exists and this resource owns it.
async fn prune_one(
    reads: &Reads,
    namespace: &str,
    owner_uid: &str,
    resource: &ApiResource,
    name: &str,
) -> Result<bool, ApplyError> {
    let api = api_for(reads.client(), namespace, resource);
    // A kind the watches do not cover (a ServiceMonitor) is looked for only where it is served.
    if reads.watching(namespace)
        && !Reads::has_store(resource)
        && !reads
            .kind_installed(&resource.api_version, &resource.kind)
            .await
            .map_err(|source| ApplyError::Read {
                kind: resource.kind.clone(),
                name: name.to_owned(),
                source,
            })?
    {
        return Ok(false);
    }
    let live = reads
        .get_metadata(resource, namespace, name)
        .await
        .map_err(|source| ApplyError::Read {
            kind: resource.kind.clone(),
            name: name.to_owned(),
            source,
        })?;
    let owned = live.is_some_and(|obj| {
        obj.pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|r| r["uid"] == owner_uid && r["controller"] == true)
    });
    if !owned {
        return Ok(false);
    }
    let deleted = api.delete(name, &DeleteParams::background()).await;
    if deleted.is_ok() || deleted.as_ref().is_err_and(is_not_found) {
        reads.deleted(&resource.kind, namespace, name);
    }
    match deleted {
        Ok(_) => Ok(true),
        Err(err) if is_not_found(&err) => Ok(false),
        Err(source) => Err(ApplyError::Write {
            kind: resource.kind.clone(),
            name: name.to_owned(),
            source,
        }),
    }
}

/// Delete the migration Jobs of other versions than `keep` (finished history, or a version the
/// spec moved away from). The Job of the wanted version stays, succeeded or failed.
async fn prune_migration_jobs(
    reads: &Reads,
    owner: &Owner,
    owner_uid: &str,
    keep: &str,
) -> Result<Vec<String>, ApplyError> {
    let api = Api::<Job>::namespaced(reads.client().clone(), &owner.namespace);
    let labels = [
        ("app.kubernetes.io/instance", owner.name.as_str()),
        ("app.kubernetes.io/component", Component::Migration.as_str()),
    ];
    let jobs = reads
        .list::<Job>(&owner.namespace, &labels)
        .await
        .map_err(|source| ApplyError::Read {
            kind: "Job".to_owned(),
            name: format!("{}={}", labels[1].0, labels[1].1),
            source,
        })?;
    let mut deleted = Vec::new();
    for job in jobs {
        let name = job.metadata.name.clone().unwrap_or_default();
        let owned = job
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|r| r.uid == owner_uid && r.controller == Some(true));
        if name == keep || !owned {
            continue;
        }
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => {
                reads.deleted("Job", &owner.namespace, &name);
                deleted.push(format!("Job/{name}"));
            }
            Err(err) if is_not_found(&err) => reads.deleted("Job", &owner.namespace, &name),
            Err(source) => {
                return Err(ApplyError::Write {
                    kind: "Job".to_owned(),
                    name,
                    source,
                });
            }
        }
    }
    Ok(deleted)
}

/// Value of a Kubernetes quantity such as `10Gi`, `500m` or `1.5` (bytes for sizes, cores for
/// CPU). Exponent forms (`1e3`) are rare in manifests and not recognised.
pub fn quantity_value(quantity: &str) -> Option<f64> {
    let split = quantity
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(quantity.len());
    let (number, suffix) = quantity.split_at(split);
    if number.is_empty() {
        return None;
    }
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    Some(number * factor)
}

/// Grow the database PVC to the size in the spec. The StatefulSet's claim template cannot change,
/// so the claim itself is patched; the storage class must allow expansion.
async fn expand_volume(
    reads: &Reads,
    owner: &Owner,
    wanted: &str,
) -> Result<(bool, Option<String>), ApplyError> {
    let api = Api::<PersistentVolumeClaim>::namespaced(reads.client().clone(), &owner.namespace);
    let name = owner.postgres_data_claim();
    let Some(claim) = reads
        .get::<PersistentVolumeClaim>(&owner.namespace, &name)
        .await
        .map_err(|source| ApplyError::Read {
            kind: "PersistentVolumeClaim".to_owned(),
            name: name.clone(),
            source,
        })?
    else {
        return Ok((false, None));
    };
    let current = claim
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| q.0.clone())
        .unwrap_or_default();
    match (quantity_value(wanted), quantity_value(&current)) {
        (Some(w), Some(c)) if w > c => {}
        (Some(w), Some(c)) if w < c => {
            return Ok((
                false,
                Some(format!(
                    "database volume {name} is {current}; shrinking it to {wanted} is not possible"
                )),
            ));
        }
        _ => return Ok((false, None)),
    }
    let patch = json!({ "spec": { "resources": { "requests": { "storage": wanted } } } });
    match api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(claim) => {
            reads.wrote(&claim);
            Ok((true, None))
        }
        // The API server refuses when the storage class does not allow expansion: say so.
        Err(kube::Error::Api(status)) if status.code == 403 || status.code == 422 => Ok((
            false,
            Some(format!(
                "cannot expand database volume {name} from {current} to {wanted}: {}",
                status.message
            )),
        )),
        Err(source) => Err(ApplyError::Write {
            kind: "PersistentVolumeClaim".to_owned(),
            name,
            source,
        }),
    }
}

/// Apply every desired object in order, then prune and resize.
pub async fn apply(
    reads: &Reads,
    owner: &Owner,
    owner_uid: &str,
    manifests: &[Manifest],
    absent: &[(ApiResource, String)],
    wanted_volume_size: Option<&str>,
    migration_job_to_keep: &str,
) -> Result<ApplyReport, ApplyError> {
    let mut report = ApplyReport::default();
    let service_monitor = service_monitor_resource();
    for manifest in manifests {
        match Box::pin(apply_one(reads, &owner.namespace, manifest)).await {
            Ok(true) => report
                .applied
                .push(label(&manifest.resource, manifest.name())),
            Ok(false) => {}
            // A missing ServiceMonitor kind means prometheus-operator is not installed.
            Err(ApplyError::Read { source, .. } | ApplyError::Write { source, .. })
                if manifest.resource == service_monitor && is_not_found(&source) =>
            {
                report
                    .unsupported
                    .push(label(&manifest.resource, manifest.name()));
            }
            // Written over a version that is not current any more (a Secret whose write is
            // conditional on what the reconcile read): the reconcile starts again from a fresh
            // read, and nothing after it acts on what was not stored.
            Err(err @ ApplyError::Write { .. }) if err.is_conflict() => return Err(err),
            // One refused object (a 422, a quota) must not keep the others from being applied.
            Err(err) => report.failed.push(err.to_string()),
        }
    }
    for (resource, name) in absent {
        match Box::pin(prune_one(
            reads,
            &owner.namespace,
            owner_uid,
            resource,
            name,
        ))
        .await
        {
            Ok(true) => report.deleted.push(label(resource, name)),
            Ok(false) => {}
            // Nothing to delete where the kind is not installed.
            Err(ApplyError::Read { source, .. } | ApplyError::Write { source, .. })
                if *resource == service_monitor && is_not_found(&source) => {}
            Err(err) => return Err(err),
        }
    }
    report
        .deleted
        .extend(prune_migration_jobs(reads, owner, owner_uid, migration_job_to_keep).await?);
    if let Some(wanted) = wanted_volume_size {
        let (expanded, problem) = expand_volume(reads, owner, wanted).await?;
        if expanded {
            report.applied.push(format!(
                "PersistentVolumeClaim/{}",
                owner.postgres_data_claim()
            ));
        }
        report.volume_problem = problem;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_defaults_do_not_count_as_drift() {
        let desired =
            json!({"spec": {"replicas": 1, "template": {"containers": [{"name": "bot"}]}}});
        let live = json!({"spec": {"replicas": 1, "progressDeadlineSeconds": 600,
            "template": {"containers": [{"name": "bot", "terminationMessagePath": "/dev/termination-log"}]}},
            "status": {"readyReplicas": 1}});
        assert!(is_subset(&desired, &live));
    }

    #[test]
    fn changed_or_missing_fields_are_drift() {
        let desired =
            json!({"spec": {"replicas": 1, "template": {"containers": [{"name": "bot"}]}}});
        assert!(!is_subset(
            &desired,
            &json!({"spec": {"replicas": 2, "template": {"containers": [{"name": "bot"}]}}})
        ));
        assert!(!is_subset(
            &desired,
            &json!({"spec": {"replicas": 1, "template": {"containers": []}}})
        ));
        assert!(!is_subset(
            &desired,
            &json!({"spec": {"template": {"containers": [{"name": "bot"}]}}})
        ));
    }

    #[test]
    fn empty_values_the_server_drops_are_not_drift() {
        let desired = json!({"env": [{"name": "X", "value": ""}], "args": [], "labels": {}});
        assert!(is_subset(&desired, &json!({"env": [{"name": "X"}]})));
    }

    #[test]
    fn a_field_the_operator_owns_and_no_longer_renders_is_drift() {
        let live = json!({"spec": {"replicas": 0, "paused": false},
            "metadata": {"managedFields": [
                {"manager": FIELD_MANAGER, "operation": "Apply",
                 "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                {"manager": "kubectl", "operation": "Update",
                 "fieldsV1": {"f:spec": {"f:paused": {}}}}]}});
        assert!(!converged(&json!({"spec": {}}), &live));
        assert!(converged(&json!({"spec": {"replicas": 0}}), &live));
    }

    #[test]
    fn integers_and_floats_compare_by_value() {
        assert!(is_subset(&json!({"a": 1}), &json!({"a": 1.0})));
    }

    #[test]
    fn canonicalised_quantities_are_not_drift() {
        assert!(is_subset(
            &json!({"cpu": "0.5", "memory": "1024Mi"}),
            &json!({"cpu": "500m", "memory": "1Gi"})
        ));
        assert!(!is_subset(&json!({"cpu": "0.5"}), &json!({"cpu": "600m"})));
        assert!(!is_subset(&json!({"name": "bot"}), &json!({"name": "cat"})));
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity_value("1Gi"), Some(1024f64.powi(3)));
        assert_eq!(quantity_value("500M"), Some(5e8));
        assert_eq!(quantity_value("1.5Gi"), Some(1.5 * 1024f64.powi(3)));
        assert_eq!(quantity_value("lots"), None);
        assert_eq!(quantity_value("Gi"), None);
        assert_eq!(quantity_value("250m"), Some(0.25));
        assert!(quantity_value("20Gi") > quantity_value("10Gi"));
    }
}
