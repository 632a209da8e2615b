// SPDX-License-Identifier: GPL-2.0
//! Blocks of the main device that failed every read retry ("pending", like
//! SMART attribute 197): their next write goes to a newly remapped spare
//! block. Published with RCU so map() checks it without a lock.

use kernel::alloc::KVVec;
use kernel::prelude::*;

use crate::dm_remap_core::extent::Extent;

/// A sorted set of main blocks (vmalloc-backed where large: a failed
/// `remap` of a million blocks fences a million).
pub(crate) struct PendingBlocks {
    blocks: KVVec<u64>,
}

impl PendingBlocks {
    pub(crate) fn none() -> Result<KBox<Self>> {
        Ok(KBox::new(Self { blocks: KVVec::new() }, GFP_KERNEL)?)
    }

    /// How many blocks are pending.
    pub(crate) fn len(&self) -> usize {
        self.blocks.len()
    }

    /// The blocks, sorted.
    pub(crate) fn blocks(&self) -> &[u64] {
        &self.blocks
    }

    /// The first pending block in `[block, block + blocks)`, if any (one
    /// length check when none is pending, the common case).
    pub(crate) fn first_in(&self, block: u64, blocks: u64) -> Option<u64> {
        if self.blocks.is_empty() {
            return None;
        }
        let i = self.blocks.partition_point(|&b| b < block);
        self.blocks.get(i).copied().filter(|&b| b < block.saturating_add(blocks))
    }

    /// This set with `block` added.
    pub(crate) fn with(&self, block: u64) -> Result<KBox<Self>> {
        let i = self.blocks.partition_point(|&b| b < block);
        let mut v = KVVec::with_capacity(self.blocks.len().saturating_add(1), GFP_KERNEL)?;
        v.extend_from_slice(self.blocks.get(..i).unwrap_or_default(), GFP_KERNEL)?;
        if self.blocks.get(i) != Some(&block) {
            v.push(block, GFP_KERNEL)?;
        }
        v.extend_from_slice(self.blocks.get(i..).unwrap_or_default(), GFP_KERNEL)?;
        Ok(KBox::new(Self { blocks: v }, GFP_KERNEL)?)
    }

    /// This set with every block of `runs` (sorted, disjoint) added.
    pub(crate) fn with_runs(&self, runs: &[Extent]) -> Result<KBox<Self>> {
        let added = runs.iter().map(|e| u64::from(e.len)).fold(0u64, u64::saturating_add);
        let room = usize::try_from(added).map_err(|_| ENOMEM)?.saturating_add(self.blocks.len());
        let mut v = KVVec::with_capacity(room, GFP_KERNEL)?;
        let mut old = self.blocks.iter().copied().peekable();
        for b in runs.iter().flat_map(|e| e.main..e.main_end()) {
            while let Some(o) = old.next_if(|&o| o < b) {
                v.push(o, GFP_KERNEL)?;
            }
            old.next_if_eq(&b);
            v.push(b, GFP_KERNEL)?;
        }
        for o in old {
            v.push(o, GFP_KERNEL)?;
        }
        Ok(KBox::new(Self { blocks: v }, GFP_KERNEL)?)
    }

    /// This set without the blocks for which `mapped` is true.
    pub(crate) fn without(&self, mapped: impl Fn(u64) -> bool) -> Result<KBox<Self>> {
        let mut v = KVVec::with_capacity(self.blocks.len(), GFP_KERNEL)?;
        for &b in self.blocks.iter().filter(|&&b| !mapped(b)) {
            v.push(b, GFP_KERNEL)?;
        }
        Ok(KBox::new(Self { blocks: v }, GFP_KERNEL)?)
    }
}
