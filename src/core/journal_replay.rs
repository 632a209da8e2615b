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
use crate::journal::RECORDS_PER_BLOCK;
use crate::load::{applied, apply_journal, read_slot, CopyState, MetaIo, ReadFailed, Tail};
use crate::slots::{entry_sector, footprint_of, journal_sector, superblock_sector, Slot, Slots};
use proptest::prelude::*;

/// A spare of 2 MiB: regions of 36 blocks, so that tables of a few
/// thousand extents leave journal areas of a few blocks.
const SECTORS: u64 = 4096;

fn layout() -> SpareLayout {
    SpareLayout::new(SECTORS, 512).unwrap()
}

fn apply(table: &[Extent], runs: &[Extent]) -> Vec<Extent> {
    applied(table, runs).unwrap()
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
            // The chain applied as the kernel's load and the tool do.
            let mut runs = vec![Extent::default(); RECORDS_PER_BLOCK];
            let (chain, table) =
                apply_journal::<Vec<Extent>>(&mut disk, layout, copy, &sb, &checkpoint, u32::MAX, &mut runs, &mut buf);
            let got = Loaded {
                generation: chain.generation,
                table: table.unwrap().unwrap_or(checkpoint),
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

/// A change: fewer than `count` runs of fewer than `len` blocks in main
/// blocks 0..400, sorted, without overlap.
fn disjoint_runs(len: u16, count: usize) -> impl Strategy<Value = Vec<(u64, u16)>> {
    prop::collection::vec((0u64..400, 1u16..len), 1..count).prop_map(|mut v| {
        v.sort();
        let mut end = 0;
        v.retain(|&(m, l)| {
            let keep = m >= end;
            if keep {
                end = m + u64::from(l);
            }
            keep
        });
        v
    })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => disjoint_runs(4, 4).prop_map(Step::Remap),
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

/// Found by review: a table loaded beside the live one (a reload) could
/// not read an entry block of region A's newest copy, so it holds that
/// slot free. The live table then appends an acknowledged commit to that
/// very chain (region B's append fails). The reload's preresume must see
/// it, or its first commit folds over the only copy of that table.
#[test]
fn a_reload_sees_an_append_to_a_copy_it_holds_free() {
    let fp = Fingerprint { main_sectors: 1 << 20, main_logical_block_size: 512, block_bytes: 512 };
    let mut w = Writer::new(1000);
    w.remap(&[(3, 1)]); // generation 12: a chain of one block on slot 0 of each region
    w.disk.settle();
    let Slot::Holds { footprint: fa, .. } = w.slots.slots[0][0] else { panic!() };
    let bad = entry_sector(&w.layout, 0, &fa, 0);
    let mut buf = vec![0u8; BLOCK];
    let reload = match discover(&mut Unreadable(&mut w.disk, bad), SECTORS, &fp, false, &mut buf) {
        Discovery::Load { slots, tail, .. } => {
            assert_eq!(tail.generation, 12);
            slots
        }
        d => panic!("{d:?}"),
    };
    assert_eq!(reload.slots[0][0], Slot::Free, "the reload holds A.0 free");
    assert!(slots_unchanged(&mut w.disk, &w.layout, &reload, &mut buf));
    w.disk.failing = w.region_sectors(1);
    assert_eq!(w.remap(&[(7003, 1)]).copies_written(), 1, "acknowledged by region A's append");
    w.disk.failing.clear();
    w.disk.settle();
    assert!(!slots_unchanged(&mut w.disk, &w.layout, &reload, &mut buf), "the append to A.0 is seen");
    // So is a block of that chain that cannot be read.
    let Slot::Holds { footprint: fa, .. } = w.slots.slots[0][0] else { panic!() };
    let first = journal_sector(&w.layout, 0, &fa, 0);
    assert!(!slots_unchanged(&mut Unreadable(&mut w.disk, first), &w.layout, &reload, &mut buf));
}

/// Found by review: a journal block of few records is whole with its first
/// sector (the others are zeros). A table's append torn by a crash with
/// only that sector landed (over old data: not a block) must never be
/// completed by the next table writing the zero sectors of its own block
/// at that place: after a load the first commit folds, so no other table
/// writes the place, and every crash point of its commits (writes torn
/// both ways) loads a table it tried.
#[test]
fn a_torn_append_is_never_completed_by_the_next_table() {
    for failing_region_a in [false, true] {
        let mut w = Writer::new(1000);
        let Slot::Holds { footprint: fa, .. } = w.slots.slots[0][0] else { panic!() };
        let place = journal_sector(&w.layout, 0, &fa, 0);
        let before = (w.generation, w.table.clone());
        w.remap(&[(7003, 1)]);
        let log = w.disk.log.clone();
        let at = log.iter().position(|op| matches!(op, Op::Durable(s, _) if *s == place)).unwrap();
        let Op::Durable(_, t1_block) = &log[at] else { unreachable!() };
        let mut image = crash(&w.disk.image, &log, at, |_| 0);
        let o = place as usize * 512;
        image[o..o + 512].copy_from_slice(&t1_block[..512]);
        let got = load(&image, &w.layout).unwrap();
        assert_eq!((got.generation, &got.table), (before.0, &before.1), "the torn block is not one");

        let mut t2 = Writer::new(0);
        t2.disk = Disk::of(image);
        (t2.table, t2.slots, t2.generation, t2.alloc_next) = (got.table, got.slots, got.generation, got.alloc_next);
        t2.tried = vec![(got.generation, t2.table.clone(), got.alloc_next)];
        t2.acked = 0;
        if failing_region_a {
            t2.disk.failing = t2.region_sectors(0);
            t2.disk.failed_lands = true;
        }
        let from = t2.acked;
        t2.remap(&[(9001, 1)]);
        assert!(
            !t2.disk.log.iter().any(|op| matches!(op, Op::Durable(s, _) if *s == place)),
            "the next table writes the torn block's place"
        );
        t2.replay_since(from);
        t2.disk.failing.clear();
        for main in [9002, 9003] {
            let from = t2.acked;
            t2.remap(&[(main, 1)]);
            t2.replay_since(from);
        }
    }
}

/// `dmsetup reload` constructs a table while the old one is live and
/// committing. Discovery reads the newest copy's tail, then the kernel's
/// `Metadata::apply_chain` applies the chain and refuses the spare (EIO,
/// "Spare metadata changed while it was being loaded") unless it is the
/// chain discovery saw. In version 2 the live table's next commit wrote
/// the *other* slot, so the copy being loaded stayed as discovered; in
/// version 3 its common commit appends to that very chain, so the load
/// applies only the blocks discovery saw (the preresume sees the rest).
/// Fails when the whole chain is applied: one remap in the window failed
/// the reload (review of journal-v3).
#[test]
fn a_reload_survives_an_append_between_discovery_and_its_read() {
    let fp = Fingerprint { main_sectors: 1 << 20, main_logical_block_size: 512, block_bytes: 512 };
    let mut w = Writer::new(1000);
    w.remap(&[(3, 1)]);
    w.disk.settle();
    let discovered = w.table.clone();
    let mut buf = vec![0u8; BLOCK];
    let Discovery::Load { copy, slot, sb, tail, .. } = discover(&mut w.disk, SECTORS, &fp, false, &mut buf) else {
        panic!()
    };
    // The live table remaps one block meanwhile (acknowledged).
    assert_eq!(w.remap(&[(4, 1)]).copies_written(), 2);
    w.disk.settle();
    // What the kernel's read_table then checks.
    let mut checkpoint = vec![];
    assert_eq!(read_slot(&mut w.disk, &w.layout, copy, slot, &mut buf, |e| checkpoint.push(e)), CopyState::Valid(sb));
    let mut runs = vec![Extent::default(); RECORDS_PER_BLOCK];
    let (chain, table) =
        apply_journal::<Vec<Extent>>(&mut w.disk, &w.layout, copy, &sb, &checkpoint, tail.blocks, &mut runs, &mut buf);
    assert_eq!(table.unwrap().unwrap_or(checkpoint), discovered, "the table discovery saw");
    assert_eq!(
        (chain.generation, chain.blocks),
        (tail.generation, tail.blocks),
        "the reload's constructor fails: the chain it discovered went on"
    );
}

/// Steps of a machine that crashes for real and
/// restarts the way the kernel does: generations after a load go on from
/// what the load saw (`attempted_at_load`), not from what the crashed
/// writer tried; a load above which something unreadable or newer was
/// seen commits itself again; a load with one region behind repairs it.
#[derive(Clone, Debug)]
enum KStep {
    Remap(Vec<(u64, u16)>),
    /// Remap, then crash at op `at` (modulo the log) with volatile writes
    /// kept `keep` sectors and the crash op's durable write torn `tear`
    /// (0: whole or not at all; 1..7 its first sectors; 9..15 its last).
    RemapCrash(Vec<(u64, u16)>, usize, usize, usize),
    Fail(u8),
    Heal,
    Lands(bool),
}

fn kstep() -> impl Strategy<Value = KStep> {
    prop_oneof![
        6 => disjoint_runs(4, 4).prop_map(KStep::Remap),
        3 => (disjoint_runs(4, 4), 0usize..64, prop_oneof![Just(0usize), Just(4), Just(8)], 0usize..16)
            .prop_map(|(r, at, keep, tear)| KStep::RemapCrash(r, at, keep, tear)),
        1 => (0u8..2).prop_map(KStep::Fail),
        1 => Just(KStep::Heal),
        1 => any::<bool>().prop_map(KStep::Lands),
    ]
}

/// Lands part of the write `op` (the one a crash interrupted) on `image`:
/// nothing when `tear` is 0 or 8, its first `tear` sectors for 1..7, its
/// last `16 - tear` for 9..15.
fn tear_into(image: &mut [u8], op: Option<&Op>, tear: usize) {
    let Some(Op::Durable(sector, data) | Op::Write(sector, data)) = op else { return };
    let o = *sector as usize * 512;
    if (1..8).contains(&tear) {
        image[o..o + tear * 512].copy_from_slice(&data[..tear * 512]);
    } else if (9..16).contains(&tear) {
        let s = tear - 8;
        image[o + s * 512..o + BLOCK].copy_from_slice(&data[s * 512..]);
    }
}

impl Writer {
    /// Loads `image` as a restarted kernel does and goes on from it.
    fn restart(&mut self, image: Vec<u8>) -> Result<(), TestCaseError> {
        self.disk.image = image;
        self.disk.log.clear();
        let got = load(&self.disk.image, &self.layout).ok_or_else(|| TestCaseError::fail("nothing loads"))?;
        let state = (got.generation, got.table.clone(), got.alloc_next);
        let i = self.tried.iter().rposition(|t| *t == state);
        prop_assert!(
            i.is_some_and(|i| i >= self.acked),
            "restart loads generation {}, not a table tried since the acknowledged {}",
            got.generation,
            self.tried[self.acked].0
        );
        self.acked = i.unwrap();
        self.table = got.table;
        self.alloc_next = self.alloc_next.max(got.alloc_next);
        self.slots = got.slots;
        let mut buf = vec![0u8; BLOCK];
        let seen = seen_generations(&mut self.disk, &self.layout, SECTORS, &mut buf);
        self.generation = crate::discover::attempted_at_load(seen, got.generation, 0, false);
        let table = self.table.clone();
        if self.generation > got.generation {
            self.commit(&table, Some(&[]));
            self.disk.settle();
        }
        if self.slots.copies() < 2 {
            self.commit(&table, Some(&[]));
            self.disk.settle();
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("REPLAY_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256), ..ProptestConfig::default() })]

    #[test]
    fn real_crashes_and_kernel_restarts_never_lose_a_table(
        n in prop_oneof![Just(0u64), Just(1000u64)],
        steps in prop::collection::vec(kstep(), 1..30),
    ) {
        let mut w = Writer::new(n);
        for s in steps {
            match s {
                KStep::Remap(runs) => {
                    w.remap(&runs);
                    w.disk.settle();
                }
                KStep::RemapCrash(runs, at, keep, tear) => {
                    let base = w.disk.image.clone();
                    let (acked_before, table_before) = (w.acked, w.table.clone());
                    w.remap(&runs);
                    let log = w.disk.log.clone();
                    let at = at % (log.len() + 1);
                    let mut image = crash(&base, &log, at, |i| if i % 2 == 0 { keep } else { 8 });
                    tear_into(&mut image, log.get(at).filter(|op| matches!(op, Op::Durable(..))), tear);
                    // A crash acknowledges nothing the commit did unless it
                    // returned (`at` past the log).
                    if at < log.len() {
                        // The commit did not return: roll back its ack.
                        (w.acked, w.table) = (acked_before, table_before);
                    }
                    let failing = std::mem::take(&mut w.disk.failing);
                    w.restart(image)?;
                    w.disk.failing = failing;
                }
                KStep::Fail(copy) => {
                    let more = w.region_sectors(copy);
                    w.disk.failing.extend(more);
                }
                KStep::Heal => w.disk.failing.clear(),
                KStep::Lands(l) => w.disk.failed_lands = l,
            }
        }
    }
}

/// What the kernel's constructor loads through `io` (discovery, then the
/// chosen copy's checkpoint and chain), and what it must go above.
fn kernel_open(io: &mut impl MetaIo, layout: &SpareLayout) -> Option<(State, Slots, Seen)> {
    let fp = Fingerprint { main_sectors: 1 << 20, main_logical_block_size: 512, block_bytes: 512 };
    let mut buf = vec![0u8; BLOCK];
    let Discovery::Load { copy, slot, sb, tail, slots, .. } = discover(io, SECTORS, &fp, false, &mut buf) else {
        return None;
    };
    let mut checkpoint = vec![];
    if read_slot(io, layout, copy, slot, &mut buf, |e| checkpoint.push(e)) != CopyState::Valid(sb) {
        return None;
    }
    let state = constructor_chain(io, layout, copy, &sb, &tail, checkpoint).ok().flatten()?;
    let seen = seen_generations(io, layout, SECTORS, &mut buf);
    Some((state, slots, seen))
}

/// What a reload's constructor applies after discovery saw `tail` on the
/// copy `sb` (region `copy`) whose checkpoint holds `checkpoint`: the
/// chain's first `tail.blocks` blocks, as the kernel's `apply_chain`;
/// `None` when it refuses the spare (the chain changed under it).
fn constructor_chain(
    io: &mut impl MetaIo,
    layout: &SpareLayout,
    copy: u8,
    sb: &Superblock,
    tail: &Tail,
    checkpoint: Vec<Extent>,
) -> Result<Option<State>, TestCaseError> {
    if tail.blocks == 0 {
        return Ok(Some((sb.generation, checkpoint, sb.alloc_next)));
    }
    let mut buf = vec![0u8; BLOCK];
    let mut runs = vec![Extent::default(); RECORDS_PER_BLOCK];
    let (chain, table) =
        apply_journal::<Vec<Extent>>(io, layout, copy, sb, &checkpoint, tail.blocks, &mut runs, &mut buf);
    let table = table.map_err(|e| TestCaseError::fail(format!("the chain does not apply: {e:?}")))?;
    if (chain.generation, chain.blocks) != (tail.generation, tail.blocks) {
        return Ok(None);
    }
    Ok(Some((chain.generation, table.unwrap_or(checkpoint), chain.alloc_next.unwrap_or(sb.alloc_next))))
}

impl Writer {
    /// The `i`th sector (modulo their number) of the two regions.
    fn metadata_sector(&self, i: usize) -> u64 {
        let mut sectors = self.region_sectors(0);
        sectors.extend(self.region_sectors(1));
        sectors[i % sectors.len()]
    }
}

/// A reload's preresume (the old table suspended for good): when a slot
/// or chain changed since the constructor loaded `state`, a load again.
/// What goes live must be the acknowledged table or one tried after it.
fn preresume(w: &mut Writer, state: State, slots: Slots, attempted: u64) -> Result<(State, Slots, u64), TestCaseError> {
    let mut buf = vec![0u8; BLOCK];
    let (mut state, mut slots, mut attempted) = (state, slots, attempted);
    if !slots_unchanged(&mut w.disk, &w.layout, &slots, &mut buf) {
        let Some((s, sl, seen)) = kernel_open(&mut w.disk, &w.layout) else {
            return Err(TestCaseError::fail("the reload loads nothing"));
        };
        prop_assert!(s.0 >= state.0, "went back");
        attempted = crate::discover::attempted_at_load(seen, s.0, attempted, false);
        (state, slots) = (s, sl);
    }
    let live = w.tried.iter().rposition(|t| *t == state);
    prop_assert!(
        live.is_some_and(|i| i >= w.acked),
        "the new table goes live with generation {} ({} extents), the old one acknowledged generation {} ({} extents)",
        state.0,
        state.1.len(),
        w.tried[w.acked].0,
        w.tried[w.acked].1.len()
    );
    Ok((state, slots, attempted))
}

/// The reloaded table takes over the disk (what `preresume` let live),
/// commits again when its load saw something newer or one region behind,
/// then remaps `remaps`: no crash point of its commits loses a table.
fn goes_live(
    w: &mut Writer,
    state: State,
    slots: Slots,
    attempted: u64,
    remaps: &[(u64, u16)],
) -> Result<(), TestCaseError> {
    w.acked = w.tried.iter().rposition(|t| *t == state).unwrap_or(w.acked);
    w.table = state.1.clone();
    w.alloc_next = w.alloc_next.max(state.2);
    w.slots = slots;
    w.generation = attempted;
    w.disk.failed_lands = false;
    if attempted > state.0 || w.slots.copies() < 2 {
        let from = w.acked;
        let t = w.table.clone();
        w.commit(&t, Some(&[]));
        w.replay_since(from);
    }
    for &(m, l) in remaps {
        let from = w.acked;
        w.remap(&[(m, l)]);
        w.replay_since(from);
    }
    let got = load(&w.disk.image, &w.layout).unwrap();
    prop_assert_eq!((got.generation, &got.table), (w.generation, &w.table));
    Ok(())
}

#[derive(Clone, Debug)]
enum T1Step {
    Remap(Vec<(u64, u16)>),
    Fail(u8),
    Heal,
    Lands(bool),
}

fn t1step() -> impl Strategy<Value = T1Step> {
    prop_oneof![
        5 => disjoint_runs(3, 3).prop_map(T1Step::Remap),
        1 => (0u8..2).prop_map(T1Step::Fail),
        1 => Just(T1Step::Heal),
        1 => any::<bool>().prop_map(T1Step::Lands),
    ]
}

fn run_t1(w: &mut Writer, steps: &[T1Step]) {
    for s in steps {
        match s {
            T1Step::Remap(r) => {
                w.remap(r);
                w.disk.settle();
            }
            T1Step::Fail(c) => {
                let more = w.region_sectors(*c);
                w.disk.failing.extend(more);
            }
            T1Step::Heal => w.disk.failing.clear(),
            T1Step::Lands(l) => w.disk.failed_lands = *l,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("REPLAY_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256), ..ProptestConfig::default() })]

    /// A reload. T1 commits; T2 is constructed (some
    /// metadata block perhaps unreadable to it then); T1 goes on
    /// committing (failing regions, writes landing despite errors); then
    /// T2's preresume: `slots_unchanged`, else a load. What T2 goes live
    /// with must be T1's acknowledged table or one T1 tried after it, and
    /// T2's own commits then never lose a table at any crash point.
    #[test]
    fn a_reload_beside_a_committing_table_goes_live_with_its_newest(
        n in prop_oneof![Just(0u64), Just(1000u64)],
        before in prop::collection::vec(t1step(), 0..14),
        unreadable in prop::option::of(0usize..72),
        after in prop::collection::vec(t1step(), 0..10),
        t2_remaps in prop::collection::vec((400u64..800, 1u16..3), 1..5),
    ) {
        let mut w = Writer::new(n);
        run_t1(&mut w, &before);
        // T2's constructor.
        let bad = unreadable.map(|i| w.metadata_sector(i));
        let opened = match bad {
            Some(b) => kernel_open(&mut Unreadable(&mut w.disk, b), &w.layout),
            None => kernel_open(&mut w.disk, &w.layout),
        };
        let Some((state, slots, seen)) = opened else { return Ok(()) };
        let attempted = crate::discover::attempted_at_load(seen, state.0, 0, false);
        run_t1(&mut w, &after);
        // T2's preresume (T1 suspended for good).
        w.disk.failing.clear();
        let (state, slots, attempted) = preresume(&mut w, state, slots, attempted)?;
        goes_live(&mut w, state, slots, attempted, &t2_remaps)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("REPLAY_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64), ..ProptestConfig::default() })]

    /// Review of 4772914: T1 commits *inside* T2's constructor: between discovery
    /// and the checkpoint's read (`mid1`), between that and the chain's
    /// read (`mid2`), and after (`after`), then T2's preresume. T2's
    /// constructor either refuses or loads exactly what discovery saw (a
    /// table T1 tried); what goes live is T1's acknowledged or newer.
    #[test]
    fn commits_inside_a_reloads_constructor(
        n in prop_oneof![Just(0u64), Just(1000u64)],
        before in prop::collection::vec(t1step(), 0..14),
        unreadable in prop::option::of(0usize..72),
        mid1 in prop::collection::vec(t1step(), 0..10),
        mid2 in prop::collection::vec(t1step(), 0..10),
        after in prop::collection::vec(t1step(), 0..6),
        t2_remaps in prop::collection::vec((400u64..800, 1u16..3), 1..4),
    ) {
        let fp = Fingerprint { main_sectors: 1 << 20, main_logical_block_size: 512, block_bytes: 512 };
        let mut w = Writer::new(n);
        run_t1(&mut w, &before);
        let bad = unreadable.map(|i| w.metadata_sector(i));
        let mut buf = vec![0u8; BLOCK];
        let d = match bad {
            Some(b) => discover(&mut Unreadable(&mut w.disk, b), SECTORS, &fp, false, &mut buf),
            None => discover(&mut w.disk, SECTORS, &fp, false, &mut buf),
        };
        let Discovery::Load { copy, slot, sb, tail, slots, .. } = d else { return Ok(()) };
        run_t1(&mut w, &mid1);
        let mut checkpoint = vec![];
        if read_slot(&mut w.disk, &w.layout, copy, slot, &mut buf, |e| checkpoint.push(e)) != CopyState::Valid(sb) {
            return Ok(());
        }
        run_t1(&mut w, &mid2);
        let Some(state) = constructor_chain(&mut w.disk, &w.layout, copy, &sb, &tail, checkpoint)? else {
            return Ok(());
        };
        prop_assert!(w.tried.contains(&state), "the constructor loads a table nobody tried: generation {}", state.0);
        let seen = seen_generations(&mut w.disk, &w.layout, SECTORS, &mut buf);
        let attempted = crate::discover::attempted_at_load(seen, state.0, 0, false);
        run_t1(&mut w, &after);
        w.disk.failing.clear();
        let (state, slots, attempted) = preresume(&mut w, state, slots, attempted)?;
        goes_live(&mut w, state, slots, attempted, &t2_remaps)?;
    }

    /// Review of 4772914: T2's discovery reads while T1's commit is in flight (any
    /// prefix of its writes, the next one torn), then T1's writes land and
    /// T1 goes on; T2's constructor reads the chain (limited to what
    /// discovery saw) and its preresume decides.
    #[test]
    fn discovery_beside_an_in_flight_commit(
        n in prop_oneof![Just(0u64), Just(1000u64)],
        before in prop::collection::vec(t1step(), 0..14),
        runs in disjoint_runs(3, 3),
        at in 0usize..64,
        tear in 0usize..16,
        mid in prop::collection::vec(t1step(), 0..6),
    ) {
        let fp = Fingerprint { main_sectors: 1 << 20, main_logical_block_size: 512, block_bytes: 512 };
        let mut w = Writer::new(n);
        run_t1(&mut w, &before);
        let base = w.disk.image.clone();
        w.remap(&runs);
        let log = w.disk.log.clone();
        let at = at % (log.len() + 1);
        let mut image = crash(&base, &log, at, |_| 8);
        tear_into(&mut image, log.get(at), tear);
        let mut buf = vec![0u8; BLOCK];
        let d = discover(&mut Disk::of(image), SECTORS, &fp, false, &mut buf);
        w.disk.settle();
        let Discovery::Load { copy, slot, sb, tail, slots, .. } = d else { return Ok(()) };
        run_t1(&mut w, &mid);
        let mut checkpoint = vec![];
        if read_slot(&mut w.disk, &w.layout, copy, slot, &mut buf, |e| checkpoint.push(e)) != CopyState::Valid(sb) {
            return Ok(());
        }
        let Some(state) = constructor_chain(&mut w.disk, &w.layout, copy, &sb, &tail, checkpoint)? else {
            return Ok(());
        };
        prop_assert!(w.tried.contains(&state), "the constructor loads a table nobody tried: generation {}", state.0);
        w.disk.failing.clear();
        preresume(&mut w, state, slots, 0)?;
    }
}

/// Discovery's chain ends at a block whose cursor passes the pool
/// (`read_chain`'s `cursor_max`), and so does the preresume's view
/// (`slots_unchanged`, `chain_goes_on`): both use `journal::chain_next`.
/// When `chain_goes_on` read that block as the chain going on (review of
/// 4772914; fails without `chain_next` there), a spare nobody changed
/// never counted as unchanged, so every resume of a table on it loaded
/// the table again ("metadata changed since generation ... was loaded").
#[test]
fn a_block_past_the_pool_is_not_a_change() {
    let fp = Fingerprint { main_sectors: 1 << 20, main_logical_block_size: 512, block_bytes: 512 };
    let mut w = Writer::new(1000);
    w.remap(&[(3, 1)]);
    w.disk.settle();
    let Slot::Holds { footprint, base, chain, generation } = w.slots.slots[0][0] else { panic!() };
    // Region A's next chain place: a well-formed block but for its cursor.
    let s = Superblock { spare_sectors: SECTORS, ..sb(&w.layout, base, 0) };
    let place = crate::journal::ChainPlace { uuid: s.uuid, copy: 0, base, index: chain };
    let mut block = vec![0u8; BLOCK];
    let run = Extent { main: 900, spare: 1, len: 1, state: Default::default() };
    crate::journal::encode_journal_block(&mut block, &place, generation + 1, w.layout.pool_blocks + 1, &[run]).unwrap();
    let at = journal_sector(&w.layout, 0, &footprint, u64::from(chain)) as usize * 512;
    w.disk.image[at..at + BLOCK].copy_from_slice(&block);
    let mut buf = vec![0u8; BLOCK];
    let Discovery::Load { tail, slots, .. } = discover(&mut w.disk, SECTORS, &fp, false, &mut buf) else { panic!() };
    assert_eq!((tail.generation, tail.blocks), (generation, chain), "the block past the pool ends the chain");
    assert!(
        slots_unchanged(&mut w.disk, &w.layout, &slots, &mut buf),
        "a spare just discovered, unchanged since, counts as changed"
    );
}
