// SPDX-License-Identifier: GPL-2.0
//! Focused scenarios for a commit that failed in both regions but may have
//! reached the spare anyway: a write can report an error after the drive
//! took its data (a timeout, a bridge that loses the completion). The
//! change is abandoned in memory, yet its generation may be the spare's
//! newest and load at the next reload or reboot. Nothing acknowledged may
//! depend on which of the two loads.

use shuttle::sync::Mutex;

use dm_remap_core::engine::Op;
use dm_remap_core::policy::Policies;
use dm_remap_core::slots::{superblock_sector, SLOTS};

use super::oracle::Oracle;
use super::target::{Crash, Rcu, Target};
use super::{check_crash, with_devices, write_tag, write_tags, Config};

const BLOCKS: u64 = 8;
const SPARE_SECTORS: u64 = 512;

/// Every superblock sector of both regions.
fn superblocks(t: &Target) -> Vec<u64> {
    (0..2).flat_map(|copy| (0..SLOTS).map(move |slot| superblock_sector(&t.layout, copy, slot))).collect()
}

/// Prints the trace with `SIM_TRACE` set.
fn print_trace() {
    if std::env::var_os("SIM_TRACE").is_some() {
        for line in super::TRACE.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            eprintln!("{line}");
        }
    }
}

/// What the devices hold now, every cached write included, loaded again
/// and checked against what the workload may read back.
fn reload_and_check(t: &Target, oracle: &Mutex<Oracle>) {
    let crash = Crash {
        main: t.main.lock().unwrap_or_else(|e| e.into_inner()).crash_image(|| true),
        spare: t.spare.lock().unwrap_or_else(|e| e.into_inner()).crash_image(|| true),
        after: oracle.lock().unwrap_or_else(|e| e.into_inner()).after_crash(),
        acked_generation: t.acked_generation.load(shuttle::sync::atomic::Ordering::SeqCst),
    };
    let cfg = Config { main_blocks: BLOCKS, spare_sectors: SPARE_SECTORS, ..Config::default() };
    check_crash(&cfg, crash);
}

/// A write to block 5 fails on main and is remapped; the commit's
/// superblock writes all report errors but land. Main heals and a second
/// write to block 5 is acknowledged: after a reload it must read back,
/// though the spare's newest generation maps block 5 to the spare block
/// holding the first write. With `fence_nomem`, only the first superblock
/// write lands (the retraction of the failed commit fails for good) and
/// fencing the remapped block fails for want of memory.
pub fn a_write_after_an_abandoned_remap_survives_a_reload(auto_remap: bool, fence_nomem: bool) {
    let rcu = Rcu::default();
    let oracle = Mutex::new(Oracle::new(BLOCKS));
    let policies = Policies { auto_remap: true, ..Policies::default() };
    let t = Target::new(BLOCKS, SPARE_SECTORS, &rcu, &oracle, policies);
    let lying = superblocks(&t);
    t.fence_nomem.store(fence_nomem, shuttle::sync::atomic::Ordering::SeqCst);
    with_devices(&t, &oracle, || {
        write_tags(&t, &oracle, 0..BLOCKS);
        t.main.lock().unwrap_or_else(|e| e.into_inner()).faults.bad_write.insert(5);
        {
            let mut s = t.spare.lock().unwrap_or_else(|e| e.into_inner());
            s.faults.lying_write.extend(lying.iter().copied());
            s.faults.lies_left = fence_nomem.then_some(1);
        }
        let st = write_tag(&t, &oracle, 5);
        assert_ne!(st, 0, "the write whose remap no commit took succeeded");
        t.spare.lock().unwrap_or_else(|e| e.into_inner()).faults.lying_write.clear();
        t.main.lock().unwrap_or_else(|e| e.into_inner()).faults.bad_write.clear();
        t.policies.lock().unwrap_or_else(|e| e.into_inner()).auto_remap = auto_remap;
        // Acknowledged or failed: either is honest, and the oracle checks
        // the reload against what was acknowledged.
        let st = write_tag(&t, &oracle, 5);
        t.trace.note(format!("second write to block 5: {st}"));
    });
    print_trace();
    reload_and_check(&t, &oracle);
}

/// Every sector of both metadata regions.
fn metadata_regions(t: &Target) -> Vec<u64> {
    (0..2u8)
        .flat_map(|copy| {
            let start = t.layout.region_start(copy);
            start..start + t.layout.region_sectors
        })
        .collect()
}

/// The next superblock write lands but reports an error (after
/// `honest` more succeed), then the metadata regions take no write: a
/// commit that fails though its generation may load, and a retraction
/// that fails for good.
fn one_lie_then_no_metadata(t: &Target, honest: u32) {
    let lying = superblocks(t);
    let regions = metadata_regions(t);
    let mut spare = t.spare.lock().unwrap_or_else(|e| e.into_inner());
    spare.faults.lying_write.extend(lying.iter().copied());
    spare.faults.honest_left = honest;
    spare.faults.lies_left = Some(1);
    spare.faults.fail_after_lies = regions;
}

/// Writes every block, then fences block 5: a `remap` of it fails to
/// commit (its first superblock lands, so the spare's newest generation
/// maps block 5 to the copy of its old data), and so does the retraction.
fn fence_block_5_by_a_failed_remap(t: &Target, oracle: &Mutex<Oracle>) {
    write_tags(t, oracle, 0..BLOCKS);
    one_lie_then_no_metadata(t, 0);
    let r = t.remap(5, 1);
    assert!(r.is_err() && t.lock_writer_for_test().unsettled, "the remap failed and stayed unretracted");
    assert!(t.pending_now().contains(&5), "block 5 is fenced");
}

/// Runs the device in a thread of its own while `f` runs (no worker: the
/// scenario runs recovery rounds itself).
fn with_device_only<R>(t: &Target, f: impl FnOnce() -> R) -> R {
    use shuttle::sync::atomic::{AtomicBool, Ordering};
    let stop = AtomicBool::new(false);
    shuttle::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                if !t.complete_one() {
                    shuttle::thread::yield_now();
                }
            }
        });
        let r = f();
        stop.store(true, Ordering::SeqCst);
        r
    })
}

/// Waits until `queue` (a queue of the worker's) holds a bio.
fn wait_for<T>(queue: &Mutex<Vec<T>>) {
    while queue.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
        shuttle::thread::yield_now();
    }
}

/// A write to block 5 fails on main (transiently) and waits for the
/// worker; meanwhile a `remap` of block 5 copies its old data to the
/// spare and commits, and the commit fails (its first superblock lands)
/// and so does the retraction: block 5 is fenced. The worker's round then
/// rewrites the write to main, where the live table maps the block; it
/// may acknowledge it only after a commit that supersedes the failed one,
/// which here never comes (the spare's newest generation maps block 5 to
/// the copy made before the write).
pub fn a_failed_write_to_a_fenced_block_waits_for_a_superseding_commit() {
    let rcu = Rcu::default();
    let oracle = Mutex::new(Oracle::new(BLOCKS));
    let t = Target::new(BLOCKS, SPARE_SECTORS, &rcu, &oracle, Policies::default());
    with_device_only(&t, || {
        write_tags(&t, &oracle, 0..BLOCKS);
        t.remap(2, 1).expect("remap of block 2");
        t.main.lock().unwrap_or_else(|e| e.into_inner()).faults.transient.insert(5, 1);
        shuttle::thread::scope(|s| {
            let write = s.spawn(|| write_tag(&t, &oracle, 5));
            wait_for(&t.failed);
            one_lie_then_no_metadata(&t, 0);
            let r = t.remap(5, 1);
            t.trace.note(format!("remap of block 5: {r:?}; pending {:?}", t.pending_now()));
            assert!(t.lock_writer_for_test().unsettled, "the failed commit was retracted");
            t.recover_all();
            let st = write.join().unwrap_or(u8::MAX);
            t.trace.note(format!("the failed write to block 5: {st}"));
        });
    });
    reload_and_check(&t, &oracle);
}

/// Block 5 is remapped and fenced (an earlier change failed), and a write
/// to it waits for the worker. The worker's round settles (the retraction
/// succeeds, unfencing block 5) and gives the write back, but in the same
/// round a read of block 5 that succeeded only on retry moves it off its
/// spare block, and that commit fails (its first superblock lands) as
/// does its retraction: block 5 is fenced again, the spare's newest
/// generation maps it to the copy made before the write, and the write
/// must not be sent to the old spare block and acknowledged.
pub fn a_write_given_back_after_a_failed_relocation_is_not_acknowledged() {
    use dm_remap_core::engine::Platform;
    use dm_remap_core::extent::{route, Extent, ExtentState};
    let rcu = Rcu::default();
    let oracle = Mutex::new(Oracle::new(BLOCKS));
    let t = Target::new(BLOCKS, SPARE_SECTORS, &rcu, &oracle, Policies::default());
    with_device_only(&t, || {
        write_tags(&t, &oracle, 0..BLOCKS);
        t.remap(5, 1).expect("remap of block 5");
        let spare = route(&t.table_now(), 5, 1).spare.expect("block 5 is remapped");
        {
            // As a failed change leaves it.
            let mut w = t.lock_writer_for_test();
            w.unsettled = true;
            let fence = t.prepare_fence(&[Extent { main: 5, spare: 0, len: 1, state: ExtentState::Ok }]);
            t.fence(fence.expect("memory for the fence"));
        }
        shuttle::thread::scope(|s| {
            let write = s.spawn(|| write_tag(&t, &oracle, 5));
            wait_for(&t.pending_writes);
            let sector = t.layout.pool_start + spare;
            t.spare.lock().unwrap_or_else(|e| e.into_inner()).faults.transient.insert(sector, 1);
            let read = s.spawn(|| t.submit(Op::Read, 5, 1, false, vec![0]).0);
            wait_for(&t.failed);
            // Two honest superblock writes: the round's retraction.
            one_lie_then_no_metadata(&t, 2);
            t.recover_all();
            let st = write.join().unwrap_or(u8::MAX);
            let _ = read.join();
            t.trace.note(format!("the write to block 5: {st}"));
        });
    });
    reload_and_check(&t, &oracle);
}

/// Block 5 is pending (a read failed) and `auto_remap` is off, so the
/// worker gives a write to it back (to main, where the table sends it).
/// Meanwhile a `remap` of block 5 copies its old data to the spare and
/// commits; the commit fails (its first superblock lands) and so does the
/// retraction: block 5 is fenced. If the round decided on what it saw
/// before the message ran, the write given back after it lands on main and
/// is acknowledged, though the spare's newest generation maps block 5 to
/// the old copy. (A seeded search of schedules finds that interleaving.)
pub fn a_write_given_back_while_a_remap_of_its_block_fails_is_not_acknowledged() {
    let rcu = Rcu::default();
    let oracle = Mutex::new(Oracle::new(BLOCKS));
    let policies = Policies { auto_remap: false, ..Policies::default() };
    let t = Target::new(BLOCKS, SPARE_SECTORS, &rcu, &oracle, policies);
    with_devices(&t, &oracle, || {
        t.main.lock().unwrap_or_else(|e| e.into_inner()).faults.bad_read.insert(5);
        oracle.lock().unwrap_or_else(|e| e.into_inner()).fault(5);
        let (st, _) = t.submit(Op::Read, 5, 1, false, vec![0]);
        assert!(st != 0 && t.pending_now().contains(&5), "block 5 is not pending");
        t.main.lock().unwrap_or_else(|e| e.into_inner()).faults.bad_read.clear();
        one_lie_then_no_metadata(&t, 0);
        shuttle::thread::scope(|s| {
            let write = s.spawn(|| write_tag(&t, &oracle, 5));
            let message = s.spawn(|| t.remap(5, 1).is_ok());
            let st = write.join().unwrap_or(u8::MAX);
            let r = message.join();
            t.trace.note(format!("the write to block 5: {st}; remap: {r:?}"));
        });
    });
    reload_and_check(&t, &oracle);
}

/// Block 5 is fenced: a `remap` of it failed to commit (its first
/// superblock lands, so the spare's newest generation maps block 5 to the
/// copy of its old data) and so did the retraction. A second `remap` of
/// block 5 holds back a write to it, then fails before any commit: its
/// copy finds no spare block that takes a write (`copy_fails`), or its
/// fence cannot be allocated. Nothing supersedes the failed change, so the
/// held write must not be sent to main and acknowledged.
pub fn a_write_held_by_a_move_that_fails_before_committing_waits_for_the_fence(copy_fails: bool) {
    let rcu = Rcu::default();
    let oracle = Mutex::new(Oracle::new(BLOCKS));
    let t = Target::new(BLOCKS, SPARE_SECTORS, &rcu, &oracle, Policies::default());
    with_devices(&t, &oracle, || {
        fence_block_5_by_a_failed_remap(&t, &oracle);
        if copy_fails {
            let pool: Vec<u64> = (t.layout.pool_start..SPARE_SECTORS).collect();
            t.spare.lock().unwrap_or_else(|e| e.into_inner()).faults.bad_write.extend(pool);
        } else {
            t.fence_nomem.store(true, shuttle::sync::atomic::Ordering::SeqCst);
        }
        shuttle::thread::scope(|s| {
            // Section `a` keeps the message inside publish_moving's grace
            // period once it published block 5 as moving; section `b`
            // then keeps it in its drain until the write is held.
            let a = t.rcu.enter();
            let message = s.spawn(|| t.remap(5, 1));
            while t.moving.read().is_empty() {
                shuttle::thread::yield_now();
            }
            let b = t.rcu.enter();
            t.rcu.exit(a);
            let write = s.spawn(|| write_tag(&t, &oracle, 5));
            while t.held.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
                shuttle::thread::yield_now();
            }
            t.rcu.exit(b);
            let r = message.join();
            let st = write.join().unwrap_or(u8::MAX);
            t.trace.note(format!("second remap: {r:?}; the held write to block 5: {st}"));
            assert!(t.lock_writer_for_test().unsettled, "nothing superseded the failed change");
        });
    });
    print_trace();
    reload_and_check(&t, &oracle);
}

/// Block 5 is fenced: a `remap` of it failed to commit (its first
/// superblock lands, so the spare's newest generation maps block 5 to the
/// copy of its old data) and so did the retraction. The table is then
/// reloaded (`dmsetup reload` + resume, as the kernel's constructor and
/// preresume load the spare: `discover`, the chosen slot, and
/// `highest_generation` for the next commit), and one block of the
/// abandoned copy fails its read once: the new table loads the generation
/// before it, settled and with nothing pending, though the loader saw a
/// superblock of a higher generation. Unless it commits above that
/// generation before it goes live (`settle::supersede_unread`), a write to
/// block 5 goes to main and is acknowledged with nothing committed, and
/// once that block reads again the abandoned generation is the newest and
/// loads: block 5 reads the old data. (From a fourth adversarial review.)
pub fn a_reload_that_cannot_read_the_abandoned_copy_keeps_writes_to_its_blocks() {
    use dm_remap_core::discover::{discover, highest_generation, slots_unchanged, Discovery, Fingerprint};
    use dm_remap_core::format::{Superblock, BLOCK};
    use dm_remap_core::load::read_slot;
    use dm_remap_core::slots::{entry_sector, footprint_of};
    use dm_remap_core::spare_alloc::SpareAllocator;

    use super::target::{DirectSpare, SimMeta, BS};

    let rcu = Rcu::default();
    let oracle = Mutex::new(Oracle::new(BLOCKS));
    let t = Target::new(BLOCKS, SPARE_SECTORS, &rcu, &oracle, Policies::default());
    with_devices(&t, &oracle, || fence_block_5_by_a_failed_remap(&t, &oracle));
    // The reload: the devices as they are (a suspend loses no cached
    // write), the faults gone but one.
    let main = t.main.lock().unwrap_or_else(|e| e.into_inner()).crash_image(|| true);
    let mut spare = t.spare.lock().unwrap_or_else(|e| e.into_inner()).crash_image(|| true);
    let layout = t.layout;
    let mut buf = vec![0u8; BLOCK];
    let abandoned = superblocks(&t)
        .into_iter()
        .filter_map(|sector| {
            let mut block = vec![0u8; BLOCK];
            spare.read(sector, &mut block).ok()?;
            Superblock::decode(&block).ok()
        })
        .max_by_key(|sb| sb.generation)
        .expect("a superblock");
    assert_eq!(abandoned.generation, 2, "the abandoned commit's superblock landed");
    let footprint = footprint_of(&layout, &abandoned).expect("footprint");
    let first_entry = entry_sector(&layout, abandoned.copy, &footprint, 0);
    // Unreadable for the constructor's load and for the preresume's.
    spare.faults.transient.insert(first_entry, 2);
    let fp = Fingerprint { main_sectors: BLOCKS, main_logical_block_size: 512, block_bytes: BS as u32 };
    // `Metadata::open`: discover, read the chosen slot, and go above the
    // highest generation any superblock shows.
    let load = |spare: &mut super::disk::Disk, buf: &mut Vec<u8>| {
        let Discovery::Load { copy, slot, sb, layout, slots, .. } =
            discover(&mut DirectSpare(spare), SPARE_SECTORS, &fp, false, buf)
        else {
            panic!("the spare is refused");
        };
        let mut table = vec![];
        read_slot(&mut DirectSpare(spare), &layout, copy, slot, buf, |e| table.push(e));
        let highest = highest_generation(&mut DirectSpare(spare), &layout, SPARE_SECTORS, buf);
        (table, SimMeta { layout, slots, sb, attempted: highest.max(sb.generation), in_step: false }, highest)
    };
    // The constructor, then `catch_up` in preresume: a superblock that
    // changed (here: one of a higher generation where the loaded slots
    // say free) makes `reload_if_advanced` load again.
    let (mut table, mut meta, mut highest) = load(&mut spare, &mut buf);
    if !slots_unchanged(&mut DirectSpare(&mut spare), &meta.layout, &meta.slots, &mut buf) {
        t.trace.note(format!(
            "preresume: the spare changed since generation {} loaded; loading again",
            meta.sb.generation
        ));
        (table, meta, highest) = load(&mut spare, &mut buf);
    }
    meta.in_step = true;
    t.trace.note(format!("reload: generation {} loads, highest seen {highest}: {table:?}", meta.sb.generation));
    let alloc = SpareAllocator::for_layout(&layout, meta.sb.alloc_next);
    let loaded = meta.sb.generation;
    let t2 = Target::with(BLOCKS, main, spare, layout, table, meta, alloc, &rcu, &oracle, Policies::default());
    // Then, as `catch_up` does before the table goes live: commit above a
    // superblock newer than the copy loaded.
    let live = dm_remap_core::engine::settle::supersede_unread(&t2, &mut t2.lock_writer_for_test(), loaded, highest);
    assert!(live, "the spare takes metadata writes again: the commit above generation {highest} succeeds");
    with_devices(&t2, &oracle, || {
        let st = write_tag(&t2, &oracle, 5);
        t2.trace.note(format!("the write to block 5 through the reloaded table: {st}"));
    });
    print_trace();
    reload_and_check(&t2, &oracle);
}
