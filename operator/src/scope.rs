//! Which namespaces the operator watches: all of them (a ClusterRole), or a list (a Role in each,
//! and no cluster-wide access to Secrets, Jobs or Deployments). A platform team with several
//! tenant namespaces runs one operator for all of them without granting it the whole cluster.
//!
//! A list runs one controller per namespace, each with its own namespaced watches, sharing the
//! Context (metrics, backoff, events) and the leader Lease.

use std::sync::Arc;

use crate::controller::{self, Context, RunError};

/// Longest namespace name Kubernetes accepts (a DNS label).
const MAX_NAMESPACE_LENGTH: usize = 63;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchScope {
    All,
    /// Sorted, without duplicates, never empty.
    Namespaces(Vec<String>),
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{name:?} is not a namespace name: lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit"
)]
pub struct ScopeError {
    pub name: String,
}

fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAMESPACE_LENGTH
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

impl WatchScope {
    /// From `--namespace`/`WATCH_NAMESPACE` values (each may be a comma-separated list); none or
    /// only empty ones mean all namespaces.
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<Self, ScopeError> {
        let mut names: Vec<String> = Vec::new();
        for name in values
            .iter()
            .flat_map(|v| v.as_ref().split(','))
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            if !is_dns_label(name) {
                return Err(ScopeError {
                    name: name.to_owned(),
                });
            }
            names.push(name.to_owned());
        }
        names.sort();
        names.dedup();
        Ok(if names.is_empty() {
            Self::All
        } else {
            Self::Namespaces(names)
        })
    }

    /// For logs and the `WATCH_NAMESPACE` variable: `*` or the comma-separated list.
    pub fn describe(&self) -> String {
        match self {
            Self::All => "*".to_owned(),
            Self::Namespaces(names) => names.join(","),
        }
    }
}

/// Run the controllers of the scope until they stop (shutdown signal); the first that cannot
/// start stops all.
pub async fn run(ctx: Arc<Context>, scope: &WatchScope) -> Result<(), RunError> {
    match scope {
        WatchScope::All => controller::run(ctx, None).await,
        WatchScope::Namespaces(names) => {
            let controllers = names
                .iter()
                .map(|name| Box::pin(controller::run(ctx.clone(), Some(name.as_str()))));
            futures::future::try_join_all(controllers).await.map(|_| ())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_split_trimmed_sorted_and_deduplicated() {
        assert_eq!(
            WatchScope::parse(&["shop, bakery", "shop", "cafe-2"]),
            Ok(WatchScope::Namespaces(vec![
                "bakery".to_owned(),
                "cafe-2".to_owned(),
                "shop".to_owned()
            ]))
        );
    }

    #[test]
    fn nothing_or_empty_values_mean_every_namespace() {
        assert_eq!(WatchScope::parse::<&str>(&[]), Ok(WatchScope::All));
        assert_eq!(WatchScope::parse(&["", " , "]), Ok(WatchScope::All));
    }

    #[test]
    fn a_name_kubernetes_would_refuse_is_refused_by_name() {
        for bad in ["Shop", "shop_1", "-shop", "shop-", &"a".repeat(64)] {
            assert_eq!(
                WatchScope::parse(&[format!("ok,{bad}")]),
                Err(ScopeError {
                    name: bad.to_owned()
                }),
                "{bad}"
            );
        }
    }
}
