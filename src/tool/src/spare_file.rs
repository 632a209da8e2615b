// SPDX-License-Identifier: GPL-2.0
//! How the offline commands open a spare. A block device is opened with
//! O_DIRECT, so reads see the disk and not a page cache that a live target's
//! writes went around, and for writing also with O_EXCL, which the kernel
//! refuses (EBUSY) while a dm-remap device, a mount or another exclusive
//! opener holds the device, as thin_repair refuses. An image file is opened
//! as it is (its filesystem may not take O_DIRECT).

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// O_DIRECT wants buffers aligned to the logical block size; 4 KiB covers
/// every logical block size the target accepts.
const ALIGN: usize = 4096;

/// An open spare device or image.
pub struct SpareFile {
    file: File,
    /// Opened with O_DIRECT: every transfer goes through `bounce`.
    direct: bool,
    bounce: Vec<u8>,
}

impl SpareFile {
    /// Opens `path` for reading, and for writing when `write` is set (the
    /// caller names `path` in the error).
    pub fn open(path: &Path, write: bool) -> Result<Self, String> {
        let block = std::fs::metadata(path).map_err(|e| e.to_string())?.file_type().is_block_device();
        let mut flags = 0;
        if block {
            flags |= libc::O_DIRECT;
            if write {
                flags |= libc::O_EXCL;
            }
        }
        let file = OpenOptions::new().read(true).write(write).custom_flags(flags).open(path).map_err(|e| {
            if e.raw_os_error() == Some(libc::EBUSY) {
                "device is in use (a live dm-remap device, a mount or another exclusive user holds it); \
                 refusing to write it: remove the device-mapper device first"
                    .to_string()
            } else {
                e.to_string()
            }
        })?;
        Ok(Self { file, direct: block, bounce: Vec::new() })
    }

    /// The size in bytes. (No `is_empty`: the size is read by seeking, so
    /// it takes `&mut self` and can fail; callers compare it with sizes.)
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&mut self) -> io::Result<u64> {
        self.file.seek(SeekFrom::End(0))
    }

    /// Reads `buf.len()` bytes at byte `offset`.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if !self.direct {
            return self.file.read_exact_at(buf, offset);
        }
        let bounce = aligned(&mut self.bounce, buf.len());
        self.file.read_exact_at(bounce, offset)?;
        buf.copy_from_slice(bounce);
        Ok(())
    }

    /// Writes `data` at byte `offset`.
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if !self.direct {
            return self.file.write_all_at(data, offset);
        }
        let bounce = aligned(&mut self.bounce, data.len());
        bounce.copy_from_slice(data);
        self.file.write_all_at(bounce, offset)
    }

    /// Makes the writes so far durable (a cache flush on a device).
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_all()
    }
}

/// An `ALIGN`-aligned part of `bounce`, `len` bytes long (grown as needed).
fn aligned(bounce: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if bounce.len() < len + ALIGN {
        *bounce = vec![0u8; len + ALIGN];
    }
    let off = bounce.as_ptr().align_offset(ALIGN).min(ALIGN);
    &mut bounce[off..off + len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounce_buffers_are_aligned_for_o_direct() {
        let dir = std::env::temp_dir().join(format!("dm-remap-spare-file-{}", std::process::id()));
        std::fs::write(&dir, vec![7u8; 8192]).unwrap();
        let mut f = SpareFile::open(&dir, true).unwrap();
        assert!(!f.direct, "an image file is not opened with O_DIRECT");
        for len in [512, 4096, 8192] {
            assert_eq!(aligned(&mut f.bounce, len).as_ptr() as usize % ALIGN, 0, "bounce of {len} bytes");
        }
        f.write_at(4096, &[1u8; 512]).unwrap();
        let mut buf = [0u8; 1024];
        f.read_at(4096 - 512, &mut buf).unwrap();
        assert_eq!((buf[0], buf[512], buf[1023]), (7, 1, 1));
        assert_eq!(f.len().unwrap(), 8192);
        std::fs::remove_file(&dir).unwrap();
    }
}
