// SPDX-License-Identifier: GPL-2.0
//! Reading and checking one full metadata copy (one slot of a region), and
//! choosing between copies. Shared by the kernel's loader and the offline
//! tool; block I/O comes through [`MetaIo`], extents go to a caller's sink,
//! nothing allocates.

use super::extent::Extent;
use super::format::{decode_entries, entry_blocks, FormatError, Superblock, BLOCK, ENTRY_MAGIC, SUPER_MAGIC};
use super::geometry::SpareLayout;
use super::journal::{
    apply_runs, read_chain, records, room_after, Chain, ChainEnd, ChainPlace, JournalHead, RECORDS_PER_BLOCK,
};
use super::slots::{entry_sector, footprint_of, journal_sector, superblock_sector};

/// A metadata block could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadFailed;

/// Reads 4 KiB metadata blocks from a spare device or image.
pub trait MetaIo {
    /// Reads the metadata block at `sector` into `buf` (4096 bytes).
    fn read_block(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), ReadFailed>;
}

/// What one slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyState {
    /// A complete copy whose every block and extent checks out.
    Valid(Superblock),
    /// A zeroed superblock block: never written.
    Missing,
    /// One of our entry blocks where a superblock goes: what a version-1
    /// copy's first entry block leaves in slot 1's place. Ours, no copy.
    Leftover,
    /// Our superblock magic, but the copy does not check out.
    Damaged(CopyFault),
    /// Neither zero nor dm-remap metadata: someone else's data.
    Foreign,
}

/// Why a copy is damaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyFault {
    /// A block could not be read.
    Io,
    /// The superblock failed to decode.
    Superblock(FormatError),
    /// Entry block `index` failed to decode.
    Entries { index: u64, error: FormatError },
    /// The superblock is fine but does not describe this slot or spare.
    Misplaced,
    /// Extents overlap, are unsorted, exceed the pool or the count is wrong.
    BadTable,
}

/// What the block at a superblock position holds, before any checksum:
/// zero, our superblock magic, our entry magic, or something else.
pub fn classify_block(block: &[u8]) -> CopyState {
    // A superblock's bytes past its fields are zero up to its checksum.
    let (head, checksum) = block.split_at(block.len().saturating_sub(4));
    match block.get(..8) {
        Some(m) if m == SUPER_MAGIC => CopyState::Damaged(CopyFault::Superblock(FormatError::BadChecksum)),
        Some(m) if m == ENTRY_MAGIC => CopyState::Leftover,
        _ if head.iter().all(|&b| b == 0) => {
            if checksum.iter().all(|&b| b == 0) {
                // Only a zeroed block counts as never written (as dm-thin
                // decides).
                CopyState::Missing
            } else {
                // A superblock write torn over a zeroed block on a
                // 512-byte-sector spare, its first sector lost: ours, not
                // someone's data.
                CopyState::Damaged(CopyFault::Superblock(FormatError::BadChecksum))
            }
        }
        _ => CopyState::Foreign,
    }
}

/// Reads the superblock of slot `slot` of region `copy` and checks it
/// against `layout` (no entry blocks are read).
pub fn read_superblock(io: &mut impl MetaIo, layout: &SpareLayout, copy: u8, slot: u8, buf: &mut [u8]) -> CopyState {
    if buf.len() != BLOCK || io.read_block(superblock_sector(layout, copy, slot), buf).is_err() {
        return CopyState::Damaged(CopyFault::Io);
    }
    let sb = match Superblock::decode(buf) {
        Ok(sb) => sb,
        Err(FormatError::BadMagic) => return classify_block(buf),
        Err(e) => return CopyState::Damaged(CopyFault::Superblock(e)),
    };
    if sb.copy != copy
        || sb.slot != slot
        || sb.block_bytes != layout.block_bytes
        || sb.region_sectors != layout.region_sectors
        || sb.pool_start != layout.pool_start
        || sb.pool_blocks != layout.pool_blocks
        || sb.region_b_start != layout.region_b_start
        || footprint_of(layout, &sb).is_none()
    {
        return CopyState::Damaged(CopyFault::Misplaced);
    }
    CopyState::Valid(sb)
}

/// Reads the copy in slot `slot` of region `copy` of a spare laid out as
/// `layout`, passing each extent to `sink` in order (the sink may see some
/// extents of a copy that turns out damaged; it must discard them then).
/// Of a version-3 copy, the checkpoint only: its chain is
/// [`read_journal`]'s.
pub fn read_slot(
    io: &mut impl MetaIo,
    layout: &SpareLayout,
    copy: u8,
    slot: u8,
    buf: &mut [u8],
    mut sink: impl FnMut(Extent),
) -> CopyState {
    let sb = match read_superblock(io, layout, copy, slot, buf) {
        CopyState::Valid(sb) => sb,
        other => return other,
    };
    let Some(footprint) = footprint_of(layout, &sb) else {
        return CopyState::Damaged(CopyFault::Misplaced);
    };
    let mut seen = 0u64;
    let mut prev_end = 0u64;
    let mut bad = false;
    let gap = layout.gap();
    for index in 0..entry_blocks(sb.extent_count) {
        if io.read_block(entry_sector(layout, copy, &footprint, index), buf).is_err() {
            return CopyState::Damaged(CopyFault::Io);
        }
        let idx = u32::try_from(index).unwrap_or(u32::MAX);
        let decoded = decode_entries(buf, sb.generation, idx, |e| {
            let in_gap =
                gap.is_some_and(|(first, len)| u64::from(e.spare) < first.saturating_add(len) && e.spare_end() > first);
            if e.main < prev_end || e.spare_end() > sb.alloc_next || e.main_end() == u64::MAX || in_gap {
                bad = true;
            }
            prev_end = e.main_end();
            seen = seen.saturating_add(1);
            sink(e);
        });
        if let Err(error) = decoded {
            return CopyState::Damaged(CopyFault::Entries { index, error });
        }
    }
    if bad || seen != sb.extent_count {
        return CopyState::Damaged(CopyFault::BadTable);
    }
    CopyState::Valid(sb)
}

/// Reads the chain of journal blocks on the copy `sb` (a valid checkpoint
/// in region `copy`), passing each block to `each` (see
/// [`read_chain`]): the copy's generation is the chain's. A copy without a
/// journal area has an empty chain. `buf` is a 4096-byte block.
pub fn read_journal(
    io: &mut impl MetaIo,
    layout: &SpareLayout,
    copy: u8,
    sb: &Superblock,
    buf: &mut [u8],
    each: impl FnMut(&JournalHead, &[u8]) -> bool,
) -> Chain {
    let first = ChainPlace { uuid: sb.uuid, copy, base: sb.generation, index: 0 };
    let Some(footprint) = footprint_of(layout, sb) else {
        return read_chain(first, 0, sb.pool_blocks, buf, |_, _| Err(ReadFailed), each);
    };
    let capacity = u32::try_from(footprint.journal_blocks).unwrap_or(u32::MAX);
    read_chain(
        first,
        capacity,
        sb.pool_blocks,
        buf,
        |index, b| io.read_block(journal_sector(layout, copy, &footprint, u64::from(index)), b),
        each,
    )
}

/// Storage a loaded table grows in: the kernel's `VVec`, a `Vec` on the
/// host. Core never allocates; its callers do, through this.
pub trait ExtentStore: Sized {
    /// `n` extents (of any value); `None` when they cannot be allocated.
    fn with_len(n: usize) -> Option<Self>;
    /// The extents.
    fn extents(&self) -> &[Extent];
    /// The extents, to write.
    fn extents_mut(&mut self) -> &mut [Extent];
    /// The first `n` extents only (`n` at most the length).
    fn keep(self, n: usize) -> Option<Self>;
}

/// A table grown in a `Vec` (userspace and tests).
#[cfg(any(test, feature = "alloc"))]
impl ExtentStore for alloc::vec::Vec<Extent> {
    fn with_len(n: usize) -> Option<Self> {
        let mut v = alloc::vec::Vec::new();
        v.try_reserve_exact(n).ok()?;
        v.resize(n, Extent::default());
        Some(v)
    }
    fn extents(&self) -> &[Extent] {
        self
    }
    fn extents_mut(&mut self) -> &mut [Extent] {
        self
    }
    fn keep(mut self, n: usize) -> Option<Self> {
        self.truncate(n);
        Some(self)
    }
}

/// Why a journal chain could not be applied to its checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyError {
    /// A table could not be allocated.
    NoMemory,
    /// A block's records do not apply (not valid runs).
    BadRecords,
}

/// `table` with the journal change `runs` applied, as a new table.
pub fn applied<T: ExtentStore>(table: &[Extent], runs: &[Extent]) -> Result<T, ApplyError> {
    let room = room_after(table.len(), runs.len());
    let mut scratch = T::with_len(room).ok_or(ApplyError::NoMemory)?;
    let mut out = T::with_len(room).ok_or(ApplyError::NoMemory)?;
    let n = apply_runs(table, runs, scratch.extents_mut(), out.extents_mut()).map_err(|_| ApplyError::BadRecords)?;
    out.keep(n).ok_or(ApplyError::NoMemory)
}

/// Stack levels of a [`Gather`]: a chain of `k` blocks keeps at most
/// `log2(k) + 1` partial changes; one of [`JOURNAL_BLOCKS_MAX`](super::slots::JOURNAL_BLOCKS_MAX) blocks
/// (the longest a valid copy has) at most 11. Past this the newest levels
/// merge early, which costs time, never a wrong table.
const GATHER_LEVELS: usize = 12;

/// A journal chain's changes gathered block by block into one change (for
/// each main block, the record of the latest block that names it), in
/// O(records * log(blocks)): the partial changes form a binary counter,
/// two of one size merge into one of the next, so every record is copied
/// once per level, not once per later block as when each block is applied
/// to the growing whole. (Applying a change is associative: `(a+b)+c` maps
/// every block as `a+(b+c)`, so only the order of the blocks matters.)
pub struct Gather<T> {
    /// Partial changes, oldest first, with their levels.
    stack: [Option<(u32, T)>; GATHER_LEVELS],
    depth: usize,
}

impl<T: ExtentStore> Default for Gather<T> {
    fn default() -> Self {
        Self { stack: core::array::from_fn(|_| None), depth: 0 }
    }
}

impl<T: ExtentStore> Gather<T> {
    /// Adds the records `runs` of the chain's next block.
    pub fn push(&mut self, runs: &[Extent]) -> Result<(), ApplyError> {
        let mut newer = (0u32, applied::<T>(&[], runs)?);
        while let Some(i) = self.depth.checked_sub(1) {
            let full = self.depth == GATHER_LEVELS;
            let Some(slot) = self.stack.get_mut(i) else { break };
            match slot.take() {
                Some((level, older)) if level == newer.0 || full => {
                    self.depth = i;
                    newer = (level.max(newer.0).saturating_add(1), applied::<T>(older.extents(), newer.1.extents())?);
                }
                other => {
                    *slot = other;
                    break;
                }
            }
        }
        let slot = self.stack.get_mut(self.depth).ok_or(ApplyError::BadRecords)?;
        *slot = Some(newer);
        self.depth += 1;
        Ok(())
    }

    /// The whole change, `None` when no block was pushed.
    pub fn finish(mut self) -> Result<Option<T>, ApplyError> {
        let mut whole: Option<T> = None;
        while let Some(i) = self.depth.checked_sub(1) {
            self.depth = i;
            let Some((_, older)) = self.stack.get_mut(i).and_then(Option::take) else { break };
            whole = Some(match whole {
                None => older,
                Some(newer) => applied::<T>(older.extents(), newer.extents())?,
            });
        }
        Ok(whole)
    }
}

/// The table of the valid copy `sb` (region `copy`), whose checkpoint's
/// extents are `checkpoint`, with its journal chain applied: the chain's
/// changes gathered into one (see [`Gather`]), then applied to the
/// checkpoint in one pass. The one routine that applies a chain: the
/// kernel's load, the tool and the hostile-spare reference all use it.
/// Returns the chain as read (its generation and cursor are the copy's)
/// and the table, `None` when the chain is empty. It applies at most
/// `limit` blocks: the chain discovery saw (a live table's commits may
/// append more meanwhile, as `dmsetup reload` constructs a table beside a
/// live one; its preresume then sees them and loads again). `runs` is
/// scratch for one block's records ([`RECORDS_PER_BLOCK`]).
#[allow(clippy::too_many_arguments)]
pub fn apply_journal<T: ExtentStore>(
    io: &mut impl MetaIo,
    layout: &SpareLayout,
    copy: u8,
    sb: &Superblock,
    checkpoint: &[Extent],
    limit: u32,
    runs: &mut [Extent],
    buf: &mut [u8],
) -> (Chain, Result<Option<T>, ApplyError>) {
    let mut gather = Gather::<T>::default();
    let mut failed = None;
    let mut read = 0u32;
    let chain = read_journal(io, layout, copy, sb, buf, |head, block| {
        if read >= limit {
            return false;
        }
        read += 1;
        let mut n = 0;
        for (slot, r) in runs.iter_mut().zip(records(block, head)) {
            *slot = r;
            n += 1;
        }
        let pushed = match runs.get(..n).filter(|_| n == head.records && n <= RECORDS_PER_BLOCK) {
            Some(these) => gather.push(these),
            None => Err(ApplyError::BadRecords),
        };
        failed = pushed.err();
        failed.is_none()
    });
    let table = match failed {
        Some(e) => Err(e),
        None => match gather.finish() {
            Ok(Some(change)) => applied::<T>(checkpoint, change.extents()).map(Some),
            other => other,
        },
    };
    (chain, table)
}

/// What a valid copy's journal chain adds to its checkpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tail {
    /// The copy's generation: its chain's last block's, else its
    /// checkpoint's.
    pub generation: u64,
    /// Blocks in its chain.
    pub blocks: u32,
    /// A block of the chain could not be read: the copy may be newer than
    /// `generation`.
    pub unread: bool,
}

/// The tail of the valid copy `sb` (a checkpoint in region `copy`).
pub fn read_tail(io: &mut impl MetaIo, layout: &SpareLayout, copy: u8, sb: &Superblock, buf: &mut [u8]) -> Tail {
    let chain = read_journal(io, layout, copy, sb, buf, |_, _| true);
    Tail { generation: chain.generation, blocks: chain.blocks, unread: chain.end == ChainEnd::ReadFailed }
}

/// The tail of every valid copy among `states` (`[region][slot]`; the
/// default elsewhere).
pub fn read_tails(
    io: &mut impl MetaIo,
    layout: &SpareLayout,
    states: &[[CopyState; 2]; 2],
    buf: &mut [u8],
) -> [[Tail; 2]; 2] {
    let mut tails = [[Tail::default(); 2]; 2];
    for ((copy, region), row) in (0u8..).zip(states).zip(tails.iter_mut()) {
        for (state, tail) in region.iter().zip(row.iter_mut()) {
            if let CopyState::Valid(sb) = state {
                *tail = read_tail(io, layout, copy, sb, buf);
            }
        }
    }
    tails
}

/// The newest valid copy among `states` (`[region][slot]`) by the
/// generations of their `tails`, as `(region, slot)`; the earlier one on a
/// tie.
pub fn newest(states: &[[CopyState; 2]; 2], tails: &[[Tail; 2]; 2]) -> Option<(u8, u8)> {
    let mut best: Option<(u8, u8, u64)> = None;
    for ((c, region), row) in (0u8..).zip(states).zip(tails) {
        for ((s, state), tail) in (0u8..).zip(region).zip(row) {
            if matches!(state, CopyState::Valid(_)) && !matches!(best, Some(b) if b.2 >= tail.generation) {
                best = Some((c, s, tail.generation));
            }
        }
    }
    best.map(|(c, s, _)| (c, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commit::tests::{sb, table, Disk};
    use crate::commit::{commit, format, MetaWrite};
    use crate::extent::ExtentState;
    use crate::journal::tests::{model_of, runs_strategy};
    use crate::slots::JOURNAL_BLOCKS_MAX;
    use proptest::prelude::*;

    fn read(img: &mut Disk, layout: &SpareLayout, copy: u8, slot: u8) -> (CopyState, Vec<Extent>) {
        let mut got = vec![];
        let mut buf = vec![0u8; BLOCK];
        let st = read_slot(img, layout, copy, slot, &mut buf, |e| got.push(e));
        (st, got)
    }

    fn states(img: &mut Disk, layout: &SpareLayout) -> [[CopyState; 2]; 2] {
        [0u8, 1].map(|c| [0u8, 1].map(|t| read(img, layout, c, t).0))
    }

    fn newest_of(img: &mut Disk, layout: &SpareLayout) -> Option<(u8, u8)> {
        let s = states(img, layout);
        newest(&s, &read_tails(img, layout, &s, &mut vec![0u8; BLOCK]))
    }

    #[test]
    fn newest_valid_copy_wins_and_damage_is_named() {
        let layout = SpareLayout::new(65536, 512).unwrap();
        let mut img = Disk::new(65536);
        let mut buf = vec![0u8; BLOCK];
        assert_eq!(read(&mut img, &layout, 0, 0).0, CopyState::Missing);
        let (mut slots, _) = format(&mut img, &layout, &sb(&layout, 4, 0), &[], &mut buf);
        commit(&mut img, &layout, &mut slots, &sb(&layout, 5, 600), &table(600, 0), &mut buf);
        img.settle();
        assert_eq!(newest_of(&mut img, &layout), Some((0, 1)));
        assert_eq!(read(&mut img, &layout, 0, 1).1.len(), 600);

        // A torn entry block in region A's slot 1: region B's copy of the
        // same generation is what loads.
        let entry1 = layout.region_sectors as usize * 512 - 2 * BLOCK;
        img.image[entry1 + 100] ^= 1;
        assert!(matches!(
            read(&mut img, &layout, 0, 1).0,
            CopyState::Damaged(CopyFault::Entries { error: FormatError::BadChecksum, .. })
        ));
        assert_eq!(newest_of(&mut img, &layout), Some((1, 1)));

        // Someone's data over a superblock is foreign, not damage.
        img.image[..BLOCK].fill(0x42);
        assert_eq!(read(&mut img, &layout, 0, 0).0, CopyState::Foreign);
    }

    #[test]
    fn overlapping_extents_are_refused() {
        let layout = SpareLayout::new(65536, 512).unwrap();
        let mut img = Disk::new(65536);
        let mut buf = vec![0u8; BLOCK];
        let mut t = table(3, 0);
        t[1].main = t[0].main; // overlaps the first
        let (mut slots, _) = format(&mut img, &layout, &sb(&layout, 1, 0), &[], &mut buf);
        commit(&mut img, &layout, &mut slots, &sb(&layout, 2, 3), &t, &mut buf);
        img.settle();
        assert_eq!(read(&mut img, &layout, 0, 1).0, CopyState::Damaged(CopyFault::BadTable));
    }

    #[test]
    fn extents_in_region_b_are_refused() {
        let layout = SpareLayout::new(65536, 512).unwrap();
        let (gap, _) = layout.gap().unwrap();
        let mut img = Disk::new(65536);
        let mut buf = vec![0u8; BLOCK];
        let t = [Extent { main: 0, spare: gap as u32, len: 1, state: ExtentState::Ok }];
        let (mut slots, _) = format(&mut img, &layout, &sb(&layout, 1, 0), &[], &mut buf);
        commit(&mut img, &layout, &mut slots, &sb(&layout, 2, gap + 1), &t, &mut buf);
        img.settle();
        assert_eq!(read(&mut img, &layout, 0, 1).0, CopyState::Damaged(CopyFault::BadTable));
    }

    #[test]
    fn a_copy_in_the_wrong_place_is_refused() {
        let layout = SpareLayout::new(65536, 512).unwrap();
        let mut img = Disk::new(65536);
        let mut buf = vec![0u8; BLOCK];
        let (_, _) = format(&mut img, &layout, &sb(&layout, 1, 0), &[], &mut buf);
        img.settle();
        let b = layout.region_b_start as usize * 512;
        let copy_b: Vec<u8> = img.image[b..b + BLOCK].to_vec();
        img.write_durable(0, &copy_b).unwrap();
        img.settle();
        assert_eq!(read(&mut img, &layout, 0, 0).0, CopyState::Damaged(CopyFault::Misplaced));
    }

    /// A table that counts the extents its kind allocates (per thread).
    struct Counted(Vec<Extent>);

    thread_local! {
        static ALLOCATED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    impl ExtentStore for Counted {
        fn with_len(n: usize) -> Option<Self> {
            ALLOCATED.with(|a| a.set(a.get() + n));
            Some(Self(vec![Extent::default(); n]))
        }
        fn extents(&self) -> &[Extent] {
            &self.0
        }
        fn extents_mut(&mut self) -> &mut [Extent] {
            &mut self.0
        }
        fn keep(mut self, n: usize) -> Option<Self> {
            self.0.truncate(n);
            Some(self)
        }
    }

    #[test]
    fn a_chain_gathers_in_records_times_log_blocks() {
        // The longest chain a valid copy has, every block full of records
        // that name blocks no other record names: applying each block to
        // the growing whole copied ~blocks^2/2 * records_per_block extents
        // (the review's 6.5 s for 2048 blocks); the gather copies each
        // record once per level.
        let blocks = JOURNAL_BLOCKS_MAX as usize;
        let per = RECORDS_PER_BLOCK;
        let mut gather = Gather::<Counted>::default();
        ALLOCATED.with(|a| a.set(0));
        for b in 0..blocks {
            let runs: Vec<Extent> = (0..per)
                .map(|i| Extent {
                    main: ((i * blocks + b) * 2) as u64,
                    spare: (b * per + i) as u32,
                    len: 1,
                    state: ExtentState::Ok,
                })
                .collect();
            gather.push(&runs).unwrap();
        }
        let whole = gather.finish().unwrap().unwrap();
        assert_eq!(whole.0.len(), blocks * per);
        let records = blocks * per;
        let levels = (blocks.ilog2() + 1) as usize;
        let allocated = ALLOCATED.with(|a| a.get());
        assert!(allocated <= 8 * records * levels, "{allocated} extents allocated for {records} records");
    }

    #[test]
    fn a_full_gather_stack_merges_early_and_keeps_the_order() {
        // More blocks than levels can hold as a binary counter would need
        // with a stack of GATHER_LEVELS: forced merges keep the order.
        let mut gather = Gather::<Vec<Extent>>::default();
        let mut sequential: Vec<Extent> = vec![];
        for b in 0..(1usize << (GATHER_LEVELS + 1)) + 3 {
            let runs =
                [Extent { main: (b % 7) as u64, spare: b as u32, len: 1 + (b % 3) as u16, state: ExtentState::Ok }];
            gather.push(&runs).unwrap();
            sequential = applied(&sequential, &runs).unwrap();
        }
        assert_eq!(gather.finish().unwrap().unwrap(), sequential);
    }

    #[test]
    fn invalid_records_are_refused() {
        let mut gather = Gather::<Vec<Extent>>::default();
        let overlapping = [
            Extent { main: 4, spare: 0, len: 2, state: ExtentState::Ok },
            Extent { main: 5, spare: 9, len: 1, state: ExtentState::Ok },
        ];
        assert_eq!(gather.push(&overlapping), Err(ApplyError::BadRecords));
        assert_eq!(Gather::<Vec<Extent>>::default().finish(), Ok(None));
    }

    proptest! {
        /// Gathering maps every block as applying the blocks one by one.
        #[test]
        fn a_gather_is_the_blocks_applied_in_order(
            blocks in prop::collection::vec(runs_strategy(12), 0..40),
            checkpoint in runs_strategy(20),
        ) {
            let mut gather = Gather::<Vec<Extent>>::default();
            let mut sequential = checkpoint.clone();
            for runs in &blocks {
                gather.push(runs).unwrap();
                sequential = applied(&sequential, runs).unwrap();
            }
            let table = match gather.finish().unwrap() {
                Some(change) => applied::<Vec<Extent>>(&checkpoint, &change).unwrap(),
                None => checkpoint.clone(),
            };
            prop_assert_eq!(model_of(&table), model_of(&sequential));
            prop_assert_eq!(table, sequential);
        }
    }
}
