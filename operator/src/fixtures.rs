//! A fake API server behind kube's `tower-test` mock, for reconcile and leader-election tests.
//!
//! It keeps objects in memory by path, answers GET/POST/PUT/PATCH/DELETE the way the API
//! server does in the cases the operator relies on (404 for missing objects, 409 for stale
//! writes, server-side apply that creates or merges, status as a subresource), adds a few
//! server-side defaults so "converged" is tested against realistic objects, and records every
//! request so tests can assert the exact sequence and count writes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

/// One request the operator made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub method: Method,
    /// Path without the query string.
    pub path: String,
    pub query: String,
    pub body: Option<Value>,
}

impl Recorded {
    pub fn is_write(&self) -> bool {
        self.method != Method::GET
    }

    /// `"GET /api/v1/..."`, for readable assertions.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    requests: Vec<Recorded>,
    /// Every request ever made, for permission checks.
    history: Vec<Recorded>,
    resource_version: u64,
    /// PATCHes to these paths fail with (code, message), like an admission refusal.
    refusals: BTreeMap<String, (StatusCode, String)>,
    /// PUTs to these paths fail with (code, message).
    put_refusals: BTreeMap<String, (StatusCode, String)>,
    /// Collections that answer LIST (others answer 404, like a kind that is not installed).
    lists: Vec<String>,
}

/// Handle on the fake server's state; cheap to clone.
#[derive(Clone, Default)]
pub struct FakeApiServer {
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A panicking test thread poisons the lock; the state is still fine to read.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Recursive merge as server-side apply does for the fields it is given (lists replaced).
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

/// Defaults the API server fills in, so that comparisons see what a real cluster returns.
fn add_server_defaults(path: &str, object: &mut Value) {
    if path.contains("/deployments/") {
        let spec = &mut object["spec"];
        if spec.get("progressDeadlineSeconds").is_none() {
            spec["progressDeadlineSeconds"] = json!(600);
        }
        if let Some(containers) = spec["template"]["spec"]["containers"].as_array_mut() {
            for container in containers {
                if container.get("terminationMessagePath").is_none() {
                    container["terminationMessagePath"] = json!("/dev/termination-log");
                }
            }
        }
    }
    if path.contains("/services/") && object["spec"].get("sessionAffinity").is_none() {
        object["spec"]["sessionAffinity"] = json!("None");
    }
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

/// `labelSelector=a%3Db%2Cc%3Dd` -> [(a, b), (c, d)] (equality selectors only).
fn label_selector(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("labelSelector="))
        .flat_map(|raw| {
            percent_decode(raw)
                .split(',')
                .filter_map(|term| {
                    term.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn status_response(code: StatusCode, reason: &str, message: &str) -> Response<Body> {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code.as_u16(),
    });
    json_response(code, &body)
}

fn json_response(code: StatusCode, body: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = code;
    response
}

impl FakeApiServer {
    /// A client whose every request is answered by a new fake server.
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

    /// Put an object at its path (e.g. `/api/v1/namespaces/shop/secrets/token`).
    pub fn insert(&self, path: &str, mut object: Value) {
        let mut state = lock(&self.state);
        state.resource_version += 1;
        object["metadata"]["resourceVersion"] = json!(state.resource_version.to_string());
        state.objects.insert(path.to_owned(), object);
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        lock(&self.state).objects.get(path).cloned()
    }

    /// Change a stored object in place, as another actor (a user, a controller) would.
    pub fn edit(&self, path: &str, change: impl FnOnce(&mut Value)) {
        let mut state = lock(&self.state);
        if let Some(object) = state.objects.get_mut(path) {
            change(object);
        }
    }

    /// Make every PATCH of `path` fail with `code` and `message`.
    pub fn refuse_patches(&self, path: &str, code: StatusCode, message: &str) {
        lock(&self.state)
            .refusals
            .insert(path.to_owned(), (code, message.to_owned()));
    }

    /// Answer LIST requests on `collection` (e.g. `/apis/batch/v1/namespaces/shop/jobs`).
    pub fn serve_list(&self, collection: &str) {
        lock(&self.state).lists.push(collection.to_owned());
    }

    /// Make every PUT of `path` fail with `code` and `message`.
    pub fn refuse_puts(&self, path: &str, code: StatusCode, message: &str) {
        lock(&self.state)
            .put_refusals
            .insert(path.to_owned(), (code, message.to_owned()));
    }

    pub fn remove(&self, path: &str) {
        lock(&self.state).objects.remove(path);
    }

    /// Every request since the server started.
    pub fn history(&self) -> Vec<Recorded> {
        lock(&self.state).history.clone()
    }

    /// Requests made since the last call, emptying the log.
    pub fn take_requests(&self) -> Vec<Recorded> {
        std::mem::take(&mut lock(&self.state).requests)
    }

    async fn answer(&self, request: Request<Body>) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        let bytes = request
            .into_body()
            .collect_bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        let mut state = lock(&self.state);
        let recorded = Recorded {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body: body.clone(),
        };
        state.history.push(recorded.clone());
        state.requests.push(recorded);
        state.resource_version += 1;
        let resource_version = state.resource_version.to_string();
        let body = body.unwrap_or(Value::Null);
        match method {
            Method::GET => match state.objects.get(&path) {
                Some(object) => json_response(StatusCode::OK, object),
                None if state.lists.contains(&path) => {
                    let selector = label_selector(&query);
                    let prefix = format!("{path}/");
                    let items: Vec<Value> = state
                        .objects
                        .iter()
                        .filter(|(key, _)| {
                            key.strip_prefix(&prefix)
                                .is_some_and(|rest| !rest.contains('/'))
                        })
                        .filter(|(_, object)| {
                            selector.iter().all(|(k, v)| {
                                object["metadata"]["labels"][k.as_str()] == v.as_str()
                            })
                        })
                        .map(|(_, object)| object.clone())
                        .collect();
                    let list = json!({"kind": "List", "apiVersion": "v1",
                        "metadata": {"resourceVersion": resource_version}, "items": items});
                    json_response(StatusCode::OK, &list)
                }
                None => status_response(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("{path} not found"),
                ),
            },
            Method::DELETE => match state.objects.remove(&path) {
                Some(_) => json_response(
                    StatusCode::OK,
                    &json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
                ),
                None => status_response(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("{path} not found"),
                ),
            },
            Method::POST => {
                let name = body["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let key = format!("{path}/{name}");
                if state.objects.contains_key(&key) {
                    return status_response(
                        StatusCode::CONFLICT,
                        "AlreadyExists",
                        &format!("{key} exists"),
                    );
                }
                let mut object = body;
                object["metadata"]["resourceVersion"] = json!(resource_version);
                object["metadata"]["uid"] = json!(format!("uid-{resource_version}"));
                object["metadata"]["creationTimestamp"] = json!("2026-11-29T10:00:00Z");
                state.objects.insert(key, object.clone());
                json_response(StatusCode::CREATED, &object)
            }
            Method::PUT => {
                if let Some((code, message)) = state.put_refusals.get(&path) {
                    return status_response(*code, "InternalError", message);
                }
                let Some(current) = state.objects.get(&path) else {
                    return status_response(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        &format!("{path} not found"),
                    );
                };
                if current["metadata"]["resourceVersion"] != body["metadata"]["resourceVersion"] {
                    return status_response(
                        StatusCode::CONFLICT,
                        "Conflict",
                        "the object has been modified",
                    );
                }
                let mut object = body;
                object["metadata"]["resourceVersion"] = json!(resource_version);
                state.objects.insert(path, object.clone());
                json_response(StatusCode::OK, &object)
            }
            Method::PATCH => {
                if let Some((code, message)) = state.refusals.get(&path) {
                    return status_response(*code, "Invalid", message);
                }
                if let Some(parent) = path.strip_suffix("/status") {
                    let Some(object) = state.objects.get_mut(parent) else {
                        return status_response(
                            StatusCode::NOT_FOUND,
                            "NotFound",
                            &format!("{parent} not found"),
                        );
                    };
                    object["status"] = body["status"].clone();
                    object["metadata"]["resourceVersion"] = json!(resource_version);
                    return json_response(StatusCode::OK, object);
                }
                let created = !state.objects.contains_key(&path);
                let object = state
                    .objects
                    .entry(path.clone())
                    .or_insert_with(|| json!({}));
                merge(object, &body);
                add_server_defaults(&path, object);
                object["metadata"]["resourceVersion"] = json!(resource_version);
                if created {
                    object["metadata"]["uid"] = json!(format!("uid-{resource_version}"));
                    object["metadata"]["generation"] = json!(1);
                } else {
                    let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
                    object["metadata"]["generation"] = json!(generation + 1);
                }
                json_response(StatusCode::OK, object)
            }
            _ => status_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "unsupported",
            ),
        }
    }
}
