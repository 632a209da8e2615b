// SPDX-License-Identifier: GPL-2.0
//! `health` with a fake smartctl on PATH: SAS disks, no smartctl, a disk in
//! standby left asleep, a hung smartctl killed.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{fake, fake_dmsetup, monitor, STATUS};

/// A sysfs where data0's main (7:0) and spare (7:1) are disks sda and sdb.
fn sysfs(dir: &Path) -> std::path::PathBuf {
    let sys = dir.join("sys");
    for (majmin, disk) in [("7:0", "sda"), ("7:1", "sdb")] {
        let real = sys.join("devices/virtual/block").join(disk);
        std::fs::create_dir_all(&real).unwrap();
        std::fs::create_dir_all(sys.join("dev/block")).unwrap();
        std::os::unix::fs::symlink(&real, sys.join("dev/block").join(majmin)).unwrap();
    }
    sys
}

fn health(dir: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let sys = sysfs(dir);
    let mut args = vec!["health", "data0", "--sysfs", sys.to_str().unwrap()];
    args.extend(extra);
    let out = monitor(dir, &args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn without_smartctl_smart_is_unavailable_and_health_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    fake_dmsetup(dir.path(), STATUS);
    // PATH holds the fake dmsetup and sh's tools, but no smartctl
    // (Debian's is /usr/sbin/smartctl).
    let sys = sysfs(dir.path());
    let out = monitor(dir.path(), &["health", "data0", "--sysfs", sys.to_str().unwrap(), "--format", "json"])
        .env("PATH", format!("{}:/bin:/usr/bin", dir.path().display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["status"][0]["name"], "data0");
    assert!(v["smart"][0]["note"].as_str().unwrap().contains("SMART unavailable: smartctl not found"), "{v}");
}

#[test]
fn sas_disks_show_grown_defects_and_smartctl_never_wakes_a_disk() {
    let dir = tempfile::tempdir().unwrap();
    fake_dmsetup(dir.path(), STATUS);
    let log = dir.path().join("smartctl.args");
    fake(
        dir.path(),
        "smartctl",
        &format!(
            r#"echo "$@" >> '{}'
case "$*" in
  *sda) echo '{{"smart_status":{{"passed":true}},"scsi_grown_defect_list":4}}' ;;
  *) echo '{{"smartctl":{{"messages":[{{"string":"Device is in STANDBY mode, exit(2)","severity":"information"}}],"exit_status":2}}}}'; exit 2 ;;
esac"#,
            log.display()
        ),
    );
    let (code, out, err) = health(dir.path(), &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("/dev/sda: smart passed") && out.contains("grown_defects 4"), "{out}");
    assert!(out.contains("/dev/sdb: smart unknown") && out.contains("(in standby: not woken up"), "{out}");
    let args = std::fs::read_to_string(&log).unwrap();
    assert!(args.lines().all(|l| l.contains("-n standby") && l.contains("--json -x")), "smartctl ran as: {args}");
}

#[test]
fn a_hung_smartctl_is_killed_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    fake_dmsetup(dir.path(), STATUS);
    fake(dir.path(), "smartctl", "exec sleep 60");
    let start = Instant::now();
    let (code, out, err) = health(dir.path(), &["--smart-timeout", "1"]);
    assert!(start.elapsed() < Duration::from_secs(20), "health waited {:?}", start.elapsed());
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("smartctl timed out after 1s"), "{out}");
}
