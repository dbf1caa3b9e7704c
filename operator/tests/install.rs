//! `toogoodtogo-operator manifests`: the plain install, compared with its golden file and run as a
//! platform engineer would. `UPDATE_GOLDEN=1` rewrites the golden file; review the diff like code.

use std::process::Command;

use serde_json::Value;
use toogoodtogo_operator::install::{self, InstallOptions};

mod common;
use common::{golden_dir, update_requested};

fn golden_path() -> std::path::PathBuf {
    golden_dir().join("install/manifests.yaml")
}

#[test]
fn manifests_match_the_golden_file() {
    let printed =
        install::manifests_yaml(&InstallOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let path = golden_path();
    if update_requested() {
        std::fs::write(&path, &printed).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        golden == printed,
        "the install differs from {}; run `UPDATE_GOLDEN=1 cargo nextest run -p \
         toogoodtogo-operator --test install` and review the diff",
        path.display()
    );
}

fn manifests(args: &[&str]) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_toogoodtogo-operator"))
        .arg("manifests")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the operator binary: {e}"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"))
}

fn kinds(objects: &[Value]) -> Vec<&str> {
    objects.iter().filter_map(|o| o["kind"].as_str()).collect()
}

#[test]
fn the_printed_install_is_complete_and_applies_the_namespace_first() {
    let objects = manifests(&[]);
    assert_eq!(
        kinds(&objects),
        [
            "Namespace",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "Deployment",
            "PodDisruptionBudget",
        ]
    );
    for (index, file) in [
        "toogoodtogos.toogoodtogo.io.yaml",
        "backups.toogoodtogo.io.yaml",
        "restores.toogoodtogo.io.yaml",
    ]
    .iter()
    .enumerate()
    {
        let crd_on_disk = common::read_yaml(
            &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../crds")
                .join(file),
        );
        assert_eq!(
            objects[index + 1],
            crd_on_disk,
            "the install's {file} is not crds/"
        );
    }
}

#[test]
fn namespace_and_image_options_reach_every_object() {
    let objects = manifests(&[
        "--namespace",
        "platform",
        "--image",
        "registry.example.com/tgtg-operator:1.2.3",
    ]);
    for object in &objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        match kind {
            "Namespace" => assert_eq!(object["metadata"]["name"], "platform"),
            "CustomResourceDefinition" | "ClusterRole" => {}
            "ClusterRoleBinding" | "RoleBinding" => {
                assert_eq!(object["subjects"][0]["namespace"], "platform", "{kind}");
            }
            _ => assert_eq!(object["metadata"]["namespace"], "platform", "{kind}"),
        }
    }
    let deployment = objects
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .unwrap_or_else(|| panic!("no Deployment"));
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/tgtg-operator:1.2.3"
    );
}

#[test]
fn the_default_image_is_this_version_of_the_operator() {
    let objects = manifests(&[]);
    let deployment = objects
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .unwrap_or_else(|| panic!("no Deployment"));
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("toogoodtogo/operator:{}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_namespace_list_gets_a_role_in_each_and_a_bad_name_is_refused_by_name() {
    let objects = manifests(&["--watch-namespace", "shop,bakery"]);
    let roles: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "Role" && o["metadata"]["name"] == install::OPERATOR_NAME)
        .filter_map(|o| o["metadata"]["namespace"].as_str())
        .collect();
    assert_eq!(roles, ["bakery", "shop"]);
    assert!(!objects.iter().any(|o| o["kind"] == "ClusterRole"));

    let refused = Command::new(env!("CARGO_BIN_EXE_toogoodtogo-operator"))
        .args(["manifests", "--watch-namespace", "shop,Shop_1"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("\"Shop_1\" is not a namespace name"),
        "{stderr}"
    );
}
