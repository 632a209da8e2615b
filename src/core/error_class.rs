// SPDX-License-Identifier: GPL-2.0
//! Classification of I/O completion statuses (`blk_status_t`), which decides
//! what dm-remap does about a failed bio. Documentation/dm-remap.rst has the
//! table.

/// What a failed completion says about the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The medium failed at this place: retry in blocks, remap on write.
    Media,
    /// Might succeed if tried again: retry with backoff.
    Transient,
    /// The device or the path to it failed: never remap (it would drain the
    /// spare), pass the error up, health turns `failing`.
    Device,
    /// Not the disk's fault (unsupported, invalid, no space): pass it up.
    NotDisk,
}

/// `blk_status_t` values of Linux 6.12 (include/linux/blk_types.h).
pub mod status {
    pub const OK: u8 = 0;
    pub const NOTSUPP: u8 = 1;
    pub const TIMEOUT: u8 = 2;
    pub const NOSPC: u8 = 3;
    pub const TRANSPORT: u8 = 4;
    pub const TARGET: u8 = 5;
    pub const RESV_CONFLICT: u8 = 6;
    pub const MEDIUM: u8 = 7;
    pub const PROTECTION: u8 = 8;
    pub const RESOURCE: u8 = 9;
    pub const IOERR: u8 = 10;
    pub const DM_REQUEUE: u8 = 11;
    pub const AGAIN: u8 = 12;
    pub const DEV_RESOURCE: u8 = 13;
    pub const ZONE_OPEN_RESOURCE: u8 = 14;
    pub const ZONE_ACTIVE_RESOURCE: u8 = 15;
    pub const OFFLINE: u8 = 16;
    pub const DURATION_LIMIT: u8 = 17;
    pub const INVAL: u8 = 19;
}

/// The class of a non-OK status. `IOERR` counts as a media error: it is
/// what most drivers (and dm-dust) report for an unreadable or unwritable
/// range, and the block-by-block retry tells a bad block from a bad device.
pub fn classify(blk_status: u8) -> ErrorClass {
    use status::*;
    match blk_status {
        MEDIUM | IOERR | PROTECTION => ErrorClass::Media,
        TIMEOUT | RESOURCE | AGAIN | DEV_RESOURCE | ZONE_OPEN_RESOURCE | ZONE_ACTIVE_RESOURCE | DM_REQUEUE => {
            ErrorClass::Transient
        }
        TRANSPORT | TARGET | RESV_CONFLICT | OFFLINE => ErrorClass::Device,
        NOTSUPP | NOSPC | INVAL | DURATION_LIMIT => ErrorClass::NotDisk,
        // Unknown codes: treat as the device's problem, never remap on them.
        _ => ErrorClass::Device,
    }
}

/// The `blk_status_t` for a negative errno from a synchronous retry.
pub fn status_of_errno(errno: i32) -> u8 {
    match -errno {
        0 => status::OK,
        5 => status::IOERR,      // EIO
        61 => status::MEDIUM,    // ENODATA
        110 => status::TIMEOUT,  // ETIMEDOUT
        11 => status::AGAIN,     // EAGAIN
        12 => status::RESOURCE,  // ENOMEM
        95 => status::NOTSUPP,   // EOPNOTSUPP
        28 => status::NOSPC,     // ENOSPC
        67 => status::TRANSPORT, // ENOLINK
        121 => status::TARGET,   // EREMOTEIO
        19 => status::OFFLINE,   // ENODEV
        _ => status::IOERR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_status_has_the_documented_class() {
        use status::*;
        let media = [MEDIUM, IOERR, PROTECTION];
        let transient = [TIMEOUT, RESOURCE, AGAIN, DEV_RESOURCE, ZONE_OPEN_RESOURCE, ZONE_ACTIVE_RESOURCE, DM_REQUEUE];
        let device = [TRANSPORT, TARGET, RESV_CONFLICT, OFFLINE, 18, 200];
        let not_disk = [NOTSUPP, NOSPC, INVAL, DURATION_LIMIT];
        for s in media {
            assert_eq!(classify(s), ErrorClass::Media, "{s}");
        }
        for s in transient {
            assert_eq!(classify(s), ErrorClass::Transient, "{s}");
        }
        for s in device {
            assert_eq!(classify(s), ErrorClass::Device, "{s}");
        }
        for s in not_disk {
            assert_eq!(classify(s), ErrorClass::NotDisk, "{s}");
        }
    }

    #[test]
    fn errnos_map_to_statuses_of_the_same_class() {
        assert_eq!(classify(status_of_errno(-5)), ErrorClass::Media);
        assert_eq!(classify(status_of_errno(-110)), ErrorClass::Transient);
        assert_eq!(classify(status_of_errno(-19)), ErrorClass::Device);
        assert_eq!(classify(status_of_errno(-95)), ErrorClass::NotDisk);
    }
}
