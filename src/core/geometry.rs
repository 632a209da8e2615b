// SPDX-License-Identifier: GPL-2.0
//! Geometry of the spare device: a reserved metadata area at its start, then
//! the spare pool, in blocks of the target's block size.

/// Bytes in a sector, the unit of device-mapper offsets.
pub const SECTOR_SIZE: u64 = 512;

/// Sectors reserved at the start of the spare device for metadata (1 MiB).
///
/// The spare pool begins right after this area; nothing is ever allocated
/// inside it. Documented in Documentation/dm-remap.rst.
pub const METADATA_RESERVE_SECTORS: u64 = 2048;

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
    /// First sector of the spare pool (the end of the metadata area, rounded
    /// up to a whole block).
    pub pool_start: u64,
    /// Number of whole blocks in the pool.
    pub pool_blocks: u64,
}

impl SpareLayout {
    /// Lays out a spare of `spare_sectors` sectors, or `None` when the block
    /// size is invalid or the spare cannot hold the metadata area plus one
    /// block.
    pub fn new(spare_sectors: u64, block_bytes: u32) -> Option<Self> {
        if !valid_block_size(block_bytes) {
            return None;
        }
        let block_sectors = u64::from(block_bytes) / SECTOR_SIZE;
        let pool_start = METADATA_RESERVE_SECTORS.div_ceil(block_sectors) * block_sectors;
        let pool_blocks = spare_sectors.checked_sub(pool_start)? / block_sectors;
        if pool_blocks == 0 {
            return None;
        }
        Some(Self { block_bytes, pool_start, pool_blocks })
    }

    /// Sectors in one block.
    pub fn block_sectors(&self) -> u64 {
        u64::from(self.block_bytes) / SECTOR_SIZE
    }

    /// The smallest spare, in sectors, that `new` accepts for `block_bytes`.
    pub fn min_spare_sectors(block_bytes: u32) -> u64 {
        let block_sectors = (u64::from(block_bytes) / SECTOR_SIZE).max(1);
        METADATA_RESERVE_SECTORS.div_ceil(block_sectors) * block_sectors + block_sectors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pool_starts_after_the_metadata_reserve() {
        let l = SpareLayout::new(4096, 512).unwrap();
        assert_eq!(l.pool_start, METADATA_RESERVE_SECTORS);
        assert_eq!(l.pool_blocks, 4096 - METADATA_RESERVE_SECTORS);
    }

    #[test]
    fn spare_too_small_is_refused() {
        assert_eq!(SpareLayout::new(METADATA_RESERVE_SECTORS, 512), None);
        assert!(SpareLayout::new(METADATA_RESERVE_SECTORS + 1, 512).is_some());
        assert_eq!(SpareLayout::new(METADATA_RESERVE_SECTORS + 7, 4096), None);
        assert!(SpareLayout::new(METADATA_RESERVE_SECTORS + 8, 4096).is_some());
    }

    #[test]
    fn bad_block_sizes_are_refused() {
        for bs in [0, 256, 1000, 131072] {
            assert_eq!(SpareLayout::new(1 << 30, bs), None, "block size {bs}");
        }
    }

    proptest! {
        #[test]
        fn pool_never_overlaps_metadata_and_fits(sectors in 0u64..(1 << 40), shift in 9u32..=16) {
            let bs = 1u32 << shift;
            match SpareLayout::new(sectors, bs) {
                Some(l) => {
                    prop_assert!(l.pool_start >= METADATA_RESERVE_SECTORS);
                    prop_assert_eq!(l.pool_start % l.block_sectors(), 0);
                    prop_assert!(l.pool_start + l.pool_blocks * l.block_sectors() <= sectors);
                    prop_assert!(sectors >= SpareLayout::min_spare_sectors(bs));
                }
                None => prop_assert!(sectors < SpareLayout::min_spare_sectors(bs)),
            }
        }
    }
}
