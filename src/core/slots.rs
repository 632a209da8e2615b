// SPDX-License-Identifier: GPL-2.0
//! The two slots of each metadata region, and which one a commit writes.
//!
//! Each region holds two copies of the table, in two *slots*: slot 0 has its
//! superblock in the region's first 4 KiB block and its entry blocks from
//! the third block upwards; slot 1 has its superblock in the second block
//! and its entry blocks at the end of the region, growing downwards. A
//! version-2 region is sized so that two worst-case tables never meet.
//!
//! A commit writes, in each region, the slot that does not hold the
//! region's newest copy, so the newest copy on the spare is never
//! overwritten in place: a crash in the middle of a commit, even while the
//! other region keeps failing, leaves the previous generation whole.
//!
//! A version-1 copy (one per region, entries from the second block) may sit
//! in slot 0 of a region; version 2 then uses its slot 1 beside it. Its
//! entries can overlap slot 1's superblock or entries: [`Slots::plan`] only
//! allows a write that destroys another copy when a copy of the newest
//! generation survives elsewhere.

use super::format::{entry_blocks, Superblock, FORMAT_VERSION_1};
use super::geometry::{SpareLayout, META_BLOCK_SECTORS};

/// Slots per region.
pub const SLOTS: u8 = 2;

/// Metadata blocks of a region that one copy occupies: its superblock block
/// and a run of entry blocks (block numbers counted from the region start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    /// The superblock's block.
    pub superblock: u64,
    /// First entry block.
    pub entries: u64,
    /// Number of entry blocks.
    pub count: u64,
}

impl Footprint {
    /// Where a copy of format `version` in `slot` with `count` entry blocks
    /// lies in a region of `region_blocks` blocks; `None` when it does not
    /// fit.
    pub fn of(version: u32, slot: u8, count: u64, region_blocks: u64) -> Option<Self> {
        let f = match (version, slot) {
            (FORMAT_VERSION_1, 0) => Self { superblock: 0, entries: 1, count },
            (FORMAT_VERSION_1, _) => return None,
            (_, 0) => Self { superblock: 0, entries: 2, count },
            (_, 1) => Self { superblock: 1, entries: region_blocks.checked_sub(count)?, count },
            _ => return None,
        };
        let end = f.entries.checked_add(count)?;
        let first_free = if version == FORMAT_VERSION_1 { 1 } else { 2 };
        (f.entries >= first_free && end <= region_blocks).then_some(f)
    }

    fn contains(&self, block: u64) -> bool {
        block == self.superblock || (self.entries..self.entries.saturating_add(self.count)).contains(&block)
    }

    /// Whether the two copies share a block.
    pub fn overlaps(&self, other: &Self) -> bool {
        let ranges_meet = self.entries < other.entries.saturating_add(other.count)
            && other.entries < self.entries.saturating_add(self.count);
        self.contains(other.superblock) || other.contains(self.superblock) || ranges_meet
    }
}

/// Sector of the superblock of slot `slot` in region `copy`.
pub fn superblock_sector(layout: &SpareLayout, copy: u8, slot: u8) -> u64 {
    layout.region_start(copy).saturating_add(u64::from(slot) * META_BLOCK_SECTORS)
}

/// Sector of entry block `index` of a copy placed at `footprint` in region
/// `copy`.
pub fn entry_sector(layout: &SpareLayout, copy: u8, footprint: &Footprint, index: u64) -> u64 {
    layout.region_start(copy).saturating_add(footprint.entries.saturating_add(index).saturating_mul(META_BLOCK_SECTORS))
}

/// The footprint of the copy that `sb` describes, in its slot.
pub fn footprint_of(layout: &SpareLayout, sb: &Superblock) -> Option<Footprint> {
    Footprint::of(sb.version, sb.slot, entry_blocks(sb.extent_count), layout.region_meta_blocks())
}

/// What a slot holds, as far as the writer knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Slot {
    /// Nothing worth keeping: never written, damaged, or a failed write.
    #[default]
    Free,
    /// A complete copy.
    Holds {
        /// Its generation.
        generation: u64,
        /// Where it lies.
        footprint: Footprint,
    },
}

impl Slot {
    fn generation(&self) -> Option<u64> {
        match self {
            Self::Free => None,
            Self::Holds { generation, .. } => Some(*generation),
        }
    }
}

/// What each slot of the spare holds: `[region][slot]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Slots {
    /// Region A's slots, then region B's.
    pub slots: [[Slot; 2]; 2],
}

impl Slots {
    /// The newest generation any slot holds (0 when none does).
    pub fn newest(&self) -> u64 {
        self.slots.iter().flatten().filter_map(Slot::generation).max().unwrap_or(0)
    }

    /// The newest generation held in region `copy` (0 when none).
    fn region_newest(&self, copy: u8) -> u64 {
        self.slots[usize::from(copy & 1)].iter().filter_map(Slot::generation).max().unwrap_or(0)
    }

    /// Regions that hold the newest generation.
    pub fn copies(&self) -> u8 {
        let newest = self.newest();
        if newest == 0 {
            return 0;
        }
        (0..2u8).map(|c| u8::from(self.region_newest(c) == newest)).sum()
    }

    /// The order in which a commit writes the regions: the one whose newest
    /// copy is older first (so the region holding the newest generation is
    /// touched last), region A first on a tie.
    pub fn region_order(&self) -> [u8; 2] {
        if self.region_newest(1) < self.region_newest(0) {
            [1, 0]
        } else {
            [0, 1]
        }
    }

    /// Where a commit of `count` entry blocks (format version 2) goes in
    /// region `copy`: the slot, its footprint, and the other slots of the
    /// region it would destroy. `None` when it does not fit, or when
    /// writing it could destroy the last copy of the newest generation.
    pub fn plan(&self, copy: u8, version: u32, count: u64, region_blocks: u64) -> Option<(u8, Footprint, [bool; 2])> {
        let region = &self.slots[usize::from(copy & 1)];
        // The slot holding the older copy (a free slot is oldest; slot 0 first).
        let slot = match (region[0].generation(), region[1].generation()) {
            (None, _) => 0,
            (Some(_), None) => 1,
            (Some(a), Some(b)) => u8::from(b < a),
        };
        let footprint = Footprint::of(version, slot, count, region_blocks)?;
        let mut destroyed = [false; 2];
        destroyed[usize::from(slot)] = true;
        for (i, other) in region.iter().enumerate() {
            if let Slot::Holds { footprint: f, .. } = other {
                destroyed[i] |= f.overlaps(&footprint);
            }
        }
        let newest = self.newest();
        let survives = self.slots.iter().enumerate().any(|(c, r)| {
            r.iter()
                .enumerate()
                .any(|(s, slot)| slot.generation() == Some(newest) && !(c == usize::from(copy & 1) && destroyed[s]))
        });
        (newest == 0 || survives).then_some((slot, footprint, destroyed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::FORMAT_VERSION;

    const V2: u32 = FORMAT_VERSION;

    fn holds(generation: u64, version: u32, slot: u8, count: u64, region_blocks: u64) -> Slot {
        Slot::Holds { generation, footprint: Footprint::of(version, slot, count, region_blocks).unwrap() }
    }

    #[test]
    fn version_2_slots_of_a_full_sized_region_never_meet() {
        let blocks = 2 + 2 * 10;
        let a = Footprint::of(V2, 0, 10, blocks).unwrap();
        let b = Footprint::of(V2, 1, 10, blocks).unwrap();
        assert!(!a.overlaps(&b));
        assert_eq!((a.superblock, a.entries, b.superblock, b.entries), (0, 2, 1, 12));
        assert_eq!(Footprint::of(V2, 1, 21, blocks), None, "a table larger than the region");
    }

    #[test]
    fn a_commit_writes_the_slot_without_the_newest_copy() {
        let r = 10;
        let mut s = Slots::default();
        assert_eq!(s.plan(0, V2, 1, r).map(|p| p.0), Some(0), "a blank region starts with slot 0");
        s.slots[0][0] = holds(7, V2, 0, 1, r);
        assert_eq!(s.plan(0, V2, 1, r).map(|p| p.0), Some(1));
        s.slots[0][1] = holds(8, V2, 1, 1, r);
        assert_eq!(s.plan(0, V2, 1, r).map(|p| p.0), Some(0));
        assert_eq!(s.region_order(), [1, 0], "the region without generation 8 is written first");
        assert_eq!(s.copies(), 1);
    }

    #[test]
    fn a_version_1_copy_is_destroyed_only_while_the_other_region_holds_the_newest() {
        let r = 6; // a version-1 region: superblock + 5 entry blocks
        let mut s = Slots::default();
        s.slots[0][0] = holds(5, FORMAT_VERSION_1, 0, 3, r);
        s.slots[1][0] = holds(5, FORMAT_VERSION_1, 0, 3, r);
        // Slot 1's superblock is the version-1 copy's first entry block.
        let (slot, _, destroyed) = s.plan(0, V2, 3, r).unwrap();
        assert_eq!((slot, destroyed), (1, [true, true]));
        // With region B gone, region A's only copy must not be touched.
        s.slots[1][0] = Slot::Free;
        assert_eq!(s.plan(0, V2, 3, r), None);
        // A version-1 copy with no entries leaves slot 1 alone.
        s.slots[0][0] = holds(5, FORMAT_VERSION_1, 0, 0, r);
        assert_eq!(s.plan(0, V2, 3, r).map(|p| p.2), Some([false, true]));
    }
}
