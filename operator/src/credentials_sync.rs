//! The credentials Secret is the source of truth for the managed database's passwords.
//!
//! The data directory keeps the passwords it was initialised with. When the credentials Secret is
//! recreated (deleted, then restored with other passwords, or by a GitOps tool with new ones) the
//! bot and every Job would log in with passwords the database does not know. So the data volume
//! records which Secret (its uid) the database's passwords come from
//! ([`UID_ANNOTATION`] on the PVC). When the Secret's uid differs, the PostgreSQL pod gets an init
//! container that, before the server starts, sets the Secret's passwords in the data directory:
//! it runs a temporary server listening on no TCP address and connects as the superuser over the
//! local socket, so no old password is needed. The pod template carries the Secret's uid
//! ([`TEMPLATE_ANNOTATION`]), which restarts the database once; when it is ready, the PVC records
//! the new uid.
//!
//! A platform whose PVC has no record yet (older operator, or a new volume) records the current
//! Secret without restarting anything, and a database pod that never needed a sync keeps its
//! template unchanged.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use tracing::info;

use crate::names::Owner;

/// On the data PVC: the uid of the credentials Secret whose passwords the database has.
pub const UID_ANNOTATION: &str = "toogoodtogo.io/credentials-uid";
/// On the PostgreSQL pod template: the uid of the Secret the init container set the passwords of.
pub const TEMPLATE_ANNOTATION: &str = "toogoodtogo.io/credentials-uid";
/// The init container's name.
pub const CONTAINER: &str = "set-passwords";

/// Run by the init container: set the Secret's passwords over the local socket of a temporary
/// server (no TCP listener), then stop it. A volume without a data directory is initialised by
/// the image's entrypoint with these passwords anyway.
pub const SCRIPT: &str = r#"set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "no data directory yet: nothing to set"
  exit 0
fi
# Only this container can reach the server: no TCP, a socket in its own directory.
printf 'local all all trust\n' > /tmp/set-passwords-hba.conf
pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=/tmp -c hba_file=/tmp/set-passwords-hba.conf" start
trap 'pg_ctl -D "$PGDATA" -w -m fast stop' EXIT
psql -v ON_ERROR_STOP=1 --host /tmp --username "$POSTGRES_USER" --dbname postgres \
  --set=su="$POSTGRES_USER" --set=su_password="$POSTGRES_PASSWORD" \
  --set=bot_user="$BOT_USER" --set=bot_password="$BOT_PASSWORD" <<'SQL'
SELECT format('ALTER ROLE %I PASSWORD %L', :'su', :'su_password') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'bot_user', :'bot_password')
WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'bot_user') \gexec
SQL
echo "the passwords of the credentials Secret are set"
"#;

pub fn template_uid(sts: &StatefulSet) -> Option<String> {
    sts.spec
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(TEMPLATE_ANNOTATION)
        .cloned()
}

fn recorded_uid(claim: &PersistentVolumeClaim) -> Option<String> {
    claim
        .metadata
        .annotations
        .as_ref()?
        .get(UID_ANNOTATION)
        .cloned()
}

/// What the database pod template needs: the Secret uid to set the passwords of (which renders
/// the init container), or None to leave the template as it is.
pub fn wanted(
    secret_uid: Option<&str>,
    claim: Option<&PersistentVolumeClaim>,
    live: Option<&StatefulSet>,
) -> Option<String> {
    let recorded = claim.and_then(recorded_uid);
    match (secret_uid, recorded) {
        (Some(secret), Some(recorded)) if secret != recorded => Some(secret.to_owned()),
        // Once rendered, it stays: removing it would restart the database for nothing.
        _ => live.and_then(template_uid),
    }
}

/// Record on the PVC which Secret the database's passwords now come from: at once when nothing is
/// recorded yet, otherwise once the database restarted with the init container of that Secret
/// and is ready. Returns whether it wrote.
pub async fn record(
    reads: &crate::cache::Reads,
    owner: &Owner,
    secret_uid: Option<&str>,
    claim: Option<&PersistentVolumeClaim>,
    live: Option<&StatefulSet>,
) -> Result<bool, kube::Error> {
    let (Some(secret), Some(claim)) = (secret_uid, claim) else {
        return Ok(false);
    };
    let recorded = recorded_uid(claim);
    if recorded.as_deref() == Some(secret) {
        return Ok(false);
    }
    let synced = live.is_some_and(|sts| {
        let status = sts.status.clone().unwrap_or_default();
        template_uid(sts).as_deref() == Some(secret)
            && status.observed_generation.unwrap_or(0) >= sts.metadata.generation.unwrap_or(0)
            && status.ready_replicas.unwrap_or(0) >= 1
            && status.updated_replicas.is_none_or(|u| u >= 1)
    });
    if recorded.is_some() && !synced {
        return Ok(false);
    }
    let api: Api<PersistentVolumeClaim> = Api::namespaced(reads.client().clone(), &owner.namespace);
    let written = api
        .patch(
            &owner.postgres_data_claim(),
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {UID_ANNOTATION: secret}}})),
        )
        .await?;
    reads.wrote(&written);
    info!(
        secret_uid = secret,
        "the database's passwords come from this credentials Secret"
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(uid: Option<&str>) -> PersistentVolumeClaim {
        let mut claim = PersistentVolumeClaim::default();
        claim.metadata.annotations =
            uid.map(|u| [(UID_ANNOTATION.to_owned(), u.to_owned())].into());
        claim
    }

    #[test]
    fn only_a_recreated_secret_changes_the_database_pod() {
        assert_eq!(wanted(Some("a"), Some(&claim(None)), None), None);
        assert_eq!(wanted(Some("a"), Some(&claim(Some("a"))), None), None);
        assert_eq!(
            wanted(Some("b"), Some(&claim(Some("a"))), None),
            Some("b".to_owned())
        );
        assert_eq!(wanted(None, None, None), None);
    }
}

#[cfg(test)]
#[path = "credentials_sync_double_tests.rs"]
mod double_tests;
