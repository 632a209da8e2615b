// SPDX-License-Identifier: GPL-2.0
//! Crash and failure replay of commits that append journal blocks (format
//! version 3, issue 17.3). Whatever the crash point, torn write or failing
//! region, what loads is the last acknowledged table or one written since:
//! never an older one, never one no commit wrote.

use crate::commit::tests::{crash, sb, Disk, Op};
use crate::commit::{commit_change, Committed};
use crate::discover::{discover, seen_generations, slots_unchanged, Discovery, Fingerprint, Seen, UNREAD_MARGIN};
use crate::extent::Extent;
use crate::format::{Superblock, BLOCK, FORMAT_VERSION_3};
use crate::geometry::SpareLayout;
use crate::journal::{apply_runs, records, room_after, RECORDS_PER_BLOCK};
use crate::load::{read_journal, read_slot, CopyState, MetaIo, ReadFailed};
use crate::slots::{footprint_of, superblock_sector, Slot, Slots};
use proptest::prelude::*;

/// A spare of 2 MiB: regions of 36 blocks, so that tables of a few
/// thousand extents leave journal areas of a few blocks.
const SECTORS: u64 = 4096;

fn layout() -> SpareLayout {
    SpareLayout::new(SECTORS, 512).unwrap()
}

fn apply(table: &[Extent], runs: &[Extent]) -> Vec<Extent> {
    let room = room_after(table.len(), runs.len());
    let (mut scratch, mut out) = (vec![Extent::default(); room], vec![Extent::default(); room]);
    let n = apply_runs(table, runs, &mut scratch, &mut out).unwrap();
    out.truncate(n);
    out
}

/// What loads from a spare: the newest copy, checkpoint plus chain.
#[derive(Debug)]
struct Loaded {
    generation: u64,
    table: Vec<Extent>,
    alloc_next: u64,
    /// What a writer that loaded this knows of the slots.
    slots: Slots,
}

fn load(image: &[u8], layout: &SpareLayout) -> Option<Loaded> {
    let mut disk = Disk::of(image.to_vec());
    let mut buf = vec![0u8; BLOCK];
    let mut best: Option<Loaded> = None;
    let mut slots = Slots::default();
    for copy in 0..2u8 {
        for slot in 0..2u8 {
            let mut checkpoint = vec![];
            let state = read_slot(&mut disk, layout, copy, slot, &mut buf, |e| checkpoint.push(e));
            let CopyState::Valid(sb) = state else { continue };
            // The chain's changes gathered first, then applied in one pass.
            let mut overlay = vec![];
            let chain = read_journal(&mut disk, layout, copy, &sb, &mut buf, |h, b| {
                overlay = apply(&overlay, &records(b, h).collect::<Vec<_>>());
                true
            });
            let got = Loaded {
                generation: chain.generation,
                table: apply(&checkpoint, &overlay),
                alloc_next: chain.alloc_next.unwrap_or(sb.alloc_next),
                slots: Slots::default(),
            };
            slots.slots[usize::from(copy)][usize::from(slot)] = Slot::Holds {
                generation: chain.generation,
                footprint: footprint_of(layout, &sb).unwrap(),
                base: sb.generation,
                chain: chain.blocks,
            };
            match &best {
                Some(b) if b.generation == got.generation => {
                    assert_eq!(
                        (&b.table, b.alloc_next),
                        (&got.table, got.alloc_next),
                        "two copies of one generation differ"
                    );
                }
                Some(b) if b.generation > got.generation => {}
                _ => best = Some(got),
            }
        }
    }
    let best = best.map(|b| Loaded { slots, ..b });
    // Discovery, as the kernel runs it, agrees.
    let fp = Fingerprint { main_sectors: 1 << 20, main_logical_block_size: 512, block_bytes: 512 };
    match (discover(&mut disk, SECTORS, &fp, false, &mut buf), &best) {
        (Discovery::Load { tail, slots, .. }, Some(b)) => {
            assert_eq!((tail.generation, slots), (b.generation, b.slots), "discovery differs");
        }
        (d, b) => panic!("discovery {d:?} where {:?} loads", b.as_ref().map(|b| b.generation)),
    }
    best
}

/// A disk whose block at `sector` cannot be read.
struct Unreadable<'a>(&'a mut Disk, u64);

impl MetaIo for Unreadable<'_> {
    fn read_block(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), ReadFailed> {
        if sector == self.1 {
            return Err(ReadFailed);
        }
        self.0.read_block(sector, buf)
    }
}

/// One table the spare may hold: its generation, extents and cursor.
type State = (u64, Vec<Extent>, u64);

/// A writer of version-3 commits over a [`Disk`], keeping every state it
/// tried and the write log of each commit.
struct Writer {
    disk: Disk,
    layout: SpareLayout,
    slots: Slots,
    table: Vec<Extent>,
    generation: u64,
    alloc_next: u64,
    /// States tried, in order; `acked` indexes the last acknowledged one.
    tried: Vec<State>,
    acked: usize,
}

impl Writer {
    /// A spare given its first full copy of a table of `n` extents. What
    /// it held before is not zeros (journal areas are never cleared: a
    /// block of few records is whole with its first sector, so a tear that
    /// lands only the rest must not make an old first sector valid).
    fn new(n: u64) -> Self {
        let layout = layout();
        let mut w = Self {
            disk: Disk::of(vec![0x5a; SECTORS as usize * 512]),
            layout,
            slots: Slots::default(),
            table: vec![],
            generation: 10,
            alloc_next: 0,
            tried: vec![],
            acked: 0,
        };
        // As a format leaves it: no slot superblock.
        for copy in 0..2u8 {
            for slot in 0..2u8 {
                let at = superblock_sector(&w.layout, copy, slot) as usize * 512;
                w.disk.image[at..at + BLOCK].fill(0);
            }
        }
        let t: Vec<Extent> =
            (0..n).map(|i| Extent { main: i * 5, spare: w.take(1), len: 1, state: Default::default() }).collect();
        assert_eq!(w.commit(&t, None).copies_written(), 2);
        w.disk.settle();
        w
    }

    /// `len` fresh spare blocks (never in region B's place).
    fn take(&mut self, len: u16) -> u32 {
        if let Some((first, blocks)) = self.layout.gap() {
            if self.alloc_next + u64::from(len) > first && self.alloc_next < first + blocks {
                self.alloc_next = first + blocks;
            }
        }
        let at = self.alloc_next;
        self.alloc_next += u64::from(len);
        at as u32
    }

    /// Commits `next` (the table after `change`) as the next generation.
    fn commit(&mut self, next: &[Extent], change: Option<&[Extent]>) -> Committed<()> {
        self.generation += 1;
        let s = Superblock { spare_sectors: SECTORS, ..sb(&self.layout, self.generation, self.alloc_next) };
        let mut buf = vec![0u8; BLOCK];
        let done =
            commit_change(&mut self.disk, &self.layout, &mut self.slots, &s, FORMAT_VERSION_3, next, change, &mut buf);
        self.tried.push((self.generation, next.to_vec(), self.alloc_next));
        if done.copies_written() > 0 {
            self.acked = self.tried.len() - 1;
            self.table = next.to_vec();
        }
        done
    }

    /// Remaps `runs` (main, len) to fresh spare blocks and commits.
    fn remap(&mut self, runs: &[(u64, u16)]) -> Committed<()> {
        let change: Vec<Extent> = runs
            .iter()
            .map(|&(main, len)| Extent { main, spare: self.take(len), len, state: Default::default() })
            .collect();
        let next = apply(&self.table, &change);
        self.commit(&next, Some(&change))
    }

    /// Checks every crash point of the writes since the last settle: with
    /// the volatile writes lost, whole or torn, and with the next durable
    /// write torn (its first or its last 1..7 sectors landed), what loads is a state tried at or
    /// after `from` (the last acknowledged before those writes), and the
    /// last acknowledged one once every write was made. Then settles.
    fn replay_since(&mut self, from: usize) {
        let base = self.disk.image.clone();
        let log = &self.disk.log;
        for at in 0..=log.len() {
            let mut images: Vec<Vec<u8>> =
                [0, 8, 4].iter().map(|&keep| crash(&base, log, at, |i| if i % 2 == 0 { keep } else { 8 })).collect();
            if let Some(Op::Durable(sector, data)) = log.get(at) {
                // Torn both ways: its first sectors landed, or its last.
                for sectors in 1..8 {
                    let o = *sector as usize * 512;
                    let mut torn = crash(&base, log, at, |_| 0);
                    torn[o..o + sectors * 512].copy_from_slice(&data[..sectors * 512]);
                    images.push(torn);
                    let mut torn = crash(&base, log, at, |_| 0);
                    torn[o + sectors * 512..o + BLOCK].copy_from_slice(&data[sectors * 512..]);
                    images.push(torn);
                }
            }
            for image in images {
                let got = load(&image, &self.layout).unwrap_or_else(|| panic!("nothing loads after op {at}"));
                let state = (got.generation, got.table, got.alloc_next);
                let i = self.tried.iter().position(|t| *t == state);
                assert!(
                    i.is_some_and(|i| i >= from),
                    "op {at} of {}: generation {} loads, not a state tried since {}",
                    log.len(),
                    state.0,
                    self.tried[from].0
                );
                if at == log.len() {
                    assert!(i.unwrap() >= self.acked, "op {at}: the acknowledged generation is lost");
                }
            }
        }
        self.disk.settle();
    }

    /// Every metadata sector of region `copy`.
    fn region_sectors(&self, copy: u8) -> Vec<u64> {
        let start = self.layout.region_start(copy);
        (start..start + self.layout.region_sectors).step_by(8).collect()
    }
}

fn durable_writes(log: &[Op]) -> usize {
    log.iter().filter(|op| !matches!(op, Op::Flush)).count()
}

#[test]
fn a_one_remap_commit_writes_one_block_per_region_whatever_the_table_size() {
    for n in [0, 1000, 2000] {
        let mut w = Writer::new(n);
        for i in 0..5u64 {
            let done = w.remap(&[(7 + 10 * i, 1)]);
            assert_eq!(done.copies_written(), 2);
            assert_eq!(durable_writes(&w.disk.log), 2, "table of {n}: commit {i}");
            w.disk.settle();
            let got = load(&w.disk.image, &w.layout).unwrap();
            assert_eq!((got.generation, &got.table), (w.generation, &w.table));
        }
    }
}

#[test]
fn a_crash_anywhere_in_a_chain_and_its_folds_loads_an_acknowledged_table() {
    // 1000 extents: 4 entry blocks, a journal area of 8 blocks; 20 commits
    // fill it twice and fold twice, remapping blocks of the table again as
    // well as new ones.
    let mut w = Writer::new(1000);
    let cap = match w.slots.slots[0][0] {
        Slot::Holds { footprint, .. } => footprint.journal_blocks,
        Slot::Free => panic!("no copy"),
    };
    assert_eq!(cap, 8);
    let mut folds = 0;
    for i in 0..20u64 {
        let from = w.acked;
        let runs = [(5 * i, 2), (60_003 + i, 1)];
        assert_eq!(w.remap(&runs).copies_written(), 2);
        if durable_writes(&w.disk.log) > 2 {
            folds += 1;
        }
        w.replay_since(from);
    }
    assert!(folds >= 2, "a full area folds: {folds} folds");
}

#[test]
fn a_failing_region_folds_once_back_and_never_costs_an_acknowledged_table() {
    // Failed writes change nothing, or land all the same.
    for lands in [false, true] {
        let mut w = Writer::new(1000);
        w.disk.failed_lands = lands;
        for i in 0..3u64 {
            w.remap(&[(i * 5, 1)]);
            w.disk.settle();
        }
        // Region B fails: region A goes on alone, appending, and folding
        // when its area is full (8 blocks) without touching the chain that
        // holds the only copy of the newest table until the fold lands.
        w.disk.failing = w.region_sectors(1);
        let mut alone = [0, 0];
        for i in 0..12u64 {
            let from = w.acked;
            let done = w.remap(&[(100 + i, 1)]);
            assert!(done.a.is_ok() && done.b.is_err(), "commit {i}: {done:?}");
            let b_start = w.layout.region_b_start;
            // A full copy writes entry blocks before its superblock.
            alone[usize::from(w.disk.log.iter().any(|op| matches!(op, Op::Write(s, _) if *s < b_start)))] += 1;
            w.replay_since(from);
        }
        assert!(alone[1] >= 1 && alone[0] >= 8, "region A appended and folded alone: {alone:?}");
        assert_eq!(w.slots.appendable, [true, false]);
        // Both fail: nothing acknowledged, and neither region appends next.
        w.disk.failing.extend(w.region_sectors(0));
        let from = w.acked;
        assert_eq!(w.remap(&[(200, 1)]).copies_written(), 0);
        w.replay_since(from);
        assert_eq!(w.slots.appendable, [false, false]);
        // Healed: both regions fold, then append again.
        w.disk.failing.clear();
        let from = w.acked;
        assert_eq!(w.remap(&[(201, 1)]).copies_written(), 2);
        assert!(durable_writes(&w.disk.log) > 2, "a full copy in each region");
        w.replay_since(from);
        let from = w.acked;
        assert_eq!(w.remap(&[(202, 1)]).copies_written(), 2);
        assert_eq!(durable_writes(&w.disk.log), 2);
        w.replay_since(from);
    }
}

#[test]
fn a_change_larger_than_a_block_folds() {
    let mut w = Writer::new(100);
    let many: Vec<(u64, u16)> = (0..RECORDS_PER_BLOCK as u64 + 1).map(|i| (1000 + 2 * i, 1)).collect();
    let from = w.acked;
    assert_eq!(w.remap(&many).copies_written(), 2);
    assert!(durable_writes(&w.disk.log) > 2);
    w.replay_since(from);
}

#[derive(Clone, Debug)]
enum Step {
    Remap(Vec<(u64, u16)>),
    Fail(u8),
    Heal,
    Reload,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => prop::collection::vec((0u64..400, 1u16..4), 1..4).prop_map(|mut v| {
            v.sort();
            let mut end = 0;
            v.retain(|&(m, l)| {
                let keep = m >= end;
                if keep {
                    end = m + u64::from(l);
                }
                keep
            });
            Step::Remap(v)
        }),
        1 => (0u8..2).prop_map(Step::Fail),
        1 => Just(Step::Heal),
        1 => Just(Step::Reload),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random remaps, failing (and perhaps landing all the same) and
    /// healing regions, and reloads (a writer that knows only what it read,
    /// so it folds first): every crash point loads a table tried since the
    /// last acknowledged one.
    #[test]
    fn random_commits_failures_and_reloads_never_lose_a_table(
        n in prop_oneof![Just(0u64), Just(1000u64)],
        lands: bool,
        steps in prop::collection::vec(step(), 1..24),
    ) {
        let mut w = Writer::new(n);
        w.disk.failed_lands = lands;
        for s in steps {
            match s {
                Step::Remap(runs) => {
                    let from = w.acked;
                    w.remap(&runs);
                    w.replay_since(from);
                }
                Step::Fail(copy) => {
                    let more = w.region_sectors(copy);
                    w.disk.failing.extend(more);
                }
                Step::Heal => w.disk.failing.clear(),
                Step::Reload => {
                    let got = load(&w.disk.image, &w.layout).unwrap();
                    let i = w.tried.iter().position(|t| t.0 == got.generation).unwrap();
                    prop_assert!(i >= w.acked, "a reload finds the acknowledged table or a later one");
                    w.acked = i;
                    w.table = got.table;
                    w.alloc_next = w.alloc_next.max(got.alloc_next);
                    w.slots = got.slots;
                }
            }
        }
    }
}

#[test]
fn discovery_counts_chains_and_the_blocks_it_cannot_read() {
    let mut w = Writer::new(1000);
    for i in 0..3u64 {
        w.remap(&[(7 * i, 1)]);
        w.disk.settle();
    }
    // Region B misses the last two commits.
    w.disk.failing = w.region_sectors(1);
    for i in 3..5u64 {
        w.remap(&[(7 * i, 1)]);
    }
    w.disk.failing.clear();
    w.disk.settle();
    let got = load(&w.disk.image, &w.layout).unwrap();
    assert_eq!((got.generation, &got.table), (w.generation, &w.table));
    match got.slots.slots {
        [[Slot::Holds { base, chain: 5, generation, .. }, _], [Slot::Holds { chain: 3, generation: in_b, .. }, _]] => {
            assert_eq!((base, generation, in_b), (11, 16, 14));
        }
        other => panic!("{other:?}"),
    }
    let mut buf = vec![0u8; BLOCK];
    let seen = seen_generations(&mut w.disk, &w.layout, SECTORS, &mut buf);
    assert_eq!(seen, Seen { highest: 16, unread: false });
    // Region A's fourth journal block cannot be read: its chain may go on
    // past it (to 16), so a new commit goes a margin above what was read.
    let Slot::Holds { footprint, .. } = got.slots.slots[0][0] else { unreachable!() };
    let fourth = crate::slots::journal_sector(&w.layout, 0, &footprint, 3);
    let seen = seen_generations(&mut Unreadable(&mut w.disk, fourth), &w.layout, SECTORS, &mut buf);
    assert_eq!(seen, Seen { highest: 14, unread: true });
    assert_eq!(seen.to_go_above(), 14 + UNREAD_MARGIN);
}

#[test]
fn a_spare_is_unchanged_until_an_append_lands_or_another_table_commits() {
    let mut w = Writer::new(1000);
    w.remap(&[(3, 1)]);
    w.disk.settle();
    let mut buf = vec![0u8; BLOCK];
    assert!(slots_unchanged(&mut w.disk, &w.layout, &w.slots, &mut buf));
    // A commit that failed in both regions but landed in region A.
    w.disk.failed_lands = true;
    w.disk.failing = w.region_sectors(0);
    w.disk.failing.extend(w.region_sectors(1));
    let before = w.slots;
    assert_eq!(w.remap(&[(4, 1)]).copies_written(), 0);
    w.disk.settle();
    assert!(!slots_unchanged(&mut w.disk, &w.layout, &before, &mut buf), "the landed append is seen");
    // Another table loads and commits (a fold first): the first one sees it.
    let mut w2 = Writer::new(1000);
    w2.disk = w.disk.clone();
    w2.disk.failing.clear();
    let got = load(&w2.disk.image, &w2.layout).unwrap();
    (w2.table, w2.slots, w2.generation, w2.alloc_next) = (got.table, got.slots, got.generation, got.alloc_next);
    let mine = w.slots;
    w2.remap(&[(9, 1)]);
    w2.disk.settle();
    assert!(!slots_unchanged(&mut w2.disk, &w.layout, &mine, &mut buf));
}

// ---------------------------------------------------------------- review
mod review {
    use super::*;
    use crate::discover::attempted_at_load;
    use crate::slots::entry_sector;

    const FP: Fingerprint = Fingerprint { main_sectors: 1 << 20, main_logical_block_size: 512, block_bytes: 512 };

    /// T1 (live) and T2 (a reload, constructed while T1 still commits). At
    /// T2's construction one entry block of region A's newest copy fails to
    /// read (a transient error): T2 records that slot as Free. T1 then
    /// appends a remap (block 7003) to that very chain (region B's append fails and
    /// changes nothing): acknowledged. T2's preresume check
    /// (slots_unchanged) does not look at the chain of a slot it holds Free,
    /// so it goes live at the old generation, and its first commit (the
    /// repair of region A in catch_up) reuses T1's generation and overwrites
    /// the only copy of T1's acknowledged table.
    #[test]
    fn review_append_into_a_slot_the_reload_holds_free_is_missed() {
        let mut w = Writer::new(1000);
        w.remap(&[(3, 1)]); // generation 12: a chain of one block on slot 0 of each region
        w.disk.settle();
        let before_t1 = w.table.clone();
        let Slot::Holds { footprint: fa, .. } = w.slots.slots[0][0] else { panic!() };
        let bad = entry_sector(&w.layout, 0, &fa, 0);

        // T2 is constructed: discovery with A.0's first entry block unreadable.
        let mut buf = vec![0u8; BLOCK];
        let (t2_slots, t2_gen, t2_alloc) =
            match discover(&mut Unreadable(&mut w.disk, bad), SECTORS, &FP, false, &mut buf) {
                Discovery::Load { slots, tail, sb, .. } => (slots, tail.generation, sb.alloc_next),
                d => panic!("{d:?}"),
            };
        let seen = seen_generations(&mut Unreadable(&mut w.disk, bad), &w.layout, SECTORS, &mut buf);
        let t2_attempted = attempted_at_load(seen, t2_gen, 0, false);
        assert_eq!((t2_gen, t2_attempted), (12, 12));
        assert_eq!(t2_slots.slots[0][0], Slot::Free, "T2 holds A.0 free");

        // T1 commits generation 13, a remap of block 500: region A appends,
        // region B's write fails (nothing lands). Acknowledged.
        w.disk.failing = w.region_sectors(1);
        let done = w.remap(&[(7003, 1)]);
        assert_eq!(done.copies_written(), 1);
        w.disk.failing.clear();
        w.disk.settle();
        let t1_acked = (w.generation, w.table.clone());
        assert_eq!(load(&w.disk.image, &w.layout).map(|l| (l.generation, l.table)), Some(t1_acked.clone()));

        // T2's preresume: is the spare still what T2 loaded?
        let unchanged = slots_unchanged(&mut w.disk, &w.layout, &t2_slots, &mut buf);
        // T2 goes on (as the kernel does when unchanged): it lacks a copy in
        // region A, so catch_up commits its table again (change Some(&[])).
        let mut t2_slots = t2_slots;
        let s = Superblock { spare_sectors: SECTORS, ..sb(&w.layout, t2_attempted + 1, t2_alloc) };
        let done = commit_change(
            &mut w.disk,
            &w.layout,
            &mut t2_slots,
            &s,
            FORMAT_VERSION_3,
            &before_t1,
            Some(&[]),
            &mut buf,
        );
        w.disk.settle();
        let got = load(&w.disk.image, &w.layout).map(|l| (l.generation, l.table));
        eprintln!(
            "slots_unchanged = {unchanged}; T2 repair wrote {} copies at generation {}; T1 acknowledged generation {} with block 7003 remapped; now loads generation {:?}, block 7003 remapped: {:?}",
            done.copies_written(),
            s.generation,
            t1_acked.0,
            got.as_ref().map(|g| g.0),
            got.as_ref().map(|g| g.1.iter().any(|e| e.main <= 7003 && 7003 < e.main_end()))
        );
        assert!(!unchanged, "T1's acknowledged append (generation 13) is newer than what T2 loaded (12)");
        assert_eq!(got, Some(t1_acked), "T1's acknowledged commit is lost");
    }
    /// The same, but T2's repair commit fails in region A (nothing lands)
    /// and appends in region B: generation 13 is on the spare twice, with
    /// T1's table in region A and T2's in region B.
    #[test]
    fn review_same_generation_two_tables() {
        let mut w = Writer::new(1000);
        w.remap(&[(3, 1)]);
        w.disk.settle();
        let before_t1 = w.table.clone();
        let Slot::Holds { footprint: fa, .. } = w.slots.slots[0][0] else { panic!() };
        let bad = entry_sector(&w.layout, 0, &fa, 0);
        let mut buf = vec![0u8; BLOCK];
        let (mut t2_slots, t2_alloc) =
            match discover(&mut Unreadable(&mut w.disk, bad), SECTORS, &FP, false, &mut buf) {
                Discovery::Load { slots, sb, .. } => (slots, sb.alloc_next),
                d => panic!("{d:?}"),
            };
        w.disk.failing = w.region_sectors(1);
        assert_eq!(w.remap(&[(7003, 1)]).copies_written(), 1);
        w.disk.failing.clear();
        w.disk.settle();
        assert!(slots_unchanged(&mut w.disk, &w.layout, &t2_slots, &mut buf));
        w.disk.failing = w.region_sectors(0);
        let s = Superblock { spare_sectors: SECTORS, ..sb(&w.layout, 13, t2_alloc) };
        let done =
            commit_change(&mut w.disk, &w.layout, &mut t2_slots, &s, FORMAT_VERSION_3, &before_t1, Some(&[]), &mut buf);
        assert_eq!(done.copies_written(), 1);
        w.disk.failing.clear();
        w.disk.settle();
        // Each valid copy's generation and whether it maps block 7003.
        let mut copies = vec![];
        for copy in 0..2u8 {
            for slot in 0..2u8 {
                let mut t = vec![];
                let CopyState::Valid(v) = read_slot(&mut w.disk, &w.layout, copy, slot, &mut buf, |e| t.push(e)) else {
                    continue;
                };
                let mut overlay = vec![];
                let chain = read_journal(&mut w.disk, &w.layout, copy, &v, &mut buf, |h, b| {
                    overlay = apply(&overlay, &records(b, h).collect::<Vec<_>>());
                    true
                });
                let t = apply(&t, &overlay);
                copies.push((copy, slot, chain.generation, t.iter().any(|e| e.main == 7003)));
            }
        }
        eprintln!("(region, slot, generation, maps 7003): {copies:?}");
        let g13: Vec<_> = copies.iter().filter(|c| c.2 == 13).collect();
        assert!(g13.windows(2).all(|p| p[0].3 == p[1].3), "two copies of generation 13 hold different tables");
    }
    /// A journal block's header and CRC are all in its first sector; the
    /// other sectors of a block with few records are zeros. T1's append is
    /// torn by a crash with only its first sector landed over old non-zero
    /// data (the area is never cleared: an older chain's block, or what the
    /// disk held before the format): not a block. After the reboot T2 loads
    /// the previous generation, goes live, and appends at the same place;
    /// a crash tears that write the other way (its first sector lost, the
    /// zero sectors landed): T1's unacknowledged block is whole again and
    /// loads, on top of a table T2 went live with.
    #[test]
    fn review_torn_append_is_completed_by_the_next_writers_torn_append() {
        let mut w = Writer::new(1000);
        let Slot::Holds { footprint: fa, .. } = w.slots.slots[0][0] else { panic!() };
        let place = crate::slots::journal_sector(&w.layout, 0, &fa, 0) as usize * 512;
        // Old data in the journal area (sectors 1..7 of its first block).
        w.disk.image[place + 512..place + BLOCK].fill(0x5a);
        let before = (w.generation, w.table.clone());

        // T1: a one-remap commit of block 7003; crash while region A's
        // journal block is written: only its first sector lands.
        w.remap(&[(7003, 1)]);
        let log = w.disk.log.clone();
        let at = log.iter().position(|op| matches!(op, Op::Durable(s, _) if *s as usize * 512 == place)).unwrap();
        let Op::Durable(_, t1_block) = &log[at] else { unreachable!() };
        let mut image = crash(&w.disk.image, &log, at, |_| 0);
        image[place..place + 512].copy_from_slice(&t1_block[..512]);
        let got = load(&image, &w.layout).unwrap();
        assert_eq!((got.generation, &got.table), (before.0, &before.1), "T1's commit was not acknowledged");

        // T2 after the reboot: goes live at generation 11 and appends a
        // remap of block 9001 (generation 12) at the same place; a crash
        // tears it: its first sector lost, the others (zeros) landed.
        let mut t2 = Writer::new(0);
        t2.disk = Disk::of(image);
        (t2.table, t2.slots, t2.generation, t2.alloc_next) = (got.table, got.slots, got.generation, got.alloc_next);
        t2.tried = vec![(got.generation, t2.table.clone(), got.alloc_next)];
        t2.acked = 0;
        t2.remap(&[(9001, 1)]);
        let log = t2.disk.log.clone();
        let at = log.iter().position(|op| matches!(op, Op::Durable(s, _) if *s as usize * 512 == place)).unwrap();
        let Op::Durable(_, t2_block) = &log[at] else { unreachable!() };
        let mut image = crash(&t2.disk.image, &log, at, |_| 0);
        image[place + 512..place + BLOCK].copy_from_slice(&t2_block[512..]);
        let got = load(&image, &t2.layout).unwrap();
        let t1_change = got.table.iter().any(|e| e.main == 7003);
        eprintln!("after T2's torn append: generation {} loads; maps T1's block 7003: {t1_change}", got.generation);
        let state = (got.generation, got.table, got.alloc_next);
        assert!(t2.tried.contains(&state), "a table T2 never had loads (T1's unacknowledged change)");
    }
    /// The same torn T1 block after a crash; T2's append to it then FAILS
    /// (an error) with only its zero sectors landed, while region B takes
    /// T2's append: T2's commit of block 9001 is acknowledged. Generation 12
    /// is now T1's table in region A and T2's in region B; discovery picks
    /// region A on the tie, and T2's acknowledged commit is lost at the next
    /// load.
    #[test]
    fn review_failed_torn_append_makes_two_tables_of_one_generation() {
        let mut w = Writer::new(1000);
        let Slot::Holds { footprint: fa, .. } = w.slots.slots[0][0] else { panic!() };
        let place = crate::slots::journal_sector(&w.layout, 0, &fa, 0) as usize * 512;
        w.disk.image[place + 512..place + BLOCK].fill(0x5a);
        w.remap(&[(7003, 1)]);
        let log = w.disk.log.clone();
        let at = log.iter().position(|op| matches!(op, Op::Durable(s, _) if *s as usize * 512 == place)).unwrap();
        let Op::Durable(_, t1_block) = &log[at] else { unreachable!() };
        let mut image = crash(&w.disk.image, &log, at, |_| 0);
        image[place..place + 512].copy_from_slice(&t1_block[..512]);
        let got = load(&image, &w.layout).unwrap();
        assert_eq!(got.generation, 11);

        let mut t2 = Writer::new(0);
        t2.disk = Disk::of(image);
        (t2.table, t2.slots, t2.generation, t2.alloc_next) = (got.table, got.slots, got.generation, got.alloc_next);
        // Region A's journal block write fails (changing nothing here; its
        // zero sectors are made to land below).
        // The write reports an error; of its sectors only 1..7 land.
        t2.disk.failing = vec![(place / 512) as u64];
        t2.disk.failed_lands = true;
        let done = t2.remap(&[(9001, 1)]);
        assert_eq!(done.copies_written(), 1, "acknowledged by region B");
        let old_sector0 = t2.disk.image[place..place + 512].to_vec();
        for op in t2.disk.log.iter_mut() {
            if let Op::Durable(s, d) = op {
                if *s as usize * 512 == place {
                    assert!(d[512..].iter().all(|&b| b == 0), "T2's block: one record, sectors 1..7 zero");
                    d[..512].copy_from_slice(&old_sector0);
                }
            }
        }
        t2.disk.settle();

        let mut buf = vec![0u8; BLOCK];
        let mut copies = vec![];
        for copy in 0..2u8 {
            for slot in 0..2u8 {
                let mut t = vec![];
                let CopyState::Valid(v) = read_slot(&mut t2.disk, &t2.layout, copy, slot, &mut buf, |e| t.push(e)) else {
                    continue;
                };
                let mut overlay = vec![];
                let chain = read_journal(&mut t2.disk, &t2.layout, copy, &v, &mut buf, |h, b| {
                    overlay = apply(&overlay, &records(b, h).collect::<Vec<_>>());
                    true
                });
                let t = apply(&t, &overlay);
                copies.push((copy, slot, chain.generation, t.iter().any(|e| e.main == 7003), t.iter().any(|e| e.main == 9001)));
            }
        }
        eprintln!("(region, slot, generation, maps 7003 (T1, unacked), maps 9001 (T2, acked)): {copies:?}");
        let fp = Fingerprint { main_sectors: 1 << 20, main_logical_block_size: 512, block_bytes: 512 };
        let Discovery::Load { copy, slot, tail, .. } = discover(&mut t2.disk, SECTORS, &fp, false, &mut buf) else { panic!() };
        eprintln!("discovery loads region {copy} slot {slot}, generation {}", tail.generation);
        // Without any crash: T2's own suspend/resume sees a change and reloads (the table above).
        eprintln!("T2's preresume: slots_unchanged = {}", slots_unchanged(&mut t2.disk, &t2.layout, &t2.slots, &mut buf));
        let loaded = copies.iter().find(|c| (c.0, c.1) == (copy, slot)).unwrap();
        assert!(loaded.4 && !loaded.3, "T2's acknowledged commit is lost; T1's unacknowledged one loads");
    }
}




mod review_perf {
    use super::*;
    use crate::slots::journal_area;

    /// How long a journal area can be, and how long gathering a chain of
    /// one-record blocks takes as the kernel's apply_chain does it (each
    /// block applied to the growing overlay).
    #[test]
    fn review_journal_area_sizes_and_gather_cost() {
        for (name, sectors, bs) in [("1 GiB/4K", 1u64 << 21, 4096u32), ("100 GiB/4K", 100 << 21, 4096), ("1 TiB/4K", 1 << 31, 4096), ("1 TiB/512", 1 << 31, 512)] {
            let l = SpareLayout::new(sectors, bs).unwrap();
            let r = l.region_meta_blocks();
            eprintln!("{name}: region {} blocks, journal area of an empty table {:?}, of 1M extents {:?}", r, journal_area(0, 0, r), journal_area(0, 1_000_000u64.div_ceil(252), r));
        }
        for j in [5_000u64, 10_000, 20_000] {
            let t = std::time::Instant::now();
            let mut overlay: Vec<Extent> = vec![];
            for i in 0..j {
                let run = [Extent { main: 2 * i, spare: i as u32, len: 1, state: Default::default() }];
                overlay = apply(&overlay, &run);
            }
            eprintln!("gather of {j} one-record blocks: {:?}", t.elapsed());
        }
        for j in [500u64, 1000, 2000] {
            let t = std::time::Instant::now();
            let mut overlay: Vec<Extent> = vec![];
            for i in 0..j {
                let runs: Vec<Extent> = (0..RECORDS_PER_BLOCK as u64)
                    .map(|k| Extent { main: 2 * (i * 252 + k), spare: (i * 252 + k) as u32, len: 1, state: Default::default() })
                    .collect();
                overlay = apply(&overlay, &runs);
            }
            eprintln!("gather of {j} full (252-record) blocks: {:?}", t.elapsed());
        }
    }
}
