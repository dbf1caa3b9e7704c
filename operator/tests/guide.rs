//! The platform engineer's guide (`deployment/k8s/README.md`) stays true to the operator: it
//! explains every condition reason the operator can set, and its links lead somewhere.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn guide_path() -> PathBuf {
    repo().join("deployment/k8s/README.md")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Single-word CamelCase string literals of the status module outside its tests: the condition
/// types and every reason it writes.
fn status_words() -> Vec<String> {
    let source = read(&repo().join("operator/src/status.rs"));
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let mut words: Vec<String> = code
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.starts_with(|c: char| c.is_ascii_uppercase())
                && s.chars().all(|c| c.is_ascii_alphabetic())
        })
        .map(str::to_owned)
        .collect();
    words.sort();
    words.dedup();
    // Condition statuses and the Event action are not reasons.
    words.retain(|w| !matches!(w.as_str(), "True" | "False" | "Reconcile"));
    words
}

#[test]
fn the_guide_explains_every_condition_reason() {
    let words = status_words();
    assert!(
        words.iter().any(|w| w == "SecretMissing"),
        "status.rs no longer looks as expected: {words:?}"
    );
    let guide = read(&guide_path());
    let missing: Vec<&String> = words
        .iter()
        .filter(|w| !guide.contains(w.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "deployment/k8s/README.md does not explain {missing:?}"
    );
}

#[test]
fn the_guides_relative_links_exist() {
    let guide = read(&guide_path());
    let dir = guide_path()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut broken = Vec::new();
    for part in guide.split("](").skip(1) {
        let target = part.split(')').next().unwrap_or_default();
        if target.starts_with('#') || target.contains("://") {
            continue;
        }
        let file = target.split('#').next().unwrap_or_default();
        if !dir.join(file).exists() {
            broken.push(target.to_owned());
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:?}");
}
