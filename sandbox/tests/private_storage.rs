//! The private-PostgreSQL fallback: a server from the installed binaries in the sandbox's own
//! directory (as `nobody` when run as root), reused on the next start, and nothing left running
//! after a clean shutdown.

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader};
use toogoodtogo_sandbox::postgres::{PostgresBinaries, PrivatePostgres, RunAs};
use toogoodtogo_sandbox::process::processes_mentioning;

#[tokio::test]
async fn a_private_server_starts_is_reused_and_leaves_nothing_running() -> support::Result {
    let binaries = PostgresBinaries::find()?;
    let dir = support::test_state_dir("private-postgres");
    let run_as = RunAs::for_current_user();

    let first = PrivatePostgres::start(&binaries, &dir, run_as).await?;
    assert!(!first.reused);
    let data_dir = first.dir.join("data").display().to_string();
    let mut connection = sqlx::PgConnection::connect(&first.url("postgres")).await?;
    sqlx::query("CREATE TABLE kept_between_starts (note text)")
        .execute(&mut connection)
        .await?;
    sqlx::query("INSERT INTO kept_between_starts VALUES ('still here')")
        .execute(&mut connection)
        .await?;
    connection.close().await?;
    if run_as.is_some() {
        // initdb refuses root, so the server runs as an unprivileged user.
        let pid = first.pid().ok_or("no pid")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let uid_line = status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .unwrap_or_default();
        assert!(!uid_line.split_whitespace().any(|f| f == "0"), "{uid_line}");
    }
    first.stop().await?;
    assert_eq!(processes_mentioning(&data_dir), Vec::<u32>::new());

    let second = PrivatePostgres::start(&binaries, &dir, run_as).await?;
    assert!(second.reused, "the data directory is reused");
    let mut connection = sqlx::PgConnection::connect(&second.url("postgres")).await?;
    let note: String = sqlx::query_scalar("SELECT note FROM kept_between_starts")
        .fetch_one(&mut connection)
        .await?;
    assert_eq!(note, "still here");
    connection.close().await?;
    second.stop().await?;
    assert_eq!(processes_mentioning(&data_dir), Vec::<u32>::new());

    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// The binary as a user runs it: `--storage=private`, a /start round trip through the page's
/// API, then Ctrl-C (SIGINT) stops everything and reports it.
#[tokio::test]
async fn the_binary_with_private_storage_answers_and_cleans_up_on_ctrl_c() -> support::Result {
    let dir = support::test_state_dir("binary");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_toogoodtogo-sandbox"))
        .args(["--storage=private", "--port=0", "--quiet-bot"])
        .arg("--data-dir")
        .arg(&dir)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            printed.push(line.clone());
            if let Some(url) = line.trim().strip_prefix("Sandbox ready: open ") {
                return Ok::<_, support::Error>(url.to_owned());
            }
        }
        Err(format!(
            "the sandbox exited before it was ready:\n{}",
            printed.join("\n")
        )
        .into())
    })
    .await
    .map_err(|_| "the sandbox was not ready within 60 s")??;
    let said = printed.join("\n");
    assert!(said.contains("PostgreSQL: private server"), "{said}");
    assert!(
        said.contains("created database toogoodtogo_sandbox_"),
        "{said}"
    );

    let http = reqwest::Client::new();
    let state: serde_json::Value = http
        .get(format!("{url}/api/state"))
        .send()
        .await?
        .json()
        .await?;
    let customer = state["users"][0]["id"].as_i64().ok_or("no users")?;
    let mut events = support::EventStream::open(&url, 0).await?;
    http.post(format!("{url}/api/users/{customer}/text"))
        .json(&json!({ "text": "/start" }))
        .send()
        .await?
        .error_for_status()?;
    let greeting = events
        .next_matching(|e| e["kind"] == "bot_message" && e["chat_id"] == customer)
        .await?;
    assert!(
        greeting["message"]["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Hi ")
    );
    drop(events);

    let pid = child.id().ok_or("no pid")?;
    assert!(toogoodtogo_sandbox::process::send_signal(pid, "INT"));
    let status = tokio::time::timeout(Duration::from_secs(40), child.wait())
        .await
        .map_err(|_| "the sandbox did not stop within 40 s")??;
    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await? {
        rest.push(line);
    }
    let said = rest.join("\n");
    assert!(status.success(), "{status}: {said}");
    assert!(
        said.contains("dropped database toogoodtogo_sandbox_"),
        "{said}"
    );
    assert!(said.contains("stopped the private PostgreSQL"), "{said}");
    let data_dir = std::fs::canonicalize(&dir)?.join("postgres").join("data");
    assert_eq!(
        processes_mentioning(&data_dir.display().to_string()),
        Vec::<u32>::new()
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
