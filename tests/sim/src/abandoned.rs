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
use super::{check_crash, with_devices, write_tags, Config};

const BLOCKS: u64 = 8;
const SPARE_SECTORS: u64 = 512;

/// Every superblock sector of both regions.
fn superblocks(t: &Target) -> Vec<u64> {
    (0..2).flat_map(|copy| (0..SLOTS).map(move |slot| superblock_sector(&t.layout, copy, slot))).collect()
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
    if std::env::var_os("SIM_TRACE").is_some() {
        for line in super::TRACE.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            eprintln!("{line}");
        }
    }
    reload_and_check(&t, &oracle);
}
