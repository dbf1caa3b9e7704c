//! A stateful in-memory Kubernetes API server for reconcile tests, behind kube's `tower-test`
//! mock. Unlike a request-by-request mock it behaves like kube-apiserver where the operator
//! depends on it (see `shared/kubernetes-semantics.md`):
//!
//! - objects are normalised before they are stored (empty strings, lists and maps dropped,
//!   quantities canonicalised) and defaults are filled in, so what is read back differs from what
//!   was sent;
//! - server-side apply tracks the fields of each field manager (`metadata.managedFields`): a
//!   field a manager stops sending is removed unless another manager owns it, conflicts between
//!   managers are refused unless forced;
//! - `metadata.resourceVersion` changes only when the stored object really changes (an apply that
//!   sets nothing new is a no-op), `metadata.generation` only when the spec changes; a write
//!   carrying a stale resourceVersion gets 409;
//! - the status subresource is separate from the main resource;
//! - deletion honours finalizers (`deletionTimestamp`) and garbage-collects dependents through
//!   their ownerReferences.
//!
//! Every request is recorded, and [`ApiServer::writes`] counts the real changes per object.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde_json::{Map, Value, json};

use super::normalise::{add_defaults, normalise};

/// One request the operator made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: Option<Value>,
}

impl Recorded {
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A stored object with the fields each manager owns.
#[derive(Clone, Debug)]
struct Stored {
    object: Value,
    /// manager -> (operation, owned field set). A field set is a tree of maps; a leaf is `true`.
    managers: BTreeMap<String, (String, Value)>,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Stored>,
    requests: Vec<Recorded>,
    resource_version: u64,
    /// Real changes (create, update, delete) per path, in order.
    changes: Vec<String>,
    /// Collections (by resource plural) that are not installed: 404 on every request.
    missing_kinds: BTreeSet<String>,
    /// PATCHes and PUTs of these paths fail with (code, message), like an admission refusal.
    refusals: BTreeMap<String, (StatusCode, String)>,
    /// API groups/versions served for discovery (`/apis/<group>/<version>`): kinds by plural.
    discovery: BTreeMap<String, Vec<(String, String)>>,
}

/// Handle on the double's state; cheap to clone.
#[derive(Clone, Default)]
pub struct ApiServer {
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Parts of a resource path: `/api/v1/namespaces/ns/pods/name/status`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PathParts {
    /// `/api/v1` or `/apis/group/version`.
    prefix: String,
    namespace: Option<String>,
    plural: String,
    name: Option<String>,
    subresource: Option<String>,
}

impl PathParts {
    fn parse(path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (prefix, rest) = match *segments.first()? {
            "api" => (format!("/api/{}", segments.get(1)?), &segments[2..]),
            "apis" => (
                format!("/apis/{}/{}", segments.get(1)?, segments.get(2)?),
                &segments[3..],
            ),
            _ => return None,
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some((*ns).to_owned()), tail),
            _ => (None, rest),
        };
        let mut parts = rest.iter();
        Some(Self {
            prefix,
            namespace,
            plural: (*parts.next()?).to_owned(),
            name: parts.next().map(|s| (*s).to_owned()),
            subresource: parts.next().map(|s| (*s).to_owned()),
        })
    }

    fn collection(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/namespaces/{ns}/{}", self.prefix, self.plural),
            None => format!("{}/{}", self.prefix, self.plural),
        }
    }

    fn object(&self, name: &str) -> String {
        format!("{}/{name}", self.collection())
    }
}

/// Kind of an object path by its plural (for defaults and the status subresource).
fn kind_of_plural(plural: &str) -> &'static str {
    match plural {
        "deployments" => "Deployment",
        "statefulsets" => "StatefulSet",
        "jobs" => "Job",
        "cronjobs" => "CronJob",
        "services" => "Service",
        "secrets" => "Secret",
        "configmaps" => "ConfigMap",
        "persistentvolumeclaims" => "PersistentVolumeClaim",
        _ => "",
    }
}

/// Kinds whose `status` lives in a subresource (writes to the main resource ignore it).
fn has_status_subresource(plural: &str) -> bool {
    !matches!(
        plural,
        "secrets" | "configmaps" | "events" | "leases" | "serviceaccounts"
    )
}

fn status_response(code: StatusCode, reason: &str, message: &str) -> Response<Body> {
    json_response(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code.as_u16()}),
    )
}

fn json_response(code: StatusCode, body: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = code;
    response
}

fn not_found(path: &str) -> Response<Body> {
    status_response(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{path} not found"),
    )
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        pair.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
            .map(percent_decode)
    })
}

/// Whether `labels` match a selector of `k=v`, `k!=v`, `k` and `!k` terms.
fn selector_matches(selector: &str, labels: &Value) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            labels[k] != v
        } else if let Some((k, v)) = term.split_once('=') {
            labels[k.trim_end_matches('=')] == v
        } else if let Some(k) = term.strip_prefix('!') {
            labels.get(k).is_none()
        } else {
            labels.get(term).is_some()
        }
    })
}

/// The field set of a value: every leaf (scalar or list: lists are owned as a whole) is `true`.
fn field_set(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), field_set(v))).collect())
        }
        _ => Value::Bool(true),
    }
}

/// Union of two field sets.
fn union(a: &mut Value, b: &Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) => union(existing, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (a, b) => *a = b.clone(),
    }
}

/// Remove from field set `a` the fields in `b`.
fn subtract(a: &mut Value, b: &Value) {
    if let (Value::Object(a), Value::Object(b)) = (&mut *a, b) {
        for (k, v) in b {
            let remove = match a.get_mut(k) {
                Some(existing @ Value::Object(_)) if v.is_object() => {
                    subtract(existing, v);
                    existing.as_object().is_some_and(Map::is_empty)
                }
                Some(_) => true,
                None => false,
            };
            if remove {
                a.remove(k);
            }
        }
    }
}

/// Whether the field at `path` is in field set `set` (or under a leaf of it).
fn owns(set: &Value, path: &[String]) -> bool {
    match (set, path.split_first()) {
        (Value::Bool(true), _) => true,
        (Value::Object(map), Some((first, rest))) => {
            map.get(first).is_some_and(|sub| owns(sub, rest))
        }
        (Value::Object(_), None) => true,
        _ => false,
    }
}

/// The leaves of a field set, as paths.
fn leaves(set: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match set {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                prefix.push(k.clone());
                leaves(v, prefix, out);
                prefix.pop();
            }
        }
        _ => out.push(prefix.clone()),
    }
}

/// Remove the field at `path`, and the maps it leaves empty: a field set that no longer holds
/// anything is gone from the object, as on the API server.
fn remove_path(object: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(map) = object.as_object_mut() else {
        return;
    };
    if rest.is_empty() {
        map.remove(first);
        return;
    }
    if let Some(child) = map.get_mut(first) {
        remove_path(child, rest);
        if child.as_object().is_some_and(serde_json::Map::is_empty) {
            map.remove(first);
        }
    }
}

fn get_path<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(object, |cursor, key| cursor.get(key))
}

/// Merge `patch` into `base`: maps recursively, everything else (lists included) replaced;
/// `null` removes (JSON merge patch).
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    base.remove(key);
                } else {
                    merge(base.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (base, patch) => *base = patch.clone(),
    }
}

/// Paths of the leaves whose value differs between `before` and `after` (added or changed).
fn changed_fields(before: &Value, after: &Value, prefix: &mut Vec<String>, out: &mut Value) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, av) in a {
                prefix.push(k.clone());
                match b.get(k) {
                    Some(bv) => changed_fields(bv, av, prefix, out),
                    None => set_leaf(out, prefix, field_set(av)),
                }
                prefix.pop();
            }
        }
        (b, a) if b != a => set_leaf(out, prefix, Value::Bool(true)),
        _ => {}
    }
}

fn set_leaf(set: &mut Value, path: &[String], leaf: Value) {
    let Some((last, parents)) = path.split_last() else {
        *set = leaf;
        return;
    };
    let mut cursor = set;
    for key in parents {
        if !cursor.is_object() {
            *cursor = json!({});
        }
        cursor = cursor
            .as_object_mut()
            .map(|m| m.entry(key.clone()).or_insert_with(|| json!({})))
            .unwrap_or_else(|| unreachable!());
    }
    if !cursor.is_object() {
        *cursor = json!({});
    }
    if let Some(map) = cursor.as_object_mut() {
        map.insert(last.clone(), leaf);
    }
}

/// Only the part of `object` a write to `subresource` may change.
fn scope(object: &Value, plural: &str, subresource: Option<&str>) -> Value {
    let mut scoped = object.clone();
    if let Some(map) = scoped.as_object_mut() {
        match subresource {
            Some("status") => map.retain(|k, _| k == "status"),
            _ if has_status_subresource(plural) => {
                map.remove("status");
            }
            _ => {}
        }
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for server_owned in [
                "resourceVersion",
                "uid",
                "generation",
                "creationTimestamp",
                "managedFields",
                "deletionTimestamp",
            ] {
                meta.remove(server_owned);
            }
        }
    }
    scoped
}

/// `metadata.managedFields` in the API's FieldsV1 notation (`f:` keys).
fn fields_v1(set: &Value) -> Value {
    match set {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (format!("f:{k}"), fields_v1(v)))
                .collect(),
        ),
        _ => json!({}),
    }
}

impl Stored {
    fn rendered(&self) -> Value {
        let mut object = self.object.clone();
        let managed: Vec<Value> = self
            .managers
            .iter()
            .map(|(key, (operation, set))| {
                let (manager, subresource) = key.split_once('|').unwrap_or((key, ""));
                let mut entry = json!({"manager": manager, "operation": operation,
                    "apiVersion": object["apiVersion"], "fieldsType": "FieldsV1",
                    "fieldsV1": fields_v1(set)});
                if !subresource.is_empty() {
                    entry["subresource"] = json!(subresource);
                }
                entry
            })
            .collect();
        if !managed.is_empty() {
            object["metadata"]["managedFields"] = Value::Array(managed);
        }
        object
    }
}

/// What a write request asks for.
enum Write {
    Apply { manager: String, force: bool },
    Merge { manager: String },
    Replace { manager: String },
}

impl ApiServer {
    /// A client whose every request is answered by a new double.
    pub fn start() -> (Client, Self) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let server = Self::default();
        let serving = server.clone();
        tokio::spawn(async move {
            while let Some((request, respond)) = handle.next_request().await {
                let response = serving.answer(request).await;
                respond.send_response(response);
            }
        });
        (Client::new(service, "default"), server)
    }

    /// Store `object` at its path as another actor would create it (normalised, defaulted).
    pub fn create(&self, path: &str, object: Value) {
        let Some(parts) = PathParts::parse(path) else {
            panic!("not an object path: {path}");
        };
        let mut state = lock(&self.state);
        let name = parts.name.clone().unwrap_or_default();
        let mut object = object;
        object["metadata"]["name"] = json!(name);
        if let Some(ns) = &parts.namespace {
            object["metadata"]["namespace"] = json!(ns);
        }
        Self::insert_new(&mut state, &parts, path, object, "test", "Update");
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        lock(&self.state).objects.get(path).map(Stored::rendered)
    }

    pub fn exists(&self, path: &str) -> bool {
        lock(&self.state).objects.contains_key(path)
    }

    /// Change a stored object as another actor would (a controller writing status, a user
    /// editing a field): the resourceVersion moves when the object changes.
    pub fn edit(&self, path: &str, change: impl FnOnce(&mut Value)) {
        let mut state = lock(&self.state);
        let Some(stored) = state.objects.get(path) else {
            return;
        };
        let mut object = stored.object.clone();
        change(&mut object);
        normalise(&mut object);
        if object != stored.object {
            if object.get("spec") != stored.object.get("spec") {
                let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
                object["metadata"]["generation"] = json!(generation + 1);
            }
            state.resource_version += 1;
            object["metadata"]["resourceVersion"] = json!(state.resource_version.to_string());
            state.changes.push(path.to_owned());
            if let Some(stored) = state.objects.get_mut(path) {
                stored.object = object;
            }
        }
    }

    /// Make PATCHes and PUTs of `path` (an object) and POSTs to it (an object, or a collection)
    /// fail with `code` and `message`.
    pub fn refuse_writes(&self, path: &str, code: StatusCode, message: &str) {
        lock(&self.state)
            .refusals
            .insert(path.to_owned(), (code, message.to_owned()));
    }

    /// Serve the kinds of an API group/version that is a CRD (`monitoring.coreos.com/v1`).
    pub fn install(&self, group_version: &str, kinds: &[(&str, &str)]) {
        let mut state = lock(&self.state);
        state.discovery.insert(
            group_version.to_owned(),
            kinds
                .iter()
                .map(|(k, p)| ((*k).to_owned(), (*p).to_owned()))
                .collect(),
        );
        for (_, plural) in kinds {
            state.missing_kinds.remove(*plural);
        }
    }

    /// A kind whose CRD is not installed: every request on it gets 404.
    pub fn uninstalled(&self, plural: &str) {
        lock(&self.state).missing_kinds.insert(plural.to_owned());
    }

    /// Requests since the last call.
    pub fn take_requests(&self) -> Vec<Recorded> {
        std::mem::take(&mut lock(&self.state).requests)
    }

    /// Real changes (create, change, delete) of stored objects since the last call, as paths.
    pub fn take_changes(&self) -> Vec<String> {
        std::mem::take(&mut lock(&self.state).changes)
    }

    /// Paths of every stored object under `prefix`.
    pub fn paths(&self, prefix: &str) -> Vec<String> {
        lock(&self.state)
            .objects
            .keys()
            .filter(|p| p.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Delete as a user would (`kubectl delete`): finalizers and garbage collection apply.
    pub fn delete(&self, path: &str) {
        let mut state = lock(&self.state);
        Self::delete_object(&mut state, path);
    }

    fn now() -> Value {
        json!("2026-11-29T10:00:00Z")
    }

    fn insert_new(
        state: &mut State,
        parts: &PathParts,
        path: &str,
        mut object: Value,
        manager: &str,
        operation: &str,
    ) -> Value {
        state.resource_version += 1;
        let rv = state.resource_version;
        normalise(&mut object);
        let set = field_set(&scope(&object, &parts.plural, None));
        add_defaults(kind_of_plural(&parts.plural), &mut object);
        let meta = &mut object["metadata"];
        meta["resourceVersion"] = json!(rv.to_string());
        meta["uid"] = json!(format!("uid-{rv}"));
        meta["creationTimestamp"] = Self::now();
        meta["generation"] = json!(1);
        state.changes.push(path.to_owned());
        let stored = Stored {
            object,
            managers: BTreeMap::from([(manager.to_owned(), (operation.to_owned(), set))]),
        };
        let rendered = stored.rendered();
        state.objects.insert(path.to_owned(), stored);
        rendered
    }

    /// Delete `path` now or, with finalizers, mark it; then collect its dependents.
    fn delete_object(state: &mut State, path: &str) -> Option<Value> {
        let stored = state.objects.get_mut(path)?;
        let finalizers = stored.object["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if finalizers {
            if stored.object["metadata"].get("deletionTimestamp").is_none() {
                state.resource_version += 1;
                stored.object["metadata"]["deletionTimestamp"] = Self::now();
                stored.object["metadata"]["resourceVersion"] =
                    json!(state.resource_version.to_string());
                state.changes.push(path.to_owned());
            }
            return Some(stored.rendered());
        }
        let removed = state.objects.remove(path)?;
        state.resource_version += 1;
        state.changes.push(path.to_owned());
        // Background garbage collection: dependents whose owner is gone.
        let uid = removed.object["metadata"]["uid"].clone();
        let dependents: Vec<String> = state
            .objects
            .iter()
            .filter(|(_, s)| {
                s.object["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
            })
            .map(|(p, _)| p.clone())
            .collect();
        for dependent in dependents {
            Self::delete_object(state, &dependent);
        }
        Some(removed.rendered())
    }

    async fn answer(&self, request: Request<Body>) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = request
            .into_body()
            .collect_bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        let mut state = lock(&self.state);
        state.requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            content_type: content_type.clone(),
            body: body.clone(),
        });
        let body = body.unwrap_or(Value::Null);
        // Discovery of an API group/version.
        if let Some(kinds) = path
            .strip_prefix("/apis/")
            .and_then(|gv| state.discovery.get(gv))
        {
            let resources: Vec<Value> = kinds
                .iter()
                .map(|(kind, plural)| json!({"name": plural, "kind": kind, "namespaced": true,
                    "singularName": "", "verbs": ["get", "list", "watch", "create", "patch", "delete"]}))
                .collect();
            return json_response(
                StatusCode::OK,
                &json!({"kind": "APIResourceList", "apiVersion": "v1",
                    "groupVersion": path.trim_start_matches("/apis/"), "resources": resources}),
            );
        }
        let Some(parts) = PathParts::parse(&path) else {
            return not_found(&path);
        };
        if state.missing_kinds.contains(&parts.plural) {
            return not_found(&path);
        }
        let manager = query_param(&query, "fieldManager").unwrap_or_else(|| "unknown".to_owned());
        match (method, &parts.name) {
            (Method::GET, None) => {
                let selector = query_param(&query, "labelSelector").unwrap_or_default();
                let items: Vec<Value> = state
                    .objects
                    .iter()
                    .filter(|(key, _)| {
                        PathParts::parse(key).is_some_and(|p| {
                            p.plural == parts.plural
                                && p.prefix == parts.prefix
                                && (parts.namespace.is_none() || p.namespace == parts.namespace)
                        })
                    })
                    .filter(|(_, s)| selector_matches(&selector, &s.object["metadata"]["labels"]))
                    .map(|(_, s)| s.rendered())
                    .collect();
                let rv = state.resource_version.to_string();
                json_response(
                    StatusCode::OK,
                    &json!({"kind": "List", "apiVersion": "v1",
                        "metadata": {"resourceVersion": rv}, "items": items}),
                )
            }
            (Method::GET, Some(name)) => match state.objects.get(&parts.object(name)) {
                Some(stored) => json_response(StatusCode::OK, &stored.rendered()),
                None => not_found(&path),
            },
            (Method::POST, None) => {
                let name = body["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let key = parts.object(&name);
                let refusal = [key.as_str(), path.as_str()]
                    .iter()
                    .find_map(|k| state.refusals.get(*k).cloned());
                if let Some((code, message)) = refusal {
                    return status_response(code, "Forbidden", &message);
                }
                if state.objects.contains_key(&key) {
                    return status_response(
                        StatusCode::CONFLICT,
                        "AlreadyExists",
                        &format!("{} \"{name}\" already exists", parts.plural),
                    );
                }
                let mut object = body;
                if has_status_subresource(&parts.plural)
                    && let Some(map) = object.as_object_mut()
                {
                    map.remove("status");
                }
                let created =
                    Self::insert_new(&mut state, &parts, &key, object, &manager, "Update");
                json_response(StatusCode::CREATED, &created)
            }
            (Method::DELETE, Some(name)) => {
                match Self::delete_object(&mut state, &parts.object(name)) {
                    Some(object) => json_response(StatusCode::OK, &object),
                    None => not_found(&path),
                }
            }
            (Method::PUT, Some(name)) => {
                let key = parts.object(name);
                Self::write(&mut state, &parts, &key, body, Write::Replace { manager })
            }
            (Method::PATCH, Some(name)) => {
                let key = parts.object(name);
                let write = if content_type.starts_with("application/apply-patch") {
                    Write::Apply {
                        manager,
                        force: query_param(&query, "force").as_deref() == Some("true"),
                    }
                } else {
                    Write::Merge { manager }
                };
                Self::write(&mut state, &parts, &key, body, write)
            }
            _ => status_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "unsupported",
            ),
        }
    }

    /// PUT, merge PATCH or server-side apply of `key` (or its status subresource).
    fn write(
        state: &mut State,
        parts: &PathParts,
        key: &str,
        body: Value,
        write: Write,
    ) -> Response<Body> {
        if let Some((code, message)) = state.refusals.get(key) {
            return status_response(*code, "Invalid", message);
        }
        let subresource = parts.subresource.as_deref();
        let Some(stored) = state.objects.get(key).cloned() else {
            return match write {
                // Server-side apply creates.
                Write::Apply { manager, .. } if subresource.is_none() => {
                    let created = Self::insert_new(state, parts, key, body, &manager, "Apply");
                    json_response(StatusCode::CREATED, &created)
                }
                _ => not_found(key),
            };
        };
        // Optimistic concurrency: a resourceVersion in the request must be the current one.
        let sent_rv = &body["metadata"]["resourceVersion"];
        if !sent_rv.is_null() && sent_rv != &stored.object["metadata"]["resourceVersion"] {
            return status_response(
                StatusCode::CONFLICT,
                "Conflict",
                &format!(
                    "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                    parts.plural,
                    parts.name.as_deref().unwrap_or_default()
                ),
            );
        }
        let mut sent = scope(&body, &parts.plural, subresource);
        // A merge patch's nulls delete: they are kept until the patch is merged.
        if !matches!(write, Write::Merge { .. }) {
            normalise(&mut sent);
        }
        let before = stored.object.clone();
        let mut object = before.clone();
        let mut managers = stored.managers.clone();
        // Field ownership is tracked per subresource, as `managedFields[].subresource` does.
        let write = match (write, subresource) {
            (Write::Apply { manager, force }, Some(sub)) => Write::Apply {
                manager: format!("{manager}|{sub}"),
                force,
            },
            (Write::Merge { manager }, Some(sub)) => Write::Merge {
                manager: format!("{manager}|{sub}"),
            },
            (Write::Replace { manager }, Some(sub)) => Write::Replace {
                manager: format!("{manager}|{sub}"),
            },
            (write, None) => write,
        };
        let (manager, operation) = match write {
            Write::Apply { manager, force } => {
                let new_set = field_set(&sent);
                let mut sent_leaves = Vec::new();
                leaves(&new_set, &mut Vec::new(), &mut sent_leaves);
                // Conflicts: another applier owns a field this apply sets to another value.
                if !force {
                    for (other, (op, set)) in &managers {
                        if other == &manager || op != "Apply" {
                            continue;
                        }
                        for leaf in &sent_leaves {
                            if owns(set, leaf) && get_path(&before, leaf) != get_path(&sent, leaf) {
                                return status_response(
                                    StatusCode::CONFLICT,
                                    "Conflict",
                                    &format!(
                                        "Apply failed with 1 conflict: conflict with \"{other}\": .{}",
                                        leaf.join(".")
                                    ),
                                );
                            }
                        }
                    }
                }
                // Fields this manager set before and stops sending are removed, unless another
                // manager owns them too.
                let previous = managers
                    .get(&manager)
                    .map(|(_, set)| set.clone())
                    .unwrap_or(json!({}));
                let mut dropped = previous.clone();
                subtract(&mut dropped, &new_set);
                let mut dropped_leaves = Vec::new();
                leaves(&dropped, &mut Vec::new(), &mut dropped_leaves);
                for leaf in dropped_leaves.iter().filter(|l| !l.is_empty()) {
                    let shared = managers
                        .iter()
                        .any(|(other, (_, set))| other != &manager && owns(set, leaf));
                    if !shared {
                        remove_path(&mut object, leaf);
                    }
                }
                merge(&mut object, &sent);
                // Forced fields move to this manager.
                for (other, (_, set)) in managers.iter_mut() {
                    if other != &manager {
                        subtract(set, &new_set);
                    }
                }
                managers.insert(manager.clone(), ("Apply".to_owned(), new_set));
                (manager, "Apply")
            }
            Write::Merge { manager } => {
                merge(&mut object, &sent);
                (manager, "Update")
            }
            Write::Replace { manager } => {
                // Keep what the request cannot change: the other part (status or the rest) and
                // server-owned metadata.
                let mut replaced = match subresource {
                    Some("status") => {
                        let mut o = before.clone();
                        o["status"] = sent.get("status").cloned().unwrap_or(Value::Null);
                        o
                    }
                    _ => {
                        let mut o = sent.clone();
                        if has_status_subresource(&parts.plural)
                            && let Some(status) = before.get("status")
                        {
                            o["status"] = status.clone();
                        }
                        o
                    }
                };
                for kept in ["uid", "creationTimestamp", "generation", "resourceVersion"] {
                    if let Some(v) = before["metadata"].get(kept) {
                        replaced["metadata"][kept] = v.clone();
                    }
                }
                object = replaced;
                (manager, "Update")
            }
        };
        normalise(&mut object);
        add_defaults(kind_of_plural(&parts.plural), &mut object);
        if object == before {
            // Nothing new: no resourceVersion change, no event.
            if let Some(stored) = state.objects.get_mut(key) {
                stored.managers = managers;
            }
            return json_response(
                StatusCode::OK,
                &Stored {
                    object,
                    managers: stored.managers,
                }
                .rendered(),
            );
        }
        if operation == "Update" {
            // The updater now owns what it changed.
            let mut changed = json!({});
            changed_fields(
                &scope(&before, &parts.plural, subresource),
                &scope(&object, &parts.plural, subresource),
                &mut Vec::new(),
                &mut changed,
            );
            for (other, (_, set)) in managers.iter_mut() {
                if other != &manager {
                    subtract(set, &changed);
                }
            }
            let entry = managers
                .entry(manager)
                .or_insert_with(|| ("Update".to_owned(), json!({})));
            union(&mut entry.1, &changed);
        }
        state.resource_version += 1;
        object["metadata"]["resourceVersion"] = json!(state.resource_version.to_string());
        if before.get("spec") != object.get("spec") {
            let generation = before["metadata"]["generation"].as_i64().unwrap_or(1);
            object["metadata"]["generation"] = json!(generation + 1);
        }
        state.changes.push(key.to_owned());
        let finished = object["metadata"].get("deletionTimestamp").is_some()
            && object["metadata"]["finalizers"]
                .as_array()
                .is_none_or(Vec::is_empty);
        let stored = Stored { object, managers };
        let rendered = stored.rendered();
        state.objects.insert(key.to_owned(), stored);
        if finished {
            Self::delete_object(state, key);
        }
        json_response(StatusCode::OK, &rendered)
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::Api;
    use kube::api::{DeleteParams, Patch, PatchParams, PostParams};

    use super::*;

    const CM: &str = "/api/v1/namespaces/shop/configmaps/c";

    fn config_map(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data})
    }

    async fn apply(
        api: &Api<ConfigMap>,
        manager: &str,
        object: &Value,
    ) -> Result<ConfigMap, kube::Error> {
        api.patch(
            "c",
            &PatchParams::apply(manager).force(),
            &Patch::Apply(object),
        )
        .await
    }

    #[tokio::test]
    async fn an_apply_that_sets_nothing_new_keeps_the_resource_version() {
        let (client, server) = ApiServer::start();
        let api: Api<ConfigMap> = Api::namespaced(client, "shop");
        let first = apply(&api, "op", &config_map(json!({"a": "1", "b": ""})))
            .await
            .map_err(|e| e.to_string());
        let Ok(first) = first else {
            panic!("{first:?}")
        };
        assert_eq!(
            first.data.unwrap_or_default().len(),
            1,
            "empty strings are dropped"
        );
        server.take_changes();
        let again = apply(&api, "op", &config_map(json!({"a": "1", "b": ""}))).await;
        assert_eq!(
            again.ok().and_then(|c| c.metadata.resource_version),
            first.metadata.resource_version
        );
        assert!(server.take_changes().is_empty());
    }

    #[tokio::test]
    async fn fields_a_manager_stops_sending_are_removed_unless_another_owns_them() {
        let (client, server) = ApiServer::start();
        let api: Api<ConfigMap> = Api::namespaced(client, "shop");
        let _ = apply(&api, "op", &config_map(json!({"a": "1", "b": "2"}))).await;
        let _ = api
            .patch(
                "c",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"c": "3"}})),
            )
            .await;
        let _ = apply(&api, "other", &config_map(json!({"b": "2"}))).await;
        let _ = apply(&api, "op", &config_map(json!({"a": "1"}))).await;
        let data = server.get(CM).map(|c| c["data"].clone());
        assert_eq!(data, Some(json!({"a": "1", "b": "2", "c": "3"})));
        let _ = apply(&api, "other", &config_map(json!({}))).await;
        let data = server.get(CM).map(|c| c["data"].clone());
        assert_eq!(data, Some(json!({"a": "1", "c": "3"})));
    }

    #[tokio::test]
    async fn an_unforced_apply_of_another_managers_field_conflicts() {
        let (client, _server) = ApiServer::start();
        let api: Api<ConfigMap> = Api::namespaced(client, "shop");
        let _ = apply(&api, "op", &config_map(json!({"a": "1"}))).await;
        let result = api
            .patch(
                "c",
                &PatchParams::apply("other"),
                &Patch::Apply(&config_map(json!({"a": "2"}))),
            )
            .await;
        assert!(
            matches!(result, Err(kube::Error::Api(ref s)) if s.code == 409),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn a_stale_resource_version_gets_409() {
        let (client, _server) = ApiServer::start();
        let api: Api<ConfigMap> = Api::namespaced(client, "shop");
        let created = apply(&api, "op", &config_map(json!({"a": "1"}))).await;
        let Ok(mut stale) = created else {
            panic!("{created:?}")
        };
        let _ = apply(&api, "op", &config_map(json!({"a": "2"}))).await;
        stale.data = Some([("a".to_owned(), "3".to_owned())].into());
        let result = api.replace("c", &PostParams::default(), &stale).await;
        assert!(
            matches!(result, Err(kube::Error::Api(ref s)) if s.code == 409),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn deleting_an_owner_collects_its_dependents_and_finalizers_hold_deletion() {
        let (client, server) = ApiServer::start();
        server.create(
            "/api/v1/namespaces/shop/configmaps/owner",
            json!({"metadata": {"uid": "x"}}),
        );
        let uid = server
            .get("/api/v1/namespaces/shop/configmaps/owner")
            .map(|o| o["metadata"]["uid"].clone())
            .unwrap_or_default();
        let owned = json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap",
            "name": "owner", "uid": uid, "controller": true}]}});
        server.create(CM, owned.clone());
        let mut held = owned;
        held["metadata"]["finalizers"] = json!(["example.com/keep"]);
        server.create("/api/v1/namespaces/shop/configmaps/held", held);
        let api: Api<ConfigMap> = Api::namespaced(client, "shop");
        let _ = api.delete("owner", &DeleteParams::background()).await;
        assert!(!server.exists(CM));
        let held = server.get("/api/v1/namespaces/shop/configmaps/held");
        assert!(held.is_some_and(|h| h["metadata"].get("deletionTimestamp").is_some()));
        let _ = api
            .patch(
                "held",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await;
        assert!(!server.exists("/api/v1/namespaces/shop/configmaps/held"));
    }
}
