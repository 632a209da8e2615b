// SPDX-License-Identifier: GPL-2.0
//! `health`: a device's dm-remap state with the SMART data of the disks
//! under it, read with `smartctl --json` (smartmontools): reallocated,
//! pending and uncorrectable sector counts (ATA attributes 5, 197, 198) and
//! NVMe media errors.

use std::path::{Path, PathBuf};
use std::process::Command;

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
    /// Why there is no data, when there is none.
    pub note: Option<String>,
}

/// Extracts the summary from `smartctl --json -a` output.
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
        note: None,
    };
    if s.passed.is_none() && s.reallocated_sectors.is_none() && s.nvme_media_errors.is_none() {
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

/// Runs smartctl on `/dev/<disk>`.
pub fn query(disk: &str) -> Result<SmartSummary, String> {
    let path = format!("/dev/{disk}");
    let out = Command::new("smartctl").args(["--json", "-a", &path]).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            "smartctl not found: install smartmontools".to_string()
        } else {
            format!("cannot run smartctl: {e}")
        }
    })?;
    // smartctl's exit status is a bit mask of findings; the JSON says more.
    summarize(&path, &String::from_utf8_lossy(&out.stdout))
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
