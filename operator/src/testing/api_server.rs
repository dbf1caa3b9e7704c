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
//! - watches (`?watch=true`) stream ADDED/MODIFIED/DELETED events, one JSON object per line, for
//!   every change after the resourceVersion they start from, filtered by label and field selector;
//!   a resourceVersion older than the retained history gets a 410 Gone event, so a watcher lists
//!   again; metadata-only requests (`as=PartialObjectMetadata`) get metadata only;
//! - watch events can be held back and released later ([`ApiServer::hold_events`]), so a
//!   controller's cache lags behind the writes, as it does on a busy cluster.
//!
//! Every request is recorded, and [`ApiServer::take_changes`] lists the real changes per object.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

/// A response of the double: a whole JSON body, or a watch's stream of events.
type Reply = Response<axum::body::Body>;

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
    /// Every change since the last compaction, oldest first, for watches that resume.
    history: Vec<Change>,
    /// The resourceVersion history starts after: a watch from an older one gets 410 Gone.
    compacted: u64,
    /// Open watches.
    watches: Vec<Watch>,
    /// Events of objects whose path starts with one of these are held back until released.
    holds: Vec<String>,
}

/// One change of a stored object, as a watch sees it.
#[derive(Clone, Debug)]
struct Change {
    resource_version: u64,
    path: String,
    /// The object before (`None`: created) and after (`None`: deleted) the change.
    before: Option<Value>,
    after: Option<Value>,
}

/// An open watch: which objects it sees and where its events go.
struct Watch {
    collection: PathParts,
    label_selector: String,
    field_selector: String,
    metadata_only: bool,
    sender: UnboundedSender<Bytes>,
    /// Events held back, in order: while any is held, later ones wait behind it, as one watch
    /// stream never reorders.
    held: VecDeque<Bytes>,
}

impl Watch {
    /// The event type this watch sees for a change, if any: an object that starts or stops
    /// matching the selectors is ADDED or DELETED, as on the API server.
    fn sees(&self, change: &Change) -> Option<(&'static str, Value)> {
        let parts = PathParts::parse(&change.path)?;
        let same_collection = parts.prefix == self.collection.prefix
            && parts.plural == self.collection.plural
            && (self.collection.namespace.is_none()
                || parts.namespace == self.collection.namespace);
        if !same_collection || parts.subresource.is_some() {
            return None;
        }
        let matches = |object: &Option<Value>| {
            object.as_ref().is_some_and(|o| {
                selector_matches(&self.label_selector, &o["metadata"]["labels"])
                    && field_selector_matches(&self.field_selector, o)
            })
        };
        match (matches(&change.before), matches(&change.after)) {
            (false, true) => Some(("ADDED", change.after.clone()?)),
            (true, true) => Some(("MODIFIED", change.after.clone()?)),
            (true, false) => {
                // Deleted, or no longer selected: the last state at the change's version.
                let mut last = change.before.clone()?;
                if let Some(after) = &change.after {
                    last = after.clone();
                }
                last["metadata"]["resourceVersion"] = json!(change.resource_version.to_string());
                Some(("DELETED", last))
            }
            (false, false) => None,
        }
    }

    fn line(&self, kind: &str, object: Value) -> Bytes {
        let object = if self.metadata_only {
            metadata_only_form(&object)
        } else {
            object
        };
        let mut line =
            serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }

    /// Send `line` now, or hold it (and everything after it) back. False once the watcher is
    /// gone.
    fn deliver(&mut self, line: Bytes, hold: bool) -> bool {
        if hold || !self.held.is_empty() {
            self.held.push_back(line);
            return !self.sender.is_closed();
        }
        self.sender.send(line).is_ok()
    }

    fn release(&mut self) -> bool {
        while let Some(line) = self.held.pop_front() {
            if self.sender.send(line).is_err() {
                return false;
            }
        }
        true
    }
}

/// The metadata-only form of an object (`PartialObjectMetadata`).
fn metadata_only_form(object: &Value) -> Value {
    json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
        "metadata": object["metadata"]})
}

/// Whether `object` matches a field selector of `metadata.name=` / `metadata.namespace=` terms
/// (`==` and `!=` too), the fields the operator selects on.
fn field_selector_matches(selector: &str, object: &Value) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        let (field, value, equal) = match term.split_once("!=") {
            Some((f, v)) => (f, v, false),
            None => match term.split_once('=') {
                Some((f, v)) => (f, v.trim_start_matches('='), true),
                None => return false,
            },
        };
        let actual = match field {
            "metadata.name" => &object["metadata"]["name"],
            "metadata.namespace" => &object["metadata"]["namespace"],
            _ => return false,
        };
        (actual == value) == equal
    })
}

impl State {
    /// Record a real change of `path` (resourceVersion already moved) and send it to the
    /// watches that see it.
    fn changed(&mut self, path: &str, before: Option<Value>, after: Option<Value>) {
        self.changes.push(path.to_owned());
        let change = Change {
            resource_version: self.resource_version,
            path: path.to_owned(),
            before,
            after,
        };
        let hold = self.holds.iter().any(|h| path.starts_with(h.as_str()));
        self.watches.retain_mut(|watch| match watch.sees(&change) {
            Some((kind, object)) => {
                let line = watch.line(kind, object);
                watch.deliver(line, hold)
            }
            None => !watch.sender.is_closed(),
        });
        self.history.push(change);
    }
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

fn status_response(code: StatusCode, reason: &str, message: &str) -> Reply {
    json_response(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code.as_u16()}),
    )
}

fn json_response(code: StatusCode, body: &Value) -> Reply {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(axum::body::Body::from(bytes));
    *response.status_mut() = code;
    response
}

/// A chunked body of watch event lines, ending when the watch is dropped or at `timeout`.
fn event_stream(receiver: tokio::sync::mpsc::UnboundedReceiver<Bytes>, timeout: Duration) -> Reply {
    let deadline = tokio::time::Instant::now() + timeout;
    let lines = futures::stream::unfold(receiver, move |mut receiver| async move {
        match tokio::time::timeout_at(deadline, receiver.recv()).await {
            Ok(Some(line)) => Some((Ok::<Bytes, Infallible>(line), receiver)),
            _ => None,
        }
    });
    Response::new(axum::body::Body::from_stream(lines))
}

fn not_found(path: &str) -> Reply {
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
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Reply>();
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

    /// Serve the double over HTTP on a free local port as well, for an operator in another
    /// process (`make bench-operator SEPARATE=1` measures the operator's own memory so).
    pub async fn serve_http(&self) -> std::io::Result<std::net::SocketAddr> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let serving = self.clone();
        let app = axum::Router::new().fallback(move |request: Request<axum::body::Body>| {
            let serving = serving.clone();
            async move {
                let (parts, body) = request.into_parts();
                let bytes = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .unwrap_or_default();
                serving
                    .answer(Request::from_parts(parts, Body::from(bytes.to_vec())))
                    .await
            }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(address)
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
        let before = stored.rendered();
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
            let Some(stored) = state.objects.get_mut(path) else {
                return;
            };
            stored.object = object;
            let after = stored.rendered();
            state.changed(path, Some(before), Some(after));
        }
    }

    /// Make PATCHes and PUTs of `path` (an object, or only its status: `<object>/status`) and
    /// POSTs to it (an object, or a collection) fail with `code` and `message`.
    pub fn refuse_writes(&self, path: &str, code: StatusCode, message: &str) {
        lock(&self.state)
            .refusals
            .insert(path.to_owned(), (code, message.to_owned()));
    }

    /// Accept writes of `path` again.
    pub fn accept_writes(&self, path: &str) {
        lock(&self.state).refusals.remove(path);
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

    /// Hold back the watch events of objects whose path starts with `prefix` (`""`: every
    /// object) until [`Self::release_events`]: a controller's cache then lags behind the API.
    /// Writes and reads (GET, LIST) are not delayed.
    pub fn hold_events(&self, prefix: &str) {
        lock(&self.state).holds.push(prefix.to_owned());
    }

    /// Stop holding events back and deliver every held one, in order.
    pub fn release_events(&self) {
        let mut state = lock(&self.state);
        state.holds.clear();
        state.watches.retain_mut(Watch::release);
    }

    /// How many watch events are held back.
    pub fn held_events(&self) -> usize {
        lock(&self.state).watches.iter().map(|w| w.held.len()).sum()
    }

    /// Forget the change history, as etcd's compaction does: a watch resuming from an earlier
    /// resourceVersion gets 410 Gone and must list again.
    pub fn compact(&self) {
        let mut state = lock(&self.state);
        state.history.clear();
        state.compacted = state.resource_version;
    }

    /// End every open watch, as an API server restart does (held events are lost with them):
    /// watchers resume from the last resourceVersion they saw.
    pub fn close_watches(&self) {
        lock(&self.state).watches.clear();
    }

    /// The collections (paths) of the open watches.
    pub fn open_watches(&self) -> Vec<String> {
        lock(&self.state)
            .watches
            .iter()
            .filter(|w| !w.sender.is_closed())
            .map(|w| w.collection.collection())
            .collect()
    }

    /// A watch of `parts`' collection: the changes after `resourceVersion` (or, from "0", no
    /// version or with `sendInitialEvents`, the current objects as ADDED), then every change as
    /// it happens, until `timeoutSeconds`.
    fn start_watch(
        state: &mut State,
        parts: &PathParts,
        query: &str,
        metadata_only: bool,
    ) -> Reply {
        let (sender, receiver) = unbounded_channel::<Bytes>();
        let mut watch = Watch {
            collection: parts.clone(),
            label_selector: query_param(query, "labelSelector").unwrap_or_default(),
            field_selector: query_param(query, "fieldSelector").unwrap_or_default(),
            metadata_only,
            sender,
            held: VecDeque::new(),
        };
        let timeout = query_param(query, "timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .map_or(Duration::from_secs(1800), Duration::from_secs);
        let initial_events = query_param(query, "sendInitialEvents").as_deref() == Some("true");
        let from = query_param(query, "resourceVersion")
            .and_then(|rv| rv.parse::<u64>().ok())
            .filter(|rv| *rv != 0 && !initial_events);
        match from {
            Some(from) if from < state.compacted => {
                let gone = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
                    "metadata": {}, "status": "Failure", "reason": "Expired", "code": 410,
                    "message": format!("too old resource version: {from} ({})", state.compacted)}});
                let mut line = serde_json::to_vec(&gone).unwrap_or_default();
                line.push(b'\n');
                // The stream ends after the error: the watch is not kept.
                let _ = watch.sender.send(Bytes::from(line));
                return event_stream(receiver, timeout);
            }
            Some(from) => {
                for change in state.history.iter().filter(|c| c.resource_version > from) {
                    if let Some((kind, object)) = watch.sees(change) {
                        let hold = state
                            .holds
                            .iter()
                            .any(|h| change.path.starts_with(h.as_str()));
                        let line = watch.line(kind, object);
                        watch.deliver(line, hold);
                    }
                }
            }
            None => {
                for (path, stored) in &state.objects {
                    let current = Change {
                        resource_version: state.resource_version,
                        path: path.clone(),
                        before: None,
                        after: Some(stored.rendered()),
                    };
                    if let Some((kind, object)) = watch.sees(&current) {
                        let line = watch.line(kind, object);
                        watch.deliver(line, false);
                    }
                }
                if initial_events
                    && query_param(query, "allowWatchBookmarks").as_deref() == Some("true")
                {
                    let end = json!({"apiVersion": "v1", "kind": kind_of_plural(&parts.plural),
                        "metadata": {"resourceVersion": state.resource_version.to_string(),
                            "annotations": {"k8s.io/initial-events-end": "true"}}});
                    let line = watch.line("BOOKMARK", end);
                    watch.deliver(line, false);
                }
            }
        }
        state.watches.push(watch);
        event_stream(receiver, timeout)
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
        let stored = Stored {
            object,
            managers: BTreeMap::from([(manager.to_owned(), (operation.to_owned(), set))]),
        };
        let rendered = stored.rendered();
        state.objects.insert(path.to_owned(), stored);
        state.changed(path, None, Some(rendered.clone()));
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
                let before = stored.rendered();
                state.resource_version += 1;
                stored.object["metadata"]["deletionTimestamp"] = Self::now();
                stored.object["metadata"]["resourceVersion"] =
                    json!(state.resource_version.to_string());
                let after = stored.rendered();
                state.changed(path, Some(before), Some(after.clone()));
                return Some(after);
            }
            return Some(stored.rendered());
        }
        let removed = state.objects.remove(path)?;
        state.resource_version += 1;
        state.changed(path, Some(removed.rendered()), None);
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

    async fn answer(&self, request: Request<Body>) -> Reply {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let metadata_only = request
            .headers()
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("as=PartialObjectMetadata"));
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
            (Method::GET, None) if query_param(&query, "watch").as_deref() == Some("true") => {
                Self::start_watch(&mut state, &parts, &query, metadata_only)
            }
            (Method::GET, None) => {
                let selector = query_param(&query, "labelSelector").unwrap_or_default();
                let fields = query_param(&query, "fieldSelector").unwrap_or_default();
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
                    .filter(|(_, s)| field_selector_matches(&fields, &s.object))
                    .map(|(_, s)| match metadata_only {
                        true => metadata_only_form(&s.rendered()),
                        false => s.rendered(),
                    })
                    .collect();
                let rv = state.resource_version.to_string();
                let (kind, api_version) = match metadata_only {
                    true => ("PartialObjectMetadataList", "meta.k8s.io/v1"),
                    false => ("List", "v1"),
                };
                json_response(
                    StatusCode::OK,
                    &json!({"kind": kind, "apiVersion": api_version,
                        "metadata": {"resourceVersion": rv}, "items": items}),
                )
            }
            (Method::GET, Some(name)) => match state.objects.get(&parts.object(name)) {
                Some(stored) if metadata_only => {
                    json_response(StatusCode::OK, &metadata_only_form(&stored.rendered()))
                }
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
    fn write(state: &mut State, parts: &PathParts, key: &str, body: Value, write: Write) -> Reply {
        let subresource = parts.subresource.as_deref();
        let refusal = state
            .refusals
            .get(key)
            .or_else(|| subresource.and_then(|sub| state.refusals.get(&format!("{key}/{sub}"))));
        if let Some((code, message)) = refusal {
            return status_response(*code, "Invalid", message);
        }
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
        let before_rendered = stored.rendered();
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
        let finished = object["metadata"].get("deletionTimestamp").is_some()
            && object["metadata"]["finalizers"]
                .as_array()
                .is_none_or(Vec::is_empty);
        let stored = Stored { object, managers };
        let rendered = stored.rendered();
        state.objects.insert(key.to_owned(), stored);
        state.changed(key, Some(before_rendered), Some(rendered.clone()));
        if finished {
            Self::delete_object(state, key);
        }
        json_response(StatusCode::OK, &rendered)
    }
}

#[cfg(test)]
mod tests {
    use futures::{Stream, StreamExt};
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use kube::api::{DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
    use kube::core::PartialObjectMeta;
    use kube::runtime::watcher;
    use kube::{Api, ResourceExt};

    use super::*;

    /// The next item of a watch, waiting at most five seconds.
    async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
        tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .ok()
            .flatten()
    }

    fn tokio_stream_of<T: Send + 'static>(
        receiver: tokio::sync::mpsc::UnboundedReceiver<T>,
    ) -> futures::stream::BoxStream<'static, T> {
        futures::stream::unfold(
            receiver,
            |mut r| async move { r.recv().await.map(|t| (t, r)) },
        )
        .boxed()
    }

    /// What a watcher reports, one line per event.
    fn describe(event: Option<Result<watcher::Event<ConfigMap>, watcher::Error>>) -> String {
        match event {
            Some(Ok(watcher::Event::Apply(c))) => format!(
                "apply {} {:?}",
                c.name_any(),
                c.data.unwrap_or_default().get("a")
            ),
            Some(Ok(watcher::Event::Delete(c))) => format!("delete {}", c.name_any()),
            Some(Ok(watcher::Event::InitApply(c))) => format!("listed {}", c.name_any()),
            Some(Ok(watcher::Event::Init)) => "init".to_owned(),
            Some(Ok(watcher::Event::InitDone)) => "listed".to_owned(),
            Some(Err(error)) => format!("error {error}"),
            None => "nothing".to_owned(),
        }
    }

    #[tokio::test]
    async fn a_watcher_sees_objects_added_modified_and_deleted() {
        let (client, _server) = ApiServer::start();
        let api: Api<ConfigMap> = Api::namespaced(client, "shop");
        let _ = apply(&api, "op", &config_map(json!({"a": "0"}))).await;
        let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(describe(next(&mut events).await));
        }
        let _ = apply(&api, "op", &config_map(json!({"a": "1"}))).await;
        seen.push(describe(next(&mut events).await));
        let _ = api.delete("c", &DeleteParams::default()).await;
        seen.push(describe(next(&mut events).await));
        assert_eq!(
            seen,
            [
                "init",
                "listed c",
                "listed",
                "apply c Some(\"1\")",
                "delete c"
            ]
        );
    }

    #[tokio::test]
    async fn a_streaming_list_sends_the_objects_then_the_end_of_the_initial_events() {
        let (client, _server) = ApiServer::start();
        let api: Api<ConfigMap> = Api::namespaced(client, "shop");
        let _ = apply(&api, "op", &config_map(json!({"a": "0"}))).await;
        let config = watcher::Config::default().streaming_lists();
        let mut events = watcher(api.clone(), config).boxed();
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(describe(next(&mut events).await));
        }
        let _ = apply(&api, "op", &config_map(json!({"a": "1"}))).await;
        seen.push(describe(next(&mut events).await));
        assert_eq!(seen, ["init", "listed c", "listed", "apply c Some(\"1\")"]);
    }

    #[tokio::test]
    async fn an_apply_that_changes_nothing_sends_no_event() {
        let (client, _server) = ApiServer::start();
        let api: Api<ConfigMap> = Api::namespaced(client, "shop");
        let created = apply(&api, "op", &config_map(json!({"a": "1", "b": ""}))).await;
        let from = created
            .ok()
            .and_then(|c| c.metadata.resource_version)
            .unwrap_or_default();
        let mut events = api
            .watch(&WatchParams::default(), &from)
            .await
            .map_or_else(|e| panic!("watch: {e}"), |stream| stream.boxed());
        let _ = apply(&api, "op", &config_map(json!({"a": "1", "b": ""}))).await;
        let _ = apply(&api, "op", &config_map(json!({"a": "2"}))).await;
        let first = next(&mut events).await;
        assert!(
            matches!(&first, Some(Ok(WatchEvent::Modified(c)))
                if c.data.as_ref().and_then(|d| d.get("a")).map(String::as_str) == Some("2")),
            "the first event after the no-op is the real change: {first:?}"
        );
    }

    #[tokio::test]
    async fn a_watch_from_a_compacted_resource_version_is_gone_and_the_watcher_lists_again() {
        let (client, server) = ApiServer::start();
        let api: Api<ConfigMap> = Api::namespaced(client, "shop");
        let _ = apply(&api, "op", &config_map(json!({"a": "1"}))).await;
        let _ = apply(&api, "op", &config_map(json!({"a": "2"}))).await;
        server.compact();
        let mut events = api
            .watch(&WatchParams::default(), "1")
            .await
            .map_or_else(|e| panic!("watch: {e}"), |stream| stream.boxed());
        let first = next(&mut events).await;
        assert!(
            matches!(&first, Some(Ok(WatchEvent::Error(e)))
                if e.code == 410 && e.message.contains("too old resource version")),
            "{first:?}"
        );

        // A watcher whose watch ends after a compaction it missed changes in lists again.
        let mut watching = watcher(api.clone(), watcher::Config::default()).boxed();
        for _ in 0..3 {
            next(&mut watching).await;
        }
        server.hold_events("");
        let _ = apply(&api, "op", &config_map(json!({"a": "3"}))).await;
        server.compact();
        server.close_watches();
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(describe(next(&mut watching).await));
        }
        assert!(seen[0].starts_with("error"), "{seen:?}");
        assert_eq!(seen[1..], ["init", "listed c", "listed"]);
        assert_eq!(
            server.get(CM).map(|c| c["data"]["a"].clone()),
            Some(json!("3"))
        );
    }

    /// The watcher's events through a channel: it runs (and opens its watch) without being
    /// polled by the test.
    fn running(
        api: &Api<ConfigMap>,
    ) -> tokio::sync::mpsc::UnboundedReceiver<Result<watcher::Event<ConfigMap>, watcher::Error>>
    {
        let (sender, receiver) = unbounded_channel();
        let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                if sender.send(event).is_err() {
                    return;
                }
            }
        });
        receiver
    }

    #[tokio::test]
    async fn held_events_arrive_only_when_released_and_in_order() {
        let (client, server) = ApiServer::start();
        let api: Api<ConfigMap> = Api::namespaced(client, "shop");
        let mut events = tokio_stream_of(running(&api));
        for _ in 0..2 {
            next(&mut events).await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while server.open_watches().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.hold_events(CM);
        let _ = apply(&api, "op", &config_map(json!({"a": "1"}))).await;
        let _ = apply(&api, "op", &config_map(json!({"a": "2"}))).await;
        assert_eq!(server.held_events(), 2);
        let early = tokio::time::timeout(Duration::from_millis(100), events.next()).await;
        assert!(early.is_err(), "nothing arrives while held: {early:?}");
        assert_eq!(
            api.get("c")
                .await
                .ok()
                .and_then(|c| c.data)
                .unwrap_or_default()["a"],
            "2",
            "reads are current while events are held"
        );
        server.release_events();
        let seen = [
            describe(next(&mut events).await),
            describe(next(&mut events).await),
        ];
        assert_eq!(seen, ["apply c Some(\"1\")", "apply c Some(\"2\")"]);
        assert_eq!(server.held_events(), 0);
    }

    #[tokio::test]
    async fn a_metadata_watch_with_a_field_selector_sees_only_that_objects_metadata() {
        let (client, server) = ApiServer::start();
        let secrets: Api<PartialObjectMeta<Secret>> = Api::namespaced(client.clone(), "shop");
        let config = watcher::Config::default().fields("metadata.name=token");
        let mut events = watcher(secrets, config).boxed();
        for _ in 0..2 {
            next(&mut events).await;
        }
        let plain: Api<Secret> = Api::namespaced(client, "shop");
        for name in ["other", "token"] {
            let secret = crate::testing::secret(name, &[("key", "value")]);
            let _ = plain.create(&PostParams::default(), &secret).await;
        }
        let event = next(&mut events).await;
        let Some(Ok(watcher::Event::Apply(meta))) = event else {
            panic!("{event:?}")
        };
        assert_eq!(meta.name_any(), "token");
        assert_eq!(
            meta.types.map(|t| t.kind).as_deref(),
            Some("PartialObjectMetadata")
        );
        let watched = server
            .take_requests()
            .into_iter()
            .find(|r| r.query.contains("watch=true"));
        assert!(watched.is_some_and(|r| r.path == "/api/v1/namespaces/shop/secrets"));
    }

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
