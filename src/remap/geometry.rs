// SPDX-License-Identifier: GPL-2.0
//! Where one target lies: its place in the mapped device, the spare's
//! layout, and the block arithmetic from sectors to blocks and from blocks
//! to the sectors of the main device and of the spare pool.

use crate::dm_remap_core::geometry::SpareLayout;

/// The target's place, the spare's layout, and the block size as a shift.
///
/// The arithmetic runs in `map()`, so it cannot panic: `shift` is below 64
/// (a block is at most a page), which makes the wrapping shifts exact, and
/// sums are wrapping where the table's checks at load keep them in range.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
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
    /// the mapped device, over `layout`.
    pub(crate) fn new(layout: &SpareLayout, begin: u64, target_sectors: u64) -> Self {
        let shift = layout.block_sectors().trailing_zeros();
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
    pub(crate) fn begin(&self) -> u64 {
        self.begin
    }

    /// Sectors in the target.
    pub(crate) fn sectors(&self) -> u64 {
        self.sectors
    }

    /// The spare's layout.
    pub(crate) fn layout(&self) -> &SpareLayout {
        &self.layout
    }

    /// Block size in bytes.
    pub(crate) fn block_bytes(&self) -> usize {
        512usize.wrapping_shl(self.shift)
    }

    /// Blocks in the target.
    pub(crate) fn main_blocks(&self) -> u64 {
        self.main_blocks
    }

    /// The block holding target sector `sector`.
    pub(crate) fn block_of(&self, sector: u64) -> u64 {
        sector.wrapping_shr(self.shift)
    }

    /// Sector offset of `sector` inside its block.
    pub(crate) fn offset_in_block(&self, sector: u64) -> u64 {
        sector & 1u64.wrapping_shl(self.shift).wrapping_sub(1)
    }

    /// Blocks needed to hold `sectors` sectors.
    pub(crate) fn blocks_in(&self, sectors: u64) -> u64 {
        sectors.wrapping_shr(self.shift) + u64::from(self.offset_in_block(sectors) != 0)
    }

    /// Whole blocks in `bytes` bytes.
    pub(crate) fn blocks_of_bytes(&self, bytes: usize) -> u64 {
        (bytes as u64).wrapping_shr(self.shift.wrapping_add(9))
    }

    /// Bytes in `blocks` blocks.
    pub(crate) fn bytes_of(&self, blocks: u64) -> usize {
        (blocks as usize).wrapping_shl(self.shift.wrapping_add(9))
    }

    /// Sectors in `blocks` blocks.
    pub(crate) fn sectors_of(&self, blocks: u64) -> u64 {
        blocks.wrapping_shl(self.shift)
    }

    /// First main-device sector of `block`.
    pub(crate) fn main_sector(&self, block: u64) -> u64 {
        block.wrapping_shl(self.shift)
    }

    /// First spare-device sector of spare-pool block `pool_block`.
    pub(crate) fn spare_sector(&self, pool_block: u64) -> u64 {
        self.pool_start.wrapping_add(pool_block.wrapping_shl(self.shift))
    }

    /// Spare-device block number (in blocks from the start of the spare) of
    /// spare-pool block `pool_block`, as listings show it.
    pub(crate) fn spare_device_block(&self, pool_block: u64) -> u64 {
        self.pool_start.wrapping_shr(self.shift).wrapping_add(pool_block)
    }
}
