// SPDX-License-Identifier: GPL-2.0
//! Journal blocks: changes committed on top of a checkpoint (a full copy of
//! the table), so that a commit of one change can write one block per
//! region instead of the whole table (issue 17.3). This module is the
//! block format, the reading of a chain and the applying of a change;
//! where the journal lies in a region and when a commit appends or folds
//! are in Documentation/design.rst ("Commits that cost O(change)"); format
//! version 3 writes them (Documentation/dm-remap-format.rst).
//!
//! A journal block is 4096 bytes, little-endian:
//!
//! ```text
//!   0  magic "DMRMJRNL"
//!   8  base: the generation of the checkpoint the block applies to
//!  16  generation: above the base's and the chain's previous block's
//!  24  uuid of the spare (16 bytes)
//!  40  the allocator's cursor after the change
//!  48  number of records (u32, at most 252)
//!  52  copy: 0 in region A, 1 in region B; then 3 zero bytes
//!  56  index: the block's place in the chain, from 0 (u32)
//!  60  CRC-32C of the block without these 4 bytes
//!  64  records, 16 bytes each, encoded as entries: main block (u64), spare
//!      block (u32), length (u16), state (u8), 0
//! ```
//!
//! A record states a run absolutely: after it, the run's main blocks map to
//! its spare blocks in its state, whatever they mapped to before. So a
//! block applied twice changes nothing, and a chain needs no undo. A block
//! is valid only at its own place (base, index, uuid and copy are checked),
//! so a block of an older checkpoint, of another region or of another spare
//! ends a chain like a torn or never-written one.

use super::extent::{carve_runs, merge, Extent, MergeError};
use super::format::{
    decode_extent, encode_extent, get, put, u32_at, u64_at, FormatError, BLOCK, ENTRIES_PER_BLOCK, ENTRY_CRC_AT,
    ENTRY_HEADER, ENTRY_SIZE, MAX_GENERATION,
};

/// Journal-block magic.
pub const JOURNAL_MAGIC: [u8; 8] = *b"DMRMJRNL";
/// Records in one journal block: as many as extents in an entry block.
pub const RECORDS_PER_BLOCK: usize = ENTRIES_PER_BLOCK;

/// Where a journal block belongs: the spare, the region, the checkpoint it
/// applies to and its place in that checkpoint's chain. (Its generation is
/// its own: commits skip generations, see `engine::settle`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainPlace {
    /// The spare's uuid.
    pub uuid: [u8; 16],
    /// The region: 0 for A, 1 for B.
    pub copy: u8,
    /// The generation of the checkpoint.
    pub base: u64,
    /// The block's place in the chain, from 0.
    pub index: u32,
}

impl ChainPlace {
    /// The place after this one.
    fn next(&self) -> Option<Self> {
        Some(Self { index: self.index.checked_add(1)?, ..*self })
    }
}

/// Whether `runs` can be records: each at least one block long, ending
/// before 2^64, sorted by main block and not overlapping.
pub fn runs_are_valid(runs: &[Extent]) -> bool {
    let mut end = 0u64;
    for (i, r) in runs.iter().enumerate() {
        let Some(e) = r.main.checked_add(u64::from(r.len)) else {
            return false;
        };
        if r.len == 0 || (i > 0 && r.main < end) {
            return false;
        }
        end = e;
    }
    true
}

fn journal_crc(block: &[u8]) -> u32 {
    let head = block.get(..ENTRY_CRC_AT).unwrap_or_default();
    let tail = block.get(ENTRY_HEADER..).unwrap_or_default();
    !super::crc32c::update(super::crc32c::update(!0, head), tail)
}

/// Writes the journal block of generation `generation` at `at` into `block`
/// (4096 bytes): the change that maps `runs` (valid, at most
/// [`RECORDS_PER_BLOCK`]) and leaves the allocator's cursor at
/// `alloc_next`.
pub fn encode_journal_block(
    block: &mut [u8],
    at: &ChainPlace,
    generation: u64,
    alloc_next: u64,
    runs: &[Extent],
) -> Result<(), FormatError> {
    if block.len() != BLOCK {
        return Err(FormatError::WrongSize);
    }
    if !generation_fits(at, generation) || runs.len() > RECORDS_PER_BLOCK || !runs_are_valid(runs) || at.copy > 1 {
        return Err(FormatError::BadField);
    }
    block.fill(0);
    put(block, 0, &JOURNAL_MAGIC);
    put(block, 8, &at.base.to_le_bytes());
    put(block, 16, &generation.to_le_bytes());
    put(block, 24, &at.uuid);
    put(block, 40, &alloc_next.to_le_bytes());
    // At most 252 records (checked above).
    put(block, 48, &(runs.len() as u32).to_le_bytes());
    put(block, 52, &[at.copy]);
    put(block, 56, &at.index.to_le_bytes());
    let records = block.get_mut(ENTRY_HEADER..).unwrap_or_default();
    for (r, raw) in runs.iter().zip(records.chunks_exact_mut(ENTRY_SIZE)) {
        raw.copy_from_slice(&encode_extent(r));
    }
    let crc = journal_crc(block);
    put(block, ENTRY_CRC_AT, &crc.to_le_bytes());
    Ok(())
}

fn generation_fits(at: &ChainPlace, generation: u64) -> bool {
    generation > at.base && generation <= MAX_GENERATION
}

/// What a journal block says besides its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalHead {
    /// Its generation.
    pub generation: u64,
    /// The allocator's cursor after its change.
    pub alloc_next: u64,
    /// Its number of records.
    pub records: usize,
}

/// Checks the journal block at `at` in `block` and reads its head: magic,
/// checksum, place (base, uuid, copy, index), that its generation is above
/// the base's, and every record (each a valid extent, sorted, disjoint).
/// [`records`] then reads its records.
pub fn decode_journal_block(block: &[u8], at: &ChainPlace) -> Result<JournalHead, FormatError> {
    if block.len() != BLOCK {
        return Err(FormatError::WrongSize);
    }
    if get::<8>(block, 0) != JOURNAL_MAGIC {
        return Err(FormatError::BadMagic);
    }
    if journal_crc(block) != u32_at(block, ENTRY_CRC_AT) {
        return Err(FormatError::BadChecksum);
    }
    let count = u32_at(block, 48) as usize;
    let generation = u64_at(block, 16);
    if u64_at(block, 8) != at.base
        || !generation_fits(at, generation)
        || get::<16>(block, 24) != at.uuid
        || get::<4>(block, 52) != [at.copy, 0, 0, 0]
        || u32_at(block, 56) != at.index
        || count > RECORDS_PER_BLOCK
    {
        return Err(FormatError::BadField);
    }
    let mut end = 0u64;
    for (i, raw) in block.get(ENTRY_HEADER..).unwrap_or_default().chunks_exact(ENTRY_SIZE).take(count).enumerate() {
        let r = decode_extent(raw)?;
        if (i > 0 && r.main < end) || r.main.checked_add(u64::from(r.len)).is_none() {
            return Err(FormatError::BadField);
        }
        end = r.main_end();
    }
    Ok(JournalHead { generation, alloc_next: u64_at(block, 40), records: count })
}

/// The records of `block`, a journal block [`decode_journal_block`]
/// accepted with the head `head`.
pub fn records<'a>(block: &'a [u8], head: &JournalHead) -> impl Iterator<Item = Extent> + 'a {
    let raw = block.get(ENTRY_HEADER..).unwrap_or_default().chunks_exact(ENTRY_SIZE);
    raw.take(head.records).filter_map(|r| decode_extent(r).ok())
}

/// Why a chain of journal blocks ends where it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainEnd {
    /// The next block is not the chain's next (never written, torn, or of
    /// another checkpoint): the commit that would have written it was not
    /// acknowledged by this region.
    NotNext(FormatError),
    /// The journal area holds no further block.
    Full,
    /// The next block could not be read: the chain may go on past it, so
    /// this region's generation is not known.
    ReadFailed,
    /// The caller refused a block (see [`read_chain`]).
    Refused,
}

/// A chain of journal blocks as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chain {
    /// Blocks in the chain.
    pub blocks: u32,
    /// The generation of its last block (the checkpoint's when it has
    /// none): the copy's generation.
    pub generation: u64,
    /// The allocator's cursor after its last block (`None` when it has
    /// none: the checkpoint's).
    pub alloc_next: Option<u64>,
    /// Records in those blocks.
    pub records: u64,
    /// Why it ends there.
    pub end: ChainEnd,
}

/// The head of `block` when it is a chain's block at `place` after one of
/// generation `previous`: it decodes at that place, with a generation
/// above `previous` and an allocator's cursor of at most `cursor_max` (see
/// [`read_chain`]). The one rule of what continues a chain: loads and a
/// reload's check of the spare use it alike.
pub fn chain_next(
    block: &[u8],
    place: &ChainPlace,
    previous: u64,
    cursor_max: u64,
) -> Result<JournalHead, FormatError> {
    let head = decode_journal_block(block, place)?;
    if head.generation > previous && head.alloc_next <= cursor_max {
        Ok(head)
    } else {
        Err(FormatError::BadField)
    }
}

/// Reads the chain of journal blocks on a checkpoint, from the place
/// `first` (index 0), in a journal area of `capacity` blocks:
/// `read(index, buf)` reads block `index` of the area into `buf` (4096
/// bytes). A block belongs to the chain when [`chain_next`] takes it after
/// the previous one, with `cursor_max` the pool's blocks (no writer's
/// cursor passes the pool's end, and a chain's records are bounded by its
/// cursor). Each block of the chain goes to `each(head, block)` in order (its records: [`records`]), which returns
/// `false` to stop there (the block does not count).
pub fn read_chain<E>(
    first: ChainPlace,
    capacity: u32,
    cursor_max: u64,
    buf: &mut [u8],
    mut read: impl FnMut(u32, &mut [u8]) -> Result<(), E>,
    mut each: impl FnMut(&JournalHead, &[u8]) -> bool,
) -> Chain {
    let mut chain = Chain { blocks: 0, generation: first.base, alloc_next: None, records: 0, end: ChainEnd::Full };
    let mut at = Some(first);
    while let Some(place) = at.filter(|p| p.index < capacity) {
        if read(place.index, buf).is_err() {
            chain.end = ChainEnd::ReadFailed;
            return chain;
        }
        let head = match chain_next(buf, &place, chain.generation, cursor_max) {
            Ok(h) => h,
            Err(e) => {
                chain.end = ChainEnd::NotNext(e);
                return chain;
            }
        };
        if !each(&head, buf) {
            chain.end = ChainEnd::Refused;
            return chain;
        }
        chain.blocks = chain.blocks.saturating_add(1);
        chain.generation = head.generation;
        chain.alloc_next = Some(head.alloc_next);
        chain.records = chain.records.saturating_add(head.records as u64);
        at = place.next();
    }
    chain
}

/// Whether every block of `blocks` (sorted) lies in one of `runs` (sorted,
/// disjoint): whether a change that takes `blocks` out of their extents
/// and maps `runs` is stated whole by `runs` (a journal has no record that
/// unmaps a block).
pub fn covers(runs: &[Extent], blocks: &[u64]) -> bool {
    let mut i = 0;
    blocks.iter().all(|&b| {
        while runs.get(i).is_some_and(|r| r.main_end() <= b) {
            i += 1;
        }
        runs.get(i).is_some_and(|r| r.main <= b)
    })
}

/// Room a table of `extents` extents needs to take `records` more records
/// (as [`apply_runs`]' `scratch` and `out`, and summed over a chain): each
/// record can cut an extent in two and add itself.
pub fn room_after(extents: usize, records: usize) -> usize {
    extents.saturating_add(records.saturating_mul(2))
}

/// Writes `table` with the change `runs` (valid) applied into `out`: the
/// runs' main blocks taken out of the extents that held them, the runs
/// merged in, neighbours that continue each other coalesced; returns its
/// length. `scratch` and `out` need [`room_after`]`(table.len(),
/// runs.len())` extents.
pub fn apply_runs(
    table: &[Extent],
    runs: &[Extent],
    scratch: &mut [Extent],
    out: &mut [Extent],
) -> Result<usize, MergeError> {
    if !runs_are_valid(runs) {
        return Err(MergeError::Overlap);
    }
    let n = carve_runs(table, runs, scratch)?;
    merge(scratch.get(..n).ok_or(MergeError::OutputTooSmall)?, runs, out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::extent::ExtentState;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const PLACE: ChainPlace = ChainPlace { uuid: [7; 16], copy: 1, base: 40, index: 3 };

    fn run(main: u64, spare: u32, len: u16) -> Extent {
        Extent { main, spare, len, state: ExtentState::Ok }
    }

    /// A block of generation `base + index + 1` (as when no generation is
    /// skipped).
    fn block_of(at: &ChainPlace, alloc_next: u64, runs: &[Extent]) -> Vec<u8> {
        block_at(at, at.base + u64::from(at.index) + 1, alloc_next, runs)
    }

    fn block_at(at: &ChainPlace, generation: u64, alloc_next: u64, runs: &[Extent]) -> Vec<u8> {
        let mut b = vec![0u8; BLOCK];
        encode_journal_block(&mut b, at, generation, alloc_next, runs).unwrap();
        b
    }

    /// The generation, cursor and records of a block.
    fn decode(b: &[u8], at: &ChainPlace) -> Result<(u64, u64, Vec<Extent>), FormatError> {
        decode_journal_block(b, at).map(|h| (h.generation, h.alloc_next, records(b, &h).collect()))
    }

    /// Sorted, disjoint runs from (gap, len, spare, lost) tuples.
    fn runs_from(raw: &[(u64, u16, u32, bool)]) -> Vec<Extent> {
        let mut at = 0u64;
        raw.iter()
            .map(|&(gap, len, spare, lost)| {
                let r = Extent {
                    main: at + gap,
                    spare,
                    len,
                    state: if lost { ExtentState::Lost } else { ExtentState::Ok },
                };
                at = r.main_end();
                r
            })
            .collect()
    }

    pub(crate) fn runs_strategy(max: usize) -> impl Strategy<Value = Vec<Extent>> {
        prop::collection::vec((0u64..40, 1u16..6, 0u32..400, any::<bool>()), 0..max).prop_map(|v| runs_from(&v))
    }

    /// What a table maps, block by block.
    pub(crate) fn model_of(table: &[Extent]) -> BTreeMap<u64, (u64, ExtentState)> {
        let mut m = BTreeMap::new();
        for e in table {
            for i in 0..u64::from(e.len) {
                m.insert(e.main + i, (u64::from(e.spare) + i, e.state));
            }
        }
        m
    }

    fn apply_vec(table: &[Extent], runs: &[Extent]) -> Vec<Extent> {
        let room = room_after(table.len(), runs.len());
        let (mut scratch, mut out) = (vec![Extent::default(); room], vec![Extent::default(); room]);
        let n = apply_runs(table, runs, &mut scratch, &mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn a_block_decodes_only_at_its_own_place() {
        let runs = [run(5, 0, 2), run(9, 2, 1)];
        let b = block_of(&PLACE, 3, &runs);
        assert_eq!(decode(&b, &PLACE), Ok((44, 3, runs.to_vec())));
        for other in [
            ChainPlace { base: 41, index: 2, ..PLACE }, // same generation, other checkpoint
            ChainPlace { base: 44, ..PLACE },           // a block at or below its base
            ChainPlace { index: 4, ..PLACE },
            ChainPlace { copy: 0, ..PLACE },
            ChainPlace { uuid: [8; 16], ..PLACE },
        ] {
            assert_eq!(decode(&b, &other), Err(FormatError::BadField), "{other:?}");
        }
        assert_eq!(decode(&[0u8; BLOCK], &PLACE), Err(FormatError::BadMagic));
        assert_eq!(decode(&b[..100], &PLACE), Err(FormatError::WrongSize));
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let b = block_of(&PLACE, 9, &[run(5, 0, 2), run(9, 2, 1), run(100, 3, 7)]);
        for bit in 0..BLOCK * 8 {
            let mut c = b.clone();
            c[bit / 8] ^= 1 << (bit % 8);
            assert!(decode(&c, &PLACE).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn a_torn_block_is_refused() {
        // The area held a block of an older checkpoint at this index, or
        // nothing; the new block lands sector by sector, and any prefix of
        // 1..7 sectors over either is not a block of the chain (full
        // blocks: every sector holds records).
        let new = block_of(&PLACE, 9, &runs_from(&[(3, 2, 0, false); RECORDS_PER_BLOCK]));
        let old = block_of(
            &ChainPlace { base: 30, index: 13, ..PLACE },
            4,
            &runs_from(&[(1, 1, 7, true); RECORDS_PER_BLOCK]),
        );
        for under in [old, vec![0u8; BLOCK]] {
            for sectors in 1..8 {
                let mut torn = under.clone();
                torn[..sectors * 512].copy_from_slice(&new[..sectors * 512]);
                assert!(decode(&torn, &PLACE).is_err(), "{sectors} sectors");
            }
        }
    }

    #[test]
    fn invalid_runs_are_neither_written_nor_read() {
        let mut b = vec![0u8; BLOCK];
        let bad: [&[Extent]; 4] =
            [&[run(5, 0, 0)], &[run(5, 0, 2), run(6, 2, 1)], &[run(9, 0, 1), run(5, 1, 1)], &[run(u64::MAX - 1, 0, 2)]];
        for runs in bad {
            assert_eq!(encode_journal_block(&mut b, &PLACE, 50, 0, runs), Err(FormatError::BadField), "{runs:?}");
        }
        let too_many = runs_from(&[(0, 1, 0, false); RECORDS_PER_BLOCK + 1]);
        assert_eq!(encode_journal_block(&mut b, &PLACE, 50, 0, &too_many), Err(FormatError::BadField));
        // Generations at or below the base, or past the last.
        for generation in [0, PLACE.base, MAX_GENERATION + 1] {
            assert_eq!(encode_journal_block(&mut b, &PLACE, generation, 0, &[]), Err(FormatError::BadField));
        }
        // A well-checksummed block whose records overlap (a hostile spare).
        let mut b = block_of(&PLACE, 0, &[run(5, 0, 2), run(9, 2, 1)]);
        b[ENTRY_HEADER + ENTRY_SIZE] = 6; // second run's main: 6, inside the first
        let crc = journal_crc(&b);
        put(&mut b, ENTRY_CRC_AT, &crc.to_le_bytes());
        assert_eq!(decode(&b, &PLACE), Err(FormatError::BadField));
    }

    /// An area of journal blocks on checkpoint `base`: one per change.
    fn area(base: u64, changes: &[Vec<Extent>], capacity: usize) -> Vec<Vec<u8>> {
        let mut blocks = vec![vec![0u8; BLOCK]; capacity];
        for (i, c) in changes.iter().enumerate() {
            let at = ChainPlace { base, index: i as u32, ..PLACE };
            blocks[i] = block_of(&at, 100 + i as u64, c);
        }
        blocks
    }

    fn chain_of(blocks: &[Vec<u8>], base: u64, fail_at: Option<u32>) -> (Chain, Vec<u64>) {
        let mut cursors = Vec::new();
        let chain = read_with(blocks, base, fail_at, |h, _| {
            cursors.push(h.alloc_next);
            true
        });
        (chain, cursors)
    }

    fn read_with(
        blocks: &[Vec<u8>],
        base: u64,
        fail_at: Option<u32>,
        each: impl FnMut(&JournalHead, &[u8]) -> bool,
    ) -> Chain {
        let mut buf = vec![0u8; BLOCK];
        read_chain(
            ChainPlace { base, index: 0, ..PLACE },
            blocks.len() as u32,
            u64::MAX,
            &mut buf,
            |i, b: &mut [u8]| {
                if Some(i) == fail_at {
                    return Err(());
                }
                b.copy_from_slice(&blocks[i as usize]);
                Ok(())
            },
            each,
        )
    }

    fn chain(blocks: u32, generation: u64, records: u64, end: ChainEnd) -> Chain {
        let alloc_next = blocks.checked_sub(1).map(|last| 100 + u64::from(last));
        Chain { blocks, generation, alloc_next, records, end }
    }

    #[test]
    fn a_chain_ends_at_the_first_block_that_is_not_its_next() {
        let changes: Vec<_> = (0..5).map(|i| vec![run(10 * i, i as u32, 1)]).collect();
        let blocks = area(50, &changes, 8);
        let (chain, cursors) = chain_of(&blocks, 50, None);
        assert_eq!(chain, self::chain(5, 55, 5, ChainEnd::NotNext(FormatError::BadMagic)));
        assert_eq!(cursors, [100, 101, 102, 103, 104]);
        // Full: the area ends with the chain.
        assert_eq!(chain_of(&blocks[..5], 50, None).0.end, ChainEnd::Full);
        // A read failure is not the end of the chain.
        assert_eq!(chain_of(&blocks, 50, Some(2)).0, self::chain(2, 52, 2, ChainEnd::ReadFailed));
        assert_eq!(chain_of(&blocks, 50, Some(0)).0, self::chain(0, 50, 0, ChainEnd::ReadFailed));
        // The blocks of an older checkpoint after a newer chain's end, or
        // the whole area on another checkpoint, do not continue it.
        let mut mixed = area(50, &changes[..2], 8);
        mixed[2..5].clone_from_slice(&area(20, &changes, 8)[2..5]);
        assert_eq!(chain_of(&mixed, 50, None).0.blocks, 2);
        assert_eq!(chain_of(&blocks, 49, None).0.blocks, 0);
        // A gap: a torn block 2 hides blocks 3 and 4.
        let mut gap = blocks.clone();
        gap[2][700] ^= 1;
        assert_eq!(chain_of(&gap, 50, None).0, self::chain(2, 52, 2, ChainEnd::NotNext(FormatError::BadChecksum)));
    }

    #[test]
    fn generations_in_a_chain_may_skip_but_never_go_back() {
        let at = |index| ChainPlace { base: 50, index, ..PLACE };
        let mut blocks = vec![block_at(&at(0), 53, 100, &[]), block_at(&at(1), 90, 101, &[]), vec![0u8; BLOCK]];
        assert_eq!(chain_of(&blocks, 50, None).0, chain(2, 90, 0, ChainEnd::NotNext(FormatError::BadMagic)));
        // A block at or below its predecessor's generation is not its next.
        for g in [53, 60, 90] {
            blocks[2] = block_at(&at(2), g, 102, &[]);
            assert_eq!(chain_of(&blocks, 50, None).0, chain(2, 90, 0, ChainEnd::NotNext(FormatError::BadField)));
        }
    }

    #[test]
    fn a_refused_block_ends_the_chain_uncounted() {
        let changes: Vec<_> = (0..4).map(|i| vec![run(10 * i, i as u32, 1)]).collect();
        let blocks = area(50, &changes, 4);
        let mut seen = 0;
        let got = read_with(&blocks, 50, None, |_, _| {
            seen += 1;
            seen < 3
        });
        assert_eq!(got, chain(2, 52, 2, ChainEnd::Refused));
    }

    #[test]
    fn applying_cuts_and_coalesces() {
        let table = [run(10, 0, 10), run(30, 10, 2)];
        // Block 15 moves to spare 50; block 20 is new.
        let out = apply_vec(&table, &[run(15, 50, 1), run(20, 20, 1)]);
        assert_eq!(out, [run(10, 0, 5), run(15, 50, 1), run(16, 6, 4), run(20, 20, 1), run(30, 10, 2)]);
        // Runs that continue their neighbours on both devices coalesce.
        assert_eq!(apply_vec(&[run(10, 0, 2), run(14, 4, 2)], &[run(12, 2, 2)]), [run(10, 0, 6)]);
        // A run over several extents replaces them all.
        assert_eq!(apply_vec(&table, &[run(5, 100, 40)]), [run(5, 100, 40)]);
    }

    #[test]
    fn a_change_covers_the_blocks_its_runs_map() {
        let runs = [run(5, 0, 2), run(9, 2, 1)];
        assert!(covers(&runs, &[]));
        assert!(covers(&runs, &[5, 6, 9]));
        assert!(!covers(&runs, &[5, 7]));
        assert!(!covers(&runs, &[4]));
        assert!(!covers(&runs, &[10]));
        assert!(!covers(&[], &[1]));
    }

    proptest! {
        #[test]
        fn blocks_round_trip(runs in runs_strategy(RECORDS_PER_BLOCK), alloc_next: u64, base in 0u64..1 << 40,
                             index: u32, copy in 0u8..2, uuid: [u8; 16]) {
            let at = ChainPlace { uuid, copy, base, index };
            let b = block_at(&at, base + 1 + u64::from(index % 9), alloc_next, &runs);
            prop_assert_eq!(decode(&b, &at), Ok((base + 1 + u64::from(index % 9), alloc_next, runs)));
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..5000)) {
            let _ = decode(&bytes, &PLACE);
        }

        /// A sequence of changes applied one by one maps every block as the
        /// last change that named it says, in a table that stays sorted,
        /// disjoint and coalesced; applying a change again changes nothing;
        /// and a chain of blocks read back gives the same table.
        #[test]
        fn a_chain_of_changes_is_the_model(changes in prop::collection::vec(runs_strategy(12), 1..12)) {
            let mut table = Vec::new();
            let mut model = BTreeMap::new();
            for c in &changes {
                table = apply_vec(&table, c);
                model.extend(model_of(c));
                prop_assert_eq!(model_of(&table), model.clone());
                prop_assert!(runs_are_valid(&table));
                prop_assert!(table.windows(2).all(|w| !w[0].can_absorb(&w[1])), "not coalesced: {:?}", table);
                prop_assert_eq!(apply_vec(&table, c), table.clone());
            }
            let blocks = area(77, &changes, changes.len() + 1);
            let mut replayed = Vec::new();
            let chain = read_with(&blocks, 77, None, |h, b| {
                replayed = apply_vec(&replayed, &records(b, h).collect::<Vec<_>>());
                true
            });
            prop_assert_eq!(chain.blocks as usize, changes.len());
            prop_assert_eq!(replayed, table);
        }

        /// Applying a chain's changes one by one to a table equals applying
        /// them to an empty table first and the result to the table once
        /// (how a load applies a long chain to a large table in one pass).
        #[test]
        fn a_chain_applies_in_one_pass(table in runs_strategy(40), changes in prop::collection::vec(runs_strategy(12), 0..8)) {
            let mut one_by_one = table.clone();
            let mut overlay = Vec::new();
            for c in &changes {
                one_by_one = apply_vec(&one_by_one, c);
                overlay = apply_vec(&overlay, c);
            }
            prop_assert_eq!(apply_vec(&table, &overlay), one_by_one);
        }
    }
}
