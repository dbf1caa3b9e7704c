//! The managed Redis on the API double, as on the single host: a generated password that Redis
//! requires and the bot uses, `maxmemory` from the memory limit with `allkeys-lru`, and a
//! NetworkPolicy that admits only the platform's clients.

use serde_json::{Value, json};

use crate::double_tests::{CR, Cluster, core, group};

const REDIS: &str = "/apis/apps/v1/namespaces/shop/deployments/tgtg-redis";
const BOT: &str = "/apis/apps/v1/namespaces/shop/deployments/tgtg-bot";

fn get(cluster: &Cluster, path: &str) -> Value {
    cluster.server.get(path).unwrap_or_default()
}

fn env(container: &Value, name: &str) -> Value {
    container["env"]
        .as_array()
        .and_then(|vars| vars.iter().find(|v| v["name"] == name).cloned())
        .unwrap_or_default()
}

fn redis_container(cluster: &Cluster) -> Value {
    get(cluster, REDIS)["spec"]["template"]["spec"]["containers"][0].clone()
}

fn password(cluster: &Cluster) -> String {
    get(cluster, &core("secrets", "tgtg-generated"))["data"]["REDIS_PASSWORD"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn redis_requires_a_generated_password_that_the_bot_uses() {
    let cluster = Cluster::with_sample("minimal.yaml");
    cluster.converge().await;
    let generated = password(&cluster);
    assert!(!generated.is_empty(), "REDIS_PASSWORD is generated");

    let redis = redis_container(&cluster);
    let from_generated =
        json!({"secretKeyRef": {"name": "tgtg-generated", "key": "REDIS_PASSWORD"}});
    assert_eq!(env(&redis, "REDIS_PASSWORD")["valueFrom"], from_generated);
    assert_eq!(
        env(&redis, "REDISCLI_AUTH")["valueFrom"],
        from_generated,
        "the probes authenticate"
    );
    let start = redis["command"][2].as_str().unwrap_or_default();
    assert!(
        start.contains("redis-server /usr/local/etc/redis/redis.conf -")
            && start.contains("requirepass ${REDIS_PASSWORD"),
        "{start}"
    );
    let bot = get(&cluster, BOT)["spec"]["template"]["spec"]["containers"][0].clone();
    assert_eq!(env(&bot, "REDIS_PASSWORD")["valueFrom"], from_generated);
    let config = get(&cluster, &core("configmaps", "tgtg-config"))["data"].clone();
    assert_eq!(config["REDIS_HOST"], "tgtg-redis");
    assert_eq!(config["REDIS_PORT"], "6379");
    assert!(
        config.get("REDIS_URL").is_none(),
        "a URL without the password would win over it: {config}"
    );

    // Read back, never regenerated.
    for _ in 0..2 {
        cluster.reconcile_ok().await;
        cluster.controllers_act();
    }
    assert_eq!(password(&cluster), generated);

    let policy = get(
        &cluster,
        &group("networking.k8s.io/v1", "networkpolicies", "tgtg-redis"),
    );
    assert_eq!(
        policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["toogoodtogo.io/database-client"],
        "true"
    );
}

#[tokio::test]
async fn redis_evicts_within_three_quarters_of_its_memory_limit() {
    let cluster = Cluster::with_sample("minimal.yaml");
    cluster.converge().await;
    let redis = redis_container(&cluster);
    assert_eq!(redis["resources"]["limits"]["memory"], "256Mi");
    assert_eq!(env(&redis, "REDIS_MAXMEMORY")["value"], "192mb");
    let conf = get(&cluster, &core("configmaps", "tgtg-redis"))["data"]["redis.conf"].clone();
    assert_eq!(
        conf.as_str(),
        Some(crate::resources::redis::CONFIG),
        "the single host's redis.conf"
    );
    assert!(
        conf.as_str()
            .is_some_and(|c| c.contains("maxmemory-policy allkeys-lru")),
        "{conf}"
    );
    let mounted = &get(&cluster, REDIS)["spec"]["template"]["spec"]["volumes"];
    assert!(
        mounted
            .as_array()
            .into_iter()
            .flatten()
            .any(|v| v["configMap"]["name"] == "tgtg-redis"),
        "{mounted}"
    );

    cluster.server.edit(CR, |cr| {
        cr["spec"]["redis"]["managed"]["resources"] = json!({"limits": {"memory": "1Gi"}});
    });
    cluster.reconcile_ok().await;
    assert_eq!(
        env(&redis_container(&cluster), "REDIS_MAXMEMORY")["value"],
        "768mb"
    );
}
