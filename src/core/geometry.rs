// SPDX-License-Identifier: GPL-2.0
//! Geometry of the spare device: two metadata regions, A at the start and B
//! inside or after the spare pool, each sized for two copies of the largest
//! remap table the pool can need (two *slots*, so that a commit never
//! overwrites the newest copy in place).
//!
//! ```text
//!  sector 0                          anchor (a power of two)          end
//!  | region A | spare pool ...       | region B | ... spare pool       |
//! ```
//!
//! Region B starts at the largest power of two that leaves room for it
//! before the end of the spare (format version 2). Its place depends on the
//! spare's size only through that power of two, so when a spare grows and
//! copy A is lost, region B is still found among the powers of two below
//! the current size (see `discover`). Pool blocks are numbered from the end
//! of region A across the whole spare; those that region B occupies (the
//! *gap*) are never handed out. Version-1 spares have region B right after
//! the pool and no gap ([`SpareLayout::v1`]).

/// Bytes in a sector, the unit of device-mapper offsets.
pub const SECTOR_SIZE: u64 = 512;

/// Bytes in a metadata block, the unit of metadata I/O.
pub const META_BLOCK_BYTES: u64 = 4096;

/// Header bytes at the start of each metadata block of entries.
pub const META_BLOCK_HEADER_BYTES: u64 = 64;

/// Bytes of one table entry (an extent) on disk.
pub const META_ENTRY_BYTES: u64 = 16;

/// Entries in one metadata block: (4096 - 64) / 16 = 252.
pub const ENTRIES_PER_META_BLOCK: u64 = (META_BLOCK_BYTES - META_BLOCK_HEADER_BYTES) / META_ENTRY_BYTES;

/// Sectors in one metadata block.
pub const META_BLOCK_SECTORS: u64 = META_BLOCK_BYTES / SECTOR_SIZE;

/// Block sizes dm-remap accepts: a power of two from 512 B to 64 KiB.
pub fn valid_block_size(bytes: u32) -> bool {
    bytes.is_power_of_two() && (512..=65536).contains(&bytes)
}

/// The remap block size for a main and a spare device: the larger of their
/// logical block sizes, so that every remap unit is addressable on both.
pub fn block_size(main_logical: u32, spare_logical: u32) -> u32 {
    main_logical.max(spare_logical)
}

/// Layout of a spare device, derived from its size and the block size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpareLayout {
    /// Block size in bytes.
    pub block_bytes: u32,
    /// Sectors in each metadata region (a whole number of blocks).
    pub region_sectors: u64,
    /// First sector of the spare pool (= end of metadata region A).
    pub pool_start: u64,
    /// Pool block numbers run from 0 to this, region B's blocks included
    /// when it lies inside the pool.
    pub pool_blocks: u64,
    /// First sector of metadata region B.
    pub region_b_start: u64,
}

/// Sectors a version-1 region needs for a pool of `pool_blocks` blocks: a
/// superblock plus one entry per block (the worst case: no two remaps
/// merge), in 4 KiB metadata blocks, rounded up to whole remap blocks.
///
/// `region_sectors(P) = roundup(8 * (1 + ceil(P / 252)), block_sectors)`
pub fn region_sectors(pool_blocks: u64, block_sectors: u64) -> u64 {
    let meta_blocks = 1 + pool_blocks.div_ceil(ENTRIES_PER_META_BLOCK);
    (meta_blocks * META_BLOCK_SECTORS).div_ceil(block_sectors) * block_sectors
}

/// Sectors a version-2 region needs for a pool of `pool_blocks` blocks: two
/// superblocks and two worst-case tables, rounded up to whole remap blocks.
///
/// `region_sectors_v2(P) = roundup(8 * (2 + 2 * ceil(P / 252)), block_sectors)`
pub fn region_sectors_v2(pool_blocks: u64, block_sectors: u64) -> u64 {
    let meta_blocks = 2 + 2 * pool_blocks.div_ceil(ENTRIES_PER_META_BLOCK);
    (meta_blocks * META_BLOCK_SECTORS).div_ceil(block_sectors) * block_sectors
}

/// Where region B starts on a version-2 spare of `spare_sectors` sectors
/// with regions of `region` sectors: the largest power of two that leaves
/// room for the region before the end and lies past region A.
fn anchor(spare_sectors: u64, region: u64) -> Option<u64> {
    let room = spare_sectors.checked_sub(region)?;
    if room == 0 {
        return None;
    }
    let b = 1u64 << (63 - room.leading_zeros());
    (b >= region).then_some(b)
}

impl SpareLayout {
    /// Lays out a spare of `spare_sectors` sectors in format version 2.
    /// `None` when the block size is invalid or the spare is too small for
    /// two regions and at least one usable pool block.
    pub fn new(spare_sectors: u64, block_bytes: u32) -> Option<Self> {
        if !valid_block_size(block_bytes) {
            return None;
        }
        let bs = u64::from(block_bytes) / SECTOR_SIZE;
        // Sized for every whole block of the spare: a little more than the
        // pool can ever need.
        let region = region_sectors_v2(spare_sectors / bs, bs);
        let b = anchor(spare_sectors, region)?;
        let end = spare_sectors / bs * bs;
        let pool_blocks = end.checked_sub(region)? / bs;
        let l = Self { block_bytes, region_sectors: region, pool_start: region, pool_blocks, region_b_start: b };
        (l.usable_blocks() >= 1).then_some(l)
    }

    /// The version-1 layout of a spare of `spare_sectors` sectors: the
    /// largest pool whose two single-copy regions fit beside it, region B
    /// right after the pool.
    pub fn v1(spare_sectors: u64, block_bytes: u32) -> Option<Self> {
        if !valid_block_size(block_bytes) {
            return None;
        }
        let bs = u64::from(block_bytes) / SECTOR_SIZE;
        let fits = |p: u64| {
            p.checked_mul(bs)
                .and_then(|pool| pool.checked_add(2 * region_sectors(p, bs)))
                .is_some_and(|total| total <= spare_sectors)
        };
        // Binary search for the largest pool that fits (fits() is monotone).
        let (mut lo, mut hi) = (0u64, spare_sectors / bs);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        if lo == 0 || !fits(lo) {
            return None;
        }
        let region = region_sectors(lo, bs);
        Some(Self {
            block_bytes,
            region_sectors: region,
            pool_start: region,
            pool_blocks: lo,
            region_b_start: region + lo * bs,
        })
    }

    /// Sectors in one block.
    pub fn block_sectors(&self) -> u64 {
        u64::from(self.block_bytes) / SECTOR_SIZE
    }

    /// The pool blocks region B occupies, as `(first, count)`, when it lies
    /// inside the pool (version 2).
    pub fn gap(&self) -> Option<(u64, u64)> {
        let bs = self.block_sectors().max(1);
        let first = self.region_b_start.checked_sub(self.pool_start)? / bs;
        (first < self.pool_blocks).then(|| (first, (self.region_sectors / bs).min(self.pool_blocks - first)))
    }

    /// Pool blocks that can be handed out.
    pub fn usable_blocks(&self) -> u64 {
        self.pool_blocks - self.gap().map_or(0, |g| g.1)
    }

    /// First sector of region `copy` (0 = A, 1 = B).
    pub fn region_start(&self, copy: u8) -> u64 {
        if copy == 0 {
            0
        } else {
            self.region_b_start
        }
    }

    /// Metadata blocks in each region.
    pub fn region_meta_blocks(&self) -> u64 {
        self.region_sectors / META_BLOCK_SECTORS
    }

    /// The smallest spare, in sectors, that `new` accepts for `block_bytes`.
    pub fn min_spare_sectors(block_bytes: u32) -> u64 {
        let bs = (u64::from(block_bytes) / SECTOR_SIZE).max(1);
        (1..1u64 << 20).map(|n| n * bs).find(|&s| Self::new(s, block_bytes).is_some()).unwrap_or(u64::MAX)
    }
}

/// Where one target lies (its place in the mapped device, the spare's
/// layout) and its block arithmetic: sectors to blocks, blocks to the
/// sectors of the main device and of the spare pool. The kernel's I/O path
/// and the tool count blocks with it, so both round the same way (a
/// partial last block of the target is a block).
///
/// The arithmetic runs in `map()`, so it cannot panic: `shift` is below 64
/// (a block is at most 64 KiB), which makes the wrapping shifts exact, and
/// sums are wrapping where the table's checks at load keep them in range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// log2 of the sectors in a block.
    shift: u32,
    /// First sector of the spare pool.
    pool_start: u64,
    /// Blocks in the target (rounded up).
    main_blocks: u64,
    /// First sector and length of the target (`ti->begin`, `ti->len`).
    begin: u64,
    sectors: u64,
    /// The spare's layout.
    layout: SpareLayout,
}

impl Geometry {
    /// The geometry of a target of `target_sectors` from sector `begin` of
    /// the mapped device, over `layout` (the tool's targets start at 0).
    pub fn new(layout: &SpareLayout, begin: u64, target_sectors: u64) -> Self {
        let shift = layout.block_sectors().trailing_zeros() & 63;
        let mut g = Self {
            shift,
            pool_start: layout.pool_start,
            main_blocks: 0,
            begin,
            sectors: target_sectors,
            layout: *layout,
        };
        g.main_blocks = g.blocks_in(target_sectors);
        g
    }

    /// First sector of the target in the mapped device.
    pub fn begin(&self) -> u64 {
        self.begin
    }

    /// Sectors in the target.
    pub fn sectors(&self) -> u64 {
        self.sectors
    }

    /// The spare's layout.
    pub fn layout(&self) -> &SpareLayout {
        &self.layout
    }

    /// Block size in bytes.
    pub fn block_bytes(&self) -> usize {
        512usize.wrapping_shl(self.shift)
    }

    /// Blocks in the target: a partial last block counts.
    pub fn main_blocks(&self) -> u64 {
        self.main_blocks
    }

    /// The block holding target sector `sector`.
    pub fn block_of(&self, sector: u64) -> u64 {
        sector.wrapping_shr(self.shift)
    }

    /// Sector offset of `sector` inside its block.
    pub fn offset_in_block(&self, sector: u64) -> u64 {
        sector & 1u64.wrapping_shl(self.shift).wrapping_sub(1)
    }

    /// Blocks needed to hold `sectors` sectors (rounded up).
    pub fn blocks_in(&self, sectors: u64) -> u64 {
        sectors.wrapping_shr(self.shift) + u64::from(self.offset_in_block(sectors) != 0)
    }

    /// The first block and the number of blocks that target sectors
    /// `sector..sector + sectors` touch, or `None` for a range that runs past
    /// the end of the target (a `remap` message's range check).
    pub fn blocks_of_range(&self, sector: u64, sectors: u64) -> Option<(u64, u64)> {
        let end = sector.checked_add(sectors).filter(|&e| e <= self.sectors)?;
        let first = self.block_of(sector);
        Some((first, self.blocks_in(end).saturating_sub(first)))
    }

    /// Whole blocks in `bytes` bytes.
    pub fn blocks_of_bytes(&self, bytes: usize) -> u64 {
        (bytes as u64).wrapping_shr(self.shift.wrapping_add(9))
    }

    /// Bytes in `blocks` blocks.
    pub fn bytes_of(&self, blocks: u64) -> usize {
        (blocks as usize).wrapping_shl(self.shift.wrapping_add(9))
    }

    /// Sectors in `blocks` blocks.
    pub fn sectors_of(&self, blocks: u64) -> u64 {
        blocks.wrapping_shl(self.shift)
    }

    /// First main-device sector of `block`.
    pub fn main_sector(&self, block: u64) -> u64 {
        block.wrapping_shl(self.shift)
    }

    /// First spare-device sector of spare-pool block `pool_block`.
    pub fn spare_sector(&self, pool_block: u64) -> u64 {
        self.pool_start.wrapping_add(pool_block.wrapping_shl(self.shift))
    }

    /// Spare-device block number (in blocks from the start of the spare) of
    /// spare-pool block `pool_block`, as listings show it.
    pub fn spare_device_block(&self, pool_block: u64) -> u64 {
        self.pool_start.wrapping_shr(self.shift).wrapping_add(pool_block)
    }
}

/// Where region B may start on a spare of `spare_sectors` sectors formatted
/// in version 2 at this size or any smaller one: every power of two below
/// it (from 8 sectors up).
pub fn region_b_candidates(spare_sectors: u64) -> impl Iterator<Item = u64> {
    (3..64u32).map(|k| 1u64 << k).take_while(move |&b| b < spare_sectors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_version_1_spare_with_512_byte_blocks() {
        // 4096 sectors: regions of 8 * (1 + ceil(P / 252)) sectors each.
        let l = SpareLayout::v1(4096, 512).unwrap();
        assert_eq!(l.pool_blocks, 3824);
        assert_eq!(l.region_sectors, 136);
        assert_eq!(l.region_sectors, 8 * (1 + 3824u64.div_ceil(252)));
        assert_eq!(l.pool_start, l.region_sectors);
        assert_eq!(l.region_b_start + l.region_sectors, 4096);
        assert_eq!(l.gap(), None);
        assert_eq!(l.usable_blocks(), 3824);
    }

    #[test]
    fn version_2_puts_region_b_at_a_power_of_two() {
        // 16 MiB with 512-byte blocks: regions of 8 * (2 + 2 * 131) sectors.
        let l = SpareLayout::new(32768, 512).unwrap();
        assert_eq!(l.region_sectors, 2112);
        assert_eq!(l.region_b_start, 16384);
        assert_eq!(l.pool_blocks, 32768 - 2112);
        assert_eq!(l.gap(), Some((16384 - 2112, 2112)));
        assert_eq!(l.usable_blocks(), 32768 - 2 * 2112);
        // Just under a power of two: region B in the middle.
        let l = SpareLayout::new(32767, 512).unwrap();
        assert_eq!(l.region_b_start, 16384);
    }

    #[test]
    fn a_partial_last_block_is_a_block() {
        let l = SpareLayout::new(32768, 4096).unwrap();
        let g = Geometry::new(&l, 0, 8 * 100 + 4);
        assert_eq!(g.main_blocks(), 101);
        assert_eq!(Geometry::new(&l, 0, 800).main_blocks(), 100);
        let placed = Geometry::new(&l, 2048, 804);
        assert_eq!((placed.begin(), placed.sectors(), *placed.layout()), (2048, 804, l));
        assert_eq!(placed.main_blocks(), g.main_blocks());
        assert_eq!((g.block_of(805), g.offset_in_block(805), g.blocks_in(9)), (100, 5, 2));
        assert_eq!(g.spare_sector(1), l.pool_start + 8);
        assert_eq!(g.spare_device_block(0), l.pool_start / 8);
        assert_eq!((g.block_bytes(), g.bytes_of(2), g.blocks_of_bytes(8192), g.sectors_of(3)), (4096, 8192, 2, 24));
    }

    #[test]
    fn a_range_covers_the_blocks_it_touches_and_stays_inside() {
        let l = SpareLayout::new(32768, 4096).unwrap();
        let g = Geometry::new(&l, 0, 8 * 100 + 4);
        assert_eq!(g.blocks_of_range(0, 1), Some((0, 1)));
        assert_eq!(g.blocks_of_range(7, 2), Some((0, 2)), "a range across a block edge");
        assert_eq!(g.blocks_of_range(800, 4), Some((100, 1)), "the partial last block");
        assert_eq!(g.blocks_of_range(800, 5), None, "past the end");
        assert_eq!(g.blocks_of_range(u64::MAX, 2), None, "overflow");
    }

    #[test]
    fn spare_too_small_is_refused() {
        for bs in [512, 4096, 65536] {
            let min = SpareLayout::min_spare_sectors(bs);
            assert_eq!(SpareLayout::new(min - 1, bs), None, "{bs}");
            assert!(SpareLayout::new(min, bs).is_some_and(|l| l.usable_blocks() >= 1), "{bs}");
        }
        assert_eq!(SpareLayout::v1(32, 512), None);
        assert_eq!(SpareLayout::v1(33, 512).map(|l| l.pool_blocks), Some(1));
    }

    #[test]
    fn bad_block_sizes_are_refused() {
        for bs in [0, 256, 1000, 131072] {
            assert_eq!(SpareLayout::new(1 << 30, bs), None, "block size {bs}");
            assert_eq!(SpareLayout::v1(1 << 30, bs), None, "block size {bs}");
        }
    }

    proptest! {
        #[test]
        fn version_2_regions_hold_two_worst_case_tables_and_never_touch(sectors in 0u64..(1 << 44), shift in 9u32..=16) {
            let bs = 1u32 << shift;
            match SpareLayout::new(sectors, bs) {
                Some(l) => {
                    let b = l.block_sectors();
                    let need = 2 + 2 * l.usable_blocks().div_ceil(ENTRIES_PER_META_BLOCK);
                    prop_assert!(l.region_meta_blocks() >= need);
                    prop_assert_eq!(l.region_sectors % b, 0);
                    prop_assert_eq!(l.pool_start, l.region_sectors);
                    prop_assert!(l.region_b_start.is_power_of_two());
                    prop_assert!(l.region_b_start >= l.pool_start, "region B after region A");
                    prop_assert!(l.region_b_start + l.region_sectors <= sectors);
                    prop_assert!(l.pool_start + l.pool_blocks * b <= sectors);
                    let (first, len) = l.gap().expect("region B lies in the pool span");
                    prop_assert_eq!(l.pool_start + first * b, l.region_b_start);
                    prop_assert_eq!(len * b, l.region_sectors);
                    prop_assert!(l.usable_blocks() >= 1);
                    prop_assert!(region_b_candidates(sectors).any(|c| c == l.region_b_start));
                }
                None => prop_assert!(sectors < SpareLayout::min_spare_sectors(bs)),
            }
        }

        #[test]
        fn a_grown_spare_finds_its_region_b_among_the_candidates(sectors in 64u64..(1 << 40), grow in 0u64..(1 << 40)) {
            if let Some(l) = SpareLayout::new(sectors, 512) {
                prop_assert!(region_b_candidates(sectors + grow).any(|c| c == l.region_b_start));
            }
        }

        #[test]
        fn version_1_regions_hold_the_worst_case_table_and_never_touch(sectors in 0u64..(1 << 44), shift in 9u32..=16) {
            let bs = 1u32 << shift;
            if let Some(l) = SpareLayout::v1(sectors, bs) {
                let b = l.block_sectors();
                let need = META_BLOCK_BYTES * (1 + l.pool_blocks.div_ceil(ENTRIES_PER_META_BLOCK));
                prop_assert!(l.region_sectors * SECTOR_SIZE >= need);
                prop_assert_eq!(l.pool_start % b, 0);
                prop_assert_eq!(l.region_b_start, l.pool_start + l.pool_blocks * b);
                prop_assert!(l.region_b_start + l.region_sectors <= sectors);
                prop_assert!(l.pool_blocks >= 1, "regions A and B are never adjacent");
                let p = l.pool_blocks + 1;
                prop_assert!(p * b + 2 * region_sectors(p, b) > sectors);
            }
        }
    }
}
