// SPDX-License-Identifier: GPL-2.0
//! Hiding main disks: a main disk carries every signature of its dm-remap
//! device (filesystem uuid, LVM PV label, md superblock), so udev, systemd,
//! md and LVM must see the dm-remap device only, or they race for the raw
//! disk and its I/O bypasses the remapping.
//!
//! `udev-check` (called by 61-dm-remap.rules, as multipath's rule calls
//! `multipath -u`) tells udev whether a device is a main disk of the config;
//! `lvm-filter` prints the `devices/global_filter` that keeps LVM off them.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::activate::Entry;

/// The entry whose main disk is `devnode`, known by its node, by one of
/// the symlinks udev gives it in this event (`links`, relative to /dev as
/// udev's `$links` has them), or by the device number of the config's path.
pub fn main_of<'a>(entries: &'a [Entry], devnode: &Path, links: &[String]) -> Option<&'a Entry> {
    // 0: not a device node.
    let rdev = |p: &Path| std::fs::metadata(p).ok().map(|m| m.rdev()).filter(|&r| r != 0);
    let own = rdev(devnode);
    entries.iter().find(|e| {
        e.main == devnode
            || links.iter().any(|l| Path::new("/dev").join(l) == e.main)
            || (own.is_some() && rdev(&e.main) == own)
    })
}

/// The whole disk of a partition's node, from sysfs.
fn parent_disk(devnode: &Path) -> Option<PathBuf> {
    let sys = Path::new("/sys/class/block").join(devnode.file_name()?);
    if !sys.join("partition").exists() {
        return None;
    }
    let disk = std::fs::canonicalize(&sys).ok()?.parent()?.file_name()?.to_owned();
    Some(Path::new("/dev").join(disk))
}

/// Links that name a device by the signatures on it: a main disk shares
/// them with its dm-remap device, so it must not have them.
const SIGNATURE_LINKS: [&str; 4] = ["disk/by-uuid/", "disk/by-label/", "disk/by-partuuid/", "disk/by-partlabel/"];

/// What `dm-remap udev-check` prints for `IMPORT{program}`: nothing for a
/// device that is no main disk (nor a partition of one); else
/// `DM_REMAP_MAIN=1`, the device's name, and in `DM_REMAP_LINKS` its links
/// less the signature ones, for the rule to assign as its whole SYMLINK list
/// (udev 252 cannot remove one link from the list).
pub fn udev_check(entries: &[Entry], devnode: &Path, links: &[String]) -> String {
    let Some(e) =
        main_of(entries, devnode, links).or_else(|| parent_disk(devnode).and_then(|disk| main_of(entries, &disk, &[])))
    else {
        return String::new();
    };
    let kept: Vec<&str> =
        links.iter().map(String::as_str).filter(|l| !SIGNATURE_LINKS.iter().any(|s| l.starts_with(s))).collect();
    format!("DM_REMAP_MAIN=1\nDM_REMAP_NAME={}\nDM_REMAP_LINKS={}\n", e.name, kept.join(" "))
}

/// `path` as an LVM filter regex that matches it alone: anchored, and each
/// character a regex would read specially put in a bracket class.
fn lvm_regex(path: &str) -> String {
    let mut re = String::from("^");
    for c in path.chars() {
        match c {
            '.' | '*' | '+' | '?' | '(' | ')' | '{' | '}' | '[' | '^' | '$' | '\\' | '|' => {
                re.push('[');
                re.push(c);
                re.push(']');
            }
            _ => re.push(c),
        }
    }
    re + "$"
}

/// `s` as the inside of a quoted lvm.conf string.
fn lvm_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// An lvm.conf `devices` section whose `global_filter` rejects every main
/// disk of `entries` by the path the config names it with.
pub fn lvm_filter(config: &Path, entries: &[Entry]) -> String {
    let patterns: Vec<String> =
        entries.iter().map(|e| format!("\"r|{}|\"", lvm_string(&lvm_regex(&e.main.display().to_string())))).collect();
    format!(
        "# From `dm-remap lvm-filter` for {}: LVM must not scan the main disks of\n\
         # dm-remap devices (it would find their dm-remap devices' PV labels on\n\
         # them). Reject patterns only: LVM accepts a device if any of its names\n\
         # matches an accept pattern first, so a catch-all \"a|.*|\" would let the\n\
         # disk in again by its /dev/sdX name.\n\
         devices {{\n\tglobal_filter = [ {} ]\n}}\n",
        config.display(),
        patterns.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activate::parse;

    fn entries() -> Vec<Entry> {
        parse("r0 /dev/disk/by-id/ata-OLD_1.0+x /dev/sdz\nr1 /dev/vdb /dev/vdc\nr2 /dev/disk/by-id/a\\x20b /dev/vdd\n")
            .0
    }

    #[test]
    fn a_main_disk_is_known_by_its_node_or_any_udev_link() {
        let e = entries();
        let none: &[String] = &[];
        assert_eq!(main_of(&e, Path::new("/dev/vdb"), none).map(|e| e.name.as_str()), Some("r1"));
        let links = ["disk/by-path/pci-0".to_string(), "disk/by-id/ata-OLD_1.0+x".to_string()];
        assert_eq!(main_of(&e, Path::new("/dev/sda"), &links).map(|e| e.name.as_str()), Some("r0"));
        assert!(main_of(&e, Path::new("/dev/sdz"), none).is_none(), "a spare is no main disk");
        assert!(main_of(&e, Path::new("/dev/no-such"), &["disk/by-id/other".into()]).is_none());
        let links = ["disk/by-id/ata-OLD_1.0+x".to_string(), "disk/by-uuid/1234".into(), "disk/by-label/root".into()];
        assert_eq!(
            udev_check(&e, Path::new("/dev/sda"), &links),
            "DM_REMAP_MAIN=1\nDM_REMAP_NAME=r0\nDM_REMAP_LINKS=disk/by-id/ata-OLD_1.0+x\n"
        );
        assert_eq!(udev_check(&e, Path::new("/dev/sdz"), &links[1..]), "", "not a main disk");
    }

    #[test]
    fn the_lvm_filter_rejects_exactly_the_main_disk_paths() {
        let out = lvm_filter(Path::new("/etc/dm-remap/devices.conf"), &entries());
        assert!(
            out.contains(
                "global_filter = [ \"r|^/dev/disk/by-id/ata-OLD_1[.]0[+]x$|\", \"r|^/dev/vdb$|\", \
                 \"r|^/dev/disk/by-id/a[\\\\]x20b$|\" ]"
            ),
            "{out}"
        );
        let filter = out.lines().find(|l| l.contains("global_filter")).unwrap_or_default();
        assert!(!filter.contains("\"a|"), "no accept pattern: {filter}");
    }
}
