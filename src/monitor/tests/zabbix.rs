// SPDX-License-Identifier: GPL-2.0
//! The shipped Zabbix agent file and template: every UserParameter command
//! runs (as the agent would, through sh, with the binary under test for
//! `sudo -n /usr/sbin/dm-remap-monitor`) against a fake dmsetup, discovery
//! gives valid LLD JSON, and every item prototype of the template is a key
//! of the file that yields a value of the item's type.

mod common;

use std::collections::HashMap;
use std::process::Command;

use common::{fake_dmsetup, STATUS};

const CONF: &str = include_str!("../../../scripts/zabbix/dm-remap.conf");
const TEMPLATE: &str = include_str!("../../../scripts/zabbix/dm-remap-template.yaml");

/// `key` (without `[*]`) -> command, from the UserParameter lines.
fn user_parameters() -> HashMap<String, String> {
    CONF.lines()
        .filter_map(|l| l.strip_prefix("UserParameter="))
        .map(|l| {
            let (key, cmd) = l.split_once(',').expect("UserParameter=<key>,<command>");
            (key.trim_end_matches("[*]").to_string(), cmd.to_string())
        })
        .collect()
}

/// Runs `cmd` as the agent does, `$1`, `$2` being `args`.
fn agent_run(dir: &std::path::Path, cmd: &str, args: &[&str]) -> (bool, String) {
    let mut cmd = cmd.replace("sudo -n /usr/sbin/dm-remap-monitor", env!("CARGO_BIN_EXE_dm-remap-monitor"));
    for (i, a) in args.iter().enumerate() {
        cmd = cmd.replace(&format!("${}", i + 1), a);
    }
    let out =
        Command::new("sh").args(["-c", &cmd]).env("PATH", format!("{}:/bin:/usr/bin", dir.display())).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The template's item prototypes: (key, value_type).
fn item_prototypes() -> Vec<(String, String)> {
    let mut items = vec![];
    let lines: Vec<&str> = TEMPLATE.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let Some(key) = l.trim().strip_prefix("key: ") else { continue };
        let key = key.trim_matches('\'').to_string();
        if key == "dm-remap.discovery" {
            continue;
        }
        // value_type, if any, before the next item ("- uuid:").
        let vt = lines[i + 1..]
            .iter()
            .take_while(|l| !l.trim().starts_with("- uuid:"))
            .find_map(|l| l.trim().strip_prefix("value_type: "))
            .unwrap_or("UNSIGNED");
        items.push((key, vt.to_string()));
    }
    items
}

#[test]
fn user_parameters_feed_every_template_item() {
    let dir = tempfile::tempdir().unwrap();
    fake_dmsetup(dir.path(), STATUS);
    let params = user_parameters();
    assert!(CONF.contains("UserParameter=dm-remap.value[*],"), "dm-remap.value takes parameters");
    assert!(TEMPLATE.starts_with("# Zabbix 6.0") && TEMPLATE.contains("zabbix_export:\n  version: '6.0'"));

    let (ok, out) = agent_run(dir.path(), &params["dm-remap.discovery"], &[]);
    assert!(ok, "discovery: {out}");
    let lld: serde_json::Value = serde_json::from_str(&out).expect("discovery gives JSON");
    let devices: Vec<String> =
        lld["data"].as_array().unwrap().iter().map(|d| d["{#DMREMAP}"].as_str().unwrap().to_string()).collect();
    assert_eq!(devices, ["data0", "data1"]);

    let items = item_prototypes();
    assert!(items.len() >= 5, "{items:?}");
    for (key, vt) in &items {
        let (name, args) = key.split_once('[').expect("item keys take parameters");
        let cmd = params.get(name).unwrap_or_else(|| panic!("template item {key}: no UserParameter {name}"));
        let args: Vec<&str> = args.trim_end_matches(']').split(',').collect();
        for dev in &devices {
            let args: Vec<&str> = args.iter().map(|a| if *a == "{#DMREMAP}" { dev.as_str() } else { a }).collect();
            let (ok, out) = agent_run(dir.path(), cmd, &args);
            let v = out.trim();
            assert!(ok && !v.is_empty() && !v.contains('\n'), "{key} of {dev}: {out}");
            match vt.as_str() {
                "UNSIGNED" => assert!(v.parse::<u64>().is_ok(), "{key} of {dev}: '{v}' is not unsigned"),
                "FLOAT" => assert!(v.parse::<f64>().is_ok(), "{key} of {dev}: '{v}' is not a float"),
                _ => {}
            }
        }
    }
    // An unknown device or field fails (Zabbix: ZBX_NOTSUPPORTED).
    assert!(!agent_run(dir.path(), &params["dm-remap.value"], &["nosuch", "health"]).0);
    assert!(!agent_run(dir.path(), &params["dm-remap.value"], &["data0", "frob"]).0);
}
