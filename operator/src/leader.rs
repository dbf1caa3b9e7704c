//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several operator replicas only
//! one reconciles at a time.
//!
//! The holder renews the Lease every `renew_interval`; another replica takes it over only after
//! `lease_duration` passed without a renewal, measured as client-go does on the follower's own
//! clock from when it last saw the Lease record change (the holder's `renewTime` comes from
//! another clock, which may be skewed). Every write carries the resourceVersion it read, so
//! two replicas racing for an expired Lease cannot both win (the loser gets 409 Conflict). A
//! leader that cannot renew steps down before its Lease can expire (`renew_deadline`), so its
//! successor never overlaps with it.
//!
//! Why not a crate: kube-lease-manager 0.13, the maintained one for kube 5, takes a Lease as
//! expired when the holder's `renewTime` plus the duration lies behind the local clock, so a
//! follower whose clock runs ahead of the leader's takes a live Lease and both reconcile.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};
use tracing::{info, warn};

/// Timing of the election (defaults as in client-go: 15s lease, 10s deadline, 2s retry).
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Result of one election round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Leader,
    /// Someone else holds a valid Lease.
    Follower {
        holder: Option<String>,
    },
}

pub struct LeaseLock {
    api: Api<Lease>,
    name: String,
    identity: String,
    timing: Timing,
    /// The other holder's record (identity, renewTime) last seen, and when it was first seen in
    /// that state on the local clock.
    observed: std::sync::Mutex<Option<(Observed, Timestamp)>>,
}

type Observed = (Option<String>, Option<Timestamp>);

fn is_conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 409)
}

impl LeaseLock {
    pub fn new(
        api: Api<Lease>,
        name: impl Into<String>,
        identity: impl Into<String>,
        timing: Timing,
    ) -> Self {
        Self {
            api,
            name: name.into(),
            identity: identity.into(),
            timing,
            observed: std::sync::Mutex::new(None),
        }
    }

    /// When the record was first seen as it is now, on the local clock.
    fn observed_since(&self, record: Observed, now: Timestamp) -> Timestamp {
        let mut observed = self
            .observed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*observed {
            Some((seen, since)) if *seen == record => *since,
            _ => {
                *observed = Some((record, now));
                now
            }
        }
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    fn spec(&self, now: Timestamp, acquired: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.timing.lease_duration.as_secs()).unwrap_or(15),
            ),
            acquire_time: Some(MicroTime(acquired)),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// One round: create the Lease, renew it, take over an expired one, or follow.
    pub async fn try_acquire_or_renew(&self, now: Timestamp) -> Result<Role, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now, now, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Role::Leader),
                Err(err) if is_conflict(&err) => Ok(Role::Follower { holder: None }),
                Err(err) => Err(err),
            };
        };
        let current = lease.spec.clone().unwrap_or_default();
        let holder = current.holder_identity.clone().filter(|h| !h.is_empty());
        let spec = if holder.as_deref() == Some(self.identity.as_str()) {
            let acquired = current.acquire_time.map_or(now, |t| t.0);
            self.spec(now, acquired, current.lease_transitions.unwrap_or(0))
        } else {
            let duration =
                SignedDuration::from_secs(i64::from(current.lease_duration_seconds.unwrap_or(15)));
            let renewed = current.renew_time.as_ref().map(|t| t.0);
            let since = self.observed_since((holder.clone(), renewed), now);
            let expired = renewed.is_none() || since + duration < now;
            if holder.is_some() && !expired {
                return Ok(Role::Follower { holder });
            }
            self.spec(
                now,
                now,
                current.lease_transitions.unwrap_or(0).saturating_add(1),
            )
        };
        lease.spec = Some(spec);
        // `replace` sends the resourceVersion that was read: a concurrent writer makes it fail.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(Role::Leader),
            Err(err) if is_conflict(&err) => Ok(Role::Follower { holder }),
            Err(err) => Err(err),
        }
    }

    /// Give the Lease up on shutdown so a successor need not wait for it to expire.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let mine = lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            .is_some_and(|h| h == self.identity);
        if !mine {
            return Ok(());
        }
        if let Some(spec) = lease.spec.as_mut() {
            spec.holder_identity = None;
            spec.renew_time = None;
            spec.acquire_time = None;
        }
        self.api
            .replace(&self.name, &PostParams::default(), &lease)
            .await?;
        Ok(())
    }

    /// Wait until this replica is leader.
    pub async fn acquire(&self) {
        let mut last_holder = None;
        loop {
            match self.try_acquire_or_renew(Timestamp::now()).await {
                Ok(Role::Leader) => {
                    info!(identity = %self.identity, lease = %self.name, "became leader");
                    return;
                }
                Ok(Role::Follower { holder }) => {
                    if holder != last_holder {
                        info!(
                            holder = holder.as_deref().unwrap_or("-"),
                            "waiting for the leader lease"
                        );
                        last_holder = holder;
                    }
                }
                Err(error) => warn!(%error, "leader election failed, retrying"),
            }
            tokio::time::sleep(self.timing.retry_period).await;
        }
    }

    /// Keep renewing; returns when leadership is lost or cannot be confirmed within the renew
    /// deadline, after which the caller must stop reconciling.
    pub async fn hold(&self) {
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.timing.retry_period).await;
            let attempt = tokio::time::timeout(
                self.timing.renew_deadline,
                self.try_acquire_or_renew(Timestamp::now()),
            )
            .await;
            match attempt {
                Ok(Ok(Role::Leader)) => last_renewal = tokio::time::Instant::now(),
                Ok(Ok(Role::Follower { holder })) => {
                    warn!(
                        holder = holder.as_deref().unwrap_or("-"),
                        "lost the leader lease"
                    );
                    return;
                }
                Ok(Err(error)) => warn!(%error, "cannot renew the leader lease"),
                Err(_) => warn!("renewing the leader lease timed out"),
            }
            if last_renewal.elapsed() >= self.timing.renew_deadline {
                warn!("could not renew the leader lease within the deadline; stepping down");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fixtures::FakeApiServer;

    const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/toogoodtogo-operator";

    fn lock(client: kube::Client, identity: &str) -> LeaseLock {
        LeaseLock::new(
            Api::namespaced(client, "ops"),
            "toogoodtogo-operator",
            identity,
            Timing::default(),
        )
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn holder(server: &FakeApiServer) -> Value {
        server
            .get(LEASE)
            .map(|l| l["spec"]["holderIdentity"].clone())
            .unwrap_or_default()
    }

    use serde_json::Value;

    #[tokio::test]
    async fn the_first_replica_creates_the_lease_and_leads() {
        let (client, server) = FakeApiServer::start();
        let a = lock(client, "a");
        assert_eq!(a.try_acquire_or_renew(at(0)).await.ok(), Some(Role::Leader));
        let requests: Vec<String> = server.take_requests().iter().map(|r| r.line()).collect();
        assert_eq!(
            requests,
            [
                format!("GET {LEASE}"),
                "POST /apis/coordination.k8s.io/v1/namespaces/ops/leases".to_owned()
            ]
        );
        assert_eq!(holder(&server), "a");
    }

    #[tokio::test]
    async fn a_second_replica_follows_while_the_lease_is_fresh_and_takes_over_when_it_expired() {
        let (client, server) = FakeApiServer::start();
        let a = lock(client.clone(), "a");
        let b = lock(client, "b");
        assert_eq!(a.try_acquire_or_renew(at(0)).await.ok(), Some(Role::Leader));
        assert_eq!(
            b.try_acquire_or_renew(at(10)).await.ok(),
            Some(Role::Follower {
                holder: Some("a".to_owned())
            })
        );
        // The leader renews; the follower keeps following.
        assert_eq!(
            a.try_acquire_or_renew(at(12)).await.ok(),
            Some(Role::Leader)
        );
        assert_eq!(
            b.try_acquire_or_renew(at(26)).await.ok(),
            Some(Role::Follower {
                holder: Some("a".to_owned())
            })
        );
        // b saw the renewal at 26: the lease lasts until 41 on b's clock.
        assert_eq!(
            b.try_acquire_or_renew(at(41)).await.ok(),
            Some(Role::Follower {
                holder: Some("a".to_owned())
            })
        );
        // No renewal seen for more than 15s: b takes over, and a learns it lost.
        assert_eq!(
            b.try_acquire_or_renew(at(42)).await.ok(),
            Some(Role::Leader)
        );
        assert_eq!(holder(&server), "b");
        assert_eq!(
            server.get(LEASE).unwrap_or_default()["spec"]["leaseTransitions"],
            1
        );
        assert_eq!(
            a.try_acquire_or_renew(at(43)).await.ok(),
            Some(Role::Follower {
                holder: Some("b".to_owned())
            })
        );
    }

    /// The holder's clock runs a minute behind: its renewTime always looks old, but it renews,
    /// so the follower, judging by its own observations, never takes the live lease.
    #[tokio::test]
    async fn a_lease_renewed_by_a_holder_with_a_skewed_clock_is_not_taken() {
        let (client, _server) = FakeApiServer::start();
        let a = lock(client.clone(), "a");
        let b = lock(client, "b");
        for t in (0..60).step_by(5) {
            assert_eq!(
                a.try_acquire_or_renew(at(t - 60)).await.ok(),
                Some(Role::Leader)
            );
            assert_eq!(
                b.try_acquire_or_renew(at(t + 1)).await.ok(),
                Some(Role::Follower {
                    holder: Some("a".to_owned())
                }),
                "at {t}"
            );
        }
    }

    #[tokio::test]
    async fn only_one_of_two_racing_replicas_wins_an_expired_lease() {
        let (client, server) = FakeApiServer::start();
        server.insert(
            LEASE,
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                   "metadata": {"name": "toogoodtogo-operator", "namespace": "ops"},
                   "spec": {"holderIdentity": "gone", "leaseDurationSeconds": 15,
                            "renewTime": "2020-01-01T00:00:00.000000Z"}}),
        );
        let b = lock(client.clone(), "b");
        let c = lock(client, "c");
        // Both first see the lease, then find it unchanged a lease duration later.
        let (rb, rc) = tokio::join!(b.try_acquire_or_renew(at(0)), c.try_acquire_or_renew(at(0)));
        assert!(rb.is_ok_and(|r| r != Role::Leader) && rc.is_ok_and(|r| r != Role::Leader));
        let (rb, rc) = tokio::join!(
            b.try_acquire_or_renew(at(16)),
            c.try_acquire_or_renew(at(16))
        );
        let leaders = [rb.ok(), rc.ok()]
            .iter()
            .filter(|r| **r == Some(Role::Leader))
            .count();
        assert_eq!(leaders, 1);
    }

    #[tokio::test]
    async fn release_lets_a_successor_lead_at_once() {
        let (client, server) = FakeApiServer::start();
        let a = lock(client.clone(), "a");
        let b = lock(client, "b");
        assert_eq!(a.try_acquire_or_renew(at(0)).await.ok(), Some(Role::Leader));
        assert!(a.release().await.is_ok());
        assert_eq!(holder(&server), Value::Null);
        assert_eq!(b.try_acquire_or_renew(at(1)).await.ok(), Some(Role::Leader));
        let uncovered: Vec<String> = server
            .history()
            .iter()
            .filter(|r| {
                !crate::rbac::allows(crate::rbac::LEADER_ELECTION_RULES, &r.method, &r.path)
            })
            .map(|r| r.line())
            .collect();
        assert_eq!(uncovered, Vec::<String>::new());
    }

    fn quick() -> Timing {
        Timing {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_whose_lease_was_taken_steps_down() {
        let (client, server) = FakeApiServer::start();
        let a = LeaseLock::new(
            Api::namespaced(client, "ops"),
            "toogoodtogo-operator",
            "a",
            quick(),
        );
        a.acquire().await;
        server.edit(LEASE, |lease| {
            lease["spec"]["holderIdentity"] = json!("b");
            lease["spec"]["renewTime"] = json!(Timestamp::now().to_string());
        });
        let stepped_down = tokio::time::timeout(Duration::from_secs(60), a.hold()).await;
        assert!(
            stepped_down.is_ok(),
            "hold() must return once another replica holds the lease"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_that_cannot_renew_steps_down_before_its_lease_expires() {
        let (client, server) = FakeApiServer::start();
        let a = LeaseLock::new(
            Api::namespaced(client, "ops"),
            "toogoodtogo-operator",
            "a",
            quick(),
        );
        a.acquire().await;
        let acquired = tokio::time::Instant::now();
        server.refuse_puts(
            LEASE,
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "etcd unavailable",
        );
        let stepped_down = tokio::time::timeout(Duration::from_secs(60), a.hold()).await;
        assert!(stepped_down.is_ok());
        let held = acquired.elapsed();
        assert!(
            held >= quick().renew_deadline && held < quick().lease_duration,
            "stepped down after {held:?}"
        );
    }
}
