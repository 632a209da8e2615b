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

/// Checks `extents` (sorted by main block) for a target of `main_blocks`
/// blocks whose allocator has handed out the first `alloc_next` pool blocks,
/// never those of `gap` (region B's, `(first, count)`).
/// `scratch` must be a copy of `extents`; it is sorted by spare block.
pub fn check_table(
    extents: &[Extent],
    scratch: &mut [Extent],
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
    sort_by_spare(scratch);
    for w in scratch.windows(2) {
        if let [a, b] = w {
            if u64::from(b.spare) < a.spare_end() {
                return Err(TableFault::SharedSpare(a.main, b.main));
            }
        }
    }
    Ok(())
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

    fn check(t: &[Extent], alloc_next: u64, main_blocks: u64) -> Result<(), TableFault> {
        check_table(t, &mut t.to_vec(), Some((1000, 10)), alloc_next, main_blocks)
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
    }
}
