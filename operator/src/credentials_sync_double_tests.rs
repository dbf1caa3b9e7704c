//! A recreated credentials Secret on the API double: the database pod sets its passwords once.

use serde_json::{Value, json};

use crate::double_tests::{Cluster, group};

const DATA: &str = "/api/v1/namespaces/shop/persistentvolumeclaims/data-tgtg-postgres-0";
const CREDENTIALS: &str = "/api/v1/namespaces/shop/secrets/tgtg-postgres-credentials";

fn get(cluster: &Cluster, path: &str) -> Value {
    cluster.server.get(path).unwrap_or_default()
}

fn template(cluster: &Cluster) -> Value {
    get(cluster, &group("apps/v1", "statefulsets", "tgtg-postgres"))["spec"]["template"].clone()
}

#[tokio::test]
async fn a_recreated_credentials_secret_sets_its_passwords_in_the_database_once() {
    let cluster = Cluster::with_sample("production.yaml");
    cluster.converge().await;
    cluster.reconcile_ok().await;
    let first = get(&cluster, CREDENTIALS)["metadata"]["uid"].clone();
    assert_eq!(
        get(&cluster, DATA)["metadata"]["annotations"]["toogoodtogo.io/credentials-uid"],
        first,
        "the volume records which Secret its passwords come from"
    );
    assert!(
        template(&cluster)["spec"].get("initContainers").is_none(),
        "no restart of a database that needs nothing"
    );

    // The Secret is lost (refused meanwhile), then restored with passwords of the user's own.
    cluster.server.delete(CREDENTIALS);
    assert!(cluster.reconcile().await.is_err());
    let b64 = |v: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(v)
    };
    cluster.server.create(
        CREDENTIALS,
        json!({"apiVersion": "v1", "kind": "Secret", "data": {
            "username": b64("toogoodtogo"), "password": b64("chosen-bot-password"),
            "superuser-password": b64("chosen-superuser-password")}}),
    );
    let second = get(&cluster, CREDENTIALS)["metadata"]["uid"].clone();
    cluster.reconcile_ok().await;
    let pod = template(&cluster);
    assert_eq!(
        pod["metadata"]["annotations"]["toogoodtogo.io/credentials-uid"], second,
        "the database restarts"
    );
    let init = &pod["spec"]["initContainers"][0];
    assert_eq!(init["name"], "set-passwords");
    let script = init["command"][2].as_str().unwrap_or_default();
    assert!(
        script.contains("listen_addresses=''") && script.contains("ALTER ROLE"),
        "over the local socket only: {script}"
    );
    assert!(
        !pod.to_string().contains("chosen-bot-password"),
        "passwords only by Secret reference"
    );
    assert_eq!(
        get(&cluster, CREDENTIALS)["data"]["password"],
        b64("chosen-bot-password").as_str(),
        "the Secret's passwords are kept, not replaced"
    );
    assert!(
        cluster
            .events()
            .iter()
            .any(|(t, reason, _)| t == "Warning" && reason == "SettingDatabasePasswords")
    );
    assert_eq!(
        get(&cluster, DATA)["metadata"]["annotations"]["toogoodtogo.io/credentials-uid"],
        first,
        "recorded only once the database ran with them"
    );

    // The database comes up with the new passwords: recorded, and nothing restarts again.
    cluster.controllers_act();
    cluster.reconcile_ok().await;
    assert_eq!(
        get(&cluster, DATA)["metadata"]["annotations"]["toogoodtogo.io/credentials-uid"],
        second
    );
    cluster.controllers_act();
    cluster.reconcile_ok().await;
    cluster.server.take_changes();
    cluster.reconcile_ok().await;
    let changes = cluster.server.take_changes();
    assert!(
        !changes.iter().any(|c| c.contains("statefulsets")),
        "{changes:?}"
    );
}
