//! Start-up behaviour: configuration errors, schema versions, migrations, the healthcheck and
//! webhook subcommands.

use std::collections::BTreeMap;
use std::time::Duration;

use toogoodtogo_tests::harness::{self, BotProcess, Stack, TestDatabase, run_command};

#[tokio::test]
async fn a_misconfigured_start_lists_every_missing_variable_at_once() -> Result<(), harness::Error>
{
    let output = run_command(&["serve"], &BTreeMap::new()).await?;
    assert_eq!(output.code, Some(1));
    for name in ["TELEGRAM_BOT_TOKEN", "POSTGRES_PASSWORD", "SECRET_KEY"] {
        assert!(
            output.stderr.contains(name),
            "{name} not named in:\n{}",
            output.stderr
        );
    }
    let mut vars = BTreeMap::new();
    vars.insert("TELEGRAM_BOT_TOKEN".to_owned(), "123:abc".to_owned());
    vars.insert(
        "DATABASE_URL".to_owned(),
        "postgres://x@127.0.0.1/x".to_owned(),
    );
    vars.insert("SECRET_KEY".to_owned(), "short".to_owned());
    vars.insert(
        "WEBHOOK_URL".to_owned(),
        "https://bot.example.com/webhook".to_owned(),
    );
    vars.insert("TIMEZONE".to_owned(), "Nowhere/Land".to_owned());
    let output = run_command(&["serve"], &vars).await?;
    assert_eq!(output.code, Some(1));
    for problem in [
        "SECRET_KEY is too short",
        "WEBHOOK_SECRET_TOKEN is missing",
        "TIMEZONE",
    ] {
        assert!(
            output.stderr.contains(problem),
            "{problem} not in:\n{}",
            output.stderr
        );
    }
    assert!(!output.stderr.contains("123:abc"), "the token leaked");
    Ok(())
}

#[tokio::test]
async fn an_unreachable_database_fails_start_with_a_clear_message() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let closed = harness::free_port();
    let env = stack.env().set(
        "DATABASE_URL",
        format!("postgres://postgres@127.0.0.1:{closed}/x"),
    );
    let started = std::time::Instant::now();
    let output = run_command(&["serve"], &env.vars).await?;
    assert_eq!(output.code, Some(1));
    assert!(
        output.stderr.contains("PostgreSQL is unreachable"),
        "{}",
        output.stderr
    );
    assert!(
        started.elapsed() >= Duration::from_secs(25),
        "gave up after {:?}, not ~30 s",
        started.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn a_schema_behind_is_refused_until_migrated() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let env = stack.env().remove("MIGRATE_ON_START");

    let check = run_command(&["migrate", "--check"], &env.vars).await?;
    assert_eq!(check.code, Some(1));
    assert!(
        check.stdout.contains("schema is behind by"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("foundation"),
        "pending migrations are listed: {}",
        check.stdout
    );

    let refused = run_command(&["serve"], &env.vars).await?;
    assert_eq!(refused.code, Some(1));
    assert!(
        refused.stderr.contains("toogoodtogo-bot migrate"),
        "{}",
        refused.stderr
    );

    let migrated = run_command(&["migrate"], &env.vars).await?;
    assert_eq!(migrated.code, Some(0), "{}", migrated.stderr);
    let check = run_command(&["migrate", "--check"], &env.vars).await?;
    assert_eq!(
        (check.code, check.stdout.trim()),
        (Some(0), "schema is current")
    );
    BotProcess::start(env).await?;
    Ok(())
}

#[tokio::test]
async fn a_schema_ahead_of_the_binary_still_starts() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let env = stack.env();
    assert_eq!(run_command(&["migrate"], &env.vars).await?.code, Some(0));
    // A newer release applied a migration this binary does not know.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (29991231000000, 'from a newer release', true, '\\x00', 1)",
    )
    .execute(&stack.pool)
    .await?;

    let check = run_command(&["migrate", "--check"], &env.vars).await?;
    assert_eq!(check.code, Some(0));
    assert!(check.stdout.contains("ahead by 1"), "{}", check.stdout);
    assert_eq!(run_command(&["migrate"], &env.vars).await?.code, Some(0));

    let bot = BotProcess::start(env.remove("MIGRATE_ON_START")).await?;
    assert_eq!(bot.get("/ready").await?.status(), 200);
    assert!(bot.log().contains("schema ahead"), "the start logs it");
    Ok(())
}

#[tokio::test]
async fn healthcheck_subcommand_maps_health_to_exit_codes() -> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let closed = harness::free_port();
    let bot = BotProcess::start(
        stack
            .env()
            .set("REDIS_URL", format!("redis://127.0.0.1:{closed}")),
    )
    .await?;
    let url = bot.url("/health");
    let env = BTreeMap::new();

    let degraded = run_command(&["healthcheck", "--url", &url], &env).await?;
    assert_eq!(degraded.code, Some(0));
    assert!(degraded.stderr.contains("WARNING"), "{}", degraded.stderr);
    assert!(degraded.stdout.contains("\"degraded\""));
    let strict = run_command(&["healthcheck", "--strict", "--url", &url], &env).await?;
    assert_eq!(strict.code, Some(1));

    let unreachable = format!("http://127.0.0.1:{closed}/health");
    let down = run_command(&["healthcheck", "--url", &unreachable], &env).await?;
    assert_eq!(down.code, Some(1));
    Ok(())
}

#[tokio::test]
async fn serve_registers_the_webhook_and_the_webhook_subcommands_manage_it()
-> Result<(), harness::Error> {
    let stack = Stack::new().await?;
    let bot = stack.start_bot().await?;
    let registered = stack
        .fake
        .wait_until(Duration::from_secs(10), || stack.fake.webhook())
        .await
        .map_err(|_| "webhook not registered")?;
    assert_eq!(registered.url, bot.url("/webhook"));
    assert_eq!(
        registered.secret_token.as_deref(),
        Some(harness::WEBHOOK_SECRET)
    );
    let commands = stack
        .fake
        .wait_until(Duration::from_secs(10), || {
            let c = stack.fake.commands();
            c.as_array().is_some_and(|a| !a.is_empty()).then_some(c)
        })
        .await
        .map_err(|_| "commands not published")?;
    assert!(commands.to_string().contains("delete_my_data"));

    let env = stack.env();
    let info = run_command(&["webhook", "info"], &env.vars).await?;
    assert_eq!(info.code, Some(0), "{}", info.stderr);
    assert!(
        info.stdout.contains(&bot.url("/webhook")),
        "{}",
        info.stdout
    );
    let deleted = run_command(&["webhook", "delete"], &env.vars).await?;
    assert_eq!(deleted.code, Some(0));
    assert!(stack.fake.webhook().is_none());
    let set = run_command(&["webhook", "set"], &env.vars).await?;
    assert_eq!(set.code, Some(0));
    assert!(stack.fake.webhook().is_some());
    let missing = run_command(&["webhook", "set"], &env.clone().remove("WEBHOOK_URL").vars).await?;
    assert_eq!(missing.code, Some(1));
    assert!(missing.stderr.contains("WEBHOOK_URL is missing"));
    Ok(())
}

#[tokio::test]
async fn migrations_apply_on_an_empty_database() -> Result<(), harness::Error> {
    let db = TestDatabase::create().await?;
    let mut vars = BTreeMap::new();
    vars.insert("DATABASE_URL".to_owned(), db.url.clone());
    let output = run_command(&["migrate"], &vars).await?;
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    // Every migration the binary carries, however many later releases add.
    let embedded = toogoodtogo_bot::store::MIGRATOR.iter().count();
    assert!(
        output
            .stdout
            .contains(&format!("applied {embedded} migration")),
        "expected {embedded} migrations applied: {}",
        output.stdout
    );
    Ok(())
}
