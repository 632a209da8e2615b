// SPDX-License-Identifier: GPL-2.0
//! Semantic checks of a loaded remap table, beyond what checksums prove: a
//! hostile or buggy writer can produce well-formed blocks that describe an
//! impossible table.

use super::extent::Extent;
use super::sort::heapsort_by_key;

/// What is wrong with a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFault {
    /// Extents at these main blocks overlap or are out of order.
    Unsorted(u64, u64),
    /// Extents at these main blocks share spare blocks.
    SharedSpare(u64, u64),
    /// The extent at this main block uses spare blocks the allocator has
    /// not handed out.
    PastAllocator(u64),
    /// The extent at this main block reaches past the end of the target.
    PastMainEnd(u64),
    /// The extent at this main block uses blocks of metadata region B.
    InRegionB(u64),
}

/// Scratch space for the check that no two extents share spare blocks.
pub enum Scratch<'a> {
    /// A copy of the extents, sorted here by spare block: O(n log n).
    Sorted(&'a mut [Extent]),
    /// A zeroed bitmap of at least [`bitmap_words`]`(alloc_next)` words,
    /// one bit per pool block: O(n), and smaller than a copy of the
    /// extents wherever [`prefer_bitmap`] says so (about 1,000 times the
    /// instructions of the sort for a 1M-extent table otherwise).
    Bitmap(&'a mut [u64]),
}

/// Words of a [`Scratch::Bitmap`] for a pool whose allocator has handed
/// out `alloc_next` blocks.
pub fn bitmap_words(alloc_next: u64) -> u64 {
    alloc_next.div_ceil(64)
}

/// Whether a bitmap takes no more memory than a copy of `extent_count`
/// extents.
pub fn prefer_bitmap(extent_count: u64, alloc_next: u64) -> bool {
    bitmap_words(alloc_next).saturating_mul(8) <= extent_count.saturating_mul(core::mem::size_of::<Extent>() as u64)
}

/// Checks `extents` (sorted by main block) for a target of `main_blocks`
/// blocks whose allocator has handed out the first `alloc_next` pool blocks,
/// never those of `gap` (region B's, `(first, count)`). `scratch` finds
/// shared spare blocks.
pub fn check_table(
    extents: &[Extent],
    scratch: Scratch<'_>,
    gap: Option<(u64, u64)>,
    alloc_next: u64,
    main_blocks: u64,
) -> Result<(), TableFault> {
    for w in extents.windows(2) {
        if let [a, b] = w {
            if b.main < a.main_end() {
                return Err(TableFault::Unsorted(a.main, b.main));
            }
        }
    }
    if let Some(e) = extents.iter().find(|e| e.spare_end() > alloc_next) {
        return Err(TableFault::PastAllocator(e.main));
    }
    if let Some(e) = extents.iter().find(|e| e.main_end() > main_blocks) {
        return Err(TableFault::PastMainEnd(e.main));
    }
    if let Some((first, len)) = gap {
        if let Some(e) =
            extents.iter().find(|e| u64::from(e.spare) < first.saturating_add(len) && e.spare_end() > first)
        {
            return Err(TableFault::InRegionB(e.main));
        }
    }
    match scratch {
        Scratch::Sorted(copy) => shared_by_sorting(copy),
        Scratch::Bitmap(bits) => shared_by_bitmap(extents, bits, alloc_next),
    }
}

/// Shared spare blocks among `copy`, which it sorts by spare block.
fn shared_by_sorting(copy: &mut [Extent]) -> Result<(), TableFault> {
    sort_by_spare(copy);
    for w in copy.windows(2) {
        if let [a, b] = w {
            if u64::from(b.spare) < a.spare_end() {
                return Err(TableFault::SharedSpare(a.main, b.main));
            }
        }
    }
    Ok(())
}

/// Shared spare blocks among `extents` (each below `alloc_next`), found by
/// marking their blocks in `bits`. The first extent that finds a block
/// marked is named with one that marked it.
fn shared_by_bitmap(extents: &[Extent], bits: &mut [u64], alloc_next: u64) -> Result<(), TableFault> {
    if (bits.len() as u64) < bitmap_words(alloc_next) {
        // Too small to mark every block: fall back on nothing, refuse.
        return Err(TableFault::PastAllocator(extents.first().map_or(0, |e| e.main)));
    }
    for (i, e) in extents.iter().enumerate() {
        if mark(bits, u64::from(e.spare), u64::from(e.len)) {
            let other = extents
                .iter()
                .take(i)
                .find(|o| u64::from(o.spare) < e.spare_end() && o.spare_end() > u64::from(e.spare));
            // Named as the sort names them: the lower spare block first.
            return Err(match other {
                Some(o) if e.spare < o.spare => TableFault::SharedSpare(e.main, o.main),
                Some(o) => TableFault::SharedSpare(o.main, e.main),
                None => TableFault::SharedSpare(e.main, e.main),
            });
        }
    }
    Ok(())
}

/// Sets the bits of `[start, start + len)`; whether any was set already
/// (or lies past the bitmap).
fn mark(bits: &mut [u64], start: u64, len: u64) -> bool {
    let end = start.saturating_add(len);
    let mut at = start;
    while at < end {
        let word = (at / 64) as usize;
        let first = at % 64;
        let n = (end - at).min(64 - first);
        let mask = if n == 64 { u64::MAX } else { ((1u64 << n) - 1) << first };
        let Some(w) = bits.get_mut(word) else {
            return true;
        };
        if *w & mask != 0 {
            return true;
        }
        *w |= mask;
        at += n;
    }
    false
}

/// Sorts by spare block.
fn sort_by_spare(v: &mut [Extent]) {
    heapsort_by_key(v, |e| e.spare);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extent::ExtentState;

    fn e(main: u64, spare: u32, len: u16) -> Extent {
        Extent { main, spare, len, state: ExtentState::Ok }
    }

    /// The check with a sorted copy, and with a bitmap, which must agree.
    fn check(t: &[Extent], alloc_next: u64, main_blocks: u64) -> Result<(), TableFault> {
        let sorted = check_table(t, Scratch::Sorted(&mut t.to_vec()), Some((1000, 10)), alloc_next, main_blocks);
        let mut bits = vec![0u64; bitmap_words(alloc_next) as usize];
        let bitmap = check_table(t, Scratch::Bitmap(&mut bits), Some((1000, 10)), alloc_next, main_blocks);
        assert_eq!(sorted, bitmap, "{t:?}");
        sorted
    }

    #[test]
    fn heapsort_sorts() {
        let mut v: Vec<Extent> = [5u32, 3, 9, 1, 1, 0, 7, 2].iter().map(|&s| e(0, s, 1)).collect();
        sort_by_spare(&mut v);
        let got: Vec<u32> = v.iter().map(|e| e.spare).collect();
        assert_eq!(got, [0, 1, 1, 2, 3, 5, 7, 9]);
    }

    #[test]
    fn each_fault_is_found() {
        assert_eq!(check(&[e(0, 5, 2), e(10, 0, 5)], 7, 100), Ok(()));
        assert_eq!(check(&[e(0, 0, 2), e(1, 2, 1)], 7, 100), Err(TableFault::Unsorted(0, 1)));
        assert_eq!(check(&[e(0, 0, 2), e(10, 1, 1)], 7, 100), Err(TableFault::SharedSpare(0, 10)));
        assert_eq!(check(&[e(0, 0, 2), e(10, 6, 2)], 7, 100), Err(TableFault::PastAllocator(10)));
        assert_eq!(check(&[e(99, 0, 2)], 7, 100), Err(TableFault::PastMainEnd(99)));
        assert_eq!(check(&[e(0, 995, 6)], 2000, 100), Err(TableFault::InRegionB(0)));
        assert_eq!(check(&[e(0, 1010, 6)], 2000, 100), Ok(()));
        // Across bitmap words, and a long extent overlapping a short one.
        assert_eq!(check(&[e(0, 60, 70), e(200, 130, 1)], 2000, 1000), Ok(()));
        assert_eq!(check(&[e(0, 60, 70), e(200, 129, 1)], 2000, 1000), Err(TableFault::SharedSpare(0, 200)));
        assert_eq!(check(&[e(0, 129, 1), e(200, 0, 500)], 2000, 1000), Err(TableFault::SharedSpare(200, 0)));
    }

    #[test]
    fn a_bitmap_too_small_is_refused() {
        let t = [e(0, 100, 1)];
        assert!(check_table(&t, Scratch::Bitmap(&mut [0u64; 1]), None, 101, 10).is_err());
        assert!(check_table(&t, Scratch::Bitmap(&mut [0u64; 2]), None, 101, 10).is_ok());
    }

    #[test]
    fn the_bitmap_is_preferred_where_it_is_smaller() {
        // 1M single-block extents over 1.96M pool blocks: 245 KB against 24 MB.
        assert!(prefer_bitmap(1_000_000, 1_960_000));
        // Ten extents over a pool of 2^30 blocks: the copy.
        assert!(!prefer_bitmap(10, 1 << 30));
    }

    proptest::proptest! {
        #[test]
        fn sorting_and_marking_agree(raw in proptest::collection::vec((0u64..400, 0u32..300, 1u16..40), 0..40)) {
            // Sorted by main, disjoint on main: overlaps on the spare are
            // what the two ways must find alike.
            let mut t: Vec<Extent> = Vec::new();
            let mut next = 0u64;
            for (gap, spare, len) in raw {
                t.push(e(next + gap, spare, len));
                next += gap + u64::from(len);
            }
            let mut sorted = t.clone();
            let mut bits = vec![0u64; bitmap_words(400) as usize];
            let a = check_table(&t, Scratch::Sorted(&mut sorted), None, 400, u64::MAX);
            let b = check_table(&t, Scratch::Bitmap(&mut bits), None, 400, u64::MAX);
            proptest::prop_assert_eq!(a.is_ok(), b.is_ok());
            proptest::prop_assert_eq!(matches!(a, Err(TableFault::SharedSpare(..))), matches!(b, Err(TableFault::SharedSpare(..))));
        }
    }
}
