//! The permissions the operator uses, in one place: the Helm chart and the plain install
//! manifests are to be generated from (or checked against) these rules, and a test proves that
//! every request the reconciler and the leader election make is covered.

/// One RBAC rule: API group, resources (with `/subresource`), verbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub api_group: &'static str,
    pub resources: &'static [&'static str],
    pub verbs: &'static [&'static str],
}

const OWN: [&str; 5] = ["get", "list", "watch", "create", "patch"];
const OWN_OPTIONAL: [&str; 6] = ["get", "list", "watch", "create", "patch", "delete"];

/// Cluster-wide (or per watched namespace) rules of the controller.
pub const CONTROLLER_RULES: &[Rule] = &[
    // patch: the final-backup finalizer of deletionPolicy Backup.
    Rule {
        api_group: "toogoodtogo.io",
        resources: &["toogoodtogos"],
        verbs: &["get", "list", "watch", "patch"],
    },
    Rule {
        api_group: "toogoodtogo.io",
        resources: &["toogoodtogos/status", "backups/status", "restores/status"],
        verbs: &["get", "patch"],
    },
    Rule {
        api_group: "toogoodtogo.io",
        resources: &["backups"],
        verbs: &OWN_OPTIONAL,
    },
    Rule {
        api_group: "toogoodtogo.io",
        resources: &["restores"],
        verbs: &["get", "list", "watch", "create"],
    },
    // Secrets are never deleted: the credentials Secret outlives the database workload.
    Rule {
        api_group: "",
        resources: &["secrets"],
        verbs: &OWN,
    },
    // Turning a feature off deletes its objects (managed Redis, backups, managed database).
    Rule {
        api_group: "",
        resources: &["configmaps", "services"],
        verbs: &OWN_OPTIONAL,
    },
    // list, watch: the database volume is watched (its size, the credentials it was set up
    // with) like every other object the reconcile reads.
    Rule {
        api_group: "",
        resources: &["persistentvolumeclaims"],
        verbs: &OWN,
    },
    // The termination message of backup Jobs' pods carries the backup's metadata.
    Rule {
        api_group: "",
        resources: &["pods"],
        verbs: &["get", "list"],
    },
    Rule {
        api_group: "apps",
        resources: &["deployments", "statefulsets"],
        verbs: &OWN_OPTIONAL,
    },
    Rule {
        api_group: "batch",
        resources: &["jobs"],
        verbs: &OWN_OPTIONAL,
    },
    Rule {
        api_group: "batch",
        resources: &["cronjobs"],
        verbs: &OWN_OPTIONAL,
    },
    Rule {
        api_group: "networking.k8s.io",
        resources: &["networkpolicies"],
        verbs: &OWN_OPTIONAL,
    },
    Rule {
        api_group: "networking.k8s.io",
        resources: &["ingresses"],
        verbs: &OWN_OPTIONAL,
    },
    Rule {
        api_group: "policy",
        resources: &["poddisruptionbudgets"],
        verbs: &OWN_OPTIONAL,
    },
    Rule {
        api_group: "autoscaling",
        resources: &["horizontalpodautoscalers"],
        verbs: &OWN_OPTIONAL,
    },
    Rule {
        api_group: "monitoring.coreos.com",
        resources: &["servicemonitors"],
        verbs: &["get", "create", "patch", "delete"],
    },
    // The CloudNativePG Cluster of spec.database.cloudNativePG: watched, read and applied,
    // never deleted by the operator (garbage collection does, under deletionPolicy Delete).
    Rule {
        api_group: "postgresql.cnpg.io",
        resources: &["clusters"],
        verbs: &OWN,
    },
    Rule {
        api_group: "events.k8s.io",
        resources: &["events"],
        verbs: &["create", "patch"],
    },
];

/// Rules in the operator's own namespace, for leader election.
pub const LEADER_ELECTION_RULES: &[Rule] = &[Rule {
    api_group: "coordination.k8s.io",
    resources: &["leases"],
    verbs: &["get", "create", "update"],
}];

/// `(api group, resource or resource/subresource, verb)` of a request, or None for discovery.
pub fn classify(method: &http::Method, path: &str) -> Option<(String, String, &'static str)> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None,
    };
    let rest = match rest {
        ["namespaces", _ns, rest @ ..] => rest,
        rest => rest,
    };
    let (resource, named) = match rest {
        [] => return None,
        [resource] => (resource.to_string(), false),
        [resource, _name] => (resource.to_string(), true),
        [resource, _name, sub, ..] => (format!("{resource}/{sub}"), true),
    };
    let verb = match *method {
        http::Method::GET if named => "get",
        http::Method::GET => "list",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => return None,
    };
    Some((group.to_owned(), resource, verb))
}

/// Whether `rules` allow the request.
pub fn allows(rules: &[Rule], method: &http::Method, path: &str) -> bool {
    let Some((group, resource, verb)) = classify(method, path) else {
        return true; // discovery is open to every authenticated client
    };
    rules.iter().any(|r| {
        r.api_group == group && r.resources.contains(&resource.as_str()) && r.verbs.contains(&verb)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified_like_the_authorizer_does() {
        let get = http::Method::GET;
        assert_eq!(
            classify(&get, "/api/v1/namespaces/shop/secrets/x"),
            Some((String::new(), "secrets".to_owned(), "get"))
        );
        assert_eq!(
            classify(
                &http::Method::PATCH,
                "/apis/toogoodtogo.io/v1alpha1/namespaces/shop/toogoodtogos/t/status"
            ),
            Some((
                "toogoodtogo.io".to_owned(),
                "toogoodtogos/status".to_owned(),
                "patch"
            ))
        );
        assert_eq!(
            classify(
                &http::Method::POST,
                "/apis/events.k8s.io/v1/namespaces/shop/events"
            ),
            Some(("events.k8s.io".to_owned(), "events".to_owned(), "create"))
        );
        assert_eq!(classify(&get, "/apis/monitoring.coreos.com/v1"), None);
        assert!(!allows(
            CONTROLLER_RULES,
            &http::Method::DELETE,
            "/api/v1/namespaces/shop/secrets/x"
        ));
    }
}
