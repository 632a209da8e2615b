// SPDX-License-Identifier: GPL-2.0
//! Device numbers as the paths admins know: the status line names the main
//! and spare devices as `major:minor`; the tool shows `/dev/...` beside it.

use std::path::Path;

/// The `/dev` path of block device `majmin` (`8:16` is `/dev/sdb`; a
/// device-mapper device is `/dev/mapper/<name>`), from sysfs; `majmin`
/// itself when sysfs does not know it (the device is gone, or no sysfs).
pub fn path(majmin: &str) -> String {
    path_in(Path::new("/sys"), majmin)
}

/// [`path`] with sysfs at `sys`.
pub fn path_in(sys: &Path, majmin: &str) -> String {
    if majmin.is_empty() || !majmin.bytes().all(|b| b.is_ascii_digit() || b == b':') {
        return majmin.to_string();
    }
    let dev = sys.join("dev/block").join(majmin);
    if let Ok(name) = std::fs::read_to_string(dev.join("dm/name")) {
        let name = name.trim();
        if !name.is_empty() {
            return format!("/dev/mapper/{name}");
        }
    }
    let uevent = std::fs::read_to_string(dev.join("uevent")).unwrap_or_default();
    match uevent.lines().find_map(|l| l.strip_prefix("DEVNAME=")) {
        Some(name) if !name.is_empty() => format!("/dev/{name}"),
        _ => majmin.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_become_dev_paths() {
        let sys = tempfile::tempdir().unwrap();
        let disk = sys.path().join("dev/block/8:16");
        std::fs::create_dir_all(&disk).unwrap();
        std::fs::write(disk.join("uevent"), "MAJOR=8\nMINOR=16\nDEVNAME=sdb\nDEVTYPE=disk\n").unwrap();
        let dm = sys.path().join("dev/block/253:2");
        std::fs::create_dir_all(dm.join("dm")).unwrap();
        std::fs::write(dm.join("uevent"), "MAJOR=253\nMINOR=2\nDEVNAME=dm-2\n").unwrap();
        std::fs::write(dm.join("dm/name"), "dust\n").unwrap();
        assert_eq!(path_in(sys.path(), "8:16"), "/dev/sdb");
        assert_eq!(path_in(sys.path(), "253:2"), "/dev/mapper/dust", "a DM device goes by its /dev/mapper name");
        assert_eq!(path_in(sys.path(), "8:32"), "8:32", "an unknown device keeps its number");
        assert_eq!(path_in(sys.path(), "../../etc"), "../../etc", "only numbers are looked up");
    }
}
