// SPDX-License-Identifier: GPL-2.0
//! Geometry of the spare device: two metadata regions, one at each end, each
//! sized for the largest remap table the spare pool between them can need.
//!
//! ```text
//!  sector 0                                                       end
//!  | metadata copy A | spare pool (pool_blocks blocks) | metadata copy B |
//! ```

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

const META_BLOCK_SECTORS: u64 = META_BLOCK_BYTES / SECTOR_SIZE;

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
    /// Number of whole blocks in the pool.
    pub pool_blocks: u64,
    /// First sector of metadata region B (right after the pool).
    pub region_b_start: u64,
}

/// Sectors one metadata region needs for a pool of `pool_blocks` blocks: a
/// superblock plus one entry per block (the worst case: no two remaps
/// merge), in 4 KiB metadata blocks, rounded up to whole remap blocks.
///
/// `region_sectors(P) = roundup(8 * (1 + ceil(P / 252)), block_sectors)`
pub fn region_sectors(pool_blocks: u64, block_sectors: u64) -> u64 {
    let meta_blocks = 1 + pool_blocks.div_ceil(ENTRIES_PER_META_BLOCK);
    (meta_blocks * META_BLOCK_SECTORS).div_ceil(block_sectors) * block_sectors
}

impl SpareLayout {
    /// Lays out a spare of `spare_sectors` sectors: the largest pool whose
    /// two metadata regions fit beside it. `None` when the block size is
    /// invalid or not even one pool block fits.
    pub fn new(spare_sectors: u64, block_bytes: u32) -> Option<Self> {
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

    /// The smallest spare, in sectors, that `new` accepts for `block_bytes`.
    pub fn min_spare_sectors(block_bytes: u32) -> u64 {
        let bs = (u64::from(block_bytes) / SECTOR_SIZE).max(1);
        2 * region_sectors(1, bs) + bs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_spare_with_512_byte_blocks() {
        // 4096 sectors: regions of 8 * (1 + ceil(P / 252)) sectors each.
        let l = SpareLayout::new(4096, 512).unwrap();
        assert_eq!(l.pool_blocks, 3824);
        assert_eq!(l.region_sectors, 136);
        assert_eq!(l.region_sectors, 8 * (1 + 3824u64.div_ceil(252)));
        assert_eq!(l.pool_start, l.region_sectors);
        assert_eq!(l.region_b_start + l.region_sectors, 4096);
    }

    #[test]
    fn spare_too_small_is_refused() {
        let min = SpareLayout::min_spare_sectors(512);
        assert_eq!(min, 33);
        assert_eq!(SpareLayout::new(min - 1, 512), None);
        assert_eq!(SpareLayout::new(min, 512).map(|l| l.pool_blocks), Some(1));
        let min4k = SpareLayout::min_spare_sectors(4096);
        assert_eq!(min4k, 40);
        assert_eq!(SpareLayout::new(min4k - 1, 4096), None);
        assert!(SpareLayout::new(min4k, 4096).is_some());
    }

    #[test]
    fn bad_block_sizes_are_refused() {
        for bs in [0, 256, 1000, 131072] {
            assert_eq!(SpareLayout::new(1 << 30, bs), None, "block size {bs}");
        }
    }

    proptest! {
        #[test]
        fn regions_hold_the_worst_case_table_and_never_touch(sectors in 0u64..(1 << 44), shift in 9u32..=16) {
            let bs = 1u32 << shift;
            match SpareLayout::new(sectors, bs) {
                Some(l) => {
                    let b = l.block_sectors();
                    // One entry per pool block fits in each region, with the superblock.
                    let need = META_BLOCK_BYTES * (1 + l.pool_blocks.div_ceil(ENTRIES_PER_META_BLOCK));
                    prop_assert!(l.region_sectors * SECTOR_SIZE >= need);
                    prop_assert_eq!(l.pool_start % b, 0);
                    prop_assert_eq!(l.region_b_start, l.pool_start + l.pool_blocks * b);
                    prop_assert!(l.region_b_start + l.region_sectors <= sectors);
                    prop_assert!(l.pool_blocks >= 1, "regions A and B are never adjacent");
                    // Maximal: one more pool block would not fit.
                    let p = l.pool_blocks + 1;
                    prop_assert!(p * b + 2 * region_sectors(p, b) > sectors);
                }
                None => prop_assert!(sectors < SpareLayout::min_spare_sectors(bs)),
            }
        }
    }
}
