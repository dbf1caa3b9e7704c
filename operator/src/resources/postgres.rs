//! The managed single-instance PostgreSQL: a StatefulSet with one PVC, a headless Service, an
//! init script that creates the bot's own role and database, and two generated credentials (a
//! superuser for operator Jobs only, and the bot's role).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, ExecAction, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext,
    PodSpec, PodTemplateSpec, Probe, Secret, SecretKeySelector, Service, ServicePort, ServiceSpec,
    Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Context;
use super::pod::{
    self, POSTGRES_BOT_PASSWORD_KEY, POSTGRES_PENDING_PASSWORD_KEY,
    POSTGRES_SUPERUSER_PASSWORD_KEY, POSTGRES_USER_KEY,
};
use super::secret::bytes;
use crate::crd::{DeletionPolicy, ManagedDatabase};
use crate::names::{BOT_DATABASE, BOT_DATABASE_USER, Component, POSTGRES_PORT};

/// UID of the `postgres` user in the official Alpine images.
const POSTGRES_UID: i64 = 70;
const SUPERUSER: &str = "postgres";
const DATA_DIR: &str = "/var/lib/postgresql/data";
/// Size of the memory-backed `/dev/shm` (counted against the pod's memory limit when used).
const SHM_SIZE: &str = "256Mi";
/// How long a starting database may take (crash recovery replays WAL) before liveness applies:
/// `STARTUP_PROBE_PERIOD` times `STARTUP_PROBE_FAILURES` seconds.
const STARTUP_PROBE_PERIOD: i32 = 5;
const STARTUP_PROBE_FAILURES: i32 = 120;

/// Runs once, when the data directory is initialised. Variables reach SQL through psql's
/// `:'var'` quoting, so a password can never break out of its literal. The owner role owns the
/// database; after a password rotation the bot logs in as a login role acting as the owner
/// (see `deployment/scripts/lib/pg-roles.sh`), which a re-initialised volume needs too.
const INIT_SCRIPT: &str = r#"#!/bin/sh
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set=owner="$BOT_OWNER" --set=bot_user="$BOT_USER" --set=bot_password="$BOT_PASSWORD" \
  --set=bot_db="$BOT_DB" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'bot_password';
CREATE DATABASE :"bot_db" OWNER :"owner";
REVOKE ALL ON DATABASE :"bot_db" FROM PUBLIC;
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I', :'bot_user', :'bot_password', :'owner')
WHERE :'bot_user' <> :'owner' \gexec
SELECT format('ALTER ROLE %I SET role = %L', :'bot_user', :'owner')
WHERE :'bot_user' <> :'owner' \gexec
SQL
"#;

pub fn credentials(ctx: &Context) -> Secret {
    let owner = ctx.owner;
    let mut data = BTreeMap::from([
        (POSTGRES_USER_KEY.to_owned(), bytes(BOT_DATABASE_USER)),
        ("superuser".to_owned(), bytes(SUPERUSER)),
        ("owner".to_owned(), bytes(BOT_DATABASE_USER)),
    ]);
    if let Some(pg) = &ctx.inputs.generated.postgres {
        data.insert(POSTGRES_USER_KEY.to_owned(), bytes(&pg.bot_user));
        // Empty rather than absent, so that clearing it is a change the apply step writes.
        data.insert(
            POSTGRES_PENDING_PASSWORD_KEY.to_owned(),
            bytes(pg.pending_password.as_deref().unwrap_or_default()),
        );
        data.insert(
            POSTGRES_BOT_PASSWORD_KEY.to_owned(),
            bytes(&pg.bot_password),
        );
        data.insert(
            POSTGRES_SUPERUSER_PASSWORD_KEY.to_owned(),
            bytes(&pg.superuser_password),
        );
    }
    let mut metadata = owner.metadata(owner.postgres_credentials(), Component::Database);
    if let Some(pg) = &ctx.inputs.generated.postgres {
        // The password rotation's state, written with the passwords it is about.
        let annotations = pg.record.annotations();
        if !annotations.is_empty() {
            metadata.annotations = Some(annotations);
        }
        // Written only over the Secret as it was read: a write in between (a second operator
        // replica starting a rotation with another password) makes this one fail, not win.
        metadata
            .resource_version
            .clone_from(&pg.record.resource_version);
    }
    // Kept with the data volume: the database only knows these passwords.
    if ctx.cr.deletion_policy() == DeletionPolicy::Retain {
        metadata.owner_references = None;
    }
    Secret {
        metadata,
        type_: Some("Opaque".to_owned()),
        data: Some(data),
        ..Secret::default()
    }
}

pub fn init_script(ctx: &Context) -> ConfigMap {
    let owner = ctx.owner;
    ConfigMap {
        metadata: owner.metadata(owner.postgres_init(), Component::Database),
        data: Some(BTreeMap::from([(
            "10-bot-role.sh".to_owned(),
            INIT_SCRIPT.to_owned(),
        )])),
        ..ConfigMap::default()
    }
}

/// Headless: the StatefulSet's pod gets a stable DNS name and clients connect to it directly.
pub fn service(ctx: &Context) -> Service {
    let owner = ctx.owner;
    Service {
        metadata: owner.metadata(owner.postgres(), Component::Database),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            selector: Some(owner.selector_labels(Component::Database)),
            ports: Some(vec![ServicePort {
                name: Some("postgres".to_owned()),
                port: POSTGRES_PORT,
                target_port: Some(IntOrString::String("postgres".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: None,
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn plain_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    }
}

pub fn image(managed: &ManagedDatabase) -> String {
    managed
        .image
        .clone()
        .unwrap_or_else(|| format!("postgres:{}-alpine", managed.version.as_str()))
}

pub fn stateful_set(ctx: &Context, managed: &ManagedDatabase) -> StatefulSet {
    let owner = ctx.owner;
    let credentials = owner.postgres_credentials();
    let (run_volume, run_mount) = pod::scratch_volume("run", "/var/run/postgresql");
    let (tmp_volume, tmp_mount) = pod::scratch_volume("tmp", "/tmp");
    // PostgreSQL's dynamic shared memory (parallel queries) lives in /dev/shm, which a container
    // gets as 64 MiB only; in memory, as on a host.
    let (mut shm_volume, shm_mount) = pod::scratch_volume("shm", "/dev/shm");
    shm_volume.empty_dir = Some(EmptyDirVolumeSource {
        medium: Some("Memory".to_owned()),
        size_limit: Some(Quantity(SHM_SIZE.to_owned())),
        ..EmptyDirVolumeSource::default()
    });
    let ready_probe = |period: i32, failures: i32| Probe {
        exec: Some(ExecAction {
            command: Some(vec![
                "pg_isready".to_owned(),
                "--username".to_owned(),
                SUPERUSER.to_owned(),
                "--host".to_owned(),
                "127.0.0.1".to_owned(),
            ]),
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(5),
        ..Probe::default()
    };
    // The claim template is immutable: keep the size it was created with; a resize goes to the
    // PVC itself (see the apply step).
    let claim_size = ctx
        .inputs
        .postgres_claim_template_size
        .clone()
        .unwrap_or_else(|| managed.storage.size.clone());

    let env = vec![
        plain_env("POSTGRES_USER", SUPERUSER),
        secret_env(
            "POSTGRES_PASSWORD",
            &credentials,
            POSTGRES_SUPERUSER_PASSWORD_KEY,
        ),
        plain_env("BOT_OWNER", BOT_DATABASE_USER),
        secret_env("BOT_USER", &credentials, POSTGRES_USER_KEY),
        plain_env("BOT_DB", BOT_DATABASE),
        secret_env("BOT_PASSWORD", &credentials, POSTGRES_BOT_PASSWORD_KEY),
        // A subdirectory, because the volume root may hold lost+found.
        plain_env("PGDATA", &format!("{DATA_DIR}/pgdata")),
    ];
    // The data, the socket directory and /tmp: the main container also mounts the init scripts.
    let mounts = vec![
        VolumeMount {
            name: "data".to_owned(),
            mount_path: DATA_DIR.to_owned(),
            ..VolumeMount::default()
        },
        run_mount,
        tmp_mount,
    ];

    StatefulSet {
        metadata: owner.metadata(owner.postgres(), Component::Database),
        spec: StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(owner.postgres()),
            // The data volume outlives the StatefulSet unless spec.deletionPolicy is Delete; a
            // StatefulSet of the same name (the resource created again) mounts it again.
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(
                        match ctx.cr.deletion_policy() {
                            DeletionPolicy::Retain => "Retain",
                            DeletionPolicy::Delete | DeletionPolicy::Backup => "Delete",
                        }
                        .to_owned(),
                    ),
                    when_scaled: Some("Retain".to_owned()),
                },
            ),
            selector: owner.selector(Component::Database),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(owner.labels(Component::Database)),
                    // Changing it restarts the database, whose new pod sets the passwords.
                    annotations: ctx.inputs.credentials_sync.as_ref().map(|uid| {
                        BTreeMap::from([(
                            crate::credentials_sync::TEMPLATE_ANNOTATION.to_owned(),
                            uid.clone(),
                        )])
                    }),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(PodSecurityContext {
                        // A large data volume is not chowned file by file on every start.
                        fs_group_change_policy: Some("OnRootMismatch".to_owned()),
                        ..pod::pod_security_context(POSTGRES_UID)
                    }),
                    termination_grace_period_seconds: Some(60),
                    init_containers: ctx.inputs.credentials_sync.as_ref().map(|_| {
                        vec![Container {
                            name: crate::credentials_sync::CONTAINER.to_owned(),
                            image: Some(image(managed)),
                            command: Some(vec![
                                "sh".to_owned(),
                                "-c".to_owned(),
                                crate::credentials_sync::SCRIPT.to_owned(),
                            ]),
                            env: Some(env.clone()),
                            resources: Some(pod::resources_or(
                                managed.resources.as_ref(),
                                "100m",
                                "256Mi",
                                "1Gi",
                            )),
                            security_context: Some(pod::container_security_context()),
                            volume_mounts: Some(mounts.clone()),
                            ..Container::default()
                        }]
                    }),
                    containers: vec![Container {
                        name: "postgres".to_owned(),
                        image: Some(image(managed)),
                        ports: Some(vec![ContainerPort {
                            name: Some("postgres".to_owned()),
                            container_port: POSTGRES_PORT,
                            protocol: Some("TCP".to_owned()),
                            ..ContainerPort::default()
                        }]),
                        env: Some(env),
                        resources: Some(pod::resources_or(
                            managed.resources.as_ref(),
                            "100m",
                            "256Mi",
                            "1Gi",
                        )),
                        // Liveness starts only once the database answered: a long recovery
                        // is not killed and restarted from the beginning.
                        startup_probe: Some(ready_probe(
                            STARTUP_PROBE_PERIOD,
                            STARTUP_PROBE_FAILURES,
                        )),
                        readiness_probe: Some(ready_probe(5, 3)),
                        liveness_probe: Some(ready_probe(15, 6)),
                        security_context: Some(pod::container_security_context()),
                        volume_mounts: Some({
                            let mut all = mounts;
                            all.insert(
                                1,
                                VolumeMount {
                                    name: "init".to_owned(),
                                    mount_path: "/docker-entrypoint-initdb.d".to_owned(),
                                    read_only: Some(true),
                                    ..VolumeMount::default()
                                },
                            );
                            all.push(shm_mount);
                            all
                        }),
                        ..Container::default()
                    }],
                    volumes: Some(vec![
                        Volume {
                            name: "init".to_owned(),
                            config_map: Some(ConfigMapVolumeSource {
                                name: owner.postgres_init(),
                                ..ConfigMapVolumeSource::default()
                            }),
                            ..Volume::default()
                        },
                        run_volume,
                        tmp_volume,
                        shm_volume,
                    ]),
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".to_owned()),
                    labels: Some(owner.labels(Component::Database)),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                    storage_class_name: managed.storage.storage_class_name.clone(),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_owned(),
                            Quantity(claim_size),
                        )])),
                        limits: None,
                    }),
                    ..PersistentVolumeClaimSpec::default()
                }),
                status: None,
            }]),
            ..StatefulSetSpec::default()
        },
        status: None,
    }
}
