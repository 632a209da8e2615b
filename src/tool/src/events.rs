// SPDX-License-Identifier: GPL-2.0
//! `events`: waiting for device-mapper events and telling health changes
//! from the rest. The target raises a DM event (`dm_table_event`) whenever
//! a device's health changes; device-mapper counts every event in one
//! global counter that a reader of /dev/mapper/control can poll, after
//! arming it with the DM_DEV_ARM_POLL ioctl (what dmeventd and `dmsetup
//! wait` build on). One waiter thus covers every device, including ones
//! created later.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::status::DeviceStatus;

/// `struct dm_ioctl` of include/uapi/linux/dm-ioctl.h (the header only: the
/// ioctl carries no payload).
#[repr(C)]
struct DmIoctl {
    version: [u32; 3],
    data_size: u32,
    data_start: u32,
    target_count: u32,
    open_count: i32,
    flags: u32,
    event_nr: u32,
    padding: u32,
    dev: u64,
    name: [u8; 128],
    uuid: [u8; 129],
    data: [u8; 7],
}

const _: () = assert!(std::mem::size_of::<DmIoctl>() == 312);

/// `_IOWR(DM_IOCTL, DM_DEV_ARM_POLL_CMD, struct dm_ioctl)`: 0xfd is
/// DM_IOCTL, 16 DM_DEV_ARM_POLL_CMD (interface 4.37, Linux 4.14).
const DM_DEV_ARM_POLL: u64 = (3 << 30) | (312 << 16) | (0xfd << 8) | 16;

/// Waits for device-mapper events (any device).
pub struct Waiter {
    control: File,
}

impl Waiter {
    /// Opens /dev/mapper/control.
    pub fn open() -> Result<Self, String> {
        let control = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/mapper/control")
            .map_err(|e| format!("opening /dev/mapper/control: {e}"))?;
        Ok(Self { control })
    }

    /// Makes the next [`wait`](Self::wait) return on the first event after
    /// now. Read the devices' state after arming, so that no event is
    /// missed between the read and the wait.
    pub fn arm(&self) -> Result<(), String> {
        let mut io = DmIoctl {
            version: [4, 37, 0],
            data_size: std::mem::size_of::<DmIoctl>() as u32,
            data_start: 0,
            target_count: 0,
            open_count: 0,
            flags: 0,
            event_nr: 0,
            padding: 0,
            dev: 0,
            name: [0; 128],
            uuid: [0; 129],
            data: [0; 7],
        };
        // SAFETY: `control` is an open DM control device, and `io` is a
        // `struct dm_ioctl` (size checked above) of `data_size` bytes that
        // the kernel reads and writes back within the call.
        let r = unsafe { libc::ioctl(self.control.as_raw_fd(), DM_DEV_ARM_POLL as _, &mut io as *mut DmIoctl) };
        if r < 0 {
            return Err(format!("DM_DEV_ARM_POLL: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Waits until an event came after the last [`arm`](Self::arm), or
    /// `timeout`: whether an event came.
    pub fn wait(&self, timeout: Duration) -> Result<bool, String> {
        let mut fd = libc::pollfd { fd: self.control.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: `fd` is one valid pollfd, and the count says one.
        let r = unsafe { libc::poll(&mut fd, 1, ms) };
        match r {
            0 => Ok(false),
            n if n > 0 => Ok(fd.revents & libc::POLLIN != 0),
            _ => {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    Ok(false)
                } else {
                    Err(format!("poll on /dev/mapper/control: {e}"))
                }
            }
        }
    }
}

/// One device's health change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub device: String,
    pub old: String,
    pub new: String,
    /// `/dev` paths of the main and spare devices.
    pub main: String,
    pub spare: String,
}

impl Change {
    /// The syslog priority of the new health, as journald reads a `<N>`
    /// line prefix: crit when the disk should be replaced or new bad blocks
    /// can no longer be remapped, warning when degraded, notice when ok.
    pub fn priority(&self) -> u8 {
        match self.new.as_str() {
            "failing" | "spare_exhausted" => 2,
            "degraded" => 4,
            "ok" => 5,
            _ => 4,
        }
    }

    /// The journal line: `<N>` and the text.
    pub fn log_line(&self) -> String {
        format!(
            "<{}>dm-remap: {}: health {} (was {}; main {}, spare {})",
            self.priority(),
            self.device,
            self.new,
            self.old,
            self.main,
            self.spare
        )
    }
}

/// Which of `devices` (all if empty) changed health since `known`, which
/// it updates: devices seen for the first time are recorded, not reported;
/// devices gone are forgotten.
pub fn changes(known: &mut BTreeMap<String, String>, now: &[DeviceStatus], devices: &[String]) -> Vec<Change> {
    let watched = |name: &str| devices.is_empty() || devices.iter().any(|d| d == name);
    let mut out = vec![];
    let mut seen = BTreeMap::new();
    for d in now.iter().filter(|d| watched(&d.name)) {
        if let Some(old) = known.get(&d.name) {
            if *old != d.health && !seen.contains_key(&d.name) {
                out.push(Change {
                    device: d.name.clone(),
                    old: old.clone(),
                    new: d.health.clone(),
                    main: d.main.clone(),
                    spare: d.spare.clone(),
                });
            }
        }
        seen.insert(d.name.clone(), d.health.clone());
    }
    *known = seen;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::parse_line;

    fn device(name: &str, health: &str) -> DeviceStatus {
        let line = format!(
            "{name}: 0 131072 remap 3 7:0 7:1 512 8 30784 8 17 76 0 2 1 {health} 6 \
             0c6e7e32a1f04f2f8a4bd3a3d3b6ef01 1 1 5 2 1 on 3 3 80 95 done 100 131072 1"
        );
        parse_line(&line, None).unwrap()
    }

    #[test]
    fn only_health_changes_of_watched_devices_are_reported() {
        let mut known = BTreeMap::new();
        assert!(changes(&mut known, &[device("a", "ok"), device("b", "ok")], &[]).is_empty(), "first sight");
        let c = changes(&mut known, &[device("a", "degraded"), device("b", "ok")], &[]);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].device.as_str(), c[0].old.as_str(), c[0].new.as_str()), ("a", "ok", "degraded"));
        assert_eq!(c[0].log_line(), "<4>dm-remap: a: health degraded (was ok; main 7:0, spare 7:1)");
        assert!(changes(&mut known, &[device("a", "degraded")], &[]).is_empty(), "no change, b gone");
        assert!(changes(&mut known, &[device("a", "degraded"), device("b", "failing")], &[]).is_empty(), "b is new");
        let only_a = ["a".to_string()];
        let c = changes(&mut known, &[device("a", "spare_exhausted"), device("b", "ok")], &only_a);
        assert_eq!(c.len(), 1, "b is not watched: {c:?}");
        assert_eq!(c[0].priority(), 2, "spare_exhausted is critical");
    }
}
