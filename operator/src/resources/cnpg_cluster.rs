//! The CloudNativePG `Cluster` of `spec.database.cloudNativePG`: a primary and streaming
//! replicas that CloudNativePG runs, fails over and backs up. Rendered as a dynamic object (no
//! CloudNativePG crate): the fields follow the `postgresql.cnpg.io/v1` API of
//! [`TARGET_RELEASE`], and a test checks every rendered field against the subset of that API
//! the operator uses (`tests/cnpg/cluster-v1.25.schema.json`).
//!
//! CloudNativePG creates, for a Cluster named `<name>-cnpg`: the Service `<name>-cnpg-rw` that
//! follows the primary, the Secret `<name>-cnpg-app` of the database owner (`username`,
//! `password`, `uri`, ...), and with `enableSuperuserAccess` the Secret `<name>-cnpg-superuser`.
//! Its pods carry the label `cnpg.io/cluster: <name>-cnpg`.

use kube::api::{ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use serde_json::{Map, Value, json};

use super::{Context, pod};
use crate::crd::{CloudNativePgDatabase, DeletionPolicy};
use crate::names::{BOT_DATABASE, BOT_DATABASE_USER, Component};

pub const GROUP: &str = "postgresql.cnpg.io";
pub const VERSION: &str = "v1";
pub const KIND: &str = "Cluster";
pub const PLURAL: &str = "clusters";
/// The CloudNativePG release whose `Cluster` API this render follows.
pub const TARGET_RELEASE: &str = "1.25";
/// CloudNativePG's PostgreSQL operand images.
pub const IMAGE_REPOSITORY: &str = "ghcr.io/cloudnative-pg/postgresql";
/// Label CloudNativePG puts on every pod of a Cluster, with the Cluster's name.
pub const CLUSTER_LABEL: &str = "cnpg.io/cluster";
/// Keys of CloudNativePG's basic-auth Secrets (`<cluster>-app`, `<cluster>-superuser`).
pub const USERNAME_KEY: &str = "username";
pub const PASSWORD_KEY: &str = "password";
/// Key of the owner's connection URI (to the `-rw` Service) in the `<cluster>-app` Secret.
pub const URI_KEY: &str = "uri";
/// How to install CloudNativePG, for the condition of a resource that asks for it without it.
pub const INSTALL_HINT: &str = "install the CloudNativePG operator (e.g. kubectl apply --server-side -f https://raw.githubusercontent.com/cloudnative-pg/cloudnative-pg/release-1.25/releases/cnpg-1.25.1.yaml, or its Helm chart cnpg/cloudnative-pg)";

/// The `Cluster` kind (a CRD that may not be installed).
pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, VERSION, KIND), PLURAL)
}

/// The operand image of `postgresVersion`.
pub fn image(cnpg: &CloudNativePgDatabase) -> String {
    format!("{IMAGE_REPOSITORY}:{}", cnpg.postgres_version)
}

/// The `Cluster`. Under the default `deletionPolicy: Retain` it is not owned by the resource,
/// since CloudNativePG deletes the instances' volumes with their Cluster: like the managed
/// database's volume, it survives the resource, labelled with its name, and a resource created
/// again with that name adopts it.
pub fn build(ctx: &Context, cnpg: &CloudNativePgDatabase) -> DynamicObject {
    let owner = ctx.owner;
    let name = owner.cnpg_cluster();
    let mut object = DynamicObject::new(&name, &resource());
    object.metadata = owner.metadata(name, Component::Database);
    if ctx.cr.deletion_policy() == DeletionPolicy::Retain {
        object.metadata.owner_references = None;
    }
    let mut storage = Map::from_iter([("size".to_owned(), json!(cnpg.storage.size))]);
    if let Some(class) = &cnpg.storage.storage_class_name {
        storage.insert("storageClass".to_owned(), json!(class));
    }
    let resources = pod::resources_or(cnpg.resources.as_ref(), "100m", "256Mi", "1Gi");
    let mut spec = Map::from_iter([
        ("instances".to_owned(), json!(cnpg.instances)),
        ("imageName".to_owned(), json!(image(cnpg))),
        // The operator's restore dry run creates and drops a scratch database as the
        // superuser; nothing else uses it, and the bot never gets it.
        ("enableSuperuserAccess".to_owned(), json!(true)),
        (
            "bootstrap".to_owned(),
            json!({"initdb": {"database": BOT_DATABASE, "owner": BOT_DATABASE_USER}}),
        ),
        ("storage".to_owned(), Value::Object(storage)),
        (
            "resources".to_owned(),
            serde_json::to_value(resources).unwrap_or(Value::Null),
        ),
    ]);
    if let Some(backup) = &cnpg.backup {
        let mut passed = Map::new();
        if let Some(store) = &backup.barman_object_store {
            passed.insert("barmanObjectStore".to_owned(), store.clone());
        }
        if let Some(snapshot) = &backup.volume_snapshot {
            passed.insert("volumeSnapshot".to_owned(), snapshot.clone());
        }
        if let Some(retention) = &backup.retention_policy {
            passed.insert("retentionPolicy".to_owned(), json!(retention));
        }
        spec.insert("backup".to_owned(), Value::Object(passed));
    }
    object.data = json!({ "spec": spec });
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{GeneratedValues, Inputs};
    use crate::crd::TooGoodToGo;
    use crate::names::Owner;

    /// The subset of CloudNativePG's `Cluster` API (release [`TARGET_RELEASE`]) the render uses.
    fn subset_schema() -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/cnpg/cluster-v1.25.schema.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn platform(spec: Value) -> TooGoodToGo {
        let cr = json!({
            "apiVersion": "toogoodtogo.io/v1alpha1", "kind": "TooGoodToGo",
            "metadata": {"name": "tgtg", "namespace": "shop", "uid": "cr-uid"},
            "spec": {
                "version": "1.4.2",
                "telegram": {"tokenSecretRef": {"name": "t", "key": "token"}},
                "redis": {"managed": {}},
                "database": {"cloudNativePG": spec},
            }
        });
        serde_json::from_value(cr).unwrap_or_else(|e| panic!("{e}"))
    }

    fn render(cr: &TooGoodToGo) -> Value {
        let inputs = Inputs::offline(
            cr,
            GeneratedValues {
                secret_key: "k".to_owned(),
                webhook_secret_token: "t".to_owned(),
                secret_key_previous: None,
                webhook_secret_token_previous: None,
                key_ring: Default::default(),
                token_record: Default::default(),
                postgres: None,
                redis_password: Some("r".to_owned()),
            },
            "digest".to_owned(),
        );
        let owner = Owner::of(cr);
        let ctx = Context {
            cr,
            inputs: &inputs,
            owner: &owner,
        };
        let Some(cnpg) = cr.spec.database.cloud_native_pg.as_ref() else {
            panic!("no cloudNativePG in the sample");
        };
        serde_json::to_value(build(&ctx, cnpg)).unwrap_or_default()
    }

    fn subset_errors(rendered: &Value) -> Vec<String> {
        let schema = subset_schema();
        let validator = match jsonschema::validator_for(&schema) {
            Ok(v) => v,
            Err(e) => panic!("the subset is not a valid JSON schema: {e}"),
        };
        validator
            .iter_errors(rendered)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect()
    }

    fn full() -> TooGoodToGo {
        platform(json!({
            "instances": 3,
            "postgresVersion": "16.6",
            "storage": {"size": "20Gi", "storageClassName": "fast-ssd"},
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
            "backup": {
                "retentionPolicy": "30d",
                "barmanObjectStore": {
                    "destinationPath": "s3://tgtg-backups/",
                    "s3Credentials": {
                        "accessKeyId": {"name": "tgtg-s3", "key": "ACCESS_KEY_ID"},
                        "secretAccessKey": {"name": "tgtg-s3", "key": "ACCESS_SECRET_KEY"}
                    },
                    "wal": {"compression": "gzip"}
                },
                "volumeSnapshot": {"className": "csi-snapclass"}
            }
        }))
    }

    #[test]
    fn every_rendered_field_is_in_the_cloudnativepg_api_subset() {
        let minimal = platform(json!({"storage": {"size": "10Gi"}}));
        for cr in [full(), minimal] {
            let rendered = render(&cr);
            assert_eq!(
                subset_errors(&rendered),
                Vec::<String>::new(),
                "{rendered:#}"
            );
        }
    }

    /// The subset is strict: a field the API does not have (a typo, a field of another
    /// release) fails the check above rather than being ignored by the API server.
    #[test]
    fn the_subset_refuses_a_field_cloudnativepg_does_not_have() {
        let mut rendered = render(&full());
        rendered["spec"]["storage"]["storageClassName"] = json!("fast-ssd");
        rendered["spec"]["bootstrap"]["initdb"]["databaseName"] = json!("x");
        let errors = subset_errors(&rendered);
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn the_cluster_bootstraps_the_bots_database_owned_by_the_bots_role() {
        let rendered = render(&full());
        assert_eq!(rendered["apiVersion"], "postgresql.cnpg.io/v1");
        assert_eq!(rendered["kind"], "Cluster");
        assert_eq!(rendered["metadata"]["name"], "tgtg-cnpg");
        let spec = &rendered["spec"];
        assert_eq!(
            spec["bootstrap"]["initdb"],
            json!({"database": BOT_DATABASE, "owner": BOT_DATABASE_USER})
        );
        assert_eq!(spec["instances"], 3);
        assert_eq!(spec["imageName"], "ghcr.io/cloudnative-pg/postgresql:16.6");
        assert_eq!(
            spec["storage"],
            json!({"size": "20Gi", "storageClass": "fast-ssd"})
        );
        assert_eq!(spec["resources"]["limits"]["memory"], "2Gi");
        assert_eq!(spec["backup"]["retentionPolicy"], "30d");
        assert_eq!(
            spec["backup"]["barmanObjectStore"]["wal"]["compression"], "gzip",
            "the object store settings pass through untouched"
        );
        assert_eq!(
            spec["backup"]["volumeSnapshot"]["className"],
            "csi-snapclass"
        );
    }

    #[test]
    fn defaults_are_three_instances_of_postgresql_16_without_cloudnativepg_backups() {
        let rendered = render(&platform(json!({"storage": {"size": "10Gi"}})));
        let spec = &rendered["spec"];
        assert_eq!(spec["instances"], 3);
        assert_eq!(spec["imageName"], "ghcr.io/cloudnative-pg/postgresql:16");
        assert_eq!(spec.get("backup"), None);
        assert_eq!(spec["storage"], json!({"size": "10Gi"}));
    }

    #[test]
    fn only_deletion_policy_delete_or_backup_lets_the_cluster_go_with_the_resource() {
        let owned = |policy: &str| {
            let mut cr = full();
            cr.spec.deletion_policy =
                serde_json::from_value(json!(policy)).unwrap_or_else(|e| panic!("{e}"));
            render(&cr)["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == "cr-uid"))
        };
        assert!(!owned("Retain"));
        assert!(owned("Delete"));
        assert!(owned("Backup"));
        let labels = &render(&full())["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/instance"], "tgtg");
        assert_eq!(labels["app.kubernetes.io/component"], "database");
    }
}
