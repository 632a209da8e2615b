// SPDX-License-Identifier: GPL-2.0
//! The boot tool stays lean: `dm-remap` (this crate) depends, directly or
//! not, on none of the monitoring side's heavy libraries; they belong to
//! `dm-remap-monitor`.

use std::process::Command;

const HEAVY: [&str; 5] = ["rusqlite", "plotters", "tiny_http", "prometheus-client", "quick-xml"];

/// The names of every crate `package` builds with (normal dependencies, any
/// depth, dev-dependencies left out), from `cargo tree`.
fn dependencies(package: &str) -> Vec<String> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let out = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args(["tree", "--offline", "--manifest-path", manifest, "-p", package])
        .args(["-e", "normal", "--prefix", "none", "--format", "{p}"])
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree -p {package}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split_whitespace().next()).map(String::from).collect()
}

#[test]
fn the_boot_tool_links_no_monitoring_library() {
    let lean = dependencies("dm-remap-tool");
    let heavy: Vec<&&str> = HEAVY.iter().filter(|h| lean.iter().any(|d| d == *h)).collect();
    assert!(heavy.is_empty(), "dm-remap-tool depends on {heavy:?}: move that code to src/monitor");
    // The check looks where those libraries are: the monitor has them all.
    let monitor = dependencies("dm-remap-monitor");
    // (tiny_http and prometheus-client are gone from it too: it serves HTTP
    // and writes the Prometheus text format itself.)
    for h in HEAVY.iter().filter(|h| !["quick-xml", "tiny_http", "prometheus-client"].contains(*h)) {
        assert!(monitor.iter().any(|d| d == h), "dm-remap-monitor should depend on {h}; cargo tree gave {monitor:?}");
    }
}

#[test]
fn monitoring_commands_name_dm_remap_monitor_and_exit_2() {
    for args in [&["nagios", "a"][..], &["monitor", "--db", "x"], &["zabbix-discovery"], &["check", "--nagios"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_dm-remap")).args(args).output().expect("run dm-remap");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "dm-remap {args:?}: {err}");
        assert!(err.contains("run 'dm-remap-monitor "), "dm-remap {args:?} should name dm-remap-monitor: {err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_dm-remap")).arg("frob").output().expect("run dm-remap");
    assert_eq!(out.status.code(), Some(2), "an unknown command is a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand 'frob'"));
}
