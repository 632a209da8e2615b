// SPDX-License-Identifier: GPL-2.0
//! The Nagios plugin as Nagios runs it: exit status, one line, perfdata.

mod common;

use common::{fake_dmsetup, monitor, STATUS};

#[test]
fn usage_errors_are_unknown_not_critical() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["nagios", "--frob"][..], &["nagios", "-w", "101"], &["nagios", "-w", "90", "-c", "80"]] {
        let out = monitor(dir.path(), args).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = monitor(dir.path(), &["nagios", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn devices_from_dmsetup_give_state_and_perfdata() {
    let dir = tempfile::tempdir().unwrap();
    fake_dmsetup(dir.path(), STATUS);
    let db = dir.path().join("none.sqlite");
    let out = monitor(dir.path(), &["nagios", "--db", db.to_str().unwrap()]).output().unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{line}");
    assert!(line.starts_with("DM-REMAP WARNING - data0 degraded"), "{line}");
    assert!(line.contains("| data0_spare_used=50.00%;80;95;0;100 "), "{line}");
    assert!(!db.exists(), "the plugin created the history");
    let out = monitor(dir.path(), &["nagios", "data1", "-w", "1", "-c", "2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let out = monitor(dir.path(), &["nagios", "nosuch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    // No dmsetup at all is UNKNOWN too.
    let empty = tempfile::tempdir().unwrap();
    let out = monitor(empty.path(), &["nagios"]).env("PATH", empty.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
}
