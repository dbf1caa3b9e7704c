//! Reads of the objects the controller watches, answered from the watches' stores.
//!
//! The controller watches every kind it writes; each watch feeds a reflector store before it
//! triggers a reconcile, so the store already holds the change that caused the reconcile. A
//! converged reconcile then makes no request at all.
//!
//! A store can still lag behind this operator's own writes: the reconcile that wrote an object
//! may be followed by one triggered by something else before the watch event of that write
//! arrives. Acting on the older copy would repeat a decision (a second Job, a Secret written
//! over its new values). So every write records the resourceVersion the server returned, and a
//! read of that object is answered from the store only once the store holds exactly that
//! version; until then it is read from the API server. Resource versions are compared for
//! equality only, as the API conventions require. A record ends when the store catches up, or
//! when the store and the server agree (someone else wrote after us).
//!
//! Kinds the reconcile decides on (Deployments, StatefulSets, Jobs, Backups, Restores, its
//! Secrets, the data volume) are kept whole. Kinds only apply and pruning read (ConfigMaps,
//! Services, CronJobs, NetworkPolicies, Ingresses, budgets, autoscalers) are kept as metadata:
//! apply remembers the version at which an object was what the rendering makes (a digest of it),
//! so while both stay the same it reads nothing; an edit by anyone else moves the version, and
//! that object is read from the API server and compared once.
//!
//! Changes by others arrive through the watches: a read may miss one for the moment it takes
//! the event to arrive, and that event then triggers another reconcile.
//!
//! Without registered stores (before the watches have listed everything, or in tests that run
//! one reconcile) every read goes to the API server.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures::FutureExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::{ByteString, NamespaceResourceScope};
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::crd::{Backup, Restore};
use crate::digest;

/// The stores of one controller (one watched namespace, or all).
#[derive(Clone)]
pub struct Stores {
    pub deployments: Store<Deployment>,
    pub stateful_sets: Store<StatefulSet>,
    pub jobs: Store<Job>,
    pub backups: Store<Backup>,
    pub restores: Store<Restore>,
    pub secrets: Store<Secret>,
    pub claims: Store<PersistentVolumeClaim>,
    // Kinds only apply and pruning read: their metadata is enough (the version tells whether
    // the object is still what was applied, the owner references whether it may be pruned).
    pub cron_jobs: Store<PartialObjectMeta<CronJob>>,
    pub services: Store<PartialObjectMeta<Service>>,
    pub config_maps: Store<PartialObjectMeta<ConfigMap>>,
    pub ingresses: Store<PartialObjectMeta<Ingress>>,
    pub pod_disruption_budgets: Store<PartialObjectMeta<PodDisruptionBudget>>,
    pub horizontal_pod_autoscalers: Store<PartialObjectMeta<HorizontalPodAutoscaler>>,
    pub network_policies: Store<PartialObjectMeta<NetworkPolicy>>,
    /// Every Secret's metadata: a referenced Secret is read again only when it changed.
    pub secret_versions: Store<PartialObjectMeta<Secret>>,
}

impl Stores {
    /// Whether every store holds its first complete list.
    fn ready(&self) -> bool {
        fn ready<K>(store: &Store<K>) -> bool
        where
            K: Resource + Clone + 'static,
            K::DynamicType: Eq + std::hash::Hash + Clone,
        {
            store
                .wait_until_ready()
                .now_or_never()
                .is_some_and(|r| r.is_ok())
        }
        ready(&self.deployments)
            && ready(&self.stateful_sets)
            && ready(&self.jobs)
            && ready(&self.cron_jobs)
            && ready(&self.backups)
            && ready(&self.restores)
            && ready(&self.services)
            && ready(&self.config_maps)
            && ready(&self.secrets)
            && ready(&self.ingresses)
            && ready(&self.pod_disruption_budgets)
            && ready(&self.horizontal_pod_autoscalers)
            && ready(&self.network_policies)
            && ready(&self.claims)
            && ready(&self.secret_versions)
    }
}

/// A namespaced kind with a store in [`Stores`].
pub trait Cached:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Serialize
    + Debug
    + Send
    + Sync
    + 'static
{
    fn store(stores: &Stores) -> &Store<Self>;
}

macro_rules! cached {
    ($($kind:ty => $field:ident),* $(,)?) => {
        $(impl Cached for $kind {
            fn store(stores: &Stores) -> &Store<Self> {
                &stores.$field
            }
        })*
    };
}

cached!(
    Deployment => deployments,
    StatefulSet => stateful_sets,
    Job => jobs,
    Backup => backups,
    Restore => restores,
    Secret => secrets,
    PersistentVolumeClaim => claims,
);

/// How much of a stored object a read wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Whole,
    Metadata,
}

/// Where a kind is kept, and how much of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kept {
    Whole,
    Metadata,
    /// Not watched (a ServiceMonitor, a CloudNativePG Cluster): always read live.
    Not,
}

fn kept(resource: &ApiResource) -> Kept {
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("apps", "Deployment" | "StatefulSet")
        | ("batch", "Job")
        | ("", "Secret" | "PersistentVolumeClaim")
        | ("toogoodtogo.io", "Backup" | "Restore") => Kept::Whole,
        ("batch", "CronJob")
        | ("", "Service" | "ConfigMap")
        | ("networking.k8s.io", "Ingress" | "NetworkPolicy")
        | ("policy", "PodDisruptionBudget")
        | ("autoscaling", "HorizontalPodAutoscaler") => Kept::Metadata,
        _ => Kept::Not,
    }
}

/// How long a discovery answer (is a CRD installed?) is reused while the controller runs.
const DISCOVERY_LIFETIME: Duration = Duration::from_secs(60);
const RECORDS_BEFORE_SWEEP: usize = 4096;
/// Past this many remembered applies (objects of deleted platforms linger), all are forgotten:
/// each costs one comparison to learn again.
const APPLIED_BEFORE_RESET: usize = 200_000;
const RECORD_LIFETIME: Duration = Duration::from_secs(600);

/// Which object a record is about: kind, namespace, name.
type Key = (String, String, String);

/// What this operator last did to an object: wrote it (the version the server returned), or
/// deleted it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Written {
    Version(String),
    Deleted,
}

/// The keys of a Secret and a digest of each value; the values themselves are not kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint {
    /// Key -> SHA-256 (hex) of its value, and whether the value is empty.
    pub keys: BTreeMap<String, (String, bool)>,
}

impl Fingerprint {
    pub fn of(data: &BTreeMap<String, ByteString>) -> Self {
        Self {
            keys: data
                .iter()
                .map(|(key, ByteString(bytes))| {
                    (key.clone(), (digest::hex(bytes), bytes.is_empty()))
                })
                .collect(),
        }
    }
}

#[derive(Default)]
struct Inner {
    scopes: RwLock<Vec<(Option<String>, Arc<Stores>)>>,
    written: Mutex<HashMap<Key, (Written, Instant)>>,
    /// Referenced Secrets as last read: namespace and name -> resourceVersion and fingerprint.
    fingerprints: Mutex<HashMap<(String, String), (String, Fingerprint)>>,
    /// What apply last found converged or wrote: object -> its resourceVersion then and the
    /// digest of the rendered object. While the object keeps that version, the same rendering
    /// needs no comparison, so kinds kept as metadata need no read.
    applied: Mutex<HashMap<Key, (String, String)>>,
    /// Discovery answers: group/version and kind -> served, and when that was asked.
    kinds: Mutex<HashMap<(String, String), (bool, Instant)>>,
}

/// Reads through the stores, writes recorded; cheap to clone.
#[derive(Clone)]
pub struct Reads {
    client: Client,
    inner: Arc<Inner>,
}

/// Whether the API server serves `kind` in `api_version` (a 404 means the CRD is not installed).
pub async fn served(client: &Client, api_version: &str, kind: &str) -> Result<bool, kube::Error> {
    match client.list_api_group_resources(api_version).await {
        Ok(list) => Ok(list.resources.iter().any(|r| r.kind == kind)),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(error) => Err(error),
    }
}

/// `metadata.resourceVersion` of an object as JSON.
fn version_of(object: Option<&Value>) -> Option<String> {
    object?
        .pointer("/metadata/resourceVersion")?
        .as_str()
        .map(str::to_owned)
}

fn label_selector(labels: &[(&str, &str)]) -> String {
    labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn has_labels<K: Resource>(object: &K, labels: &[(&str, &str)]) -> bool {
    let own = object.labels();
    labels
        .iter()
        .all(|(key, value)| own.get(*key).is_some_and(|v| v == value))
}

impl Reads {
    /// Reads that all go to the API server until stores are registered.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            inner: Arc::default(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Answer reads in `namespace` (`None`: every namespace) from `stores` once they are ready.
    pub fn register(&self, namespace: Option<&str>, stores: Stores) {
        if let Ok(mut scopes) = self.inner.scopes.write() {
            scopes.retain(|(scope, _)| scope.as_deref() != namespace);
            scopes.push((namespace.map(str::to_owned), Arc::new(stores)));
        }
    }

    /// The ready stores that hold `namespace`.
    fn stores(&self, namespace: &str) -> Option<Arc<Stores>> {
        let scopes = self.inner.scopes.read().ok()?;
        scopes
            .iter()
            .find(|(scope, _)| scope.as_deref().is_none_or(|s| s == namespace))
            .map(|(_, stores)| stores)
            .filter(|stores| stores.ready())
            .cloned()
    }

    /// Whether reads in `namespace` are answered from stores (a controller runs and its watches
    /// have listed everything).
    pub fn watching(&self, namespace: &str) -> bool {
        self.stores(namespace).is_some()
    }

    fn record(&self, key: Key, written: Written) {
        if let Ok(mut records) = self.inner.written.lock() {
            let now = Instant::now();
            // Records of objects nobody reads again (a deleted platform's) are dropped once
            // every watch has long delivered them.
            if records.len() >= RECORDS_BEFORE_SWEEP {
                records.retain(|_, (_, at)| now.duration_since(*at) < RECORD_LIFETIME);
            }
            records.insert(key, (written, now));
        }
    }

    fn record_of(&self, key: &Key) -> Option<Written> {
        self.inner
            .written
            .lock()
            .ok()?
            .get(key)
            .map(|(w, _)| w.clone())
    }

    fn forget(&self, key: &Key) {
        if let Ok(mut records) = self.inner.written.lock() {
            records.remove(key);
        }
    }

    /// Record an object this operator created or changed, as the server returned it.
    pub fn wrote<K: Resource<DynamicType = ()>>(&self, object: &K) {
        self.wrote_version(
            &K::kind(&()),
            &object.namespace().unwrap_or_default(),
            &object.name_any(),
            object.resource_version(),
        );
    }

    /// Record a write by kind and name, with the resourceVersion the server returned.
    pub fn wrote_version(&self, kind: &str, namespace: &str, name: &str, version: Option<String>) {
        let key = (kind.to_owned(), namespace.to_owned(), name.to_owned());
        match version {
            Some(version) => self.record(key, Written::Version(version)),
            // Without a version the store cannot be checked against the write: read live.
            None => self.record(key, Written::Version(String::new())),
        }
    }

    /// Record that this operator deleted an object.
    pub fn deleted(&self, kind: &str, namespace: &str, name: &str) {
        self.record(
            (kind.to_owned(), namespace.to_owned(), name.to_owned()),
            Written::Deleted,
        );
    }

    /// Whether the store's copy (or absence) of an object shows this operator's last write.
    fn shows_write(cached: Option<&str>, written: &Written) -> bool {
        match (cached, written) {
            (Some(cached), Written::Version(version)) => cached == version,
            (None, Written::Deleted) => true,
            _ => false,
        }
    }

    /// Whether the store's copy of an object (its version, `None`: absent) may answer a read:
    /// nothing this operator wrote is missing from it.
    fn usable(&self, key: &Key, cached_version: Option<&str>) -> bool {
        let Some(written) = self.record_of(key) else {
            return true;
        };
        let shows = Self::shows_write(cached_version, &written);
        if shows {
            self.forget(key);
        }
        shows
    }

    /// After a read from the API server: when it agrees with the store, someone else wrote
    /// after this operator and the store has that; it answers again.
    fn settle(&self, key: &Key, live_version: Option<&str>, cached_version: Option<&str>) {
        if live_version == cached_version {
            self.forget(key);
        }
    }

    /// `cached` (the store's copy, `None`: absent) when it shows this operator's last write of
    /// the object, else the API server's.
    async fn cached_or_live<K>(
        &self,
        cached: Option<K>,
        namespace: &str,
        name: &str,
    ) -> Result<Option<K>, kube::Error>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let key = (
            K::kind(&()).into_owned(),
            namespace.to_owned(),
            name.to_owned(),
        );
        let cached_version = cached.as_ref().and_then(|o| o.resource_version());
        if self.usable(&key, cached_version.as_deref()) {
            return Ok(cached);
        }
        let live = Api::<K>::namespaced(self.client.clone(), namespace)
            .get_opt(name)
            .await?;
        self.settle(
            &key,
            live.as_ref().and_then(|o| o.resource_version()).as_deref(),
            cached_version.as_deref(),
        );
        Ok(live)
    }

    /// One object, from the store when it shows this operator's last write of it.
    pub async fn get<K: Cached>(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<K>, kube::Error> {
        let Some(stores) = self.stores(namespace) else {
            return Api::<K>::namespaced(self.client.clone(), namespace)
                .get_opt(name)
                .await;
        };
        let cached = K::store(&stores)
            .get(&ObjectRef::new(name).within(namespace))
            .map(|object| (*object).clone());
        self.cached_or_live(cached, namespace, name).await
    }

    /// The controller's own copy of the resource it reconciles (`cached`, from its store), or
    /// the API server's when the store may miss one of this operator's writes of it (its
    /// status above all) or no controller runs.
    pub async fn current<K>(&self, cached: &K) -> Result<Option<K>, kube::Error>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let namespace = cached.namespace().unwrap_or_default();
        let name = cached.name_any();
        if self.stores(&namespace).is_none() {
            return Api::<K>::namespaced(self.client.clone(), &namespace)
                .get_opt(&name)
                .await;
        }
        self.cached_or_live(Some(cached.clone()), &namespace, &name)
            .await
    }

    /// The objects of a kind in `namespace` carrying `labels`, from the store unless it misses
    /// one of this operator's writes there.
    pub async fn list<K: Cached>(
        &self,
        namespace: &str,
        labels: &[(&str, &str)],
    ) -> Result<Vec<K>, kube::Error> {
        let live = || async {
            Api::<K>::namespaced(self.client.clone(), namespace)
                .list(&ListParams::default().labels(&label_selector(labels)))
                .await
                .map(|list| list.items)
        };
        let Some(stores) = self.stores(namespace) else {
            return live().await;
        };
        let store = K::store(&stores);
        let kind = K::kind(&());
        let pending: Vec<(Key, Written)> = self
            .inner
            .written
            .lock()
            .map(|records| {
                records
                    .iter()
                    .filter(|((k, ns, _), _)| *k == kind && ns == namespace)
                    .map(|(key, (written, _))| (key.clone(), written.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let mut behind = false;
        for (key, written) in pending {
            let cached = store.get(&ObjectRef::new(&key.2).within(namespace));
            let cached_version = cached.as_ref().and_then(|o| o.resource_version());
            if Self::shows_write(cached_version.as_deref(), &written) {
                self.forget(&key);
            } else {
                behind = true;
            }
        }
        if behind {
            return live().await;
        }
        Ok(store
            .state()
            .into_iter()
            .filter(|o| o.namespace().as_deref() == Some(namespace) && has_labels(&**o, labels))
            .map(|o| (*o).clone())
            .collect())
    }

    /// Whether the watches keep the kind `resource` whole (its reads need no API request).
    pub fn kept_whole(resource: &ApiResource) -> bool {
        kept(resource) == Kept::Whole
    }

    /// Whether the watches keep the kind `resource` (whole or as metadata).
    pub fn has_store(resource: &ApiResource) -> bool {
        kept(resource) != Kept::Not
    }

    /// The store's copy of one object of the kind `resource` as JSON (whole, or its metadata):
    /// `None` when no ready store keeps the kind, `Some(None)` when the store has no such
    /// object. This operator's writes are not considered here.
    fn in_store(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
        part: Part,
    ) -> Option<Option<Value>> {
        fn json<K>(store: &Store<K>, namespace: &str, name: &str, part: Part) -> Option<Value>
        where
            K: Resource<DynamicType = ()> + Clone + Serialize + 'static,
        {
            let cached = store.get(&ObjectRef::new(name).within(namespace))?;
            match part {
                Part::Whole => serde_json::to_value(&*cached).ok(),
                // Only what is asked for is serialised: the version and owners.
                Part::Metadata => Some(serde_json::json!({ "metadata": cached.meta() })),
            }
        }
        let stores = self.stores(namespace)?;
        match (resource.group.as_str(), resource.kind.as_str()) {
            ("apps", "Deployment") => Some(json(&stores.deployments, namespace, name, part)),
            ("apps", "StatefulSet") => Some(json(&stores.stateful_sets, namespace, name, part)),
            ("batch", "Job") => Some(json(&stores.jobs, namespace, name, part)),
            ("", "Secret") => Some(json(&stores.secrets, namespace, name, part)),
            ("", "PersistentVolumeClaim") => Some(json(&stores.claims, namespace, name, part)),
            ("toogoodtogo.io", "Backup") => Some(json(&stores.backups, namespace, name, part)),
            ("toogoodtogo.io", "Restore") => Some(json(&stores.restores, namespace, name, part)),
            ("batch", "CronJob") => Some(json(&stores.cron_jobs, namespace, name, part)),
            ("", "Service") => Some(json(&stores.services, namespace, name, part)),
            ("", "ConfigMap") => Some(json(&stores.config_maps, namespace, name, part)),
            ("networking.k8s.io", "Ingress") => {
                Some(json(&stores.ingresses, namespace, name, part))
            }
            ("networking.k8s.io", "NetworkPolicy") => {
                Some(json(&stores.network_policies, namespace, name, part))
            }
            ("policy", "PodDisruptionBudget") => {
                Some(json(&stores.pod_disruption_budgets, namespace, name, part))
            }
            ("autoscaling", "HorizontalPodAutoscaler") => Some(json(
                &stores.horizontal_pod_autoscalers,
                namespace,
                name,
                part,
            )),
            _ => None,
        }
    }

    /// [`Self::in_store`], when the store shows every write of this operator to the object.
    fn stored_value(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
        part: Part,
    ) -> Option<Option<Value>> {
        let stored = self.in_store(resource, namespace, name, part)?;
        let key = (resource.kind.clone(), namespace.to_owned(), name.to_owned());
        self.usable(&key, version_of(stored.as_ref()).as_deref())
            .then_some(stored)
    }

    async fn live_value(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, kube::Error> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, resource);
        let object = api.get_opt(name).await?;
        let live = object.and_then(|o| serde_json::to_value(o).ok());
        if let Some(stored) = self.in_store(resource, namespace, name, Part::Metadata) {
            let key = (resource.kind.clone(), namespace.to_owned(), name.to_owned());
            self.settle(
                &key,
                version_of(live.as_ref()).as_deref(),
                version_of(stored.as_ref()).as_deref(),
            );
        }
        Ok(live)
    }

    /// One object of the kind `resource` as JSON, whole: from the store where the kind is kept
    /// whole and the store shows this operator's writes, else from the API server.
    pub async fn get_value(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, kube::Error> {
        if kept(resource) == Kept::Whole
            && let Some(stored) = self.stored_value(resource, namespace, name, Part::Whole)
        {
            return Ok(stored);
        }
        self.live_value(resource, namespace, name).await
    }

    /// One object's metadata (its version, owner references) as JSON: from the store where the
    /// kind is kept, else from the API server.
    pub async fn get_metadata(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, kube::Error> {
        if let Some(stored) = self.stored_value(resource, namespace, name, Part::Metadata) {
            return Ok(stored);
        }
        self.live_value(resource, namespace, name).await
    }

    /// Whether the object still is what apply made of `digest` (the rendered object's): its
    /// stored version is the one apply saw or wrote then.
    pub fn still_applied(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
        digest: &str,
    ) -> bool {
        let Some(Some(stored)) = self.stored_value(resource, namespace, name, Part::Metadata)
        else {
            return false;
        };
        let Some(version) = version_of(Some(&stored)) else {
            return false;
        };
        let key = (resource.kind.clone(), namespace.to_owned(), name.to_owned());
        self.inner
            .applied
            .lock()
            .is_ok_and(|applied| applied.get(&key) == Some(&(version, digest.to_owned())))
    }

    /// Remember that the object at `version` is what apply makes of `digest`.
    pub fn applied(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
        version: Option<&str>,
        digest: &str,
    ) {
        let key = (resource.kind.clone(), namespace.to_owned(), name.to_owned());
        if let Ok(mut applied) = self.inner.applied.lock() {
            if applied.len() >= APPLIED_BEFORE_RESET {
                applied.clear();
            }
            match version {
                Some(version) => {
                    applied.insert(key, (version.to_owned(), digest.to_owned()));
                }
                None => {
                    applied.remove(&key);
                }
            }
        }
    }

    /// The keys and value digests of a Secret the user owns, read again only when its
    /// resourceVersion (watched as metadata) moved.
    pub async fn fingerprint(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Fingerprint>, kube::Error> {
        let key = (namespace.to_owned(), name.to_owned());
        let watched = self.stores(namespace).and_then(|stores| {
            stores
                .secret_versions
                .get(&ObjectRef::new(name).within(namespace))
                .and_then(|meta| meta.resource_version())
        });
        if let Some(version) = &watched
            && let Ok(known) = self.inner.fingerprints.lock()
            && let Some((known_version, fingerprint)) = known.get(&key)
            && known_version == version
        {
            return Ok(Some(fingerprint.clone()));
        }
        let live = Api::<Secret>::namespaced(self.client.clone(), namespace)
            .get_opt(name)
            .await?;
        let Ok(mut known) = self.inner.fingerprints.lock() else {
            return Ok(live.map(|s| Fingerprint::of(&s.data.unwrap_or_default())));
        };
        Ok(match live {
            Some(secret) => {
                let fingerprint = Fingerprint::of(secret.data.as_ref().unwrap_or(&BTreeMap::new()));
                if let Some(version) = secret.resource_version() {
                    known.insert(key, (version, fingerprint.clone()));
                }
                Some(fingerprint)
            }
            None => {
                known.remove(&key);
                None
            }
        })
    }

    /// Whether the API server serves `kind` in `api_version` (a 404 means the CRD is not
    /// installed). While the controller runs, the answer is reused for a minute: a CRD
    /// installed later is found within that.
    pub async fn kind_installed(&self, api_version: &str, kind: &str) -> Result<bool, kube::Error> {
        let key = (api_version.to_owned(), kind.to_owned());
        let controller_runs = self.inner.scopes.read().is_ok_and(|s| !s.is_empty());
        if controller_runs
            && let Ok(kinds) = self.inner.kinds.lock()
            && let Some((installed, at)) = kinds.get(&key)
            && at.elapsed() < DISCOVERY_LIFETIME
        {
            return Ok(*installed);
        }
        let installed = served(&self.client, api_version, kind).await?;
        if controller_runs && let Ok(mut kinds) = self.inner.kinds.lock() {
            kinds.insert(key, (installed, Instant::now()));
        }
        Ok(installed)
    }

    /// What the stores hold: objects, and their size as JSON (the benchmark's measure of the
    /// operator's own memory, which shares its process with the API double there).
    pub fn footprint(&self) -> (usize, usize) {
        fn add<K: Serialize + Resource + Clone + 'static>(
            store: &Store<K>,
            total: &mut (usize, usize),
        ) where
            K::DynamicType: Eq + std::hash::Hash + Clone,
        {
            for object in store.state() {
                total.0 += 1;
                total.1 += serde_json::to_vec(&*object).map_or(0, |b| b.len());
            }
        }
        let mut total = (0, 0);
        let Ok(scopes) = self.inner.scopes.read() else {
            return total;
        };
        for (_, stores) in scopes.iter() {
            add(&stores.deployments, &mut total);
            add(&stores.stateful_sets, &mut total);
            add(&stores.jobs, &mut total);
            add(&stores.cron_jobs, &mut total);
            add(&stores.backups, &mut total);
            add(&stores.restores, &mut total);
            add(&stores.services, &mut total);
            add(&stores.config_maps, &mut total);
            add(&stores.secrets, &mut total);
            add(&stores.ingresses, &mut total);
            add(&stores.pod_disruption_budgets, &mut total);
            add(&stores.horizontal_pod_autoscalers, &mut total);
            add(&stores.network_policies, &mut total);
            add(&stores.claims, &mut total);
            add(&stores.secret_versions, &mut total);
        }
        total
    }
}
