// SPDX-License-Identifier: GPL-2.0
//! Deterministic simulation of dm-remap's engine (`src/core/engine`).
//!
//! One seed is one run: writers, readers and flushes from several threads,
//! `remap` messages, scans, policy changes and injected faults
//! from a control thread (media and transient errors on either device, failing metadata
//! regions), a device that completes queued I/O in random order with a
//! volatile cache, and the recovery worker; all interleaved by shuttle's
//! seeded random scheduler, at every shared access. Optionally a crash at
//! a random device write: what the devices held then is loaded again and
//! checked. Checked throughout and at the end:
//!
//! - every read returns a value the workload may see (an acknowledged
//!   write, unless a later one replaced it; never someone else's data or
//!   old spare contents; an error only where a fault was injected);
//! - writes succeed while remapping can place them (no fault on the spare,
//!   `auto_remap` on);
//! - every bio completes (a stranded bio is a hang), held and queued lists
//!   end empty, and no block is both remapped and pending;
//! - every table committed is consistent (no spare block owned twice,
//!   none in region B) and generations only go up;
//! - after a crash the spare loads (never refused), at a generation no
//!   older than the last acknowledged commit, and every write a completed
//!   flush covered reads back.
//!
//! A failing seed is reported and replays exactly: `SIM_SEED=<n> cargo
//! test -p dm-remap-sim replay -- --nocapture`.

pub mod abandoned;
pub mod disk;
pub mod oracle;
pub mod target;

use shuttle::rand::Rng;
use shuttle::scheduler::{PctScheduler, RandomScheduler};
use shuttle::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use shuttle::sync::Mutex;
use shuttle::{thread, Config as ShuttleConfig, MaxSteps, Runner};

use dm_remap_core::discover::{discover, Discovery, Fingerprint};
use dm_remap_core::engine::{ChangeFailed, Op};
use dm_remap_core::extent::{self, Extent};
use dm_remap_core::format::BLOCK;
use dm_remap_core::load::read_slot;
use dm_remap_core::policy::Policies;
use dm_remap_core::slots::{superblock_sector, SLOTS};
use dm_remap_core::table_check::{check_table, Scratch};

use oracle::Oracle;
use target::{decode, DirectSpare, Rcu, Target, BS};

/// The shape of a run.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Blocks of the main device.
    pub main_blocks: u64,
    /// Sectors of the spare.
    pub spare_sectors: u64,
    /// Threads issuing I/O, and bios each issues.
    pub submitters: usize,
    pub ops: usize,
    /// Actions of the control thread (messages, faults, policies).
    pub controls: usize,
    /// Whether to crash at a random device write.
    pub crash: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self { main_blocks: 24, spare_sectors: 512, submitters: 2, ops: 24, controls: 12, crash: true }
    }
}

impl Config {
    /// The shape seed `seed` runs: mostly the default, sometimes smaller
    /// or busier, so that seeds explore crowded and sparse tables alike.
    pub fn for_seed(seed: u64) -> Self {
        let d = Self::default();
        match seed % 8 {
            0 => Self { main_blocks: 8, ops: 32, ..d },
            1 => Self { submitters: 3, ops: 20, controls: 16, ..d },
            2 => Self { main_blocks: 48, spare_sectors: 1024, ops: 40, ..d },
            3 => Self { submitters: 1, ops: 48, controls: 24, ..d },
            4 => Self { crash: false, ..d },
            // A crowd on four blocks: messages, faults, policy changes and
            // I/O meet on the same blocks all the time.
            5 => Self { main_blocks: 4, submitters: 3, ops: 16, controls: 30, ..d },
            _ => d,
        }
    }
}

/// What one run did, for the figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub bios: u64,
    pub device_ios: u64,
    pub crashed: bool,
}

fn picks(rng: &mut impl Rng, blocks: u64) -> (u64, u64) {
    let n = rng.gen_range(1..=3u64).min(blocks);
    (rng.gen_range(0..=blocks - n), n)
}

/// One submitter: writes, reads, flushes and write-zeroes, each checked
/// against the oracle. Returns the writes that failed without an excuse.
fn submitter(t: &Target, oracle: &Mutex<Oracle>, cfg: &Config, bios: &AtomicU64) -> Vec<String> {
    let mut rng = shuttle::rand::thread_rng();
    let mut failures = vec![];
    for _ in 0..cfg.ops {
        bios.fetch_add(1, Ordering::SeqCst);
        let (block, n) = picks(&mut rng, cfg.main_blocks);
        match rng.gen_range(0..100) {
            0..=64 => {
                let zeroes = rng.gen_range(0..10) == 0;
                let op = if zeroes { Op::WriteZeroes } else { Op::Write };
                let fua = rng.gen_range(0..10) == 0;
                let ids: Vec<u64> = {
                    let mut o = oracle.lock().unwrap_or_else(|e| e.into_inner());
                    (0..n)
                        .map(|k| {
                            let id = o.tag();
                            o.write_start(block + k, id, if zeroes { 0 } else { id });
                            id
                        })
                        .collect()
                };
                let data = if zeroes { vec![0; n as usize] } else { ids.clone() };
                t.trace.note(format!("{op:?}{} {block}+{n} {ids:?} starts", if fua { " (FUA)" } else { "" }));
                let (st, _) = t.submit(op, block, n, fua, data);
                t.trace.note(format!("{op:?} {block}+{n} {ids:?} done: {st}"));
                let mut o = oracle.lock().unwrap_or_else(|e| e.into_inner());
                for (k, id) in ids.iter().enumerate() {
                    o.write_end(block + k as u64, *id, st == 0, fua);
                }
                if st != 0 {
                    t.trace.note(format!("{op:?} {block}+{n} failed: {st}"));
                    failures.push(format!("{op:?} of blocks {block}..{} failed with status {st}", block + n));
                }
            }
            65..=89 => {
                let tickets: Vec<_> = {
                    let mut o = oracle.lock().unwrap_or_else(|e| e.into_inner());
                    (0..n).map(|k| o.read_start(block + k)).collect()
                };
                let (st, data) = t.submit(Op::Read, block, n, false, vec![0; n as usize]);
                t.trace.note(format!("Read {block}+{n}: {st} {data:?}"));
                let mut o = oracle.lock().unwrap_or_else(|e| e.into_inner());
                if st == 0 {
                    for (k, ticket) in tickets.iter().enumerate() {
                        if let Err(e) = o.read_end(block + k as u64, ticket, Ok(data[k])) {
                            panic!("invariant: {e}");
                        }
                    }
                } else if !(0..n).any(|k| o.read_end(block + k, &tickets[k as usize], Err(())).is_ok()) {
                    panic!(
                        "invariant: read of blocks {block}..{} failed (status {st}) though every block must read",
                        block + n
                    );
                }
            }
            _ => {
                let ticket = oracle.lock().unwrap_or_else(|e| e.into_inner()).flush_start();
                t.trace.note("flush starts".into());
                let (st, _) = t.submit(Op::Other, 0, 0, false, vec![]);
                t.trace.note(format!("flush done: {st}"));
                if st == 0 {
                    oracle.lock().unwrap_or_else(|e| e.into_inner()).flush_end(ticket);
                }
            }
        }
    }
    failures
}

/// The control thread: `remap` messages, faults, policy changes.
fn control(t: &Target, oracle: &Mutex<Oracle>, cfg: &Config) {
    let mut rng = shuttle::rand::thread_rng();
    for _ in 0..cfg.controls {
        let (block, n) = picks(&mut rng, cfg.main_blocks);
        match rng.gen_range(0..100) {
            0..=24 => {
                let r = t.remap(block, n);
                t.trace.note(format!("remap {block}+{n}: {r:?}"));
            }
            25..=34 => {
                // A bulk remap: a few scattered ranges, overlapping at times.
                let ranges: Vec<(u64, u64)> =
                    (0..rng.gen_range(2..=4)).map(|_| picks(&mut rng, cfg.main_blocks)).collect();
                let r = t.remap_list(&ranges);
                t.trace.note(format!("remap_list {ranges:?}: {r:?}"));
            }
            35..=54 => {
                // The main sector goes bad: reads fail; writes too, sometimes.
                let mut m = t.main.lock().unwrap_or_else(|e| e.into_inner());
                m.faults.bad_read.insert(block);
                if rng.gen_bool(0.5) {
                    m.faults.bad_write.insert(block);
                }
                drop(m);
                oracle.lock().unwrap_or_else(|e| e.into_inner()).fault(block);
                t.trace.note(format!("main block {block} bad"));
            }
            55..=64 => {
                // Once per block: errors injected again while a read is
                // retrying could add up past its retries, a failure the
                // oracle (which counts transient errors as no fault) would
                // not excuse.
                let c = rng.gen_range(1..=2);
                if let std::collections::btree_map::Entry::Vacant(e) =
                    t.main.lock().unwrap_or_else(|e| e.into_inner()).faults.transient.entry(block)
                {
                    e.insert(c);
                    t.trace.note(format!("main block {block}: {c} transient errors"));
                }
            }
            65..=74 => {
                // A spare block in use fails: transiently on reads, or for
                // good on writes (recovery moves the block off it).
                let table = t.table_now();
                if let Some(e) = table.get(rng.gen_range(0..table.len().max(1))) {
                    let p = t.layout.pool_start + u64::from(e.spare);
                    let mut s = t.spare.lock().unwrap_or_else(|e| e.into_inner());
                    if rng.gen_bool(0.5) {
                        s.faults.transient.insert(p, 1);
                    } else {
                        s.faults.bad_write.insert(p);
                        t.excused.store(true, Ordering::SeqCst);
                    }
                    t.trace.note(format!("spare sector {p} (block {}) fails", e.main));
                }
            }
            75..=84 => {
                let on = rng.gen_bool(0.5);
                t.policies.lock().unwrap_or_else(|e| e.into_inner()).auto_remap = on;
                if !on {
                    t.excused.store(true, Ordering::SeqCst);
                }
                t.trace.note(format!("auto_remap {on}"));
            }
            85..=86 => {
                // Every superblock write reports an error after it landed
                // (until it heals): a commit fails, yet its generation may
                // be the spare's newest.
                let lying = !t.spare.lock().unwrap_or_else(|e| e.into_inner()).faults.lying_write.is_empty();
                let sectors: Vec<u64> = (0..2)
                    .flat_map(|c| (0..SLOTS).map(move |s| (c, s)))
                    .map(|(c, s)| superblock_sector(&t.layout, c, s))
                    .collect();
                let mut s = t.spare.lock().unwrap_or_else(|e| e.into_inner());
                let (lies_left, fence_nomem) = (rng.gen_bool(0.5).then(|| rng.gen_range(0..3)), rng.gen_bool(0.3));
                if lying {
                    s.faults.lying_write.clear();
                    t.fence_nomem.store(false, Ordering::SeqCst);
                } else {
                    // The first `lies_left` land, the rest fail for good;
                    // fencing may find no memory meanwhile.
                    s.faults.lying_write.extend(sectors);
                    s.faults.lies_left = lies_left;
                    t.fence_nomem.store(fence_nomem, Ordering::SeqCst);
                    t.excused.store(true, Ordering::SeqCst);
                }
                t.trace.note(format!(
                    "superblock writes {}",
                    if lying { "heal".into() } else { format!("lie ({lies_left:?} land, fence_nomem {fence_nomem})") }
                ));
            }
            87..=89 => {
                // One metadata region stops taking writes for good (with
                // both gone, no remap can be committed).
                let region = t.layout.region_start(rng.gen_range(0..2));
                let mut s = t.spare.lock().unwrap_or_else(|e| e.into_inner());
                for sector in region..region + t.layout.region_sectors {
                    s.faults.bad_write.insert(sector);
                }
                let both = [0, 1].iter().all(|&c| s.faults.bad_write.contains(&t.layout.region_start(c)));
                if both {
                    t.excused.store(true, Ordering::SeqCst);
                }
                t.trace.note(format!("metadata region at {region} fails writes"));
            }
            90..=94 => {
                // A scan over the range: blocks that never read turn
                // pending, as the kernel's scan marks them.
                let found = dm_remap_core::engine::recovery::scan_blocks(t, block, n);
                t.trace.note(format!("scan {block}+{n}: {found} pending"));
            }
            _ => thread::yield_now(),
        }
    }
}

/// Reads every block back through the target, with nothing else running.
fn read_back(t: &Target, oracle: &Mutex<Oracle>, blocks: u64) {
    for block in 0..blocks {
        let ticket = oracle.lock().unwrap_or_else(|e| e.into_inner()).read_start(block);
        let (st, data) = t.submit(Op::Read, block, 1, false, vec![0]);
        let got = if st == 0 { Ok(data[0]) } else { Err(()) };
        if let Err(e) = oracle.lock().unwrap_or_else(|e| e.into_inner()).read_end(block, &ticket, got) {
            panic!("invariant (read-back at the end): {e}");
        }
    }
}

/// After the crash: the spare loads, and every block holds what a
/// completed flush guaranteed.
fn check_crash(cfg: &Config, mut crash: target::Crash) {
    let fp = Fingerprint { main_sectors: cfg.main_blocks, main_logical_block_size: 512, block_bytes: BS as u32 };
    let mut buf = vec![0u8; BLOCK];
    let d = discover(&mut DirectSpare(&mut crash.spare), cfg.spare_sectors, &fp, false, &mut buf);
    let Discovery::Load { copy, slot, sb, layout, states, .. } = d else {
        panic!("invariant: the spare is refused after a crash: {d:?}");
    };
    assert!(
        sb.generation >= crash.acked_generation,
        "invariant: generation {} loads after a crash, but {} was acknowledged ({states:?})",
        sb.generation,
        crash.acked_generation
    );
    let mut table: Vec<Extent> = vec![];
    read_slot(&mut DirectSpare(&mut crash.spare), &layout, copy, slot, &mut buf, |e| table.push(e));
    if let Err(f) =
        check_table(&table, Scratch::Sorted(&mut table.clone()), layout.gap(), sb.alloc_next, cfg.main_blocks)
    {
        panic!("invariant: the table loaded after a crash is inconsistent: {f:?}");
    }
    for block in 0..cfg.main_blocks {
        let mut sector = vec![0u8; BS];
        let r = match extent::route(&table, block, 1).spare {
            Some(p) => crash.spare.read(layout.pool_start + p, &mut sector),
            None => crash.main.read(block, &mut sector),
        };
        let got = r.map(|()| decode(block, &sector));
        let (allowed, unreadable) = &crash.after[block as usize];
        let ok = match got {
            Ok(tag) => allowed.contains(&tag) || (*unreadable && tag == 0),
            Err(_) => *unreadable,
        };
        assert!(
            ok,
            "invariant: after the crash, block {block} reads {got:?}; want one of {allowed:?} (generation {})",
            sb.generation
        );
    }
}

/// One run, inside shuttle.
pub fn simulate(cfg: &Config) -> Stats {
    let rcu = Rcu::default();
    let oracle = Mutex::new(Oracle::new(cfg.main_blocks));
    let t = Target::new(cfg.main_blocks, cfg.spare_sectors, &rcu, &oracle, Policies::default());
    let mut rng = shuttle::rand::thread_rng();
    if cfg.crash {
        t.crash_in.store(rng.gen_range(1..=150), Ordering::SeqCst);
    }
    let (worker_stop, device_stop) = (AtomicBool::new(false), AtomicBool::new(false));
    let (bios, device_ios) = (AtomicU64::new(0), AtomicU64::new(0));
    let failures = thread::scope(|s| {
        let subs: Vec<_> = (0..cfg.submitters).map(|_| s.spawn(|| submitter(&t, &oracle, cfg, &bios))).collect();
        let ctl = s.spawn(|| control(&t, &oracle, cfg));
        let device = s.spawn(|| loop {
            if t.complete_one() {
                device_ios.fetch_add(1, Ordering::SeqCst);
            } else if device_stop.load(Ordering::SeqCst) {
                return;
            } else {
                thread::yield_now();
            }
        });
        let worker = s.spawn(|| t.worker(&worker_stop));
        let failures: Vec<String> = subs.into_iter().flat_map(|h| h.join().unwrap()).collect();
        ctl.join().unwrap();
        read_back(&t, &oracle, cfg.main_blocks);
        worker_stop.store(true, Ordering::SeqCst);
        worker.join().unwrap();
        device_stop.store(true, Ordering::SeqCst);
        device.join().unwrap();
        failures
    });
    if !t.excused.load(Ordering::SeqCst) {
        if let Some(f) = failures.first() {
            panic!("invariant: {f}, though remapping could place it (auto_remap on, spare healthy)");
        }
    }
    assert!(t.held.lock().unwrap_or_else(|e| e.into_inner()).is_empty(), "invariant: bios left held");
    assert!(
        t.pending_writes.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
            && t.failed.lock().unwrap_or_else(|e| e.into_inner()).is_empty(),
        "invariant: bios left queued"
    );
    // A remapped block stays pending only while fenced (see
    // `engine::settle`): after a failed commit not yet superseded.
    let table = t.table_now();
    if !t.lock_writer_for_test().unsettled {
        for &b in t.pending_now().iter() {
            assert!(extent::route(&table, b, 1).spare.is_none(), "invariant: block {b} is remapped and still pending");
        }
    }
    let crash = t.crash.lock().unwrap_or_else(|e| e.into_inner()).take();
    let crashed = crash.is_some();
    if let Some(c) = crash {
        check_crash(cfg, c);
    }
    Stats { bios: bios.load(Ordering::SeqCst), device_ios: device_ios.load(Ordering::SeqCst), crashed }
}

/// A focused scenario (issue 13.1): a write to a pending block, which the
/// worker gives back because `auto_remap` is off, meets a `remap` message
/// copying that block to the spare. The write must read back afterwards,
/// whatever the interleaving.
pub fn pending_write_meets_remap() {
    let rcu = Rcu::default();
    let oracle = Mutex::new(Oracle::new(2));
    let policies = Policies { auto_remap: false, ..Policies::default() };
    let t = Target::new(2, 512, &rcu, &oracle, policies);
    with_devices(&t, &oracle, || {
        // Block 0 goes bad for reads: a read fails and marks it pending.
        t.main.lock().unwrap_or_else(|e| e.into_inner()).faults.bad_read.insert(0);
        oracle.lock().unwrap_or_else(|e| e.into_inner()).fault(0);
        let (st, _) = t.submit(Op::Read, 0, 1, false, vec![0]);
        assert!(st != 0 && t.pending_now().contains(&0), "block 0 is not pending");
        thread::scope(|s| {
            let writer = s.spawn(|| {
                let id = {
                    let mut o = oracle.lock().unwrap_or_else(|e| e.into_inner());
                    let id = o.tag();
                    o.write_start(0, id, id);
                    id
                };
                let (st, _) = t.submit(Op::Write, 0, 1, false, vec![id]);
                oracle.lock().unwrap_or_else(|e| e.into_inner()).write_end(0, id, st == 0, false);
                assert_eq!(st, 0, "invariant: the write to the pending block failed");
            });
            let message = s.spawn(|| t.remap(0, 2).map(|_| ()).unwrap_or_else(|e| panic!("remap: {e:?}")));
            writer.join().unwrap();
            message.join().unwrap();
        });
    });
}

/// A table that has not caught up with the spare (a reload constructed,
/// not yet resumed) gets a `remap` message: it must be refused without a
/// write to the spare, whose blocks its allocator may hand out twice.
pub fn remap_before_catching_up() {
    let rcu = Rcu::default();
    let oracle = Mutex::new(Oracle::new(8));
    let t = Target::new(8, 512, &rcu, &oracle, Policies::default());
    t.lock_writer_for_test().meta.in_step = false;
    let before = t.spare.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let r = t.remap(2, 3);
    assert!(r.is_err(), "a remap was accepted by a table not in step with the spare");
    let after = t.spare.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(before.same_contents(&after), "a refused remap wrote to the spare");
}

/// Runs `f` with a device thread completing queued I/O and the recovery
/// worker running, then reads every block back against the oracle.
fn with_devices(t: &Target, oracle: &Mutex<Oracle>, f: impl FnOnce()) {
    let (worker_stop, device_stop) = (AtomicBool::new(false), AtomicBool::new(false));
    thread::scope(|s| {
        let device = s.spawn(|| {
            while !device_stop.load(Ordering::SeqCst) {
                if !t.complete_one() {
                    thread::yield_now();
                }
            }
        });
        let worker = s.spawn(|| t.worker(&worker_stop));
        f();
        read_back(t, oracle, t.main_blocks);
        worker_stop.store(true, Ordering::SeqCst);
        worker.join().unwrap();
        device_stop.store(true, Ordering::SeqCst);
        device.join().unwrap();
    });
}

/// Writes a fresh tag to each of `blocks` (FUA), checked by the oracle.
fn write_tags(t: &Target, oracle: &Mutex<Oracle>, blocks: impl IntoIterator<Item = u64>) {
    for block in blocks {
        let st = write_tag(t, oracle, block);
        assert_eq!(st, 0, "invariant: the write of block {block} failed on healthy devices");
    }
}

/// Writes a fresh tag to `block` with FUA (durable once acknowledged),
/// recorded by the oracle; its status.
fn write_tag(t: &Target, oracle: &Mutex<Oracle>, block: u64) -> u8 {
    let id = {
        let mut o = oracle.lock().unwrap_or_else(|e| e.into_inner());
        let id = o.tag();
        o.write_start(block, id, id);
        id
    };
    let (st, _) = t.submit(Op::Write, block, 1, true, vec![id]);
    oracle.lock().unwrap_or_else(|e| e.into_inner()).write_end(block, id, st == 0, true);
    st
}

/// The scattered ranges the bulk scenarios remap (block 9 twice, 10..12
/// touching 9: they merge).
pub const BULK: [(u64, u64); 5] = [(1, 1), (9, 1), (4, 1), (10, 3), (9, 2)];
/// Blocks of the main device in the bulk scenarios.
const BULK_BLOCKS: u64 = 16;

/// A bulk remap meets writes to its blocks, a failing block and the
/// recovery worker: every write lands (before the copy, or held and
/// released to the spare after the commit) and reads back.
pub fn bulk_remap_meets_writes() {
    let rcu = Rcu::default();
    let oracle = Mutex::new(Oracle::new(BULK_BLOCKS));
    let t = Target::new(BULK_BLOCKS, 512, &rcu, &oracle, Policies::default());
    with_devices(&t, &oracle, || {
        write_tags(&t, &oracle, [4]);
        // Block 4 stops reading: the bulk remap marks it lost (zeros), or
        // a write reaches it first and the worker remaps it.
        t.main.lock().unwrap_or_else(|e| e.into_inner()).faults.bad_read.insert(4);
        oracle.lock().unwrap_or_else(|e| e.into_inner()).fault(4);
        thread::scope(|s| {
            let writer = s.spawn(|| write_tags(&t, &oracle, [9, 4, 11]));
            let message = s.spawn(|| t.remap_list(&BULK).map(|_| ()).unwrap_or_else(|e| panic!("remap_list: {e:?}")));
            writer.join().unwrap();
            message.join().unwrap();
        });
        let table = t.table_now();
        for b in [1, 4, 9, 10, 11, 12] {
            assert!(
                extent::route(&table, b, 1).spare.is_some(),
                "invariant: block {b} of the bulk remap is not remapped"
            );
        }
    });
}

/// A bulk remap that fails changes nothing: not when the pool cannot hold
/// every block, nor when a copy to the spare fails, nor when no metadata
/// copy takes the commit. One that succeeds commits once and marks an
/// unreadable block lost, the others keeping their data.
pub fn bulk_remap_is_all_or_nothing() {
    let rcu = Rcu::default();
    // The pool of a 128-sector spare holds fewer blocks than the list.
    let oracle = Mutex::new(Oracle::new(256));
    let small = Target::new(256, 128, &rcu, &oracle, Policies::default());
    let pool = small.layout.pool_blocks;
    let before = small.spare.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let many: Vec<(u64, u64)> = (0..=pool).map(|b| (b * 2, 1)).collect();
    assert_eq!(small.remap_list(&many), Err(ChangeFailed::NoSpace), "a list larger than the pool ({pool} blocks)");
    assert!(small.table_now().is_empty(), "a refused bulk remap published extents");
    let after = small.spare.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(before.same_contents(&after), "a bulk remap refused for space wrote to the spare");

    let oracle = Mutex::new(Oracle::new(BULK_BLOCKS));
    let t = Target::new(BULK_BLOCKS, 512, &rcu, &oracle, Policies::default());
    with_devices(&t, &oracle, || {
        write_tags(&t, &oracle, 0..BULK_BLOCKS);
        let alloc = t.lock_writer_for_test().alloc;
        // Every pool block fails its write (one that fails alone is
        // retired and the block goes to a fresh one): the copy fails.
        let pool = t.layout.pool_start..t.layout.pool_start + t.layout.pool_blocks;
        t.spare.lock().unwrap_or_else(|e| e.into_inner()).faults.bad_write.extend(pool.clone());
        assert_eq!(t.remap_list(&BULK), Err(ChangeFailed::Io), "a failed copy to the spare");
        assert!(t.table_now().is_empty(), "a bulk remap whose copy failed published extents");
        assert_eq!(t.lock_writer_for_test().alloc.cursor(), alloc.cursor(), "a failed copy used spare blocks");
        let mut s = t.spare.lock().unwrap_or_else(|e| e.into_inner());
        for b in pool {
            s.faults.bad_write.remove(&b);
        }
        drop(s);
        // Both metadata regions refuse writes: the commit fails.
        let regions: Vec<u64> = (0..2)
            .flat_map(|c| {
                let r = t.layout.region_start(c);
                r..r + t.layout.region_sectors
            })
            .collect();
        t.spare.lock().unwrap_or_else(|e| e.into_inner()).faults.bad_write.extend(regions.iter().copied());
        assert_eq!(t.remap_list(&BULK), Err(ChangeFailed::Commit), "a commit no metadata copy took");
        assert!(t.table_now().is_empty(), "a bulk remap whose commit failed published extents");
        let mut s = t.spare.lock().unwrap_or_else(|e| e.into_inner());
        for r in &regions {
            s.faults.bad_write.remove(r);
        }
        drop(s);
        // Block 10 does not read: lost; the rest keep their data (read
        // back at the end), in one commit.
        t.main.lock().unwrap_or_else(|e| e.into_inner()).faults.bad_read.insert(10);
        oracle.lock().unwrap_or_else(|e| e.into_inner()).fault(10);
        let generation = t.lock_writer_for_test().meta.attempted;
        let added = t.remap_list(&BULK).unwrap_or_else(|e| panic!("remap_list: {e:?}"));
        assert_eq!(t.lock_writer_for_test().meta.attempted, generation + 1, "a bulk remap committed more than once");
        let lost: Vec<u64> = added
            .iter()
            .filter(|e| e.state == extent::ExtentState::Lost)
            .flat_map(|e| e.main..e.main + u64::from(e.len))
            .collect();
        assert_eq!(lost, vec![10], "lost blocks of the bulk remap: {added:?}");
        let remapped: u64 = added.iter().map(|e| u64::from(e.len)).sum();
        assert_eq!(remapped, 6, "blocks the bulk remap added: {added:?}");
        // Sent again: nothing left to do.
        assert_eq!(t.remap_list(&BULK).map(|v| v.len()), Ok(0), "a second bulk remap of the same blocks");
    });
}

/// A crash at each device write of a bulk remap in turn: the spare always
/// loads, and every block reads what was written (from main, or from the
/// spare once the commit that maps it is on disk).
pub fn bulk_remap_crash_points() -> usize {
    let cfg = Config { main_blocks: BULK_BLOCKS, spare_sectors: 512, ..Config::default() };
    for k in 1.. {
        let rcu = Rcu::default();
        let oracle = Mutex::new(Oracle::new(BULK_BLOCKS));
        let t = Target::new(BULK_BLOCKS, 512, &rcu, &oracle, Policies::default());
        with_devices(&t, &oracle, || {
            write_tags(&t, &oracle, 0..BULK_BLOCKS);
            t.crash_in.store(k, Ordering::SeqCst);
            t.remap_list(&BULK).unwrap_or_else(|e| panic!("remap_list: {e:?}"));
        });
        let Some(crash) = t.crash.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            // Past the last write (the read-back writes nothing).
            return k as usize - 1;
        };
        check_crash(&cfg, crash);
    }
    unreachable!()
}

/// A bulk remap of `n` scattered unreadable blocks (what `badblocks import`
/// sends: up to 16384 listed bad blocks per message) holds the writer lock
/// for its whole copy, and with it the recovery worker (every failed bio
/// of the device waits for it, and a suspend for them) and every bio to a
/// listed block (held back). Each unreadable block gets `read_retries`
/// rereads with backoff sleeps (20 + 40 ms at the default 3) inside that
/// hold. Returns the milliseconds slept while the lock was held.
pub fn bulk_remap_of_unreadable_blocks_sleeps(n: u64) -> u64 {
    let main_blocks = 2 * n;
    let rcu = Rcu::default();
    let oracle = Mutex::new(Oracle::new(main_blocks));
    let t = Target::new(main_blocks, 4 * n + 1024, &rcu, &oracle, Policies::default());
    let ranges: Vec<(u64, u64)> = (0..n).map(|i| (2 * i, 1)).collect();
    {
        let mut m = t.main.lock().unwrap_or_else(|e| e.into_inner());
        for &(b, _) in &ranges {
            m.faults.bad_read.insert(b);
        }
    }
    let before = t.slept_ms.load(std::sync::atomic::Ordering::Relaxed);
    let added = t.remap_list(&ranges).unwrap_or_else(|e| panic!("remap_list: {e:?}"));
    let slept = t.slept_ms.load(std::sync::atomic::Ordering::Relaxed) - before;
    let lost: u64 = added.iter().filter(|e| e.state == extent::ExtentState::Lost).map(|e| u64::from(e.len)).sum();
    assert_eq!(lost, n, "every listed block is unreadable: lost");
    slept
}

/// A spare block that fails writes (a grown defect of the spare) at the
/// allocator's cursor. Before the fix the bulk remap failed with `Io` and
/// left the allocator where it was, so the next one (and every `remap`)
/// was handed the same spare block and failed again. Now the copy retires
/// it as a recovery round does: the bulk remap succeeds without it, the
/// committed cursor is past it, and later remaps succeed.
pub fn bulk_remap_after_a_spare_block_fails_a_write() {
    let rcu = Rcu::default();
    let oracle = Mutex::new(Oracle::new(BULK_BLOCKS));
    let t = Target::new(BULK_BLOCKS, 512, &rcu, &oracle, Policies::default());
    with_devices(&t, &oracle, || {
        write_tags(&t, &oracle, 0..BULK_BLOCKS);
        let cursor = t.lock_writer_for_test().alloc.cursor();
        let bad = t.layout.pool_start + cursor;
        t.spare.lock().unwrap_or_else(|e| e.into_inner()).faults.bad_write.insert(bad);
        let added = t.remap_list(&BULK).unwrap_or_else(|e| panic!("remap_list with spare block {bad} failing: {e:?}"));
        let remapped: u64 = added.iter().map(|e| u64::from(e.len)).sum();
        assert_eq!(remapped, 6, "blocks the bulk remap added: {added:?}");
        assert!(
            t.table_now()
                .iter()
                .all(|e| !(u64::from(e.spare)..u64::from(e.spare) + u64::from(e.len)).contains(&cursor)),
            "spare block {bad} failed its write but is in the table: {:?}",
            t.table_now()
        );
        let committed = t.lock_writer_for_test().alloc.cursor();
        assert!(committed > cursor, "the committed cursor {committed} did not move past the retired block {cursor}");
        for (attempt, block) in [2u64, 3, 5].into_iter().enumerate() {
            let r = t.remap_list(&[(block, 1)]);
            assert!(
                r.as_ref().is_ok_and(|v| v.len() == 1),
                "attempt {attempt}: a one-block remap_list after spare block {bad} failed a write: {r:?} \
                 (the allocator is at cursor {})",
                t.lock_writer_for_test().alloc.cursor()
            );
        }
    });
}

/// The trace of the last run (kept outside the run, which a violation
/// unwinds).
pub static TRACE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Runs seed `seed`; `Err` holds the violated invariant (the trace of
/// what happened is in [`TRACE`]).
pub fn run_seed(seed: u64, cfg: Config) -> Result<Stats, String> {
    TRACE.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let out = std::sync::Arc::new(std::sync::Mutex::new(Stats::default()));
    let o = out.clone();
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        if std::env::var_os("SIM_VERBOSE").is_none() {
            std::panic::set_hook(Box::new(|_| {}));
        }
    });
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut config = ShuttleConfig::new();
        config.max_steps = MaxSteps::FailAfter(3_000_000);
        config.silence_warnings = true;
        config.failure_persistence = shuttle::FailurePersistence::None;
        let run = move || {
            let stats = simulate(&cfg);
            *o.lock().unwrap_or_else(|e| e.into_inner()) = stats;
        };
        // Odd seeds use PCT (a few priority changes at random points: it
        // lets one thread run a long way between two close steps of
        // another, which uniform random choices seldom do); even seeds a
        // uniformly random scheduler.
        if seed % 2 == 1 {
            Runner::new(PctScheduler::new_from_seed(seed, 3, 1), config).run(run);
        } else {
            Runner::new(RandomScheduler::new_from_seed(seed, 1), config).run(run);
        }
    }));
    match result {
        Ok(()) => Ok(*out.lock().unwrap_or_else(|e| e.into_inner())),
        Err(e) => Err(e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())),
    }
}
