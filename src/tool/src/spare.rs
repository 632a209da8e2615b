// SPDX-License-Identifier: GPL-2.0
//! A spare device or image file: block I/O, layout, and reading and writing
//! whole metadata copies with the shared format code.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use dm_remap_core::extent::Extent;
use dm_remap_core::format::{EncodeError, Superblock, BLOCK};
use dm_remap_core::commit::{write_copy, MetaWrite};
use dm_remap_core::geometry::{SpareLayout, SECTOR_SIZE};
use dm_remap_core::load::{read_copy, CopyState, MetaIo, ReadFailed};

/// An open spare device or image.
pub struct Spare {
    file: File,
    sectors: u64,
}

/// A copy as read from the spare.
pub struct Copy {
    pub state: CopyState,
    pub extents: Vec<Extent>,
}

impl Spare {
    /// Opens `path` for reading, and for writing when `write` is set.
    pub fn open(path: &Path, write: bool) -> Result<Self, String> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(write)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let bytes = file.seek(SeekFrom::End(0)).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self { file, sectors: bytes / SECTOR_SIZE })
    }

    /// The layout for remap blocks of `block_bytes`, if the spare is big enough.
    pub fn layout(&self, block_bytes: u32) -> Result<SpareLayout, String> {
        SpareLayout::new(self.sectors, block_bytes).ok_or_else(|| {
            format!("spare of {} sectors cannot hold metadata for {block_bytes}-byte blocks", self.sectors)
        })
    }

    /// The block size written in whichever copy's superblock decodes, trying
    /// region A, then region B for each block size dm-remap allows.
    pub fn find_block_size(&mut self) -> Option<u32> {
        let mut buf = vec![0u8; BLOCK];
        if self.read_block(0, &mut buf).is_ok() {
            if let Ok(sb) = Superblock::decode(&buf) {
                return Some(sb.block_bytes);
            }
        }
        (9..=16).map(|s| 1u32 << s).find(|&bs| {
            SpareLayout::new(self.sectors, bs).is_some_and(|l| {
                self.read_block(l.region_b_start, &mut buf).is_ok()
                    && Superblock::decode(&buf).is_ok_and(|sb| sb.block_bytes == bs && sb.copy == 1)
            })
        })
    }

    /// Reads copy `copy` (0 = A, 1 = B).
    pub fn read_copy(&mut self, layout: &SpareLayout, copy: u8) -> Copy {
        let mut buf = vec![0u8; BLOCK];
        let mut extents = Vec::new();
        let state = read_copy(self, layout, copy, &mut buf, |e| extents.push(e));
        if !matches!(state, CopyState::Valid(_)) {
            extents.clear();
        }
        Copy { state, extents }
    }

    /// Writes a full copy into its region, in the order the kernel commits.
    pub fn write_copy(&mut self, layout: &SpareLayout, sb: &Superblock, extents: &[Extent]) -> Result<(), String> {
        let mut buf = vec![0u8; BLOCK];
        write_copy(self, layout, sb, None, extents, &mut buf).map_err(|e| match e {
            EncodeError::Format(f) => format!("cannot encode the copy: {f:?}"),
            EncodeError::Write(w) => w,
        })
    }

    fn write_at(&mut self, sector: u64, data: &[u8]) -> Result<(), String> {
        self.file
            .seek(SeekFrom::Start(sector * SECTOR_SIZE))
            .and_then(|_| self.file.write_all(data))
            .map_err(|e| format!("write at sector {sector}: {e}"))
    }

    fn sync(&mut self) -> Result<(), String> {
        self.file.sync_all().map_err(|e| format!("sync: {e}"))
    }
}

impl MetaIo for Spare {
    fn read_block(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), ReadFailed> {
        let at = sector.checked_mul(SECTOR_SIZE).ok_or(ReadFailed)?;
        self.file.seek(SeekFrom::Start(at)).map_err(|_| ReadFailed)?;
        self.file.read_exact(buf).map_err(|_| ReadFailed)
    }
}

impl MetaWrite for Spare {
    type Error = String;
    fn write_block(&mut self, sector: u64, block: &[u8]) -> Result<(), String> {
        self.write_at(sector, block)
    }
    fn flush(&mut self) -> Result<(), String> {
        self.sync()
    }
    fn write_durable(&mut self, sector: u64, block: &[u8]) -> Result<(), String> {
        self.write_at(sector, block)?;
        self.sync()
    }
}
