//! The reconciler: dereference -> validate -> build -> apply -> update status, and the
//! controller that runs it for every `TooGoodToGo` and its owned objects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::apply::{self, ApplyError};
use crate::backups::{self, BackupError};
use crate::build::{self, BuildError, Inputs};
use crate::cache::{Reads, Stores};
use crate::crd::{Backup, Phase, Restore, SecretRotationStatus, TooGoodToGo, WebhookRotationPhase};
use crate::db_rotation;
use crate::dereference::{self, DereferenceError};
use crate::exclusive;
use crate::final_backup;
use crate::generator::SecretGenerator;
use crate::metrics::{ErrorLabels, Metrics, ResourceLabels};
use crate::names::{FIELD_MANAGER, Owner};
use crate::observe::{self, MigrationState};
use crate::restores;
use crate::rotation;
use crate::status::{self, Facts, Problem};
use crate::validate;
use crate::{analysis, rollback};

/// Shared state of all reconciles.
pub struct Context {
    pub client: Client,
    /// Reads of watched objects from the watches' stores ([`crate::cache`]).
    pub reads: Reads,
    pub generator: Arc<dyn SecretGenerator>,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    /// Whether the watches work (`/healthz`).
    pub watches: Arc<crate::watch_health::WatchHealth>,
    /// Consecutive failures per resource, for exponential backoff.
    failures: Mutex<HashMap<(String, String), u32>>,
    /// Consecutive reconciles per resource that found it Degraded with nothing moving.
    degraded: Mutex<HashMap<(String, String), u32>>,
    /// How many reconciles run at once, and how long triggers are gathered before one runs.
    pub scheduling: Scheduling,
}

/// The controller's pacing. Unbounded (kube's default), a start-up with 1,000 platforms starts
/// every reconcile at once: none finishes for half a minute, and the memory of all of them is
/// held together (`make bench-operator`). A debounce gathers a burst of watch events into one
/// reconcile; the scheduler already folds the events that arrive while a reconcile is pending,
/// and the benchmark measured no fewer reconciles with one, so it is off by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scheduling {
    /// Reconciles running at once (0: unbounded).
    pub concurrency: u16,
    pub debounce: Duration,
}

impl Default for Scheduling {
    fn default() -> Self {
        Self {
            concurrency: 16,
            debounce: Duration::ZERO,
        }
    }
}

impl Context {
    pub fn new(
        client: Client,
        generator: Arc<dyn SecretGenerator>,
        metrics: Arc<Metrics>,
        instance: Option<String>,
    ) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.to_owned(),
            instance,
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            reads: Reads::new(client.clone()),
            client,
            generator,
            metrics,
            watches: Arc::default(),
            failures: Mutex::new(HashMap::new()),
            degraded: Mutex::new(HashMap::new()),
            scheduling: Scheduling::default(),
        }
    }

    #[must_use]
    pub fn with_scheduling(mut self, scheduling: Scheduling) -> Self {
        self.scheduling = scheduling;
        self
    }

    /// The re-check of a resource that is Degraded while nothing moves: 15 s, doubling with every
    /// reconcile that finds it so, up to the idle re-check. What is wrong is the user's or the
    /// cluster's to repair (a volume that cannot grow, a bot that does not come back), and an
    /// edit or a change of an owned object is seen at once through the watches anyway.
    fn degraded_requeue(&self, key: (String, String), degraded: bool) -> Option<Duration> {
        let Ok(mut counts) = self.degraded.lock() else {
            return None;
        };
        if !degraded {
            counts.remove(&key);
            return None;
        }
        let count = counts.entry(key).or_insert(0);
        *count = count.saturating_add(1);
        let exponent = count.saturating_sub(1).min(16);
        Some(
            PROGRESS_REQUEUE
                .saturating_mul(1 << exponent)
                .min(IDLE_REQUEUE),
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Dereference(#[from] DereferenceError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error("kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    /// Objects the API server refused (already reported in the status).
    #[error("{0}")]
    Refused(String),
}

impl Error {
    /// Low-cardinality label for the error metric.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Dereference(e) if e.is_missing_input() => "missing_input",
            Self::Dereference(_) | Self::Kube(_) | Self::Backup(_) => "api",
            Self::Build(_) => "build",
            Self::Apply(_) | Self::Refused(_) => "apply",
        }
    }
}

/// Requeue interval while something is still moving (migration, rollout).
pub const PROGRESS_REQUEUE: Duration = Duration::from_secs(15);
/// Periodic re-check of a converged resource; watches repair drift sooner.
pub const IDLE_REQUEUE: Duration = Duration::from_secs(300);
const BACKOFF_BASE: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Delay after the n-th consecutive failure: 5s, 10s, 20s, ... capped at 5 minutes.
pub fn backoff(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    BACKOFF_BASE.saturating_mul(1 << exponent).min(BACKOFF_MAX)
}

fn key(cr: &TooGoodToGo) -> (String, String) {
    (cr.namespace().unwrap_or_default(), cr.name_any())
}

/// Entry point for the controller: one reconcile of one resource, timed and counted.
pub async fn reconcile(cr: Arc<TooGoodToGo>, ctx: Arc<Context>) -> Result<Action, Error> {
    let (namespace, name) = key(&cr);
    let labels = ResourceLabels {
        namespace: namespace.clone(),
        name: name.clone(),
    };
    let span = info_span!("reconcile", namespace = %namespace, resource = %name);
    let started = Instant::now();
    let result = reconcile_resource(&cr, &ctx).instrument(span.clone()).await;
    ctx.metrics.reconciliations.get_or_create(&labels).inc();
    ctx.metrics
        .duration
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    match &result {
        Ok(_) => {
            if let Ok(mut failures) = ctx.failures.lock() {
                failures.remove(&(namespace, name));
            }
        }
        Err(error) => {
            ctx.metrics
                .errors
                .get_or_create(&ErrorLabels {
                    namespace,
                    name,
                    reason: error.reason().to_owned(),
                })
                .inc();
            span.in_scope(|| warn!(%error, "reconcile failed"));
        }
    }
    result
}

/// What the controller loop reports besides reconciles: a failed watch counts for `/healthz`; a
/// resource that is no longer there (the controller asks for a deleted resource when its
/// requeue comes due or its owned objects are garbage-collected) has its metrics and backoff
/// state removed.
pub fn loop_result(
    ctx: &Context,
    result: Result<
        (ObjectRef<TooGoodToGo>, Action),
        kube::runtime::controller::Error<Error, watcher::Error>,
    >,
) {
    use kube::runtime::controller::Error as LoopError;
    match result {
        // A watch failed (it is retried with backoff).
        Err(LoopError::QueueError(error)) => {
            warn!(%error, "watch failed");
            ctx.watches.error(Instant::now());
        }
        Err(LoopError::ObjectNotFound(gone)) if gone.dyntype.kind == "TooGoodToGo" => {
            let namespace = gone.namespace.clone().unwrap_or_default();
            debug!(namespace = %namespace, resource = %gone.name, "deleted; its metrics go");
            ctx.metrics.forget(&namespace, &gone.name);
            let key = (namespace, gone.name.clone());
            if let Ok(mut failures) = ctx.failures.lock() {
                failures.remove(&key);
            }
            if let Ok(mut degraded) = ctx.degraded.lock() {
                degraded.remove(&key);
            }
        }
        Err(error) => debug!(%error, "reconcile loop"),
        Ok(_) => {}
    }
}

/// Requeue with exponential backoff per resource, so a persistent error is retried without a
/// hot loop.
pub fn error_policy(cr: Arc<TooGoodToGo>, _error: &Error, ctx: Arc<Context>) -> Action {
    let failures = match ctx.failures.lock() {
        Ok(mut failures) => {
            let count = failures.entry(key(&cr)).or_insert(0);
            *count = count.saturating_add(1);
            *count
        }
        Err(_) => 1,
    };
    Action::requeue(backoff(failures))
}

/// Write the status computed from `facts`, and an Event when the phase changed.
async fn update_status(
    api: &Api<TooGoodToGo>,
    cr: &TooGoodToGo,
    ctx: &Context,
    facts: &Facts,
) -> Result<Phase, Error> {
    let next = status::compute(cr, facts, cr.status.as_ref(), Timestamp::now());
    let phase = next.phase.unwrap_or(Phase::Pending);
    if let Some(written) = status::write(api, cr, &next).await? {
        ctx.reads.wrote(&written);
        info!(phase = phase.as_str(), "status updated");
        if let Some(event) = status::transition_event(cr.status.as_ref(), &next)
            && let Err(error) = status::publish(&ctx.recorder, cr, &event).await
        {
            // An Event is a courtesy; failing to publish one must not fail the reconcile.
            warn!(%error, reason = %event.reason, "cannot publish event");
        }
    }
    Ok(phase)
}

/// The reconcile pipeline. An error it did not report itself is made visible: Ready=False and
/// Degraded with the error (the object and the API server's message) and a Warning Event.
///
/// The watch cache can lag behind the writes of the previous reconcile (its status above all): the
/// reconcile acts on the controller's copy only when it shows every write of this operator, and
/// reads the resource from the API server otherwise ([`crate::cache`]). Its status write carries
/// the resourceVersion it acted on, and a conflict (someone wrote in between) is retried at once,
/// not reported.
pub async fn reconcile_resource(cached: &TooGoodToGo, ctx: &Context) -> Result<Action, Error> {
    // Deletion: owner references let the garbage collector remove every owned object; only the
    // final backup of deletionPolicy Backup holds it (a finalizer).
    if cached.meta().deletion_timestamp.is_some() && !final_backup::has_finalizer(cached) {
        return Ok(Action::await_change());
    }
    let cr = match Box::pin(ctx.reads.current(cached)).await {
        Ok(Some(cr)) => cr,
        Ok(None) => return Ok(Action::await_change()),
        Err(error) => return Err(error.into()),
    };
    let result = reconcile_steps(&cr, ctx).await;
    match &result {
        Err(Error::Kube(kube::Error::Api(status))) if status.code == 409 => {
            debug!(message = %status.message, "the resource changed during the reconcile; again");
            return Ok(Action::requeue(CONFLICT_REQUEUE));
        }
        Err(Error::Apply(error)) if error.is_conflict() => {
            debug!(%error, "an object changed since it was read; again");
            return Ok(Action::requeue(CONFLICT_REQUEUE));
        }
        Err(error) if namespace_terminating(&error.to_string()) => {
            info!("the namespace is being deleted; nothing to do");
            return Ok(Action::await_change());
        }
        Err(Error::Dereference(e)) if e.is_missing_input() => {}
        Err(Error::Refused(_)) | Ok(_) => {}
        Err(error) => report_failure(&cr, ctx, &error.to_string()).await,
    }
    result
}

/// A namespace being deleted refuses new objects with 403 "... because it is being terminated":
/// a normal end, not a permission problem.
fn namespace_terminating(message: &str) -> bool {
    message.contains("because it is being terminated")
}

/// Requeue after the resource changed under a reconcile (a stale read).
const CONFLICT_REQUEUE: Duration = Duration::from_secs(1);

/// Write the failure into the status (keeping what the status records) and publish a Warning
/// Event. Failing to do either is logged: the reconcile error is what is returned.
async fn report_failure(cr: &TooGoodToGo, ctx: &Context, message: &str) {
    let owner = Owner::of(cr);
    let api: Api<TooGoodToGo> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    let next = status::failed(cr, cr.status.as_ref(), message, Timestamp::now());
    match status::write(&api, cr, &next).await {
        Ok(Some(written)) => ctx.reads.wrote(&written),
        Ok(None) => {}
        Err(error) => warn!(%error, "cannot write the status of a failed reconcile"),
    }
    publish_failure(cr, ctx, message).await;
}

async fn publish_failure(cr: &TooGoodToGo, ctx: &Context, message: &str) {
    publish_warning(cr, ctx, status::RECONCILE_FAILED, message).await;
}

async fn publish_warning(cr: &TooGoodToGo, ctx: &Context, reason: &str, message: &str) {
    let event = kube::runtime::events::Event {
        type_: kube::runtime::events::EventType::Warning,
        reason: reason.to_owned(),
        note: Some(message.to_owned()),
        action: "Reconcile".to_owned(),
        secondary: None,
    };
    if let Err(error) = status::publish(&ctx.recorder, cr, &event).await {
        warn!(%error, reason, "cannot publish event");
    }
}

/// [`final_backup::set_finalizer`], and the controller's copy of the resource is not trusted
/// until it shows that write.
async fn set_finalizer(
    ctx: &Context,
    api: &Api<TooGoodToGo>,
    cr: &TooGoodToGo,
    present: bool,
) -> Result<bool, kube::Error> {
    let written = final_backup::set_finalizer(api, cr, present).await?;
    if written {
        let owner = Owner::of(cr);
        ctx.reads
            .wrote_version(&TooGoodToGo::kind(&()), &owner.namespace, &owner.name, None);
    }
    Ok(written)
}

async fn reconcile_steps(cr: &TooGoodToGo, ctx: &Context) -> Result<Action, Error> {
    let deleting = cr.meta().deletion_timestamp.is_some();
    if deleting && !final_backup::has_finalizer(cr) {
        return Ok(Action::await_change());
    }
    let owner = Owner::of(cr);
    let client = &ctx.client;
    let api: Api<TooGoodToGo> = Api::namespaced(client.clone(), &owner.namespace);
    if deleting && !final_backup::wanted(cr) {
        // The policy was changed while the deletion waited: it goes on as that policy says.
        set_finalizer(ctx, &api, cr, false).await?;
        return Ok(Action::await_change());
    }
    // Added first (it only holds a deletion), removed last: after this reconcile has applied
    // the ownership the new policy wants, so a deletion right after it keeps what it should.
    if !deleting && final_backup::wanted(cr) && set_finalizer(ctx, &api, cr, true).await? {
        return Ok(Action::requeue(CONFLICT_REQUEUE));
    }
    // Deleting under deletionPolicy Backup: everything keeps running until the final backup,
    // asked for here, has completed.
    let final_progress = if deleting {
        Some(final_backup::ensure(client, cr).await?)
    } else {
        None
    };
    let mut facts = Facts {
        suspended: cr.spec.suspend,
        ..Facts::default()
    };

    if cr.spec.suspend {
        facts.observed = Box::pin(observe::observe(&ctx.reads, cr)).await?;
        update_status(&api, cr, ctx, &facts).await?;
        return Ok(Action::await_change());
    }

    // validate (the CEL rules mirrored) before dereferencing: these rules need nothing but the
    // spec, and an invalid spec costs only the reads of what runs. It waits for the user to
    // change it.
    if let Err(errors) = validate::validate(cr) {
        let message = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        facts.problem = Some(Problem::InvalidSpec(message));
        // What runs keeps running: the status says so rather than "not deployed".
        facts.observed = Box::pin(observe::observe(&ctx.reads, cr)).await?;
        update_status(&api, cr, ctx, &facts).await?;
        return Ok(Action::await_change());
    }

    // dereference: a missing Secret is reported and retried with backoff.
    let secrets = dereference::WatchedSecrets {
        reads: &ctx.reads,
        namespace: &owner.namespace,
    };
    let dereferenced = match Box::pin(dereference::dereference(
        cr,
        &secrets,
        ctx.generator.as_ref(),
    ))
    .await
    {
        Ok(d) => d,
        Err(error) if error.is_missing_input() => {
            facts.problem = Some(Problem::SecretMissing(error.to_string()));
            facts.payments = crate::payments::from_dereference_error(&error);
            facts.observed = Box::pin(observe::observe(&ctx.reads, cr)).await?;
            update_status(&api, cr, ctx, &facts).await?;
            return Err(error.into());
        }
        Err(error) => return Err(error.into()),
    };
    // The data directory keeps the passwords it was initialised with: a lost credentials Secret
    // is not replaced by new passwords the database does not know.
    if dereferenced.postgres_credentials_missing {
        // Asked of the API server, not the watch: a volume made without the operator's labels
        // (restored from a snapshot by hand) must stop new passwords all the same.
        let volume = owner.postgres_data_claim();
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &owner.namespace);
        if claims.get_opt(&volume).await?.is_some() {
            let message = format!(
                "the database volume {volume} exists but its credentials Secret {} does not: the database knows only the passwords in that Secret. Recreate the Secret with them (keys {}), or delete the volume to start an empty database",
                owner.postgres_credentials(),
                [
                    crate::resources::pod::POSTGRES_SUPERUSER_PASSWORD_KEY,
                    crate::resources::pod::POSTGRES_BOT_PASSWORD_KEY
                ]
                .join(", ")
            );
            facts.problem = Some(Problem::CredentialsMissing(message.clone()));
            facts.observed = Box::pin(observe::observe(&ctx.reads, cr)).await?;
            update_status(&api, cr, ctx, &facts).await?;
            publish_warning(cr, ctx, "CredentialsMissing", &message).await;
            return Err(Error::Refused(message));
        }
    }

    let stripe_secret = dereferenced.stripe.clone();
    let mut observed = Box::pin(observe::observe(&ctx.reads, cr)).await?;
    // Restores stop the bot while they replace the database, and exclude upgrades.
    let restores = match backups::enabled(cr) {
        Some(_) => Box::pin(restores::list(&ctx.reads, &owner)).await?,
        None => Vec::new(),
    };
    // A migration Job that succeeded before the newest restore migrated the database that was
    // replaced: it runs again.
    if let Some(job) = &observed.migration_job
        && exclusive::stale_after_restore(job, &restores)
    {
        let name = job.name_any();
        info!(job = %name, "the migration ran before the restore; running it again");
        let jobs: Api<Job> = Api::namespaced(client.clone(), &owner.namespace);
        match jobs
            .delete(&name, &kube::api::DeleteParams::background())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error.into()),
        }
        ctx.reads.deleted("Job", &owner.namespace, &name);
        observed.migration_job = None;
    }
    observed.analysis =
        analysis::assess(client, cr, observed.deployment.as_ref(), Timestamp::now()).await?;
    facts.observed = observed.clone();
    if let Err(error) = validate::validate_transition(cr, observed.postgres_major().as_deref()) {
        facts.problem = Some(Problem::InvalidSpec(error.to_string()));
        update_status(&api, cr, ctx, &facts).await?;
        return Ok(Action::await_change());
    }
    let mut plan = observe::plan_rollout(cr, &observed);
    let turn = exclusive::decide(cr, &observed, &plan, &restores);
    let restore_hold = match &turn {
        exclusive::Turn::UpgradeWaits { restore } => {
            info!(restore = %restore, version = %cr.spec.version, "the version change waits for the restore");
            plan = exclusive::hold_upgrade(plan, &observed, restore.clone());
            None
        }
        exclusive::Turn::RestoreWaits { version } => Some(format!(
            "waiting for the upgrade to version {version} to finish: a restore must not replace the database under a migration or a rollout"
        )),
        exclusive::Turn::Free => None,
    };
    if let Some(restore) = restores::unmigrated(&restores) {
        let message = restore
            .status
            .as_ref()
            .and_then(|s| s.message.clone())
            .unwrap_or_default();
        facts.problem = Some(Problem::PostRestoreMigrationFailed(format!(
            "restore {}: {message}",
            restore.name_any()
        )));
    }
    // The bot did not come back after a restore: said until it is ready.
    if let Some(restore) = restores::bot_not_ready(&restores)
        && !restores::bot_ready(cr, observed.deployment.as_ref()).0
    {
        let message = restore
            .status
            .as_ref()
            .and_then(|s| s.message.clone())
            .unwrap_or_default();
        facts.problem = Some(Problem::RestoredBotNotReady(format!(
            "restore {}: {message}",
            restore.name_any()
        )));
    }
    if let MigrationState::BackupFailed { message } = &plan.migration {
        facts.problem = Some(Problem::PreDeploymentBackupFailed(format!(
            "the pre-deployment backup {} of version {} failed: {message}; delete it to try again, or set spec.backup.preDeployment to false",
            owner.pre_deployment_backup(&cr.spec.version, cr.metadata.generation.unwrap_or(0)),
            cr.spec.version
        )));
    }
    if let Some((from, to)) = &plan.rollback {
        let failed_analysis = match &observed.analysis {
            Some(analysis::State::Failed { evidence, .. }) => Some(evidence.clone()),
            _ => None,
        };
        let recorded = cr
            .status
            .as_ref()
            .and_then(|s| s.rolled_back.as_ref())
            .filter(|r| &r.from == from)
            .and_then(|r| r.reason.clone());
        let why = failed_analysis.clone().or(recorded).map_or_else(
            || {
                format!(
                    "did not become available within {}s",
                    cr.progress_deadline_seconds()
                )
            },
            |evidence| format!("failed its analysis: {evidence}"),
        );
        facts.rollback_reason = failed_analysis.clone();
        facts.problem = Some(Problem::RolledBack(format!(
            "version {from} {why}; rolled back to {to}; it is not tried again until spec.version changes"
        )));
        // New unless the status or the Deployment (written with the rollback) records it.
        let new = cr
            .status
            .as_ref()
            .and_then(|s| s.rolled_back.as_ref())
            .is_none_or(|r| &r.from != from)
            && observed
                .deployment
                .as_ref()
                .and_then(observe::rolled_back_from)
                .as_ref()
                != Some(from);
        if new {
            warn!(from = %from, to = %to, "rolling back");
            let event = kube::runtime::events::Event {
                type_: kube::runtime::events::EventType::Warning,
                reason: "RolledBack".to_owned(),
                note: Some(format!("version {from} {why}; rolled back to {to}")),
                action: "Rollback".to_owned(),
                secondary: None,
            };
            if let Err(error) = status::publish(&ctx.recorder, cr, &event).await {
                warn!(%error, reason = "RolledBack", "cannot publish event");
            }
            if cr
                .spec
                .rollout
                .as_ref()
                .and_then(|r| r.restore_database_on_rollback)
                .unwrap_or(false)
                && backups::enabled(cr).is_some()
            {
                // The database is restored only when the new version is to blame, and the
                // Warning saying what that discards goes out before the Restore exists.
                let decided = rollback::decide(
                    client,
                    &owner,
                    from,
                    to,
                    failed_analysis.as_deref(),
                    Timestamp::now(),
                )
                .await?;
                for notice in &decided.events {
                    if let Err(error) = status::publish(&ctx.recorder, cr, &notice.event()).await {
                        warn!(%error, reason = notice.reason, "cannot publish event");
                    }
                }
                if let Some(restore) = &decided.restore {
                    restores::create(&ctx.reads, &owner, restore).await?;
                }
                facts.rollback_database = decided.note;
            }
        }
    }
    let mut backup_requested = false;
    if plan.migration == MigrationState::BackingUp && observed.pre_deployment_backup.is_none() {
        backup_requested = backups::ensure_pre_deployment(
            &ctx.reads,
            &owner,
            &cr.spec.version,
            cr.metadata.generation.unwrap_or(0),
        )
        .await?;
    }
    if let MigrationState::Failed { message } = &plan.migration {
        facts.problem = Some(Problem::MigrationFailed(format!(
            "migration Job {} failed: {message}",
            owner.migration_job(&cr.spec.version)
        )));
    }

    // Secret rotation: due values are replaced before the build renders them.
    let now = Timestamp::now();
    // The status's rotation state, corrected by what the credentials Secret recorded with the
    // passwords (a status write can be lost).
    let database_record = dereferenced
        .generated
        .postgres
        .as_ref()
        .map(|pg| pg.record.clone());
    let token_record = dereferenced.generated.token_record.clone();
    let merged_rotation = {
        let mut rotation = cr
            .status
            .as_ref()
            .and_then(|s| s.secret_rotation.clone())
            .unwrap_or_default();
        if let Some(record) = &database_record {
            record.merge(&mut rotation);
        }
        token_record.merge(&mut rotation);
        (rotation != SecretRotationStatus::default()).then_some(rotation)
    };
    let previous_rotation = merged_rotation.as_ref();
    // A recreated credentials Secret: the database pod sets its passwords before it starts.
    let secret_uid = dereferenced
        .generated
        .postgres
        .as_ref()
        .and_then(|pg| pg.secret_uid.clone());
    let credentials_sync = crate::credentials_sync::wanted(
        secret_uid.as_deref(),
        observed.postgres_data_claim.as_ref(),
        observed.postgres.as_ref(),
    );
    if credentials_sync.is_some()
        && credentials_sync
            != observed
                .postgres
                .as_ref()
                .and_then(crate::credentials_sync::template_uid)
    {
        let message = format!(
            "the credentials Secret {} was recreated: the database restarts once and sets its passwords (as the superuser over the local socket) before it serves again",
            owner.postgres_credentials()
        );
        warn!("{message}");
        publish_warning(cr, ctx, "SettingDatabasePasswords", &message).await;
    }
    let key_ring = dereferenced.generated.key_ring.clone();
    let stored = rotation::Stored {
        key_ring: Some(&key_ring),
        database: database_record.as_ref(),
        token: Some(&token_record),
    };
    let rotation_plan = rotation::plan(cr, previous_rotation, stored, now.as_second());
    // An announced SECRET_KEY signs once every bot pod runs the configuration that accepts it:
    // the live Deployment is the one the current values render, rolled out.
    let key_announced = key_ring.next.is_some() && {
        let current = Inputs {
            bot_stopped: restores::bot_stopped(&restores),
            generated: dereferenced.generated.clone(),
            referenced_secrets_digest: dereferenced.referenced_secrets_digest.clone(),
            deploy_version: plan.deploy_version.clone(),
            migrate_version: plan.migrate_version.clone(),
            postgres_claim_template_size: observed.postgres_claim_template_size(),
            rolled_back_from: plan.rollback.as_ref().map(|(from, _)| from.clone()),
            credentials_sync: credentials_sync.clone(),
        };
        let rendered = build::render(cr, &current);
        observed.deployment.is_none()
            || db_rotation::rolled_out(observed.deployment.as_ref(), rendered.deployment.as_ref())
    };
    let (mut generated, mut rotation_status, rotated) = rotation::rotate(
        &rotation_plan,
        dereferenced.generated,
        previous_rotation,
        ctx.generator.as_ref(),
        now,
        key_announced,
    );
    // The webhook token's phase is written with the tokens it describes.
    generated.token_record.record(
        rotation_status.webhook_rotation,
        rotated
            .contains(&crate::resources::secret::WEBHOOK_SECRET_TOKEN)
            .then(|| now.as_second()),
        rotation_plan.trigger.as_deref(),
    );
    let mut rotation_notices = Vec::new();
    if db_rotation::enabled(cr) || rotation_status.database_rotation.is_some() {
        rotation_notices = db_rotation::decide(
            client,
            &owner,
            rotation_plan.database_password,
            rotation_plan.trigger.as_deref(),
            observed.postgres_ready()
                && restores.iter().all(|r| {
                    r.status
                        .as_ref()
                        .and_then(|s| s.phase)
                        .is_none_or(crate::crd::RestorePhase::is_terminal)
                }),
            &mut generated,
            &mut rotation_status,
            ctx.generator.as_ref(),
            now,
        )
        .await?;
    }

    // build (pure)
    let inputs = Inputs {
        bot_stopped: restores::bot_stopped(&restores),
        generated,
        referenced_secrets_digest: dereferenced.referenced_secrets_digest,
        deploy_version: plan.deploy_version.clone(),
        migrate_version: plan.migrate_version.clone(),
        postgres_claim_template_size: observed.postgres_claim_template_size(),
        rolled_back_from: plan.rollback.as_ref().map(|(from, _)| from.clone()),
        credentials_sync: credentials_sync.clone(),
    };
    let desired = build::render(cr, &inputs);
    let mut manifests = desired.manifests()?;
    if !observed.service_monitor_supported {
        let service_monitor = build::service_monitor_resource();
        manifests.retain(|m| m.resource != service_monitor);
    }
    // Without CloudNativePG there is no Cluster to apply: the condition says what to install,
    // and everything else is reconciled as usual (the bot waits for its database).
    if observed.cnpg == Some(crate::cnpg::ClusterState::NotInstalled) {
        let cluster = crate::resources::cnpg_cluster::resource();
        manifests.retain(|m| m.resource != cluster);
        let (_, _, message) =
            crate::cnpg::describe(&owner, &crate::cnpg::ClusterState::NotInstalled);
        facts
            .problem
            .get_or_insert(Problem::CloudNativePgNotInstalled(message));
    }

    // apply
    let uid = cr.uid().unwrap_or_default();
    // The PVC is looked at only when the spec asks for another size than the claim template.
    let claim_template_size = observed.postgres_claim_template_size();
    let wanted_volume = cr
        .spec
        .database
        .managed
        .as_ref()
        .map(|m| m.storage.size.as_str())
        .filter(|size| {
            claim_template_size
                .as_deref()
                .is_some_and(|template| template != *size)
        });
    let keep_job = owner.migration_job(&cr.spec.version);
    // Under deletionPolicy Delete the database's volume goes with its StatefulSet: switching to
    // an external database keeps the StatefulSet then.
    let absent = desired.absent(
        &owner,
        cr.deletion_policy() != crate::crd::DeletionPolicy::Retain,
    );
    let report = apply::apply(
        &ctx.reads,
        &owner,
        &uid,
        &manifests,
        &absent,
        wanted_volume,
        &keep_job,
    )
    .await?;
    if report.writes() > 0 {
        info!(applied = ?report.applied, deleted = ?report.deleted, "objects written");
        ctx.metrics
            .writes
            .get_or_create(&ResourceLabels {
                namespace: owner.namespace.clone(),
                name: owner.name.clone(),
            })
            .inc_by(report.writes() as u64);
    }
    // One Event reason per secret: the recorder folds Events of one reason into a series.
    for secret in &rotated {
        let (reason, why) = match *secret {
            crate::secret_key::NEXT_KEY => (
                "SecretKeyAnnounced",
                format!(
                    "a new SECRET_KEY ({}) is rolled out as accepted; it signs once every pod accepts it",
                    rotation_plan.reason
                ),
            ),
            crate::resources::secret::SECRET_KEY => (
                "SecretKeyRotated",
                "the new SECRET_KEY, accepted by every pod, now signs; the bot rolls onto it and accepts the previous keys for a day after each was retired".to_owned(),
            ),
            _ => (
                "WebhookTokenRotated",
                "the new WEBHOOK_SECRET_TOKEN, accepted by every pod, is now registered; the bot rolls onto the new value and accepts the previous one for a day".to_owned(),
            ),
        };
        info!(secret = %secret, reason, "secret rotated");
        let event = kube::runtime::events::Event {
            type_: kube::runtime::events::EventType::Normal,
            reason: reason.to_owned(),
            note: Some(why),
            action: "Rotate".to_owned(),
            secondary: None,
        };
        if let Err(error) = status::publish(&ctx.recorder, cr, &event).await {
            warn!(%error, reason, "cannot publish event");
        }
    }
    for kind in &report.unsupported {
        debug!(object = %kind, "kind not installed, skipped");
    }
    if cr.spec.database.managed.is_some() {
        crate::credentials_sync::record(
            &ctx.reads,
            &owner,
            secret_uid.as_deref(),
            observed.postgres_data_claim.as_ref(),
            observed.postgres.as_ref(),
        )
        .await?;
    }
    // webhook token rotation: once every pod accepts the new token, it becomes the registered one
    let mut backup_writes = 0;
    if rotation_status.webhook_rotation == Some(WebhookRotationPhase::Announcing) {
        if db_rotation::rolled_out(observed.deployment.as_ref(), desired.deployment.as_ref()) {
            rotation_status.webhook_rotation = Some(WebhookRotationPhase::Swapping);
        }
        backup_writes += 1;
    }

    // database password rotation: the Job its phase needs
    if let Some(managed) = &cr.spec.database.managed
        && rotation_status.database_rotation.is_some()
    {
        let render_ctx = crate::resources::Context {
            cr,
            inputs: &inputs,
            owner: &owner,
        };
        let written = db_rotation::act(
            client,
            &render_ctx,
            managed,
            &mut rotation_status,
            observed.deployment.as_ref(),
            desired.deployment.as_ref(),
        )
        .await?;
        if !written.is_empty() {
            info!(written = ?written, "database password rotation");
        }
        backup_writes += written.len() + 1;
    }
    for notice in &rotation_notices {
        if let Err(error) = status::publish(&ctx.recorder, cr, &notice.event()).await {
            warn!(%error, reason = notice.reason, "cannot publish event");
        }
    }
    if rotation_status != SecretRotationStatus::default() {
        facts.secret_rotation = Some(rotation_status);
    }

    // backups: Jobs and status of Backup resources, retention
    if let Some((spec, managed)) = backups::enabled(cr) {
        let render_ctx = crate::resources::Context {
            cr,
            inputs: &inputs,
            owner: &owner,
        };
        // Boxed: the steps' futures are large, and the reconcile future holds them.
        let found = Box::pin(backups::reconcile(
            &ctx.reads,
            &render_ctx,
            spec,
            managed,
            observed.postgres_ready(),
            Timestamp::now(),
        ))
        .await?;
        if !found.writes.is_empty() {
            info!(written = ?found.writes, "backups");
        }
        for notice in &found.events {
            if let Err(error) = status::publish(&ctx.recorder, cr, &notice.event()).await {
                warn!(%error, reason = notice.reason, "cannot publish event");
            }
        }
        backup_writes = found.writes.len();
        if found.in_progress {
            backup_writes += 1;
        }
        let restored = Box::pin(restores::reconcile(
            &ctx.reads,
            &render_ctx,
            spec,
            managed,
            &restores,
            &found.backups,
            observed.deployment.as_ref(),
            restore_hold.as_deref(),
            Timestamp::now(),
        ))
        .await?;
        if !restored.writes.is_empty() {
            info!(written = ?restored.writes, "restores");
        }
        for notice in &restored.events {
            if let Err(error) = status::publish(&ctx.recorder, cr, &notice.event()).await {
                warn!(%error, reason = notice.reason, "cannot publish event");
            }
        }
        backup_writes += restored.writes.len() + usize::from(restored.active.is_some());
        facts.restoring = restored.active;
        // The single host's backup metrics, per platform: the same alert judges both.
        if let Some(last) = &found.last_success {
            let labels = ResourceLabels {
                namespace: owner.namespace.clone(),
                name: owner.name.clone(),
            };
            ctx.metrics
                .backup_last_success
                .get_or_create(&labels)
                .set(last.completion_time.0.as_second());
            let size = found
                .backups
                .iter()
                .find(|b| b.name_any() == last.name)
                .and_then(|b| b.status.as_ref()?.size_bytes);
            if let Some(size) = size {
                ctx.metrics
                    .backup_last_size
                    .get_or_create(&labels)
                    .set(size);
            }
        }
        facts.backups = Some(found);
    }
    // payments: the Stripe keys, and payments-check once per version of them
    if let Some(stripe) = &stripe_secret {
        let render_ctx = crate::resources::Context {
            cr,
            inputs: &inputs,
            owner: &owner,
        };
        let version = observed
            .running_version()
            .unwrap_or_else(|| cr.spec.version.clone());
        let previous_failure = cr
            .status
            .as_ref()
            .and_then(|s| {
                s.conditions
                    .iter()
                    .find(|c| c.type_ == status::PAYMENTS_READY)
            })
            .filter(|c| c.reason == "PaymentsCheckFailed")
            .map(|c| c.message.clone());
        let found = Box::pin(crate::payments::reconcile(
            &ctx.reads,
            &render_ctx,
            stripe,
            &version,
            previous_failure.as_deref(),
        ))
        .await?;
        if !found.writes.is_empty() {
            info!(written = ?found.writes, "payments");
        }
        for notice in &found.events {
            warn!(note = %notice.note, "payments check failed");
            if let Err(error) = status::publish(&ctx.recorder, cr, &notice.event()).await {
                warn!(%error, reason = notice.reason, "cannot publish event");
            }
        }
        // A running check is looked at again soon.
        backup_writes += found.writes.len()
            + usize::from(matches!(
                found.state,
                crate::payments::Payments::Checking(_)
            ));
        facts.payments = Some(found.state);
    }
    let moving = matches!(
        plan.migration,
        MigrationState::Running
            | MigrationState::WaitingForDatabase
            | MigrationState::BackingUp
            | MigrationState::WaitingForRestore { .. }
    ) || report.writes() > 0
        // A version under analysis has its pods' metrics read again soon.
        || matches!(observed.analysis, Some(analysis::State::Analysing { .. }))
        || backup_requested
        || backup_writes > 0
        // A CloudNativePG cluster coming up or failing over is looked at again soon: its
        // Cluster is not watched where CloudNativePG was installed after the operator started.
        || observed.cnpg.as_ref().is_some_and(|state| {
            !state.is_ready() && *state != crate::cnpg::ClusterState::NotInstalled
        });
    if let Some(problem) = report.volume_problem {
        facts.problem.get_or_insert(Problem::VolumeResize(problem));
    }
    if !report.failed.is_empty() && report.failed.iter().all(|f| namespace_terminating(f)) {
        info!("the namespace is being deleted; nothing to do");
        return Ok(Action::await_change());
    }
    let refused = report.failed.join("; ");
    if !refused.is_empty() {
        facts.problem = Some(Problem::ReconcileFailed(refused.clone()));
    }

    // update status
    facts.plan = Some(plan);
    let phase = update_status(&api, cr, ctx, &facts).await?;
    match final_progress {
        None if final_backup::has_finalizer(cr) && !final_backup::wanted(cr) => {
            // The status write moved the resourceVersion: the finalizer goes from a fresh read.
            if let Some(fresh) = api.get_opt(&cr.name_any()).await? {
                set_finalizer(ctx, &api, &fresh, false).await?;
            }
        }
        None => {}
        Some(final_backup::Progress::Completed { file }) => {
            info!(%file, "final backup completed; the deletion goes on");
            let event = kube::runtime::events::Event {
                type_: kube::runtime::events::EventType::Normal,
                reason: "FinalBackupCompleted".to_owned(),
                note: Some(format!(
                    "the final backup {} ({file}) has completed; the resource and its data are deleted now, the backup stays",
                    final_backup::backup_name(&owner)
                )),
                action: "Delete".to_owned(),
                secondary: None,
            };
            if let Err(error) = status::publish(&ctx.recorder, cr, &event).await {
                warn!(%error, "cannot publish event");
            }
            set_finalizer(ctx, &api, cr, false).await?;
            return Ok(Action::await_change());
        }
        Some(final_backup::Progress::Blocked(notice)) => {
            warn!(reason = notice.reason, "the deletion waits");
            if let Err(error) = status::publish(&ctx.recorder, cr, &notice.event()).await {
                warn!(%error, reason = notice.reason, "cannot publish event");
            }
            return Ok(Action::requeue(IDLE_REQUEUE));
        }
        Some(final_backup::Progress::Running) => return Ok(Action::requeue(PROGRESS_REQUEUE)),
    }
    if !refused.is_empty() {
        publish_failure(cr, ctx, &refused).await;
        return Err(Error::Refused(refused));
    }
    let settled = matches!(phase, Phase::Ready | Phase::Failed);
    let degraded = ctx.degraded_requeue(key(cr), phase == Phase::Degraded && !moving);
    let mut requeue = match degraded {
        Some(delay) => delay,
        None if moving || !settled => PROGRESS_REQUEUE,
        None => IDLE_REQUEUE,
    };
    // The earliest due action wins: a scheduled rotation or the end of a grace period sooner
    // than the periodic re-check.
    let rotation = facts.secret_rotation.as_ref().or(previous_rotation);
    let horizon = i64::try_from(requeue.as_secs()).unwrap_or(i64::MAX);
    if let Some(delay) = rotation::next_due(cr, rotation, stored, now.as_second(), horizon) {
        requeue = requeue.min(Duration::from_secs(delay.unsigned_abs().max(1)));
    }
    Ok(Action::requeue(requeue))
}

/// The `TooGoodToGo` an owned object belongs to, by its instance label.
fn instance_of<K: Resource>(object: &K) -> Option<ObjectRef<TooGoodToGo>> {
    let name = object
        .meta()
        .labels
        .as_ref()?
        .get("app.kubernetes.io/instance")?;
    let namespace = object.meta().namespace.clone().unwrap_or_default();
    Some(ObjectRef::new(name).within(&namespace))
}

/// The resources among `resources` that name the Secret `secret_name` in `namespace` (the bot
/// token, an external database's or Redis's URL, the Stripe keys).
fn referencing(
    resources: &[Arc<TooGoodToGo>],
    namespace: Option<&str>,
    secret_name: &str,
) -> Vec<ObjectRef<TooGoodToGo>> {
    resources
        .iter()
        .filter(|cr| cr.namespace().as_deref() == namespace)
        .filter(|cr| {
            dereference::referenced_secrets(cr)
                .iter()
                .any(|need| need.name == secret_name)
        })
        .map(|cr| ObjectRef::from_obj(cr.as_ref()))
        .collect()
}

/// A kind the controller watches into a store.
trait Watchable:
    Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Watchable for K where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

/// What a watch sees change, to trigger reconciles with.
type Changes<K> = futures::stream::BoxStream<'static, Result<K, watcher::Error>>;

/// The watches of one controller: one namespace, or all.
struct Watch<'a> {
    client: &'a Client,
    namespace: Option<&'a str>,
}

impl Watch<'_> {
    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match self.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    /// A watch of `K` that fills a store, and the changes it sees (deletions included) to
    /// trigger reconciles with. The store keeps only the operator's own field set of each
    /// object (what apply compares), not every manager's.
    fn owned<K>(&self, config: &watcher::Config) -> (reflector::Store<K>, Changes<K>)
    where
        K: Watchable,
    {
        self.watched(config, |object: &mut K| {
            object
                .managed_fields_mut()
                .retain(|entry| entry.manager.as_deref() == Some(FIELD_MANAGER));
        })
    }

    /// [`Self::owned`] for a kind kept as metadata only: its version and owner references.
    fn metadata<K>(
        &self,
        config: &watcher::Config,
    ) -> (
        reflector::Store<PartialObjectMeta<K>>,
        Changes<PartialObjectMeta<K>>,
    )
    where
        K: Watchable,
    {
        self.watched(config, |object: &mut PartialObjectMeta<K>| {
            object.managed_fields_mut().clear();
        })
    }

    fn watched<K>(
        &self,
        config: &watcher::Config,
        trim: fn(&mut K),
    ) -> (reflector::Store<K>, Changes<K>)
    where
        K: Watchable,
    {
        let (store, writer) = reflector::store();
        let changes = watcher(self.api::<K>(), config.clone())
            .default_backoff()
            .modify(trim)
            .reflect(writer)
            .touched_objects();
        (store, changes.boxed())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the {0} CRD is not installed or not readable (apply every file of crds/ first): {1}")]
    CrdMissing(&'static str, #[source] kube::Error),
}

/// Run the controller until the stream ends (shutdown signal). Owned objects are watched by
/// the operator's managed-by label, so editing or deleting one triggers a repair.
pub async fn run(ctx: Arc<Context>, namespace: Option<&str>) -> Result<(), RunError> {
    let client = ctx.client.clone();
    // Every watch fills a store before it triggers a reconcile: the reconcile reads the objects
    // from there (crate::cache).
    let watch = Watch {
        client: &client,
        namespace,
    };
    let resources: Api<TooGoodToGo> = watch.api();
    resources
        .list(&ListParams::default().limit(1))
        .await
        .map_err(|e| RunError::CrdMissing("TooGoodToGo", e))?;
    // Backups and Restores are watched: without their CRDs the watches would fail forever.
    watch
        .api::<Backup>()
        .list(&ListParams::default().limit(1))
        .await
        .map_err(|e| RunError::CrdMissing("Backup", e))?;
    watch
        .api::<Restore>()
        .list(&ListParams::default().limit(1))
        .await
        .map_err(|e| RunError::CrdMissing("Restore", e))?;
    let owned =
        watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={FIELD_MANAGER}"));
    // CloudNativePG Clusters are watched where CloudNativePG is installed, so that a failover
    // shows in the status as it happens; elsewhere a watch would fail forever. Installed later,
    // it is watched from the operator's next start (until then the reconcile looks again every
    // 15 s while a Cluster is not ready, and every 5 minutes once it is).
    let cnpg_installed = match crate::cnpg::installed(&client).await {
        Ok(installed) => installed,
        Err(error) => {
            warn!(%error, "cannot tell whether CloudNativePG is installed; its Clusters are not watched");
            false
        }
    };
    info!(
        namespace = namespace.unwrap_or("*"),
        cloudnativepg = cnpg_installed,
        "controller starting"
    );
    let controller = Controller::new(resources, watcher::Config::default());
    let platforms = controller.store();
    let (deployments, deployment_changes) = watch.owned::<Deployment>(&owned);
    let (stateful_sets, stateful_set_changes) = watch.owned::<StatefulSet>(&owned);
    let (jobs, job_changes) = watch.owned::<Job>(&owned);
    let (secrets, secret_changes) = watch.owned::<Secret>(&owned);
    // Kinds only apply and pruning read are kept as metadata (crate::cache).
    let (cron_jobs, cron_job_changes) = watch.metadata::<CronJob>(&owned);
    let (services, service_changes) = watch.metadata::<Service>(&owned);
    let (config_maps, config_map_changes) = watch.metadata::<ConfigMap>(&owned);
    let (ingresses, ingress_changes) = watch.metadata::<Ingress>(&owned);
    let (pod_disruption_budgets, pod_disruption_budget_changes) =
        watch.metadata::<PodDisruptionBudget>(&owned);
    let (horizontal_pod_autoscalers, horizontal_pod_autoscaler_changes) =
        watch.metadata::<HorizontalPodAutoscaler>(&owned);
    let (network_policies, network_policy_changes) = watch.metadata::<NetworkPolicy>(&owned);
    let (claims, claim_changes) = watch.owned::<PersistentVolumeClaim>(&owned);
    let all = watcher::Config::default();
    let (backups, backup_changes) = watch.owned::<Backup>(&all);
    let (restores, restore_changes) = watch.owned::<Restore>(&all);
    // Referenced Secrets are the user's and carry no label of ours. Their metadata is watched (no
    // values are cached), so a changed token or key reconciles every resource naming it at
    // once, and the new digest rolls the bot within seconds rather than at the next resync.
    let (secret_versions, secret_version_changes) = watch.metadata::<Secret>(&all);
    ctx.reads.register(
        namespace,
        Stores {
            deployments,
            stateful_sets,
            jobs,
            cron_jobs,
            backups,
            restores,
            services,
            config_maps,
            secrets,
            ingresses,
            pod_disruption_budgets,
            horizontal_pod_autoscalers,
            network_policies,
            claims,
            secret_versions,
        },
    );
    let controller = controller
        .watches_stream(secret_version_changes, move |secret| {
            referencing(
                &platforms.state(),
                secret.namespace().as_deref(),
                &secret.name_any(),
            )
        })
        .owns_stream(deployment_changes)
        .owns_stream(stateful_set_changes)
        // Jobs of Backups are owned by their Backup: every Job is mapped by its instance label.
        .watches_stream(job_changes, |job| instance_of(&job))
        .owns_stream(cron_job_changes)
        .watches_stream(backup_changes, |backup| {
            Some(
                ObjectRef::new(&backup.spec.toogoodtogo)
                    .within(&backup.namespace().unwrap_or_default()),
            )
        })
        .watches_stream(restore_changes, |restore| {
            Some(
                ObjectRef::new(&restore.spec.toogoodtogo)
                    .within(&restore.namespace().unwrap_or_default()),
            )
        })
        .owns_stream(service_changes)
        .owns_stream(config_map_changes)
        .owns_stream(secret_changes)
        .owns_stream(ingress_changes)
        .owns_stream(pod_disruption_budget_changes)
        .owns_stream(horizontal_pod_autoscaler_changes)
        .owns_stream(network_policy_changes)
        // The database volume is made by its StatefulSet, which does not own it.
        .watches_stream(claim_changes, |claim| instance_of(&claim));
    let controller = if cnpg_installed {
        let cluster = crate::resources::cnpg_cluster::resource();
        let clusters: Api<kube::api::DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &cluster),
            None => Api::all_with(client.clone(), &cluster),
        };
        // By the instance label: under deletionPolicy Retain the Cluster has no owner.
        controller.watches_with(clusters, cluster, owned, |cluster| instance_of(&cluster))
    } else {
        controller
    };
    let scheduling = kube::runtime::controller::Config::default()
        .concurrency(ctx.scheduling.concurrency)
        .debounce(ctx.scheduling.debounce);
    controller
        .with_config(scheduling)
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|result| {
            loop_result(&ctx, result);
            std::future::ready(())
        })
        .await;
    Ok(())
}

#[cfg(test)]
#[path = "controller_tests.rs"]
mod reconcile_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_secret_reconciles_exactly_the_resources_naming_it() {
        let platform = |namespace: &str, name: &str, token_secret: &str| {
            let mut cr = crate::testing::sample("minimal.yaml");
            cr.metadata.name = Some(name.to_owned());
            cr.metadata.namespace = Some(namespace.to_owned());
            cr.spec.telegram.token_secret_ref.name = token_secret.to_owned();
            Arc::new(cr)
        };
        let resources = [
            platform("shop", "a", "bot-token"),
            platform("shop", "b", "other-token"),
            platform("elsewhere", "c", "bot-token"),
        ];
        let names = |refs: Vec<ObjectRef<TooGoodToGo>>| {
            refs.into_iter()
                .map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(referencing(&resources, Some("shop"), "bot-token")),
            ["shop/a"]
        );
        assert!(referencing(&resources, Some("shop"), "tgtg-generated").is_empty());
    }

    #[test]
    fn every_error_reason_is_one_a_deleted_resource_forgets() {
        let errors = [
            Error::Refused(String::new()),
            Error::Build(BuildError::Serialize {
                kind: String::new(),
                name: String::new(),
                source: serde_json::Error::io(std::io::Error::other("x")),
            }),
            Error::Dereference(DereferenceError::MissingSecret {
                name: String::new(),
                field: "",
            }),
        ];
        for error in errors {
            assert!(
                crate::metrics::ERROR_REASONS.contains(&error.reason()),
                "{}",
                error.reason()
            );
        }
        assert!(crate::metrics::ERROR_REASONS.contains(&"api"));
    }

    #[tokio::test]
    async fn a_resource_the_controller_no_longer_finds_loses_its_metrics() {
        let (client, _server) = crate::testing::api_server::ApiServer::start();
        let ctx = Context::new(
            client,
            Arc::new(crate::generator::PlaceholderGenerator),
            Arc::new(Metrics::default()),
            None,
        );
        let labels = ResourceLabels {
            namespace: "shop".to_owned(),
            name: "tgtg".to_owned(),
        };
        ctx.metrics
            .backup_last_success
            .get_or_create(&labels)
            .set(1);
        let gone = ObjectRef::<TooGoodToGo>::new("tgtg").within("shop").erase();
        loop_result(
            &ctx,
            Err(kube::runtime::controller::Error::ObjectNotFound(Box::new(
                gone,
            ))),
        );
        assert!(!ctx.metrics.render().contains("name=\"tgtg\""));
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let delays: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }
}
