// SPDX-License-Identifier: GPL-2.0
//! The JSON form of a metadata copy, for `dump` and `restore`.

use serde::{Deserialize, Serialize};

use dm_remap_core::extent::{Extent, ExtentState};
use dm_remap_core::format::{Superblock, FORMAT_VERSION, FORMAT_VERSION_1};
use dm_remap_core::geometry::{Geometry, SpareLayout};
use dm_remap_core::table_check::{self, TableFault};

/// One remapped run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DumpExtent {
    pub main_block: u64,
    /// Block index in the spare pool (0 = the first block after region A).
    pub spare_pool_block: u32,
    pub length: u16,
    /// "ok" or "lost".
    pub state: String,
}

/// A whole copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dump {
    /// The JSON schema's version ([`crate::json::SCHEMA_VERSION`]; a dump
    /// written before it existed has none and reads as 1); not the
    /// on-disk format's, which is `format_version`.
    #[serde(default = "schema_1")]
    pub schema_version: u32,
    pub format_version: u32,
    pub generation: u64,
    /// 32 hex digits.
    pub uuid: String,
    pub main_sectors: u64,
    pub main_logical_block_size: u32,
    pub block_bytes: u32,
    pub spare_sectors: u64,
    pub pool_blocks: u64,
    pub alloc_next: u64,
    pub extents: Vec<DumpExtent>,
}

fn schema_1() -> u32 {
    1
}

impl Dump {
    /// The JSON form of `sb` and `extents`.
    pub fn new(sb: &Superblock, extents: &[Extent]) -> Self {
        Self {
            schema_version: crate::json::SCHEMA_VERSION,
            format_version: sb.version,
            generation: sb.generation,
            uuid: sb.uuid.iter().map(|b| format!("{b:02x}")).collect(),
            main_sectors: sb.main_sectors,
            main_logical_block_size: sb.main_logical_block_size,
            block_bytes: sb.block_bytes,
            spare_sectors: sb.spare_sectors,
            pool_blocks: sb.pool_blocks,
            alloc_next: sb.alloc_next,
            extents: extents
                .iter()
                .map(|e| DumpExtent {
                    main_block: e.main,
                    spare_pool_block: e.spare,
                    length: e.len,
                    state: e.state.to_string(),
                })
                .collect(),
        }
    }

    /// The superblock template (at `generation`) and extents this dump
    /// describes, checked against `layout`: sorted, non-overlapping on both
    /// devices, inside the pool (off region B) and below `alloc_next`.
    pub fn to_superblock(&self, layout: &SpareLayout, generation: u64) -> Result<(Superblock, Vec<Extent>), String> {
        if self.schema_version != crate::json::SCHEMA_VERSION {
            return Err(format!(
                "schema_version {} is not {} (a dump of a newer dm-remap?)",
                self.schema_version,
                crate::json::SCHEMA_VERSION
            ));
        }
        if !(FORMAT_VERSION_1..=FORMAT_VERSION).contains(&self.format_version) {
            return Err(format!(
                "format_version {} is not {FORMAT_VERSION_1} to {FORMAT_VERSION}",
                self.format_version
            ));
        }
        if self.block_bytes != layout.block_bytes || self.pool_blocks != layout.pool_blocks {
            return Err(format!(
                "dump is for {}-byte blocks and {} pool blocks; this spare gives {} and {}",
                self.block_bytes, self.pool_blocks, layout.block_bytes, layout.pool_blocks
            ));
        }
        let mut uuid = [0u8; 16];
        if self.uuid.len() != 32 || !self.uuid.is_ascii() {
            return Err("uuid must be 32 hex digits".into());
        }
        for (i, b) in uuid.iter_mut().enumerate() {
            *b = u8::from_str_radix(&self.uuid[2 * i..2 * i + 2], 16).map_err(|_| "uuid must be 32 hex digits")?;
        }
        let mut extents = Vec::with_capacity(self.extents.len());
        for d in &self.extents {
            let state: ExtentState = d
                .state
                .parse()
                .map_err(|_| format!("extent at main block {}: unknown state '{}'", d.main_block, d.state))?;
            if d.length == 0 {
                return Err(format!("extent at main block {}: length 0", d.main_block));
            }
            extents.push(Extent { main: d.main_block, spare: d.spare_pool_block, len: d.length, state });
        }
        let sb = Superblock {
            version: FORMAT_VERSION,
            flags: 0,
            generation,
            uuid,
            main_sectors: self.main_sectors,
            main_logical_block_size: self.main_logical_block_size,
            block_bytes: layout.block_bytes,
            spare_sectors: self.spare_sectors,
            region_sectors: layout.region_sectors,
            pool_start: layout.pool_start,
            pool_blocks: layout.pool_blocks,
            region_b_start: layout.region_b_start,
            extent_count: extents.len() as u64,
            alloc_next: self.alloc_next,
            copy: 0,
            slot: 0,
            journal_start: 0,
            journal_blocks: 0,
        };
        check_table(&extents, layout, self.alloc_next.min(layout.pool_blocks), main_blocks(&sb, layout))?;
        Ok((sb, extents))
    }
}

/// Checks that `extents` is a valid table for a main device of
/// `main_blocks` blocks and a pool whose first `alloc_next` blocks are
/// allocated (the kernel's load-time check).
pub fn check_table(extents: &[Extent], layout: &SpareLayout, alloc_next: u64, main_blocks: u64) -> Result<(), String> {
    table_check::check_table(
        extents,
        table_check::Scratch::Sorted(&mut extents.to_vec()),
        layout.gap(),
        alloc_next,
        main_blocks,
    )
    .map_err(|f| match f {
        TableFault::InRegionB(m) => format!("extent at main block {m} uses spare blocks of metadata region B"),
        TableFault::Unsorted(a, b) => format!("extents at main blocks {a} and {b} overlap or are unsorted"),
        TableFault::SharedSpare(a, b) => format!("extents at main blocks {a} and {b} share spare blocks"),
        TableFault::PastAllocator(m) => {
            format!("extent at main block {m} uses spare blocks past alloc_next {alloc_next}")
        }
        TableFault::PastMainEnd(m) => {
            format!("extent at main block {m} reaches past the main device's {main_blocks} blocks")
        }
    })
}

/// Blocks of the main device a superblock describes, counted as the kernel
/// counts its target's (a partial last block is a block).
pub fn main_blocks(sb: &Superblock, layout: &SpareLayout) -> u64 {
    Geometry::new(layout, 0, sb.main_sectors).main_blocks()
}
