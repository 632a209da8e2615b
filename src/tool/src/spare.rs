// SPDX-License-Identifier: GPL-2.0
//! A spare device or image file: block I/O, layout, and reading and writing
//! whole metadata copies with the shared format code.

use std::path::Path;

use dm_remap_core::commit::{commit, format, Committed, CopyError, MetaWrite};
use dm_remap_core::discover::{self, find_layout, highest_generation, NoLayout};
use dm_remap_core::extent::Extent;
use dm_remap_core::format::{Superblock, BLOCK};
use dm_remap_core::geometry::{SpareLayout, SECTOR_SIZE};
use dm_remap_core::journal::RECORDS_PER_BLOCK;
use dm_remap_core::load::{apply_journal, read_slot, CopyFault, CopyState, MetaIo, ReadFailed};
use dm_remap_core::slots::Slots;

use crate::spare_file::SpareFile;

/// An open spare device or image.
pub struct Spare {
    file: SpareFile,
    pub sectors: u64,
}

/// A copy as read from the spare: of a valid one, the superblock and table
/// its journal chain brings it to.
pub struct Copy {
    pub state: CopyState,
    pub extents: Vec<Extent>,
}

/// Every slot of a spare whose layout was found: `[region][slot]`.
pub struct Copies {
    pub layout: SpareLayout,
    pub copies: [[Copy; 2]; 2],
    /// What the kernel's reading found (with each copy's journal tail).
    pub found: discover::Copies,
}

impl Copies {
    /// The newest valid copy: its region, slot, superblock and extents.
    pub fn newest(&self) -> Option<(u8, u8, Superblock, &[Extent])> {
        let (c, s) = self.found.newest()?;
        let copy = &self.copies[usize::from(c)][usize::from(s)];
        match copy.state {
            CopyState::Valid(sb) => Some((c, s, sb, &copy.extents)),
            _ => None,
        }
    }

    /// What each slot holds, for the writer.
    pub fn slots(&self) -> Slots {
        discover::slots_of(&self.layout, &self.found)
    }

    /// The highest generation of any copy that decodes.
    pub fn highest_generation(&self) -> u64 {
        let tails = self.found.tails.iter().flatten();
        self.copies
            .iter()
            .flatten()
            .zip(tails)
            .filter_map(|(c, t)| matches!(c.state, CopyState::Valid(_)).then_some(t.generation))
            .max()
            .unwrap_or(0)
    }
}

impl Spare {
    /// Opens `path` for reading, and for writing when `write` is set (see
    /// `SpareFile::open` for how a block device is opened; the caller names
    /// `path` in the error).
    pub fn open(path: &Path, write: bool) -> Result<Self, String> {
        let mut file = SpareFile::open(path, write)?;
        let bytes = file.len().map_err(|e| format!("finding its size: {e}"))?;
        Ok(Self { file, sectors: bytes / SECTOR_SIZE })
    }

    /// The layout recorded on the spare (the kernel's search: region A's
    /// superblocks, then region B wherever it can be).
    pub fn find_layout(&mut self) -> Result<SpareLayout, String> {
        let sectors = self.sectors;
        find_layout(self, sectors, &mut vec![0u8; BLOCK]).map_err(|e| match e {
            NoLayout::NotFound => "no readable dm-remap superblock in either region".to_string(),
            NoLayout::SpareShrank(sb) => {
                format!("the metadata records a spare of {} sectors; this one has {sectors}", sb.spare_sectors)
            }
            NoLayout::Insane(sb) => {
                format!("the newest superblock (generation {}) records an impossible layout", sb.generation)
            }
        })
    }

    /// The highest generation of any superblock on the spare that decodes,
    /// at `layout`'s places and wherever region B could be: what a commit or
    /// format must go above (the kernel's survey).
    pub fn highest_generation(&mut self, layout: &SpareLayout) -> u64 {
        let sectors = self.sectors;
        highest_generation(self, layout, sectors, &mut vec![0u8; BLOCK])
    }

    /// Reads every slot of a spare laid out as `layout`.
    pub fn read_copies(&mut self, layout: &SpareLayout) -> Copies {
        let mut buf = vec![0u8; BLOCK];
        // The kernel's reading, which also tells which places are not ours.
        let found = discover::read_copies(self, layout, &mut buf);
        let states = found.states;
        let copies = [0u8, 1].map(|c| {
            [0u8, 1].map(|s| {
                let mut extents = Vec::new();
                let read = read_slot(self, layout, c, s, &mut buf, |e| extents.push(e));
                let mut state = states[usize::from(c)][usize::from(s)];
                match (read, state) {
                    (CopyState::Valid(_), CopyState::Valid(sb)) => {
                        // The journal chain, applied as the kernel loads.
                        let mut runs = vec![Extent::default(); RECORDS_PER_BLOCK];
                        let (chain, table) =
                            apply_journal::<Vec<Extent>>(self, layout, c, &sb, &extents, u32::MAX, &mut runs, &mut buf);
                        match table {
                            Ok(table) => {
                                if let Some(t) = table {
                                    extents = t;
                                }
                                state = CopyState::Valid(Superblock {
                                    generation: chain.generation,
                                    alloc_next: chain.alloc_next.unwrap_or(sb.alloc_next),
                                    extent_count: extents.len() as u64,
                                    ..sb
                                });
                            }
                            Err(_) => {
                                extents.clear();
                                state = CopyState::Damaged(CopyFault::BadTable);
                            }
                        }
                    }
                    _ => extents.clear(),
                }
                Copy { state, extents }
            })
        });
        Copies { layout: *layout, copies, found }
    }

    /// Commits `extents` as a new generation (`sb.generation`) the way the
    /// kernel does; returns how many regions took it.
    pub fn commit(
        &mut self,
        layout: &SpareLayout,
        slots: &mut Slots,
        sb: &Superblock,
        extents: &[Extent],
    ) -> Result<u8, String> {
        let mut buf = vec![0u8; BLOCK];
        let done = commit(self, layout, slots, sb, extents, &mut buf);
        Self::written(&done)
    }

    /// Lays out a spare without metadata as `layout` and commits `extents`
    /// as its first generation, the way the kernel formats.
    pub fn format(&mut self, layout: &SpareLayout, sb: &Superblock, extents: &[Extent]) -> Result<u8, String> {
        let mut buf = vec![0u8; BLOCK];
        let (_, done) = format(self, layout, sb, extents, &mut buf);
        Self::written(&done)
    }

    fn written(done: &Committed<String>) -> Result<u8, String> {
        let describe = |r: &Result<(), CopyError<String>>| match r {
            Ok(()) => "written".to_string(),
            Err(CopyError::Format(f)) => format!("cannot encode: {f:?}"),
            Err(CopyError::Write(w)) => w.clone(),
            Err(CopyError::NoSafeSlot) => "no slot can be written without risking the newest copy".to_string(),
        };
        match done.copies_written() {
            0 => Err(format!("no copy written (region A: {}; region B: {})", describe(&done.a), describe(&done.b))),
            n => Ok(n),
        }
    }

    fn write_at(&mut self, sector: u64, data: &[u8]) -> Result<(), String> {
        self.file.write_at(sector * SECTOR_SIZE, data).map_err(|e| format!("write at sector {sector}: {e}"))
    }

    fn sync(&mut self) -> Result<(), String> {
        self.file.sync().map_err(|e| format!("sync: {e}"))
    }
}

impl MetaIo for Spare {
    fn read_block(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), ReadFailed> {
        let at = sector.checked_mul(SECTOR_SIZE).ok_or(ReadFailed)?;
        self.file.read_at(at, buf).map_err(|_| ReadFailed)
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
