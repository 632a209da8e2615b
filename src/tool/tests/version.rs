// SPDX-License-Identifier: GPL-2.0
//! One version for the module, the tool and DKMS: the workspace's
//! Cargo.toml holds it, the crates and Kbuild take it from there, and
//! dkms.conf must repeat it.

use std::process::Command;

fn repo_file(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../").to_string() + name;
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// `key = "value"` (or `KEY="value"`) in `text`, in the section `section`
/// when given.
fn value(text: &str, section: Option<&str>, key: &str) -> Option<String> {
    let mut inside = section.is_none();
    for line in text.lines() {
        if line.starts_with('[') {
            inside = section.is_some_and(|s| line.trim() == s);
        } else if let (true, Some((k, v))) = (inside, line.split_once('=')) {
            if k.trim() == key {
                return Some(v.trim().trim_matches('"').to_string());
            }
        }
    }
    None
}

#[test]
fn module_tool_and_dkms_share_the_workspace_version() {
    let workspace = value(&repo_file("Cargo.toml"), Some("[workspace.package]"), "version")
        .expect("Cargo.toml has a [workspace.package] version");
    assert_eq!(env!("CARGO_PKG_VERSION"), workspace, "dm-remap-tool takes version.workspace");
    for krate in ["src/core/Cargo.toml", "src/monitor/Cargo.toml"] {
        assert!(repo_file(krate).contains("\nversion.workspace = true\n"), "{krate} takes version.workspace");
    }
    assert_eq!(value(&repo_file("dkms.conf"), None, "PACKAGE_VERSION"), Some(workspace), "dkms.conf's PACKAGE_VERSION");
    let kbuild = repo_file("Kbuild");
    assert!(
        kbuild.contains("[workspace.package]") && kbuild.contains("-DDM_REMAP_VERSION="),
        "Kbuild passes the workspace version to the module"
    );
    assert!(repo_file("src/dm/modinfo.c").contains("MODULE_VERSION(DM_REMAP_VERSION)"));
}

#[test]
fn version_names_the_tool_and_the_module() {
    let out = Command::new(env!("CARGO_BIN_EXE_dm-remap")).arg("--version").output().expect("run dm-remap");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(concat!("dm-remap ", env!("CARGO_PKG_VERSION"))));
    assert!(lines.next().is_some_and(|l| l.starts_with("module dm_remap")), "second line is the module's: {text}");
}
