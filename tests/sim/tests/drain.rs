// SPDX-License-Identifier: GPL-2.0
//! The drain of the move protocol (`engine::drain`), alone, under many
//! interleavings: two writes counted in flight (one entering on one CPU
//! and completing on the other, as bios do) against a drain. After the
//! drain returns, no write counted in the old epoch may still be in
//! flight. The drain without its grace period after the flip (the order
//! of issue 13.11) breaks that; the whole simulation seldom reaches the
//! window, this small model does at once.

use shuttle::sync::atomic::{AtomicU8, Ordering};
use shuttle::sync::Arc;
use shuttle::thread;

use dm_remap_core::engine::drain::{drain, EpochCounts};
use dm_remap_sim::target::{InFlight, Rcu};

const NOT_YET: u8 = 0;
const DONE: u8 = 3;

/// One write: counted inside a read section on `enter_cpu`, completed on
/// `exit_cpu`. `state` is NOT_YET, 1 + the epoch it counts in, or DONE.
fn write(rcu: &Rcu, inflight: &InFlight<'_>, state: &AtomicU8, enter_cpu: usize, exit_cpu: usize) {
    let section = rcu.enter();
    let e = inflight.enter(enter_cpu);
    state.store(1 + e as u8, Ordering::SeqCst);
    rcu.exit(section);
    thread::yield_now();
    state.store(DONE, Ordering::SeqCst);
    inflight.exit(exit_cpu, e);
}

/// The model, with `drain_fn` as the drain.
fn model(drain_fn: fn(&InFlight<'_>)) {
    let rcu: &'static Rcu = Box::leak(Box::default());
    let inflight: &'static InFlight<'static> = Box::leak(Box::new(InFlight::new(rcu)));
    let states: Arc<[AtomicU8; 2]> = Arc::new([AtomicU8::new(NOT_YET), AtomicU8::new(NOT_YET)]);
    let writers: Vec<_> = [(0usize, 1usize), (1, 1)]
        .into_iter()
        .enumerate()
        .map(|(i, (enter, exit))| {
            let states = states.clone();
            thread::spawn(move || write(rcu, inflight, &states[i], enter, exit))
        })
        .collect();
    // Nothing flipped yet: epoch 0 is the one drained.
    let old = 1;
    drain_fn(inflight);
    for (i, s) in states.iter().enumerate() {
        assert_ne!(s.load(Ordering::SeqCst), old, "write {i}, counted in the drained epoch, is still in flight");
    }
    for w in writers {
        w.join().unwrap();
    }
}

/// The drain as it was: flip, then sum until zero.
fn drain_without_grace_period(counts: &InFlight<'_>) {
    let old = counts.flip();
    while counts.sum(old) > 0 {
        counts.pause();
    }
}

const ITERATIONS: usize = 20_000;

#[test]
fn no_write_of_the_drained_epoch_is_in_flight_after_a_drain() {
    shuttle::check_random(|| model(|c| drain(c)), ITERATIONS);
    shuttle::check_pct(|| model(|c| drain(c)), ITERATIONS, 3);
}

#[test]
fn without_the_grace_period_after_the_flip_a_write_is_missed() {
    std::panic::set_hook(Box::new(|_| {}));
    let found = std::panic::catch_unwind(|| shuttle::check_random(|| model(drain_without_grace_period), ITERATIONS));
    let _ = std::panic::take_hook();
    let Err(e) = found else { panic!("the model did not find the missed write of the old drain order") };
    let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("still in flight"), "another failure: {msg}");
}
