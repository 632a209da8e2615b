// SPDX-License-Identifier: GPL-2.0
//! A bucket index over a sorted remap table, so that the I/O path finds the
//! extent at or after a block in a few steps instead of a binary search of
//! the whole table: the table's span (first remapped block to last) is cut
//! into at most two buckets per extent, and each bucket records where its
//! first block would be searched from. A block outside the span, or in a
//! bucket no extent touches, is answered without looking at any extent
//! (the fast path for misses); otherwise only the extents that start inside
//! its bucket are searched. Memory: at most 8 bytes per extent, plus 4.

use super::extent::{self, Extent, Route};

/// Buckets per extent, at most.
const BUCKETS_PER_EXTENT: u64 = 2;

/// Where the buckets lie: `buckets` buckets of `1 << shift` blocks from
/// `first`; blocks from `end` on are past every extent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexShape {
    first: u64,
    end: u64,
    shift: u32,
    buckets: usize,
}

/// The table is too long for 32-bit positions (over 4G extents).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableTooLong;

impl IndexShape {
    /// The shape for `table` (sorted, disjoint).
    pub fn of(table: &[Extent]) -> Self {
        let (Some(first), Some(last)) = (table.first(), table.last()) else {
            return Self::default();
        };
        let (first, end) = (first.main, last.main_end());
        let span = end.saturating_sub(first).max(1);
        let most = (table.len() as u64).saturating_mul(BUCKETS_PER_EXTENT);
        let mut shift = 0;
        while shift < 63 && ((span - 1) >> shift).saturating_add(1) > most {
            shift += 1;
        }
        let buckets = usize::try_from(((span - 1) >> shift).saturating_add(1)).unwrap_or(usize::MAX);
        Self { first, end, shift, buckets }
    }

    /// Length of the position array [`build`] fills: one per bucket, plus
    /// the end (none for an empty table).
    pub fn slots(&self) -> usize {
        if self.buckets == 0 {
            0
        } else {
            self.buckets.saturating_add(1)
        }
    }

    /// First block of bucket `k`, saturating.
    fn bucket_start(&self, k: usize) -> u64 {
        self.first.saturating_add((k as u64).checked_shl(self.shift).unwrap_or(u64::MAX))
    }
}

/// Fills `starts` (of `shape.slots()` entries, `shape` from
/// [`IndexShape::of`] on `table`): entry k is where a search for the first
/// block of bucket k ends, the last entry is the table's length. O(table +
/// buckets).
pub fn build(table: &[Extent], shape: &IndexShape, starts: &mut [u32]) -> Result<(), TableTooLong> {
    u32::try_from(table.len()).map_err(|_| TableTooLong)?;
    let mut i = 0usize;
    for (k, slot) in starts.iter_mut().enumerate() {
        let start = shape.bucket_start(k);
        while table.get(i).is_some_and(|e| e.main_end() <= start) {
            i = i.saturating_add(1);
        }
        // `i <= table.len()`, checked to fit above.
        *slot = i as u32;
    }
    Ok(())
}

/// The index of the first extent of `table` that ends after `block`, as
/// [`extent::first_ending_after`], using the positions `build` filled.
#[inline(always)]
pub fn first_ending_after(table: &[Extent], shape: &IndexShape, starts: &[u32], block: u64) -> usize {
    if block < shape.first {
        return 0;
    }
    if block >= shape.end {
        return table.len();
    }
    let k = usize::try_from((block - shape.first).wrapping_shr(shape.shift)).unwrap_or(usize::MAX);
    let (Some(&from), Some(&to)) = (starts.get(k), starts.get(k.wrapping_add(1))) else {
        return extent::first_ending_after(table, block);
    };
    let (from, to) = (from as usize, to as usize);
    match table.get(from..to) {
        Some(bucket) => from.saturating_add(bucket.partition_point(|e| e.main_end() <= block)),
        None => extent::first_ending_after(table, block),
    }
}

/// [`extent::route`] through the index.
#[inline(always)]
pub fn route(table: &[Extent], shape: &IndexShape, starts: &[u32], block: u64, blocks: u64) -> Route {
    extent::route_at(table, first_ending_after(table, shape, starts, block), block, blocks)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::extent::ExtentState;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn ext(main: u64, spare: u32, len: u16) -> Extent {
        Extent { main, spare, len, state: ExtentState::Ok }
    }

    fn index(table: &[Extent]) -> (IndexShape, Vec<u32>) {
        let shape = IndexShape::of(table);
        let mut starts = vec![0u32; shape.slots()];
        build(table, &shape, &mut starts).unwrap();
        (shape, starts)
    }

    #[test]
    fn empty_table_has_no_buckets_and_misses_everything() {
        let (shape, starts) = index(&[]);
        assert_eq!(shape.slots(), 0);
        assert_eq!(route(&[], &shape, &starts, 5, 8), Route { spare: None, blocks: 8 });
    }

    #[test]
    fn at_most_two_buckets_per_extent() {
        let t: Vec<Extent> = (0..1000).map(|i| ext(i * 977 + 5, i as u32, 1)).collect();
        let shape = IndexShape::of(&t);
        assert!(shape.slots() <= 2 * t.len() + 1, "{shape:?}");
        // Scattered single blocks get close to one bucket each.
        assert!(shape.slots() > t.len() / 2, "{shape:?}");
    }

    #[test]
    fn dense_tables_get_one_block_buckets() {
        let t: Vec<Extent> = (0..100).map(|i| ext(2 * i + 1, i as u32, 1)).collect();
        assert_eq!(IndexShape::of(&t).shift, 0);
    }

    #[test]
    fn routes_around_a_long_extent() {
        let t = [ext(10, 0, 1000), ext(5000, 1000, 2)];
        let (shape, starts) = index(&t);
        assert_eq!(route(&t, &shape, &starts, 900, 200), Route { spare: Some(890), blocks: 110 });
        assert_eq!(route(&t, &shape, &starts, 1010, 8), Route { spare: None, blocks: 8 });
        assert_eq!(route(&t, &shape, &starts, 4990, 100), Route { spare: None, blocks: 10 });
        assert_eq!(route(&t, &shape, &starts, 5001, 100), Route { spare: Some(1001), blocks: 1 });
        assert_eq!(route(&t, &shape, &starts, 9, 1), Route { spare: None, blocks: 1 });
    }

    fn table_strategy() -> impl Strategy<Value = Vec<Extent>> {
        prop::collection::vec((0u64..50, 1u16..40), 0..60).prop_map(|gaps| {
            let mut at = 0u64;
            let mut spare = 0u32;
            gaps.into_iter()
                .map(|(gap, len)| {
                    let e = ext(at + gap, spare, len);
                    at = e.main_end();
                    spare += u32::from(len) + 3;
                    e
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn indexed_search_matches_binary_search(
            table in table_strategy(), far in any::<u64>(), blocks in 1u64..100
        ) {
            let (shape, starts) = index(&table);
            let end = table.last().map_or(0, |e| e.main_end());
            for block in (0..end + 3).chain([far]) {
                prop_assert_eq!(
                    first_ending_after(&table, &shape, &starts, block),
                    extent::first_ending_after(&table, block)
                );
                prop_assert_eq!(
                    route(&table, &shape, &starts, block, blocks),
                    extent::route(&table, block, blocks)
                );
            }
        }

        #[test]
        fn stale_or_short_positions_fall_back_to_the_search(
            table in table_strategy(), block in 0u64..3000
        ) {
            let shape = IndexShape::of(&table);
            let starts = vec![u32::MAX; shape.slots() / 2];
            prop_assert_eq!(
                first_ending_after(&table, &shape, &starts, block),
                extent::first_ending_after(&table, block)
            );
        }
    }
}
