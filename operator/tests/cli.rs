//! The binary's offline commands, run as a user would.

use std::path::PathBuf;
use std::process::{Command, Output};

mod common;
use common::{examples_dir, golden_dir, invalid_dir};

fn operator(args: &[&str]) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_toogoodtogo-operator"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
    {
        Ok(output) => output,
        Err(e) => panic!("cannot run the operator binary: {e}"),
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn path(p: PathBuf) -> String {
    p.display().to_string()
}

/// A fresh directory under the system temp dir for this test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tgtg-operator-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("{}: {e}", dir.display());
    }
    dir
}

#[test]
fn crd_prints_the_generated_file() {
    let output = operator(&["crd"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crds");
    let mut expected = String::new();
    for file in [
        "toogoodtogos.toogoodtogo.io.yaml",
        "backups.toogoodtogo.io.yaml",
        "restores.toogoodtogo.io.yaml",
    ] {
        expected.push_str("---\n");
        expected.push_str(&std::fs::read_to_string(dir.join(file)).unwrap_or_default());
    }
    assert_eq!(stdout(&output), expected);
}

#[test]
fn render_prints_the_golden_objects() {
    let output = operator(&[
        "render",
        "-f",
        &path(examples_dir().join("production.yaml")),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let golden = std::fs::read_to_string(golden_dir().join("production.yaml")).ok();
    // Not assert_eq: a mismatch would print two full streams; the golden test shows the diff.
    assert!(
        Some(stdout(&output)) == golden,
        "`render` differs from tests/golden/production.yaml"
    );
}

#[test]
fn render_with_a_secrets_directory_names_the_missing_secret() {
    let dir = scratch("missing");
    let output = operator(&[
        "render",
        "-f",
        &path(examples_dir().join("minimal.yaml")),
        "--secrets",
        &path(dir.clone()),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains(
            "Secret \"tgtg-telegram\" named in spec.telegram.tokenSecretRef does not exist"
        ),
        "{}",
        stderr(&output)
    );

    // stringData works as it does in a cluster, and the Secret's content reaches the pod hash.
    let write_token = |token: &str| {
        let manifest = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tgtg-telegram\nstringData:\n  token: \"{token}\"\n"
        );
        if let Err(e) = std::fs::write(dir.join("telegram.yaml"), manifest) {
            panic!("{e}");
        }
        let output = operator(&[
            "render",
            "-f",
            &path(examples_dir().join("minimal.yaml")),
            "--secrets",
            &path(dir.clone()),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        let rendered = stdout(&output);
        assert!(
            !rendered.contains(token),
            "secret values never appear in rendered objects"
        );
        rendered
    };
    assert_ne!(
        write_token("111:aaa"),
        write_token("222:bbb"),
        "a new token must change the pod-template hash"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn render_refuses_an_invalid_resource_with_the_rule_message() {
    let output = operator(&[
        "render",
        "-f",
        &path(invalid_dir().join("replicas-without-webhook.yaml")),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("requires telegram.webhook"),
        "{}",
        stderr(&output)
    );
}
