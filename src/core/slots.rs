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
//! A version-3 copy also owns a *journal area* in the free middle: blocks
//! that later commits append changes to (see `journal`), placed by
//! [`journal_area`] so that the next full copy, written into the other
//! slot, never reaches the blocks a chain can use.
//!
//! A version-1 copy (one per region, entries from the second block) may sit
//! in slot 0 of a region; version 2 then uses its slot 1 beside it. Its
//! entries can overlap slot 1's superblock or entries: [`Slots::plan`] only
//! allows a write that destroys another copy when a copy of the newest
//! generation survives elsewhere.

use super::format::{entry_blocks, Superblock, FORMAT_VERSION_1, FORMAT_VERSION_3};
use super::geometry::{SpareLayout, META_BLOCK_SECTORS};

/// Slots per region.
pub const SLOTS: u8 = 2;

/// Metadata blocks of a region that one copy occupies: its superblock block,
/// a run of entry blocks and (version 3) its journal area; block numbers
/// counted from the region start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    /// The superblock's block.
    pub superblock: u64,
    /// First entry block.
    pub entries: u64,
    /// Number of entry blocks.
    pub count: u64,
    /// First block of the journal area.
    pub journal: u64,
    /// Blocks in the journal area (0: none).
    pub journal_blocks: u64,
}

/// The longest journal area: a load reads and gathers a whole chain
/// before it goes live, so a chain is bounded whatever the spare's size
/// (a smaller area keeps the rule of [`journal_area`]: a shorter chain
/// grows the table less). A copy recording a longer one is damaged.
pub const JOURNAL_BLOCKS_MAX: u64 = 1024;

/// The journal area of a version-3 copy of `count` entry blocks in `slot`
/// of a region of `region_blocks` blocks, as (first block, blocks): beside
/// the copy's entries, towards the middle, `(region_blocks - 4 - 2 *
/// count) / 3` blocks long. A chain of `j` blocks grows the table by at
/// most `2 * j` entry blocks (each record can cut an extent in two and add
/// itself), so the next full copy, with one more block of change, needs at
/// most `count + 2 * j + 2` blocks from the other end of the region: never
/// into the area. (0, 0) when there is no room.
pub fn journal_area(slot: u8, count: u64, region_blocks: u64) -> (u64, u64) {
    let blocks = (region_blocks.saturating_sub(4).saturating_sub(count.saturating_mul(2)) / 3).min(JOURNAL_BLOCKS_MAX);
    match (blocks, slot) {
        (0, _) => (0, 0),
        (_, 0) => (2 + count, blocks),
        // blocks <= (region_blocks - count) / 3: no underflow.
        _ => (region_blocks - count - blocks, blocks),
    }
}

impl Footprint {
    /// Where a copy of format `version` in `slot` with `count` entry blocks
    /// lies in a region of `region_blocks` blocks, its journal area (version
    /// 3) where [`journal_area`] puts it; `None` when it does not fit.
    pub fn of(version: u32, slot: u8, count: u64, region_blocks: u64) -> Option<Self> {
        let f = match (version, slot) {
            (FORMAT_VERSION_1, 0) => Self { superblock: 0, entries: 1, count, journal: 0, journal_blocks: 0 },
            (FORMAT_VERSION_1, _) => return None,
            (_, 0) => Self { superblock: 0, entries: 2, count, journal: 0, journal_blocks: 0 },
            (_, 1) => {
                Self { superblock: 1, entries: region_blocks.checked_sub(count)?, count, journal: 0, journal_blocks: 0 }
            }
            _ => return None,
        };
        let end = f.entries.checked_add(count)?;
        let first_free = if version == FORMAT_VERSION_1 { 1 } else { 2 };
        if f.entries < first_free || end > region_blocks {
            return None;
        }
        if version < FORMAT_VERSION_3 {
            return Some(f);
        }
        let (journal, blocks) = journal_area(slot, count, region_blocks);
        f.with_journal(journal, blocks, region_blocks)
    }

    /// This footprint with the journal area `blocks` blocks from `journal`:
    /// `None` unless it lies past the superblocks, inside the region, clear
    /// of the copy's own entries and no longer than [`JOURNAL_BLOCKS_MAX`].
    pub fn with_journal(self, journal: u64, blocks: u64, region_blocks: u64) -> Option<Self> {
        let f = Self { journal, journal_blocks: blocks, ..self.without_journal() };
        let end = journal.checked_add(blocks)?;
        let clear = blocks == 0
            || (blocks <= JOURNAL_BLOCKS_MAX
                && journal >= 2
                && end <= region_blocks
                && !Self::meet((f.entries, f.count), (journal, blocks)));
        clear.then_some(f)
    }

    /// The blocks a full copy's write touches: this without its journal
    /// area (which only later commits write).
    pub fn without_journal(self) -> Self {
        Self { journal: 0, journal_blocks: 0, ..self }
    }

    /// Whether two runs of blocks, as (first, length), share a block.
    fn meet(a: (u64, u64), b: (u64, u64)) -> bool {
        a.0 < b.0.saturating_add(b.1) && b.0 < a.0.saturating_add(a.1)
    }

    fn runs(&self) -> [(u64, u64); 3] {
        [(self.superblock, 1), (self.entries, self.count), (self.journal, self.journal_blocks)]
    }

    /// Whether the block `block` is one of this copy's.
    pub fn contains(&self, block: u64) -> bool {
        self.runs().iter().any(|r| Self::meet(*r, (block, 1)))
    }

    /// Whether the two copies share a block.
    pub fn overlaps(&self, other: &Self) -> bool {
        self.runs().iter().any(|a| other.runs().iter().any(|b| Self::meet(*a, *b)))
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

/// The footprint of the copy that `sb` describes, in its slot, with the
/// journal area it records.
pub fn footprint_of(layout: &SpareLayout, sb: &Superblock) -> Option<Footprint> {
    let region_blocks = layout.region_meta_blocks();
    Footprint::of(sb.version, sb.slot, entry_blocks(sb.extent_count), region_blocks)?.with_journal(
        u64::from(sb.journal_start),
        u64::from(sb.journal_blocks),
        region_blocks,
    )
}

/// Sector of block `index` of the journal area of a copy placed at
/// `footprint` in region `copy`.
pub fn journal_sector(layout: &SpareLayout, copy: u8, footprint: &Footprint, index: u64) -> u64 {
    layout.region_start(copy).saturating_add(footprint.journal.saturating_add(index).saturating_mul(META_BLOCK_SECTORS))
}

/// What a slot holds, as far as the writer knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Slot {
    /// Nothing worth keeping: never written, damaged, or a failed write.
    #[default]
    Free,
    /// A complete copy.
    Holds {
        /// Its generation: its checkpoint's, or its chain's last block's.
        generation: u64,
        /// Where it lies.
        footprint: Footprint,
        /// The generation of its checkpoint (the superblock's).
        base: u64,
        /// Journal blocks in its chain.
        chain: u32,
    },
}

impl Slot {
    /// The copy that `sb` describes, placed at `footprint`, without a chain.
    pub fn holding(sb: &Superblock, footprint: Footprint) -> Self {
        Self::Holds { generation: sb.generation, footprint, base: sb.generation, chain: 0 }
    }

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
    /// Per region: whether the next commit may append to the chain of the
    /// region's newest copy. Set by a full copy of format version 3
    /// written by this writer; cleared by any failed write to the region
    /// (a failed append may have landed: its place is never written again),
    /// and false after a load.
    pub appendable: [bool; 2],
}

impl Slots {
    /// The newest generation any slot holds (0 when none does).
    pub fn newest(&self) -> u64 {
        self.slots.iter().flatten().filter_map(Slot::generation).max().unwrap_or(0)
    }

    /// The newest generation held in region `copy` (0 when none).
    pub fn region_newest(&self, copy: u8) -> u64 {
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
                destroyed[i] |= f.overlaps(&footprint.without_journal());
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

    /// Where the next commit's journal block goes in region `copy`: `None`
    /// when the region cannot append (see [`Self::appendable`]), does not
    /// hold the newest generation, or its newest copy's journal area is
    /// full.
    pub fn plan_append(&self, copy: u8) -> Option<Append> {
        let c = usize::from(copy & 1);
        let newest = self.newest();
        if !self.appendable[c] || newest == 0 || self.region_newest(copy) != newest {
            return None;
        }
        let region = &self.slots[c];
        let (slot, footprint, base, chain) = (0u8..).zip(region.iter()).find_map(|(s, slot)| match slot {
            Slot::Holds { generation, footprint, base, chain } if *generation == newest => {
                Some((s, *footprint, *base, *chain))
            }
            _ => None,
        })?;
        if u64::from(chain) >= footprint.journal_blocks {
            return None;
        }
        let block = footprint.journal.saturating_add(u64::from(chain));
        let other = usize::from(slot == 0);
        let destroys_other = matches!(region[other], Slot::Holds { footprint: f, .. } if f.contains(block));
        Some(Append { slot, footprint, base, index: chain, destroys_other })
    }
}

/// Where an append goes: see [`Slots::plan_append`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Append {
    /// The slot whose chain it extends (holding the newest generation).
    pub slot: u8,
    /// That copy's footprint.
    pub footprint: Footprint,
    /// That copy's checkpoint generation.
    pub base: u64,
    /// The block's place in the chain (and in the journal area).
    pub index: u32,
    /// Whether the block lies in the region's other (older) copy, which is
    /// gone once it is written.
    pub destroys_other: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::FORMAT_VERSION_2;

    const V2: u32 = FORMAT_VERSION_2;

    fn holds(generation: u64, version: u32, slot: u8, count: u64, region_blocks: u64) -> Slot {
        let footprint = Footprint::of(version, slot, count, region_blocks).unwrap();
        Slot::Holds { generation, footprint, base: generation, chain: 0 }
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

    #[test]
    fn a_journal_area_is_clear_of_its_copy_and_of_the_next_full_copy() {
        const V3: u32 = FORMAT_VERSION_3;
        for region_blocks in 2..160u64 {
            for count in 0..=region_blocks - 2 {
                for slot in 0..2u8 {
                    let Some(f) = Footprint::of(V3, slot, count, region_blocks) else { continue };
                    let j = f.journal_blocks;
                    if j == 0 {
                        assert!(region_blocks < 4 + 2 * count + 3, "room left unused: {region_blocks} {count}");
                        continue;
                    }
                    let area = Footprint {
                        superblock: f.journal,
                        entries: f.journal,
                        count: j,
                        journal: 0,
                        journal_blocks: 0,
                    };
                    assert!(!area.overlaps(&f.without_journal()), "{region_blocks} {count} {slot}: {f:?}");
                    assert!(f.journal >= 2 && f.journal + j <= region_blocks);
                    // The next full copy after a full chain and one more
                    // block of change, in the other slot.
                    let next = Footprint::of(V3, 1 - slot, count + 2 * j + 2, region_blocks).unwrap();
                    assert!(!area.overlaps(&next.without_journal()), "{region_blocks} {count} {slot}: {next:?}");
                }
            }
        }
    }

    #[test]
    fn a_journal_area_is_never_longer_than_the_bound() {
        // A region of 2^28 blocks (a 1 TiB spare of 4K blocks).
        let r = 1u64 << 28;
        for (slot, count) in [(0u8, 0u64), (1, 0), (0, 4000), (1, 4000)] {
            let (journal, blocks) = journal_area(slot, count, r);
            assert_eq!(blocks, JOURNAL_BLOCKS_MAX);
            let f = Footprint::of(FORMAT_VERSION_3, slot, count, r).unwrap();
            assert_eq!((f.journal, f.journal_blocks), (journal, blocks));
        }
        // A superblock recording a longer area describes no copy.
        let f = Footprint::of(FORMAT_VERSION_3, 0, 0, r).unwrap().without_journal();
        assert!(f.with_journal(2, JOURNAL_BLOCKS_MAX, r).is_some());
        assert_eq!(f.with_journal(2, JOURNAL_BLOCKS_MAX + 1, r), None);
    }

    #[test]
    fn appends_extend_the_newest_copy_until_its_area_is_full() {
        let r = 40;
        let mut s = Slots::default();
        let f = Footprint::of(FORMAT_VERSION_3, 0, 3, r).unwrap();
        assert_eq!((f.journal, f.journal_blocks), (5, 10));
        s.slots[0][0] = Slot::Holds { generation: 9, footprint: f, base: 9, chain: 0 };
        s.slots[1][0] = s.slots[0][0];
        assert_eq!(s.plan_append(0), None, "not after a load");
        s.appendable = [true, true];
        assert_eq!(s.plan_append(0), Some(Append { slot: 0, footprint: f, base: 9, index: 0, destroys_other: false }));
        // Region B does not hold the newest generation.
        s.slots[0][0] = Slot::Holds { generation: 15, footprint: f, base: 9, chain: 4 };
        assert_eq!(s.plan_append(1), None);
        assert_eq!(s.plan_append(0).map(|a| a.index), Some(4));
        // An older copy in slot 1 whose entries reach the area.
        s.slots[0][1] = holds(8, FORMAT_VERSION_3, 1, 31, r);
        assert_eq!(s.plan_append(0).map(|a| a.destroys_other), Some(true));
        s.slots[0][0] = Slot::Holds { generation: 15, footprint: f, base: 9, chain: 10 };
        assert_eq!(s.plan_append(0), None, "the area is full");
    }
}
