//! The bot accepts the configuration the operator renders: for every sample, the environment
//! a bot pod (and the migration Job) would get is fed to the bot's own configuration parser.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{ConfigMap, Container, EnvVar};
use toogoodtogo_operator::build::{self, GeneratedValues, Inputs, PostgresCredentials};
use toogoodtogo_operator::crd::TooGoodToGo;

mod common;
use common::examples;

/// What a referenced or generated Secret key would hold in a real installation.
fn secret_value(name: &str) -> Option<&'static str> {
    Some(match name {
        "TELEGRAM_BOT_TOKEN" => "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "SECRET_KEY" => "k3UXEwPtU3TADwQ5pWYJ6Bq9r8fXfM2nKcVhZsLdJ0aGe7yR",
        "WEBHOOK_SECRET_TOKEN" => "Wq2bE9rT5yU8iO1pA4sD7fG0hJ3kL6zX",
        "POSTGRES_PASSWORD" => "bot-role-password",
        "POSTGRES_USER" => "toogoodtogo_blue",
        "DATABASE_URL" => "postgres://bot:secret@db.example.com:5432/toogoodtogo?sslmode=require",
        "REDIS_URL" => "rediss://:secret@cache.example.com:6380/0",
        "REDIS_PASSWORD" => "generated-redis-password",
        "STRIPE_PROVIDER_TOKEN" => "284685063:TEST:NjQ3ZjQ2",
        // Optional keys (`*_PREVIOUS`, Stripe API key and webhook secret) are absent until set.
        _ => return None,
    })
}

fn environment(config_map: &ConfigMap, container: &Container) -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = config_map
        .data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    for EnvVar {
        name,
        value,
        value_from,
    } in container.env.clone().unwrap_or_default()
    {
        let value = match (value, value_from) {
            (Some(value), _) => Some(value),
            (None, Some(_)) => secret_value(&name).map(str::to_owned),
            (None, None) => None,
        };
        if let Some(value) = value {
            vars.insert(name, value);
        }
    }
    vars
}

#[test]
fn the_bot_accepts_the_rendered_configuration_of_every_sample() {
    for (name, value) in examples() {
        let cr: TooGoodToGo =
            serde_json::from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"));
        let generated = GeneratedValues {
            secret_key: "unused".to_owned(),
            webhook_secret_token: "unused".to_owned(),
            secret_key_previous: Some("previous".to_owned()),
            webhook_secret_token_previous: Some("previous".to_owned()),
            key_ring: Default::default(),
            token_record: Default::default(),
            postgres: Some(PostgresCredentials {
                superuser_password: "unused".to_owned(),
                bot_password: "unused".to_owned(),
                bot_user: "toogoodtogo".to_owned(),
                pending_password: None,
                record: Default::default(),
                secret_uid: None,
            }),
            redis_password: Some("unused".to_owned()),
        };
        let desired = build::render(&cr, &Inputs::offline(&cr, generated, String::new()));
        let deployment = desired
            .deployment
            .unwrap_or_else(|| panic!("{name}: no Deployment"));
        let job = desired
            .migration_job
            .unwrap_or_else(|| panic!("{name}: no migration Job"));
        let containers = [
            (
                "bot",
                deployment
                    .spec
                    .template
                    .spec
                    .map(|p| p.containers)
                    .unwrap_or_default(),
            ),
            (
                "migrate",
                job.spec
                    .and_then(|s| s.template.spec)
                    .map(|p| p.containers)
                    .unwrap_or_default(),
            ),
        ];
        for (which, containers) in containers {
            let container = containers
                .first()
                .unwrap_or_else(|| panic!("{name}: no {which} container"));
            let vars = environment(&desired.config_map, container);
            for var in vars.keys() {
                assert!(
                    toogoodtogo_bot::config::ENV_VARS.contains(&var.as_str()),
                    "{name}/{which}: the bot does not read {var}"
                );
            }
            if let Err(error) = toogoodtogo_bot::config::Config::from_vars(&vars) {
                panic!("{name}/{which}: the bot refuses the rendered configuration: {error}");
            }
        }
    }
}
