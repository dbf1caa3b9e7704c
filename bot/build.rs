//! Embeds the release version: the git tag on HEAD when there is one, else `v<crate version>`.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=TOOGOODTOGO_VERSION");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs/tags");
    // `sqlx::migrate!` embeds the migrations; a new file must rebuild the crate.
    println!("cargo:rerun-if-changed=../migrations");
    let version = std::env::var("TOOGOODTOGO_VERSION")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(git_tag)
        .unwrap_or_else(|| format!("v{}", env!("CARGO_PKG_VERSION")));
    println!("cargo:rustc-env=TOOGOODTOGO_VERSION={version}");
}

fn git_tag() -> Option<String> {
    let output = Command::new("git")
        .args(["describe", "--tags", "--exact-match", "HEAD"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let tag = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (!tag.is_empty()).then_some(tag)
}
