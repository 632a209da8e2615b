// SPDX-License-Identifier: GPL-2.0
//! Allocation of spare-pool blocks.
//!
//! Spare blocks are handed out from a cursor that only moves forward, so a
//! block is never handed out twice, runs are always contiguous (adjacent
//! remaps can merge into one extent), and the state to persist is one number
//! (the superblock's `alloc_next`). Pool block 0 is the first block after
//! the metadata area (see [`super::geometry::SpareLayout`]), so no metadata
//! block can ever be allocated.

/// The most pool blocks an extent can address (`Extent::spare` is a `u32`).
pub const MAX_POOL_BLOCKS: u64 = 1 << 32;

/// Allocator state for one spare pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpareAllocator {
    next: u64,
    total: u64,
}

impl SpareAllocator {
    /// An allocator for a pool of `pool_blocks` blocks (capped at
    /// [`MAX_POOL_BLOCKS`]) whose cursor was persisted at `cursor`.
    pub fn resume(pool_blocks: u64, cursor: u64) -> Self {
        let total = pool_blocks.min(MAX_POOL_BLOCKS);
        Self { next: cursor.min(total), total }
    }

    /// The cursor: every block below it has been handed out.
    pub fn cursor(&self) -> u64 {
        self.next
    }

    /// Blocks in the pool.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Blocks handed out.
    pub fn used(&self) -> u64 {
        self.next.min(self.total)
    }

    /// Blocks still free.
    pub fn free(&self) -> u64 {
        self.total.saturating_sub(self.next)
    }

    /// Takes `blocks` contiguous blocks and returns the first, or `None` (and
    /// changes nothing) when fewer than that are free or `blocks` is 0.
    pub fn alloc(&mut self, blocks: u64) -> Option<u32> {
        if blocks == 0 || blocks > self.free() {
            return None;
        }
        let first = u32::try_from(self.next).ok()?;
        self.next += blocks;
        Some(first)
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
    fn huge_pools_are_capped_to_what_extents_address() {
        assert_eq!(SpareAllocator::resume(u64::MAX, 0).total(), MAX_POOL_BLOCKS);
    }

    proptest! {
        #[test]
        fn never_hands_out_a_block_twice_or_past_the_pool(total in 0u64..500, asks in prop::collection::vec(0u64..40, 0..40)) {
            let mut a = SpareAllocator::resume(total, 0);
            let mut taken = vec![false; total as usize];
            for n in asks {
                let free = a.free();
                match a.alloc(n) {
                    Some(first) => {
                        for b in u64::from(first)..u64::from(first) + n {
                            prop_assert!(b < total, "block {} past the pool", b);
                            prop_assert!(!taken[b as usize], "block {} handed out twice", b);
                            taken[b as usize] = true;
                        }
                    }
                    None => prop_assert!(n == 0 || n > free),
                }
                prop_assert_eq!(a.used() + a.free(), total);
            }
        }
    }
}
