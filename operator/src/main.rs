//! `toogoodtogo-operator`: run the controller, print the CRD or the install manifests, or render
//! a resource offline.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use toogoodtogo_operator::controller::Context;
use toogoodtogo_operator::generator::RandomGenerator;
use toogoodtogo_operator::install::{self, InstallOptions};
use toogoodtogo_operator::leader::{LeaseLock, Timing};
use toogoodtogo_operator::metrics::Metrics;
use toogoodtogo_operator::scope::{self, WatchScope};
use toogoodtogo_operator::{crd, offline, server};
use tracing::{error, info};

#[derive(Parser)]
#[command(name = "toogoodtogo-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller (all namespaces unless --namespace).
    Run {
        /// Watch only these namespaces (repeat the flag or separate them with commas).
        #[arg(
            long,
            alias = "namespaces",
            env = "WATCH_NAMESPACE",
            value_delimiter = ','
        )]
        namespace: Vec<String>,
        /// Address of /healthz, /readyz and /metrics.
        #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8080")]
        listen: SocketAddr,
        /// Name of the leader-election Lease.
        #[arg(long, default_value = "toogoodtogo-operator")]
        lease_name: String,
        /// Namespace of the Lease (the operator's own).
        #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
        lease_namespace: String,
        /// Identity in the Lease; defaults to the pod name.
        #[arg(long, env = "POD_NAME")]
        identity: Option<String>,
        /// Reconcile without a Lease (a single replica, or local development).
        #[arg(long)]
        no_leader_election: bool,
        #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "json")]
        log_format: LogFormat,
    },
    /// Print the CustomResourceDefinitions (TooGoodToGo, Backup, Restore) as YAML.
    Crd,
    /// Print the complete install (Namespace, CRD, ServiceAccount, RBAC, Deployment, metrics
    /// Service) for `kubectl apply -f`.
    Manifests {
        /// Namespace of the operator (its Deployment, ServiceAccount and leader Lease).
        #[arg(long, default_value = install::DEFAULT_NAMESPACE)]
        namespace: String,
        /// Operator image; defaults to toogoodtogo/operator:<this version>.
        #[arg(long)]
        image: Option<String>,
        /// Watch only these namespaces (a Role in each instead of a ClusterRole; repeat the flag
        /// or separate them with commas).
        #[arg(long, alias = "watch-namespaces", value_delimiter = ',')]
        watch_namespace: Vec<String>,
    },
    /// Print every object the operator would apply for a resource, without a cluster.
    Render {
        /// The TooGoodToGo manifest.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        /// Directory of Secret manifests for the referenced Secrets; placeholders without it.
        #[arg(long)]
        secrets: Option<PathBuf>,
    },
}

/// SIGTERM (pod deletion) or Ctrl-C. The controller has its own handler once it runs.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

fn default_identity() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let host = if host.is_empty() {
        "toogoodtogo-operator".to_owned()
    } else {
        host
    };
    format!("{host}-{}", std::process::id())
}

async fn run(
    scope: WatchScope,
    listen: SocketAddr,
    lease_name: String,
    lease_namespace: String,
    identity: Option<String>,
    leader_election: bool,
) -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let watches = Arc::new(toogoodtogo_operator::watch_health::WatchHealth::default());
    let health = server::Health {
        ready: ready.clone(),
        metrics: metrics.clone(),
        watches: watches.clone(),
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    info!(%listen, "serving /healthz, /readyz and /metrics");
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, server::router(health)).await {
            error!(%error, "health server stopped");
        }
    });

    let identity = identity.unwrap_or_else(default_identity);
    let mut ctx = Context::new(
        client.clone(),
        Arc::new(RandomGenerator),
        metrics.clone(),
        Some(identity.clone()),
    );
    ctx.watches = watches;
    let ctx = Arc::new(ctx);

    if !leader_election {
        ready.store(true, Ordering::Relaxed);
        scope::run(ctx, &scope).await?;
        return Ok(());
    }

    let lock = LeaseLock::new(
        Api::<Lease>::namespaced(client, &lease_namespace),
        lease_name,
        identity,
        Timing::default(),
    );
    // A standby replica is healthy and ready: it is there to take over.
    ready.store(true, Ordering::Relaxed);
    tokio::select! {
        () = lock.acquire() => {}
        () = shutdown_signal() => {
            info!("stopping before becoming leader");
            return Ok(());
        }
    }
    metrics.leader.set(1);
    tokio::select! {
        result = scope::run(ctx, &scope) => {
            metrics.leader.set(0);
            if let Err(error) = lock.release().await {
                error!(%error, "cannot release the leader lease");
            }
            result?;
            info!("controller stopped");
            Ok(())
        }
        () = lock.hold() => {
            // Exit so that no reconcile runs without the lease; the pod restarts as a follower.
            metrics.leader.set(0);
            bail!("lost the leader lease")
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let output = match cli.command {
        Command::Run {
            namespace,
            listen,
            lease_name,
            lease_namespace,
            identity,
            no_leader_election,
            log_format,
        } => {
            toogoodtogo_operator::telemetry::init(matches!(log_format, LogFormat::Json));
            let scope = WatchScope::parse(&namespace).context("--namespace / WATCH_NAMESPACE")?;
            return run(
                scope,
                listen,
                lease_name,
                lease_namespace,
                identity,
                !no_leader_election,
            )
            .await;
        }
        Command::Crd => crd::all_crds_yaml().context("serializing the CRDs")?,
        Command::Manifests {
            namespace,
            image,
            watch_namespace,
        } => install::manifests_yaml(&InstallOptions {
            namespace,
            image: image.unwrap_or_else(install::default_image),
            scope: WatchScope::parse(&watch_namespace).context("--watch-namespace")?,
        })?,
        Command::Render { file, secrets } => {
            let cr = offline::parse_resource(&file)?;
            let secrets = match secrets {
                Some(dir) => offline::load_secrets(&dir)?,
                None => offline::placeholder_secrets(&cr),
            };
            offline::render_yaml(&cr, &secrets).await?
        }
    };
    std::io::stdout()
        .write_all(output.as_bytes())
        .context("writing to stdout")?;
    Ok(())
}
