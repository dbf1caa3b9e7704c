//! What the reconcile reads of a CloudNativePG cluster (`spec.database.cloudNativePG`): whether
//! CloudNativePG is installed at all, and the state of the `Cluster` from its status.
//!
//! CloudNativePG reports a `Ready` condition (True once its phase is "Cluster in healthy
//! state"), the phase in words, and the instance that is primary (`currentPrimary`) and the one
//! that should be (`targetPrimary`): they differ while a switchover or failover promotes
//! another instance.

use kube::api::DynamicObject;
use kube::{Api, Client};
use serde_json::Value;

use crate::crd::TooGoodToGo;
use crate::names::Owner;
use crate::resources::cnpg_cluster;

/// What the reconcile found of the CloudNativePG cluster a resource asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum ClusterState {
    /// The `postgresql.cnpg.io/v1` `Cluster` kind is not served: CloudNativePG is not installed.
    NotInstalled,
    /// The Cluster does not exist yet (created by this reconcile).
    Creating,
    /// CloudNativePG is bringing the cluster up or changing it: its phase in its words.
    Waiting {
        phase: String,
    },
    /// A new primary is being promoted: the database refuses writes until it is.
    FailingOver {
        from: String,
        to: String,
    },
    Ready {
        primary: String,
    },
}

impl ClusterState {
    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready { .. })
    }
}

/// The state of a Cluster from its status.
pub fn state(cluster: &Value) -> ClusterState {
    let status = &cluster["status"];
    let text = |key: &str| status[key].as_str().unwrap_or_default().to_owned();
    let current = text("currentPrimary");
    let target = text("targetPrimary");
    // Before the first primary exists both are empty or only the target is set: that is the
    // cluster being created, not a failover.
    if !current.is_empty() && !target.is_empty() && current != target {
        return ClusterState::FailingOver {
            from: current,
            to: target,
        };
    }
    let ready = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    if ready {
        return ClusterState::Ready { primary: current };
    }
    let phase = text("phase");
    ClusterState::Waiting {
        phase: if phase.is_empty() {
            "not reported yet".to_owned()
        } else {
            phase
        },
    }
}

/// Whether the API server serves CloudNativePG's `Cluster` kind (discovery of its group/version;
/// a 404 means the CRD is not installed).
pub async fn installed(client: &Client) -> Result<bool, kube::Error> {
    let group_version = format!("{}/{}", cnpg_cluster::GROUP, cnpg_cluster::VERSION);
    crate::cache::served(client, &group_version, cnpg_cluster::KIND).await
}

/// The state of the resource's Cluster, when it asks for one.
pub async fn observe(
    reads: &crate::cache::Reads,
    cr: &TooGoodToGo,
) -> Result<Option<ClusterState>, kube::Error> {
    if cr.spec.database.cloud_native_pg.is_none() {
        return Ok(None);
    }
    let group_version = format!("{}/{}", cnpg_cluster::GROUP, cnpg_cluster::VERSION);
    if !reads
        .kind_installed(&group_version, cnpg_cluster::KIND)
        .await?
    {
        return Ok(Some(ClusterState::NotInstalled));
    }
    let owner = Owner::of(cr);
    let api: Api<DynamicObject> = Api::namespaced_with(
        reads.client().clone(),
        &owner.namespace,
        &cnpg_cluster::resource(),
    );
    let state = match api.get_opt(&owner.cnpg_cluster()).await? {
        Some(cluster) => state(&serde_json::to_value(&cluster).unwrap_or_default()),
        None => ClusterState::Creating,
    };
    Ok(Some(state))
}

/// The sentence the `DatabaseReady` condition says about a Cluster in `state`.
pub fn describe(owner: &Owner, state: &ClusterState) -> (bool, &'static str, String) {
    let cluster = owner.cnpg_cluster();
    match state {
        ClusterState::NotInstalled => (
            false,
            "CloudNativePGNotInstalled",
            format!(
                "spec.database.cloudNativePG needs the CloudNativePG operator, whose Cluster kind (postgresql.cnpg.io/v1) this cluster does not serve: {}",
                cnpg_cluster::INSTALL_HINT
            ),
        ),
        ClusterState::Creating => (
            false,
            "WaitingForCluster",
            format!("the CloudNativePG cluster {cluster} is being created"),
        ),
        ClusterState::Waiting { phase } => (
            false,
            "WaitingForCluster",
            format!("waiting for the CloudNativePG cluster {cluster} to be ready: {phase}"),
        ),
        ClusterState::FailingOver { from, to } => (
            false,
            "FailoverInProgress",
            format!(
                "CloudNativePG is promoting {to} to primary of {cluster} in place of {from}: writes fail until it is done, and the bot reconnects through {}",
                owner.cnpg_primary_service()
            ),
        ),
        ClusterState::Ready { primary } => (
            true,
            "ClusterReady",
            format!("the CloudNativePG cluster {cluster} is ready; its primary is {primary}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_new_cluster_waits_with_cloudnativepgs_phase() {
        assert_eq!(
            state(
                &json!({"status": {"phase": "Setting up primary", "targetPrimary": "tgtg-cnpg-1",
                "conditions": [{"type": "Ready", "status": "False"}]}})
            ),
            ClusterState::Waiting {
                phase: "Setting up primary".to_owned()
            }
        );
        assert_eq!(
            state(&json!({})),
            ClusterState::Waiting {
                phase: "not reported yet".to_owned()
            }
        );
    }

    #[test]
    fn ready_is_the_ready_condition() {
        assert_eq!(
            state(&json!({"status": {"phase": "Cluster in healthy state",
                "currentPrimary": "tgtg-cnpg-1", "targetPrimary": "tgtg-cnpg-1",
                "conditions": [{"type": "Ready", "status": "True"}]}})),
            ClusterState::Ready {
                primary: "tgtg-cnpg-1".to_owned()
            }
        );
    }

    /// CloudNativePG may not have turned its condition False yet when it sets the new target.
    #[test]
    fn differing_primaries_are_a_failover_even_while_the_condition_still_says_ready() {
        assert_eq!(
            state(&json!({"status": {"phase": "Failing over",
                "currentPrimary": "tgtg-cnpg-1", "targetPrimary": "tgtg-cnpg-2",
                "conditions": [{"type": "Ready", "status": "True"}]}})),
            ClusterState::FailingOver {
                from: "tgtg-cnpg-1".to_owned(),
                to: "tgtg-cnpg-2".to_owned()
            }
        );
    }
}
