//! Names and labels of the objects owned by one `TooGoodToGo`, in one place so that render,
//! apply and status agree on them.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};

use crate::crd::TooGoodToGo;

/// Field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "toogoodtogo-operator";
/// Label that lets a pod reach the managed PostgreSQL and Redis through their NetworkPolicies.
pub const DATABASE_CLIENT_LABEL: &str = "toogoodtogo.io/database-client";
/// Pod-template annotation with a digest of configuration and secrets: a change rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "toogoodtogo.io/config-hash";
/// Path the bot serves Telegram's webhook on.
pub const WEBHOOK_PATH: &str = "/webhook";
/// Path the bot serves Stripe's webhook on (`POST`; the bot's `/stripe/webhook` route).
pub const STRIPE_WEBHOOK_PATH: &str = "/stripe/webhook";
/// HTTP port of the bot (webhook, probes, metrics).
pub const BOT_PORT: i32 = 8000;
pub const POSTGRES_PORT: i32 = 5432;
pub const REDIS_PORT: i32 = 6379;
/// Database and login role of the bot in the managed PostgreSQL.
pub const BOT_DATABASE: &str = "toogoodtogo";
pub const BOT_DATABASE_USER: &str = "toogoodtogo";

/// The part of the platform an object belongs to (`app.kubernetes.io/component`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Bot,
    Migration,
    Database,
    Cache,
    Config,
    Backup,
    Restore,
    PaymentsCheck,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::Migration => "migration",
            Self::Database => "database",
            Self::Cache => "cache",
            Self::Config => "config",
            Self::Backup => "backup",
            Self::Restore => "restore",
            Self::PaymentsCheck => "payments-check",
        }
    }
}

/// Name of the Job that runs one `Backup`, one restore step, or one check: `base` when it is a
/// valid DNS label, else a shortened `base` with a digest of it.
pub fn job_name(base: &str) -> String {
    let valid = base.len() <= 63
        && base
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && base.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        return base.to_owned();
    }
    let sanitized: String = base
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    dns_label(
        sanitized.trim_matches('-'),
        &crate::digest::short_hex(base.as_bytes()),
    )
}

/// `<prefix>-<suffix>` cut to 63 characters by shortening the prefix.
fn dns_label(prefix: &str, suffix: &str) -> String {
    let keep = 63usize.saturating_sub(suffix.len() + 1);
    let mut prefix: String = prefix.chars().take(keep).collect();
    while prefix.ends_with(['-', '.']) {
        prefix.pop();
    }
    format!("{prefix}-{suffix}")
}

/// Names, labels and ownership shared by every object rendered for one resource.
#[derive(Clone, Debug)]
pub struct Owner {
    pub name: String,
    pub namespace: String,
    owner_reference: Option<OwnerReference>,
}

impl Owner {
    pub fn of(cr: &TooGoodToGo) -> Self {
        Self {
            name: cr.name_any(),
            namespace: cr.namespace().unwrap_or_else(|| "default".to_owned()),
            // Without a uid (offline render of a file) there is nothing to own by.
            owner_reference: cr.controller_owner_ref(&()).filter(|r| !r.uid.is_empty()),
        }
    }

    pub fn config_map(&self) -> String {
        format!("{}-config", self.name)
    }
    pub fn generated_secret(&self) -> String {
        format!("{}-generated", self.name)
    }
    pub fn postgres_credentials(&self) -> String {
        format!("{}-postgres-credentials", self.name)
    }
    pub fn postgres_init(&self) -> String {
        format!("{}-postgres-init", self.name)
    }
    pub fn bot(&self) -> String {
        format!("{}-bot", self.name)
    }
    pub fn postgres(&self) -> String {
        format!("{}-postgres", self.name)
    }
    pub fn redis(&self) -> String {
        format!("{}-redis", self.name)
    }
    /// The CloudNativePG `Cluster` (also the prefix of what CloudNativePG creates for it).
    pub fn cnpg_cluster(&self) -> String {
        format!("{}-cnpg", self.name)
    }
    /// CloudNativePG's Service that always points at the current primary.
    pub fn cnpg_primary_service(&self) -> String {
        format!("{}-rw", self.cnpg_cluster())
    }
    /// CloudNativePG's Secret of the database owner (`username`, `password`, `uri`, ...).
    pub fn cnpg_app_secret(&self) -> String {
        format!("{}-app", self.cnpg_cluster())
    }
    /// CloudNativePG's Secret of the `postgres` superuser (`enableSuperuserAccess`).
    pub fn cnpg_superuser_secret(&self) -> String {
        format!("{}-superuser", self.cnpg_cluster())
    }
    /// The PVC the StatefulSet's claim template creates for its only pod.
    pub fn postgres_data_claim(&self) -> String {
        format!("data-{}-0", self.postgres())
    }
    /// The volume backups are kept on.
    pub fn backup_claim(&self) -> String {
        format!("{}-backups", self.name)
    }
    /// The ConfigMap holding `pg-backup.sh` for the backup, prune and restore Jobs.
    pub fn backup_script(&self) -> String {
        format!("{}-backup-script", self.name)
    }
    /// The CronJob of the scheduled backups.
    pub fn backup_cron_job(&self) -> String {
        format!("{}-backup", self.name)
    }
    /// The Job that deletes the backup files retention chose.
    pub fn prune_job(&self, files: &[String]) -> String {
        let digest = crate::digest::short_hex(files.join("\n").as_bytes());
        dns_label(&format!("{}-backup-prune", self.name), &digest)
    }
    /// The Backup taken before version `version` is deployed by the spec of `generation`: a
    /// version deployed again later (after going back) gets a fresh backup.
    pub fn pre_deployment_backup(&self, version: &str, generation: i64) -> String {
        let digest = crate::digest::short_hex(format!("{version}/{generation}").as_bytes());
        dns_label(&format!("{}-pre-deployment", self.name), &digest)
    }

    /// The Job that runs `payments-check` against the Stripe Secret whose data has `digest`:
    /// a new key is checked once, and a check is never repeated for the same keys.
    pub fn payments_check_job(&self, digest: &str) -> String {
        dns_label(&format!("{}-payments-check", self.name), digest)
    }

    /// One migration Job per version. A version that is not already a valid name part
    /// (lowercase alphanumerics, `.`, `-`) is sanitised, and a digest keeps distinct versions
    /// distinct.
    pub fn migration_job(&self, version: &str) -> String {
        let plain = format!("{}-migrate-{version}", self.name);
        let name_safe = version
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
            && version.ends_with(|c: char| c.is_ascii_alphanumeric());
        if name_safe && plain.len() <= 63 {
            return plain;
        }
        let sanitized: String = version
            .to_ascii_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let digest = crate::digest::short_hex(version.as_bytes());
        let candidate = format!("{}-migrate-{}", self.name, sanitized.trim_matches('-'));
        let keep = 63usize.saturating_sub(digest.len() + 1);
        let mut prefix: String = candidate.chars().take(keep).collect();
        while prefix.ends_with(['-', '.']) {
            prefix.pop();
        }
        format!("{prefix}-{digest}")
    }

    /// Labels selecting the pods of one component of this instance (stable: used in selectors).
    pub fn selector_labels(&self, component: Component) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "app.kubernetes.io/name".to_owned(),
                "toogoodtogo".to_owned(),
            ),
            ("app.kubernetes.io/instance".to_owned(), self.name.clone()),
            (
                "app.kubernetes.io/component".to_owned(),
                component.as_str().to_owned(),
            ),
        ])
    }

    pub fn selector(&self, component: Component) -> LabelSelector {
        LabelSelector {
            match_labels: Some(self.selector_labels(component)),
            ..LabelSelector::default()
        }
    }

    /// All recommended labels of an object of one component.
    pub fn labels(&self, component: Component) -> BTreeMap<String, String> {
        let mut labels = self.selector_labels(component);
        labels.insert(
            "app.kubernetes.io/part-of".to_owned(),
            "toogoodtogo".to_owned(),
        );
        labels.insert(
            "app.kubernetes.io/managed-by".to_owned(),
            FIELD_MANAGER.to_owned(),
        );
        labels
    }

    /// Metadata of an owned object: name, namespace, labels and the controller owner reference
    /// that lets garbage collection delete it with the resource.
    pub fn metadata(&self, name: String, component: Component) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels(component)),
            owner_references: self.owner_reference.clone().map(|r| vec![r]),
            ..ObjectMeta::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(name: &str) -> Owner {
        Owner {
            name: name.to_owned(),
            namespace: "shop".to_owned(),
            owner_reference: None,
        }
    }

    #[test]
    fn migration_job_name_keeps_plain_versions_readable() {
        assert_eq!(owner("tgtg").migration_job("1.4.2"), "tgtg-migrate-1.4.2");
    }

    #[test]
    fn migration_job_names_of_versions_differing_only_in_punctuation_differ() {
        let a = owner("tgtg").migration_job("1.4.2_RC");
        let b = owner("tgtg").migration_job("1.4.2-rc");
        assert_ne!(a, b);
        assert!(a.starts_with("tgtg-migrate-1.4.2-rc-"), "{a}");
    }

    #[test]
    fn job_names_are_dns_labels() {
        assert_eq!(job_name("tgtg-backup-nightly"), "tgtg-backup-nightly");
        let long = job_name(&format!("{}.Backup", "x".repeat(80)));
        assert!(long.len() <= 63, "{long}");
        assert!(
            long.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert_ne!(job_name("a.b"), job_name("a-b"));
    }

    #[test]
    fn migration_job_name_fits_a_dns_label() {
        let name = owner(&"x".repeat(60)).migration_job("2024.11.05-rc.1");
        assert!(name.len() <= 63, "{name}");
        assert!(!name.ends_with('-'));
    }
}
