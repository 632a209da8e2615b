// SPDX-License-Identifier: GPL-2.0
//! The remap table: a sorted slice of extents, each mapping a run of main
//! blocks to an equally long run of spare-pool blocks.
//!
//! The functions here work on caller-owned slices and never allocate, so the
//! kernel can build each new table into a fresh buffer and publish it with
//! RCU while readers keep using the old one.

/// What is known about the data of a remapped run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum ExtentState {
    /// The spare holds the block's data.
    #[default]
    Ok = 0,
    /// The main block could not be read when it was remapped; the spare block
    /// was zero-filled and its old contents are lost.
    Lost = 1,
}

impl ExtentState {
    /// The word used for this state in listings.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Lost => "lost",
        }
    }
}

impl core::fmt::Display for ExtentState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for ExtentState {
    type Err = super::name::UnknownName;
    /// The state listings name `s`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Ok, Self::Lost].into_iter().find(|e| e.name() == s).ok_or(super::name::UnknownName)
    }
}

/// A run of `len` main blocks starting at `main`, remapped to the spare-pool
/// blocks starting at `spare`. 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Extent {
    /// First main block.
    pub main: u64,
    /// First spare-pool block (0 is the first block after the metadata area).
    pub spare: u32,
    /// Number of blocks, at least 1.
    pub len: u16,
    /// State of the whole run.
    pub state: ExtentState,
}

/// The longest run an extent holds.
pub const MAX_EXTENT_LEN: u16 = u16::MAX;

impl Extent {
    /// One past the last main block.
    pub fn main_end(&self) -> u64 {
        self.main.saturating_add(u64::from(self.len))
    }

    /// One past the last spare block.
    pub fn spare_end(&self) -> u64 {
        u64::from(self.spare) + u64::from(self.len)
    }

    /// Whether `next` continues this extent on both devices, in the same state,
    /// and the two fit in one extent.
    pub fn can_absorb(&self, next: &Extent) -> bool {
        self.main_end() == next.main
            && self.spare_end() == u64::from(next.spare)
            && self.state == next.state
            && u32::from(self.len) + u32::from(next.len) <= u32::from(MAX_EXTENT_LEN)
    }
}

/// Where a run of blocks goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// `Some(first spare-pool block)` for remapped blocks, `None` for main.
    pub spare: Option<u64>,
    /// How many blocks, from the first, go there (at least 1 when asked for 1).
    pub blocks: u64,
}

/// Index of the first extent whose end lies beyond `block`: where a listing
/// from `block` starts.
pub fn first_ending_after(table: &[Extent], block: u64) -> usize {
    table.partition_point(|e| e.main_end() <= block)
}

/// The extent that covers `block`, if any.
pub fn lookup(table: &[Extent], block: u64) -> Option<&Extent> {
    table.get(first_ending_after(table, block)).filter(|e| e.main <= block)
}

/// The longest prefix of `block .. block + blocks` that goes to one place: the
/// main device up to the next remapped block, or one contiguous spare run
/// (which may span extents that continue each other on both devices but
/// differ in state or hit the extent length limit).
pub fn route(table: &[Extent], block: u64, blocks: u64) -> Route {
    route_at(table, first_ending_after(table, block), block, blocks)
}

/// [`route`], given `i = first_ending_after(table, block)`.
#[inline]
pub fn route_at(table: &[Extent], i: usize, block: u64, blocks: u64) -> Route {
    match table.get(i) {
        Some(e) if e.main <= block => {
            let mut end = e.main_end();
            let mut spare_end = e.spare_end();
            let want = block.saturating_add(blocks);
            for next in table.get(i.saturating_add(1)..).unwrap_or_default() {
                if end >= want || next.main != end || u64::from(next.spare) != spare_end {
                    break;
                }
                end = next.main_end();
                spare_end = next.spare_end();
            }
            Route {
                spare: Some(u64::from(e.spare).saturating_add(block - e.main)),
                blocks: blocks.min(end.saturating_sub(block)),
            }
        }
        Some(e) => Route { spare: None, blocks: blocks.min(e.main - block) },
        None => Route { spare: None, blocks },
    }
}

/// Calls `f(start, len)` for each run of blocks in `block .. block + blocks`
/// that no extent covers, in order.
pub fn for_each_unmapped(table: &[Extent], block: u64, blocks: u64, mut f: impl FnMut(u64, u64)) {
    let end = block.saturating_add(blocks);
    let mut at = block;
    for e in table.get(first_ending_after(table, block)..).unwrap_or(&[]) {
        if at >= end {
            return;
        }
        if e.main > at {
            let stop = e.main.min(end);
            f(at, stop - at);
        }
        at = at.max(e.main_end());
    }
    if at < end {
        f(at, end - at);
    }
}

/// Why a merge was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeError {
    /// `out` cannot hold the result (it needs `old.len() + new.len()`).
    OutputTooSmall,
    /// `new` is unsorted, overlaps itself or `old`, or has an empty extent.
    Overlap,
}

/// Writes the union of `old` and `new` into `out`, sorted, with contiguous
/// runs coalesced, and returns its length. `old` must be a valid table;
/// `new` must be sorted, non-overlapping, and disjoint from `old`.
pub fn merge(old: &[Extent], new: &[Extent], out: &mut [Extent]) -> Result<usize, MergeError> {
    if out.len() < old.len().saturating_add(new.len()) {
        return Err(MergeError::OutputTooSmall);
    }
    let (mut i, mut j, mut n) = (0, 0, 0usize);
    let mut last_end = 0u64;
    loop {
        let next = match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a.main <= b.main => {
                i = i.saturating_add(1);
                a
            }
            (_, Some(b)) => {
                j = j.saturating_add(1);
                b
            }
            (Some(a), None) => {
                i = i.saturating_add(1);
                a
            }
            (None, None) => return Ok(n),
        };
        if next.len == 0 || (n > 0 && next.main < last_end) {
            return Err(MergeError::Overlap);
        }
        last_end = next.main_end();
        match n.checked_sub(1).and_then(|k| out.get_mut(k)) {
            Some(prev) if prev.can_absorb(next) => prev.len = prev.len.saturating_add(next.len),
            _ => {
                let slot = out.get_mut(n).ok_or(MergeError::OutputTooSmall)?;
                *slot = *next;
                n = n.saturating_add(1);
            }
        }
    }
}

/// Writes `table` without the blocks in `blocks` (sorted, unique) into
/// `out`, splitting the extents that hold them, and returns its length.
/// `out` needs room for `table.len() + blocks.len()` extents.
pub fn carve(table: &[Extent], blocks: &[u64], out: &mut [Extent]) -> Result<usize, MergeError> {
    let mut n = 0usize;
    let mut emit = |e: Extent| -> Result<(), MergeError> {
        *out.get_mut(n).ok_or(MergeError::OutputTooSmall)? = e;
        n = n.saturating_add(1);
        Ok(())
    };
    let mut k = 0usize;
    for e in table {
        let mut start = e.main;
        while let Some(&b) = blocks.get(k) {
            if b >= e.main_end() {
                break;
            }
            k = k.saturating_add(1);
            if b < start {
                continue;
            }
            if b > start {
                // Pieces of an extent are shorter than it: the casts hold.
                let spare = e.spare.wrapping_add(start.saturating_sub(e.main) as u32);
                emit(Extent { main: start, spare, len: (b - start) as u16, state: e.state })?;
            }
            start = b.saturating_add(1);
        }
        if start < e.main_end() {
            let spare = e.spare.wrapping_add(start.saturating_sub(e.main) as u32);
            emit(Extent { main: start, spare, len: (e.main_end() - start) as u16, state: e.state })?;
        }
    }
    Ok(n)
}

/// Writes `table` without the main blocks that `runs` (sorted, disjoint)
/// cover into `out`, splitting the extents they cut, and returns its
/// length. `out` needs room for `table.len() + runs.len()` extents (a run
/// inside an extent leaves two pieces of it). The runs' spare blocks and
/// states do not matter here.
pub fn carve_runs(table: &[Extent], runs: &[Extent], out: &mut [Extent]) -> Result<usize, MergeError> {
    let mut n = 0usize;
    let mut emit = |e: &Extent, from: u64, to: u64| -> Result<(), MergeError> {
        // A piece of an extent is shorter than it: the casts hold.
        let spare = e.spare.wrapping_add(from.saturating_sub(e.main) as u32);
        *out.get_mut(n).ok_or(MergeError::OutputTooSmall)? =
            Extent { main: from, spare, len: (to - from) as u16, state: e.state };
        n = n.saturating_add(1);
        Ok(())
    };
    // Runs ending at or before the current extent cannot cut a later one.
    let mut first = 0usize;
    for e in table {
        while runs.get(first).is_some_and(|r| r.main_end() <= e.main) {
            first = first.saturating_add(1);
        }
        let mut start = e.main;
        for r in runs.get(first..).unwrap_or_default().iter().take_while(|r| r.main < e.main_end()) {
            if r.main > start {
                emit(e, start, r.main)?;
            }
            start = start.max(r.main_end());
        }
        if start < e.main_end() {
            emit(e, start, e.main_end())?;
        }
    }
    Ok(n)
}

/// Number of remapped blocks in `table`.
pub fn remapped_blocks(table: &[Extent]) -> u64 {
    table.iter().fold(0u64, |sum, e| sum.saturating_add(u64::from(e.len)))
}

#[cfg(test)]
mod route_tests {
    use super::*;

    #[test]
    fn a_route_spans_extents_that_continue_each_other() {
        let t = [
            Extent { main: 10, spare: 0, len: 2, state: ExtentState::Ok },
            Extent { main: 12, spare: 2, len: 1, state: ExtentState::Lost },
            Extent { main: 13, spare: 3, len: 5, state: ExtentState::Ok },
            Extent { main: 18, spare: 9, len: 2, state: ExtentState::Ok },
        ];
        assert_eq!(route(&t, 11, 8), Route { spare: Some(1), blocks: 7 });
        assert_eq!(route(&t, 11, 3), Route { spare: Some(1), blocks: 3 });
        assert_eq!(route(&t, 18, 5), Route { spare: Some(9), blocks: 2 });
        assert_eq!(route(&t, 5, 10), Route { spare: None, blocks: 5 });
    }
}

#[cfg(test)]
mod carve_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn carved_blocks_are_unmapped_and_the_rest_unchanged(
            lens in prop::collection::vec(1u16..20, 1..20),
            picks in prop::collection::vec(0u64..400, 0..30),
        ) {
            let mut table = vec![];
            let (mut main, mut spare) = (0u64, 0u32);
            for l in lens {
                table.push(Extent { main, spare, len: l, state: ExtentState::Ok });
                main += u64::from(l) + 2;
                spare += u32::from(l) + 1;
            }
            let mut blocks = picks.clone();
            blocks.sort_unstable();
            blocks.dedup();
            let mut out = vec![Extent::default(); table.len() + blocks.len()];
            let n = carve(&table, &blocks, &mut out).unwrap();
            let out = &out[..n];
            for b in 0..main + 5 {
                let before = lookup(&table, b).map(|e| u64::from(e.spare) + (b - e.main));
                let after = lookup(out, b).map(|e| u64::from(e.spare) + (b - e.main));
                if blocks.contains(&b) {
                    prop_assert_eq!(after, None);
                } else {
                    prop_assert_eq!(after, before);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn state_names_read_back() {
        for st in [ExtentState::Ok, ExtentState::Lost] {
            assert_eq!(st.to_string().parse(), Ok(st));
        }
        assert!("gone".parse::<ExtentState>().is_err());
    }

    fn ext(main: u64, spare: u32, len: u16) -> Extent {
        Extent { main, spare, len, state: ExtentState::Ok }
    }

    fn merged(old: &[Extent], new: &[Extent]) -> Result<Vec<Extent>, MergeError> {
        let mut out = vec![Extent::default(); old.len() + new.len()];
        let n = merge(old, new, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    #[test]
    fn extent_is_16_bytes() {
        assert_eq!(core::mem::size_of::<Extent>(), 16);
    }

    #[test]
    fn adjacent_runs_merge_when_spare_is_contiguous_too() {
        let t = merged(&[ext(10, 0, 2)], &[ext(12, 2, 3)]).unwrap();
        assert_eq!(t, vec![ext(10, 0, 5)]);
        let t = merged(&[ext(10, 0, 2)], &[ext(12, 7, 3)]).unwrap();
        assert_eq!(t.len(), 2, "spare not contiguous: no merge");
        let mut lost = ext(12, 2, 1);
        lost.state = ExtentState::Lost;
        assert_eq!(merged(&[ext(10, 0, 2)], &[lost]).unwrap().len(), 2, "states differ: no merge");
    }

    #[test]
    fn merge_bridges_a_gap_into_one_extent() {
        let t = merged(&[ext(0, 0, 1), ext(2, 2, 1)], &[ext(1, 1, 1)]).unwrap();
        assert_eq!(t, vec![ext(0, 0, 3)]);
    }

    #[test]
    fn merge_refuses_overlap_and_small_output() {
        assert_eq!(merged(&[ext(10, 0, 4)], &[ext(12, 9, 1)]), Err(MergeError::Overlap));
        assert_eq!(merged(&[], &[ext(5, 0, 2), ext(6, 2, 1)]), Err(MergeError::Overlap));
        assert_eq!(merged(&[], &[ext(5, 0, 0)]), Err(MergeError::Overlap));
        assert_eq!(merge(&[ext(1, 0, 1)], &[ext(3, 1, 1)], &mut [Extent::default()]), Err(MergeError::OutputTooSmall));
    }

    #[test]
    fn route_splits_at_extent_edges() {
        let t = [ext(10, 100, 4), ext(14, 200, 2)];
        assert_eq!(route(&t, 0, 64), Route { spare: None, blocks: 10 });
        assert_eq!(route(&t, 11, 64), Route { spare: Some(101), blocks: 3 });
        assert_eq!(route(&t, 14, 1), Route { spare: Some(200), blocks: 1 });
        assert_eq!(route(&t, 16, 64), Route { spare: None, blocks: 64 });
    }

    #[test]
    fn unmapped_runs_skip_extents() {
        let t = [ext(10, 0, 4), ext(20, 4, 1)];
        let mut runs = vec![];
        for_each_unmapped(&t, 8, 16, |s, l| runs.push((s, l)));
        assert_eq!(runs, vec![(8, 2), (14, 6), (21, 3)]);
    }

    /// Per-block model: main block -> (spare block, state).
    type Model = BTreeMap<u64, (u64, ExtentState)>;

    fn check_against_model(table: &[Extent], model: &Model) -> Result<(), TestCaseError> {
        for w in table.windows(2) {
            prop_assert!(w[0].main_end() <= w[1].main, "sorted, disjoint");
            prop_assert!(!w[0].can_absorb(&w[1]), "maximally merged");
        }
        prop_assert_eq!(remapped_blocks(table), model.len() as u64);
        for (&b, &(s, st)) in model {
            let e = lookup(table, b).ok_or_else(|| TestCaseError::fail(format!("block {b} lost")))?;
            prop_assert_eq!(u64::from(e.spare) + (b - e.main), s);
            prop_assert_eq!(e.state, st);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn merging_batches_matches_a_per_block_model(
            batches in prop::collection::vec(prop::collection::vec((0u64..400, 1u16..6, any::<bool>()), 1..8), 1..12)
        ) {
            let mut table: Vec<Extent> = vec![];
            let mut model = Model::new();
            let mut next_spare = 0u32;
            for batch in batches {
                // Build a sorted, disjoint batch of only unmapped runs, as the target does.
                let mut wanted: Vec<(u64, u64, bool)> = vec![];
                for (start, len, lost) in batch {
                    for_each_unmapped(&table, start, u64::from(len), |s, l| wanted.push((s, l, lost)));
                }
                wanted.sort();
                let mut new = vec![];
                let mut covered_to = 0;
                for (s, l, lost) in wanted {
                    let end = s + l;
                    let s = s.max(covered_to);
                    if end <= covered_to || s >= end { continue; }
                    let l = end - s;
                    let state = if lost { ExtentState::Lost } else { ExtentState::Ok };
                    new.push(Extent { main: s, spare: next_spare, len: l as u16, state });
                    for k in 0..l { model.insert(s + k, (u64::from(next_spare) + k, state)); }
                    next_spare += l as u32;
                    covered_to = end;
                }
                table = merged(&table, &new).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                check_against_model(&table, &model)?;
            }
            // Routing agrees with the model block by block.
            for b in 0..420u64 {
                let r = route(&table, b, 8);
                prop_assert!(r.blocks >= 1 && r.blocks <= 8);
                for k in 0..r.blocks {
                    let want = model.get(&(b + k)).map(|&(s, _)| s);
                    prop_assert_eq!(r.spare.map(|s| s + k), want);
                }
            }
        }
    }
}
