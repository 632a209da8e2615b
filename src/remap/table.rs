// SPDX-License-Identifier: GPL-2.0
//! The published remap table and the runs being moved to the spare.

use kernel::prelude::*;

use crate::dm_remap_core::extent::{self, Extent, Route};
use crate::dm_remap_core::extent_index::{self, IndexShape};

/// An immutable version of the remap table, published with RCU.
///
/// The extents live in a vmalloc'ed array sized exactly (kmalloc would round
/// a large array up to a power of two), beside a bucket index of at most two
/// 4-byte positions per extent (`extent_index`): 24 bytes per extent at
/// most, plus under a page per array.
pub(crate) struct Table {
    extents: VVec<Extent>,
    shape: IndexShape,
    starts: VVec<u32>,
}

impl Table {
    /// A table holding `extents` (sorted and disjoint).
    pub(crate) fn loaded(extents: VVec<Extent>) -> Result<KBox<Self>> {
        let shape = IndexShape::of(&extents);
        let mut starts = VVec::from_elem(0u32, shape.slots(), GFP_KERNEL)?;
        extent_index::build(&extents, &shape, starts.as_mut_slice()).map_err(|_| EINVAL)?;
        Ok(KBox::new(Self { extents, shape, starts }, GFP_KERNEL)?)
    }

    /// The extents, sorted by main block.
    pub(crate) fn extents(&self) -> &[Extent] {
        &self.extents
    }

    /// Bytes this version holds: its arrays as allocated (vmalloc adds the
    /// rest of each array's last page) and its header.
    pub(crate) fn bytes(&self) -> usize {
        core::mem::size_of::<Self>()
            + self.extents.capacity() * core::mem::size_of::<Extent>()
            + self.starts.capacity() * core::mem::size_of::<u32>()
    }

    /// Where `blocks` blocks from `block` go, found through the index: a
    /// block away from every remap costs no search at all.
    #[inline(always)]
    pub(crate) fn route(&self, block: u64, blocks: u64) -> Route {
        extent_index::route(&self.extents, &self.shape, &self.starts, block, blocks)
    }

    /// This table plus `new` (sorted, disjoint from it), as a new version.
    pub(crate) fn with(&self, new: &[Extent]) -> Result<KBox<Self>> {
        self.with_moved(&[], new)
    }

    /// This table with the blocks in `moved` (sorted, unique) taken out of
    /// their extents, plus `new` (sorted, disjoint from the rest), as a new
    /// version: how a block moves to a fresh spare block.
    pub(crate) fn with_moved(&self, moved: &[u64], new: &[Extent]) -> Result<KBox<Self>> {
        let carved;
        let kept = if moved.is_empty() {
            self.extents.as_slice()
        } else {
            let mut scratch =
                VVec::from_elem(Extent::default(), self.extents.len().saturating_add(moved.len()), GFP_KERNEL)?;
            let n = extent::carve(&self.extents, moved, scratch.as_mut_slice()).map_err(|_| EINVAL)?;
            carved = scratch;
            carved.as_slice().get(..n).ok_or(EINVAL)?
        };
        let mut scratch = VVec::from_elem(Extent::default(), kept.len().saturating_add(new.len()), GFP_KERNEL)?;
        let n = extent::merge(kept, new, scratch.as_mut_slice()).map_err(|_| EINVAL)?;
        let mut extents = VVec::with_capacity(n, GFP_KERNEL)?;
        extents.extend_from_slice(scratch.as_slice().get(..n).ok_or(EINVAL)?, GFP_KERNEL)?;
        Self::loaded(extents)
    }
}

/// Runs being copied to the spare: I/O to them is held back until the table
/// that maps them is published. Empty except during a remap.
#[derive(Default)]
pub(crate) struct MovingRuns {
    runs: KVec<Extent>,
}

impl MovingRuns {
    /// No runs.
    pub(crate) fn none() -> Result<KBox<Self>> {
        Ok(KBox::new(Self::default(), GFP_KERNEL)?)
    }

    /// A copy of `runs` (sorted, disjoint).
    pub(crate) fn of(runs: &[Extent]) -> Result<KBox<Self>> {
        let mut v = KVec::with_capacity(runs.len(), GFP_KERNEL)?;
        v.extend_from_slice(runs, GFP_KERNEL)?;
        Ok(KBox::new(Self { runs: v }, GFP_KERNEL)?)
    }

    /// Whether no run is moving.
    pub(crate) fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// `None` when no run is moving near `block` (the common case, one
    /// length check); otherwise the route through the moving runs.
    #[inline]
    pub(crate) fn route(&self, block: u64, blocks: u64) -> Option<Route> {
        crate::dm_remap_core::engine::route::through_moving(&self.runs, block, blocks)
    }
}
