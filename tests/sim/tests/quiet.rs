// SPDX-License-Identifier: GPL-2.0
//! `Mapping::quiet` (the flag that lets `map` skip the moving runs and the
//! pending blocks), alone, under many interleavings: a write that `map`
//! routes against a move that starts. The move goes as the kernel's does:
//! `change` clears the flag, then `RcuBox::update` publishes the runs and
//! waits for a grace period, then the drain, then the copy. A write that
//! saw the flag set and went to main must have completed before the copy
//! reads the block (else the copy misses it: a lost write); one that sees
//! the runs is held back. Clearing the flag after the update instead of
//! before it breaks that, which the second test checks the model finds.

use shuttle::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use shuttle::sync::Arc;
use shuttle::thread;

use dm_remap_core::engine::drain::drain;
use dm_remap_sim::target::{InFlight, Rcu};

const NOT_YET: u8 = 0;
const HELD: u8 = 1;
const SENT: u8 = 2;
const DONE: u8 = 3;

struct Shared {
    quiet: AtomicBool,
    moving: AtomicBool,
    copied: AtomicBool,
    state: AtomicU8,
}

/// `map` of one write to the block being moved: the flag first, the runs
/// only when it is clear, counted in flight inside the section when sent.
fn write(rcu: &Rcu, inflight: &InFlight<'_>, s: &Shared) {
    let section = rcu.enter();
    let quiet = s.quiet.load(Ordering::SeqCst);
    if !quiet && s.moving.load(Ordering::SeqCst) {
        s.state.store(HELD, Ordering::SeqCst);
        rcu.exit(section);
        return;
    }
    let e = inflight.enter(0);
    s.state.store(SENT, Ordering::SeqCst);
    rcu.exit(section);
    thread::yield_now();
    // The write reaches main: too late if the copy has read the block.
    assert!(!s.copied.load(Ordering::SeqCst), "a write sent to main after the copy read the block: lost");
    s.state.store(DONE, Ordering::SeqCst);
    inflight.exit(1, e);
}

/// A move of that block, with `clear_first` as in `Mapping::change` (the
/// flag cleared before the update publishes) or after the update.
fn model(clear_first: bool) {
    let rcu: &'static Rcu = Box::leak(Box::default());
    let inflight: &'static InFlight<'static> = Box::leak(Box::new(InFlight::new(rcu)));
    let s = Arc::new(Shared {
        quiet: AtomicBool::new(true),
        moving: AtomicBool::new(false),
        copied: AtomicBool::new(false),
        state: AtomicU8::new(NOT_YET),
    });
    let writer = {
        let s = s.clone();
        thread::spawn(move || write(rcu, inflight, &s))
    };
    if clear_first {
        s.quiet.store(false, Ordering::SeqCst);
    }
    // RcuBox::update: publish, then a grace period.
    s.moving.store(true, Ordering::SeqCst);
    rcu.synchronize();
    if !clear_first {
        s.quiet.store(false, Ordering::SeqCst);
    }
    drain(inflight);
    let st = s.state.load(Ordering::SeqCst);
    assert_ne!(st, SENT, "a write sent to main is still in flight at the copy: lost");
    s.copied.store(true, Ordering::SeqCst);
    writer.join().unwrap();
}

const ITERATIONS: usize = 20_000;

#[test]
fn a_write_that_skips_the_runs_completes_before_the_copy() {
    shuttle::check_random(|| model(true), ITERATIONS);
    shuttle::check_pct(|| model(true), ITERATIONS, 3);
}

#[test]
fn clearing_quiet_after_the_update_loses_a_write() {
    std::panic::set_hook(Box::new(|_| {}));
    let found = std::panic::catch_unwind(|| shuttle::check_random(|| model(false), ITERATIONS));
    let _ = std::panic::take_hook();
    let Err(e) = found else { panic!("the model did not find the write lost by clearing quiet late") };
    let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("lost"), "another failure: {msg}");
}
