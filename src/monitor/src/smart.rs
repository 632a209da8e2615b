// SPDX-License-Identifier: GPL-2.0
//! `health`: a device's dm-remap state with the SMART data of the disks
//! under it, read with `smartctl --json -x -n standby` (smartmontools):
//! reallocated, pending and uncorrectable sector counts (ATA attributes 5,
//! 197, 198), NVMe media errors, SAS/SCSI grown defects and uncorrected
//! errors. A disk in standby is not woken, a hung smartctl is killed after
//! a timeout, and without smartctl SMART is reported unavailable.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

/// What SMART says about one disk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SmartSummary {
    pub device: String,
    pub passed: Option<bool>,
    pub reallocated_sectors: Option<u64>,
    pub pending_sectors: Option<u64>,
    pub uncorrectable_sectors: Option<u64>,
    pub nvme_media_errors: Option<u64>,
    /// SAS/SCSI: the grown defect list's length (blocks the disk
    /// reallocated since it left the factory).
    pub grown_defects: Option<u64>,
    /// Why there is no data, when there is none.
    pub note: Option<String>,
}

/// Extracts the summary from `smartctl --json -x` output.
pub fn summarize(device: &str, json: &str) -> Result<SmartSummary, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("{device}: smartctl output is not JSON: {e}"))?;
    let attr = |id: u64| {
        v["ata_smart_attributes"]["table"].as_array()?.iter().find(|a| a["id"].as_u64() == Some(id))?["raw"]["value"]
            .as_u64()
    };
    let mut s = SmartSummary {
        device: device.to_string(),
        passed: v["smart_status"]["passed"].as_bool(),
        reallocated_sectors: attr(5),
        pending_sectors: attr(197),
        uncorrectable_sectors: attr(198),
        nvme_media_errors: v["nvme_smart_health_information_log"]["media_errors"].as_u64(),
        grown_defects: v["scsi_grown_defect_list"].as_u64(),
        note: None,
    };
    if s.uncorrectable_sectors.is_none() {
        // SCSI: the error counter log's uncorrected read and write errors.
        let log = &v["scsi_error_counter_log"];
        let n = |op: &str| log[op]["total_uncorrected_errors"].as_u64();
        s.uncorrectable_sectors = match (n("read"), n("write")) {
            (None, None) => None,
            (r, w) => Some(r.unwrap_or(0) + w.unwrap_or(0)),
        };
    }
    if s.passed.is_none()
        && s.reallocated_sectors.is_none()
        && s.nvme_media_errors.is_none()
        && s.grown_defects.is_none()
    {
        let msg = v["smartctl"]["messages"][0]["string"].as_str().unwrap_or("no SMART data");
        s.note = Some(msg.to_string());
    }
    Ok(s)
}

/// The whole disks under block device `maj:min`: itself, its parent disk if
/// it is a partition, or the disks under a device-mapper/md device.
pub fn leaf_disks(majmin: &str, sys: &Path) -> Vec<String> {
    let dir = sys.join("dev/block").join(majmin);
    let Ok(real) = std::fs::canonicalize(&dir) else { return vec![] };
    let slaves: Vec<PathBuf> = std::fs::read_dir(real.join("slaves"))
        .map(|it| it.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    if !slaves.is_empty() {
        let mut out = vec![];
        for s in slaves {
            let dev = std::fs::read_to_string(s.join("dev")).unwrap_or_default();
            out.extend(leaf_disks(dev.trim(), sys));
        }
        out.sort();
        out.dedup();
        return out;
    }
    let disk = if real.join("partition").exists() { real.parent().map(Path::to_path_buf) } else { Some(real) };
    disk.and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned())).into_iter().collect()
}

/// The summary of a disk whose SMART data could not be read, saying why.
fn unavailable(device: &str, why: String) -> SmartSummary {
    SmartSummary { device: device.to_string(), note: Some(why), ..Default::default() }
}

/// Runs smartctl on `/dev/<disk>` (`-n standby`: a sleeping disk is not
/// spun up), killing it after `timeout`. Never an error: what could not be
/// read is a summary with a note (SMART unavailable, standby, timeout).
pub fn query(disk: &str, timeout: Duration) -> SmartSummary {
    let path = format!("/dev/{disk}");
    let child = Command::new("smartctl")
        .args(["--json", "-x", "-n", "standby", &path])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return unavailable(&path, "SMART unavailable: smartctl not found (install smartmontools)".into())
        }
        Err(e) => return unavailable(&path, format!("SMART unavailable: cannot run smartctl: {e}")),
    };
    // Read its output on a thread, so that a full pipe cannot stall it.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return unavailable(
                    &path,
                    format!("SMART unavailable: smartctl timed out after {}s", timeout.as_secs()),
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return unavailable(&path, format!("SMART unavailable: waiting for smartctl: {e}")),
        }
    }
    let out = reader.join().unwrap_or_default();
    // smartctl's exit status is a bit mask of findings; the JSON says more.
    let mut s = summarize(&path, &String::from_utf8_lossy(&out)).unwrap_or_else(|e| unavailable(&path, e));
    if s.note.as_deref().is_some_and(|n| n.to_ascii_uppercase().contains("STANDBY")) {
        s.note = Some("in standby: not woken up to read SMART".into());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATA: &str = r#"{"smartctl":{"exit_status":0},"smart_status":{"passed":true},
        "ata_smart_attributes":{"table":[
            {"id":5,"name":"Reallocated_Sector_Ct","raw":{"value":12}},
            {"id":197,"name":"Current_Pending_Sector","raw":{"value":3}},
            {"id":198,"name":"Offline_Uncorrectable","raw":{"value":1}}]}}"#;
    const NVME: &str = r#"{"smart_status":{"passed":false},
        "nvme_smart_health_information_log":{"media_errors":7}}"#;
    const NONE: &str = r#"{"smartctl":{"messages":[{"string":"/dev/loop0: Unable to detect device type","severity":"error"}],
        "exit_status":1}}"#;

    const SAS: &str = r#"{"smart_status":{"passed":true},"scsi_grown_defect_list":4,
        "scsi_error_counter_log":{"read":{"total_uncorrected_errors":2},"write":{"total_uncorrected_errors":1}}}"#;

    #[test]
    fn sas_grown_defects_and_uncorrected_errors() {
        let s = summarize("/dev/sdb", SAS).unwrap();
        assert_eq!((s.passed, s.grown_defects, s.uncorrectable_sectors, s.note), (Some(true), Some(4), Some(3), None));
    }

    #[test]
    fn recorded_outputs_summarize() {
        let a = summarize("/dev/sda", ATA).unwrap();
        assert_eq!(
            (a.passed, a.reallocated_sectors, a.pending_sectors, a.uncorrectable_sectors),
            (Some(true), Some(12), Some(3), Some(1))
        );
        let n = summarize("/dev/nvme0n1", NVME).unwrap();
        assert_eq!((n.passed, n.nvme_media_errors), (Some(false), Some(7)));
        let x = summarize("/dev/loop0", NONE).unwrap();
        assert_eq!(x.note.as_deref(), Some("/dev/loop0: Unable to detect device type"));
        assert!(summarize("/dev/sdz", "not json").unwrap_err().contains("not JSON"));
    }
}
