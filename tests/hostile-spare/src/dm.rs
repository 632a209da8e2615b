// SPDX-License-Identifier: GPL-2.0
//! Just enough of the device-mapper ioctl interface
//! (include/uapi/linux/dm-ioctl.h) to create, load, resume, query and
//! remove one device, as `dmsetup create`/`status`/`remove` do, without a
//! process per step (thousands of loads in a TCG guest).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

const DM_NAME_LEN: usize = 128;
const DM_UUID_LEN: usize = 129;

/// `struct dm_ioctl`.
#[repr(C)]
#[derive(Clone, Copy)]
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
    name: [u8; DM_NAME_LEN],
    uuid: [u8; DM_UUID_LEN],
    data: [u8; 7],
}

/// `struct dm_target_spec`.
#[repr(C)]
#[derive(Clone, Copy)]
struct TargetSpec {
    sector_start: u64,
    length: u64,
    status: i32,
    next: u32,
    target_type: [u8; 16],
}

const HEADER: usize = std::mem::size_of::<DmIoctl>();
const SPEC: usize = std::mem::size_of::<TargetSpec>();
const BUF: usize = 16384;

const DM_DEV_CREATE: u8 = 3;
const DM_DEV_REMOVE: u8 = 4;
const DM_DEV_SUSPEND: u8 = 6;
const DM_TABLE_LOAD: u8 = 9;
const DM_TABLE_STATUS: u8 = 12;

fn request(nr: u8) -> libc::c_ulong {
    // _IOWR(0xfd, nr, struct dm_ioctl)
    ((3u64 << 30) | ((HEADER as u64) << 16) | (0xfd << 8) | u64::from(nr)) as libc::c_ulong
}

/// `/dev/mapper/control`.
pub struct Control(File);

/// An ioctl's result: the header and the data after it.
struct Reply {
    header: DmIoctl,
    buf: Vec<u8>,
}

impl Control {
    pub fn open() -> io::Result<Self> {
        Ok(Self(File::options().read(true).write(true).open("/dev/mapper/control")?))
    }

    fn call(&self, nr: u8, name: &str, flags: u32, payload: &[u8], targets: u32) -> io::Result<Reply> {
        let mut buf = vec![0u8; BUF];
        let mut h = DmIoctl {
            version: [4, 0, 0],
            data_size: BUF as u32,
            data_start: HEADER as u32,
            target_count: targets,
            open_count: 0,
            flags,
            event_nr: 0,
            padding: 0,
            dev: 0,
            name: [0; DM_NAME_LEN],
            uuid: [0; DM_UUID_LEN],
            data: [0; 7],
        };
        h.name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: DmIoctl is plain old data and buf holds HEADER bytes.
        unsafe { std::ptr::write_unaligned(buf.as_mut_ptr().cast::<DmIoctl>(), h) };
        buf[HEADER..HEADER + payload.len()].copy_from_slice(payload);
        // SAFETY: the kernel reads and writes at most data_size bytes of buf.
        let r = unsafe { libc::ioctl(self.0.as_raw_fd(), request(nr), buf.as_mut_ptr()) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above.
        let header = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast::<DmIoctl>()) };
        Ok(Reply { header, buf })
    }

    /// Creates device `name` without a table; returns its minor number.
    pub fn create(&self, name: &str) -> io::Result<u32> {
        let r = self.call(DM_DEV_CREATE, name, 0, &[], 0)?;
        let dev = r.header.dev;
        // new_encode_dev: minor bits 0-7 and 20-31.
        Ok(((dev & 0xff) | ((dev >> 12) & !0xff)) as u32)
    }

    /// Loads a one-target table `target params` over `len` sectors.
    pub fn load(&self, name: &str, len: u64, target: &str, params: &str) -> io::Result<()> {
        let mut spec = TargetSpec { sector_start: 0, length: len, status: 0, next: 0, target_type: [0; 16] };
        spec.target_type[..target.len()].copy_from_slice(target.as_bytes());
        let mut payload = vec![0u8; SPEC];
        // SAFETY: TargetSpec is plain old data and payload holds SPEC bytes.
        unsafe { std::ptr::write_unaligned(payload.as_mut_ptr().cast::<TargetSpec>(), spec) };
        payload.extend_from_slice(params.as_bytes());
        payload.push(0);
        payload.resize(payload.len().div_ceil(8) * 8, 0);
        self.call(DM_TABLE_LOAD, name, 0, &payload, 1).map(|_| ())
    }

    /// Resumes the device (makes the loaded table live).
    pub fn resume(&self, name: &str) -> io::Result<()> {
        self.call(DM_DEV_SUSPEND, name, 0, &[], 0).map(|_| ())
    }

    /// The INFO status line of the device's (single) target.
    pub fn status(&self, name: &str) -> io::Result<String> {
        let r = self.call(DM_TABLE_STATUS, name, 0, &[], 0)?;
        if r.header.target_count == 0 {
            return Ok(String::new());
        }
        let at = r.header.data_start as usize + SPEC;
        let text = &r.buf[at.min(BUF)..];
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        Ok(String::from_utf8_lossy(&text[..end]).into_owned())
    }

    /// Removes the device, retrying briefly while it is busy.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        let mut tries = 0;
        loop {
            match self.call(DM_DEV_REMOVE, name, 0, &[], 0) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                r => return r.map(|_| ()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structs_match_the_uapi_sizes() {
        assert_eq!(HEADER, 312);
        assert_eq!(SPEC, 40);
        assert_eq!(request(DM_DEV_CREATE), 0xc138_fd03);
    }
}
