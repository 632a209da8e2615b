// SPDX-License-Identifier: GPL-2.0
//! Allocation of spare-pool blocks.
//!
//! Spare blocks are handed out from a cursor that only moves forward, so a
//! block is never handed out twice, runs are always contiguous (adjacent
//! remaps can merge into one extent), and the state to persist is one number
//! (the superblock's `alloc_next`). Pool block 0 is the first block after
//! metadata region A, and the blocks of region B (the layout's *gap*, when
//! region B lies inside the pool) are skipped: a run never reaches into or
//! across them, so no metadata block can ever be allocated.

use super::geometry::SpareLayout;

/// The most pool blocks an extent can address (`Extent::spare` is a `u32`).
pub const MAX_POOL_BLOCKS: u64 = 1 << 32;

/// Allocator state for one spare pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpareAllocator {
    next: u64,
    /// End of the pool's block numbers.
    end: u64,
    /// Blocks never handed out: `(first, count)`.
    gap: (u64, u64),
}

impl SpareAllocator {
    /// An allocator for a pool of `pool_blocks` block numbers (capped at
    /// [`MAX_POOL_BLOCKS`]) without a gap, whose cursor was persisted at
    /// `cursor`.
    pub fn resume(pool_blocks: u64, cursor: u64) -> Self {
        Self::with_gap(pool_blocks, (0, 0), cursor)
    }

    /// The allocator of `layout`'s pool, resumed at `cursor`.
    pub fn for_layout(layout: &SpareLayout, cursor: u64) -> Self {
        Self::with_gap(layout.pool_blocks, layout.gap().unwrap_or((0, 0)), cursor)
    }

    fn with_gap(pool_blocks: u64, gap: (u64, u64), cursor: u64) -> Self {
        let end = pool_blocks.min(MAX_POOL_BLOCKS);
        let gap = (gap.0.min(end), gap.1.min(end - gap.0.min(end)));
        let mut a = Self { next: cursor.min(end), end, gap };
        if a.next > gap.0 && a.next < gap.0 + gap.1 {
            a.next = gap.0 + gap.1;
        }
        a
    }

    /// The cursor: every block below it has been handed out (or skipped).
    pub fn cursor(&self) -> u64 {
        self.next
    }

    /// Blocks in the pool that can be handed out.
    pub fn total(&self) -> u64 {
        self.end - self.gap.1
    }

    /// Blocks handed out (or skipped to keep a run off the gap).
    pub fn used(&self) -> u64 {
        let gap = if self.next >= self.gap.0 + self.gap.1 { self.gap.1 } else { 0 };
        self.next - gap
    }

    /// Blocks still free.
    pub fn free(&self) -> u64 {
        self.total().saturating_sub(self.used())
    }

    /// Takes the longest contiguous run of at most `max` free blocks at the
    /// cursor (it ends at region B's gap when it would cross it): its first
    /// block and length, or `None` (changing nothing) when none is free.
    pub fn alloc_up_to(&mut self, max: u64) -> Option<(u32, u64)> {
        let (gap_start, gap_end) = (self.gap.0, self.gap.0 + self.gap.1);
        if self.next >= gap_start && self.next < gap_end {
            self.next = gap_end;
        }
        let limit = if self.next < gap_start { gap_start } else { self.end };
        let n = max.min(limit.saturating_sub(self.next));
        if n == 0 {
            // Nothing before the gap: the rest of the pool, if any.
            return if self.next < gap_start && gap_end < self.end && max > 0 {
                self.next = gap_end;
                self.alloc_up_to(max)
            } else {
                None
            };
        }
        self.alloc(n).map(|first| (first, n))
    }

    /// Takes `blocks` contiguous blocks and returns the first, or `None` (and
    /// changes nothing) when no run of that many is free or `blocks` is 0.
    pub fn alloc(&mut self, blocks: u64) -> Option<u32> {
        if blocks == 0 {
            return None;
        }
        let (gap_start, gap_end) = (self.gap.0, self.gap.0 + self.gap.1);
        let mut first = self.next;
        if first < gap_end && first.checked_add(blocks)? > gap_start && self.gap.1 > 0 {
            first = gap_end;
        }
        let end = first.checked_add(blocks)?;
        if end > self.end {
            return None;
        }
        let first32 = u32::try_from(first).ok()?;
        self.next = end;
        Some(first32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn resumes_at_its_persisted_cursor() {
        let mut a = SpareAllocator::resume(100, 12);
        assert_eq!(a.used(), 12);
        assert_eq!(a.alloc(1), Some(12));
        assert_eq!(SpareAllocator::resume(10, 12).free(), 0, "a cursor past the pool leaves nothing free");
    }

    #[test]
    fn exhaustion_changes_nothing() {
        let mut a = SpareAllocator::resume(4, 0);
        assert_eq!(a.alloc(3), Some(0));
        let before = a;
        assert_eq!(a.alloc(2), None);
        assert_eq!(a, before);
        assert_eq!(a.alloc(1), Some(3));
        assert_eq!(a.alloc(1), None);
        assert_eq!(a.alloc(0), None);
    }

    #[test]
    fn runs_never_reach_into_the_gap() {
        let mut a = SpareAllocator::with_gap(20, (8, 4), 0);
        assert_eq!(a.total(), 16);
        assert_eq!(a.alloc(6), Some(0));
        assert_eq!(a.alloc(3), Some(12), "a run that would cross the gap starts after it");
        assert_eq!(a.used(), 11, "the two blocks before the gap are skipped, not lost from the count");
        assert_eq!(a.alloc(5), Some(15));
        assert_eq!(a.alloc(1), None);
        assert_eq!(SpareAllocator::with_gap(20, (8, 4), 9).cursor(), 12, "a cursor inside the gap moves past it");
    }

    #[test]
    fn the_longest_run_stops_at_the_gap() {
        let mut a = SpareAllocator::with_gap(20, (8, 4), 0);
        assert_eq!(a.alloc_up_to(100), Some((0, 8)));
        assert_eq!(a.alloc_up_to(3), Some((12, 3)));
        assert_eq!(a.alloc_up_to(100), Some((15, 5)));
        assert_eq!(a.alloc_up_to(1), None);
        assert_eq!(a.free(), 0);
    }

    #[test]
    fn huge_pools_are_capped_to_what_extents_address() {
        assert_eq!(SpareAllocator::resume(u64::MAX, 0).total(), MAX_POOL_BLOCKS);
    }

    proptest! {
        #[test]
        fn never_hands_out_a_block_twice_or_past_the_pool(
            total in 0u64..500,
            gap in (0u64..500, 0u64..100),
            asks in prop::collection::vec(0u64..40, 0..40),
        ) {
            let mut a = SpareAllocator::with_gap(total, gap, 0);
            let gap = a.gap;
            let mut taken = vec![false; total as usize];
            for n in asks {
                let free = a.free();
                match a.alloc(n) {
                    Some(first) => {
                        for b in u64::from(first)..u64::from(first) + n {
                            prop_assert!(b < total, "block {} past the pool", b);
                            prop_assert!(b < gap.0 || b >= gap.0 + gap.1, "block {} in the gap", b);
                            prop_assert!(!taken[b as usize], "block {} handed out twice", b);
                            taken[b as usize] = true;
                        }
                    }
                    None => prop_assert!(n == 0 || n > free || gap.1 > 0),
                }
                prop_assert_eq!(a.used() + a.free(), total - gap.1);
            }
        }
    }
}
