// SPDX-License-Identifier: GPL-2.0
//! What the abstraction keeps for one constructed target: the target's
//! sysfs slot, its worker, its `dm_target`, and the target itself, pinned
//! together in one box behind `ti->private`.
//!
//! The lifetimes are right by construction. The fields are initialised in
//! place (pin-init) in the order sysfs, worker, target, so a constructor
//! that fails after the worker exists drops the worker (destroying its
//! workqueue) and the empty slot, and leaks nothing. On drop, the directory
//! goes first (its removal waits for reads and writes that use the
//! target), then the target's [`TargetOps::stop_work`] runs, then the
//! worker is shut down (no run touches the target afterwards); only then do
//! the fields drop, in declaration order: the empty slot, the worker (its
//! workqueue destroyed, drained), and last the target.

use core::ptr::NonNull;

use kernel::prelude::*;

use super::bindings;
use super::sysfs::SysfsSlot;
use super::target::{Target, TargetOps};
use super::work::Worker;

/// One constructed target of type `T` and what the abstraction keeps for it.
///
/// # Invariants
///
/// `ti` is the `dm_target` whose `private` holds this instance, from the
/// constructor's success until the destructor; that `dm_target` outlives
/// the instance. The instance is pinned (it lives in a `Pin<KBox<_>>`), so
/// the worker's embedded item and the target's pinned fields never move.
#[pin_data(PinnedDrop)]
pub(super) struct Instance<T: TargetOps> {
    /// `/sys/kernel/dm_remap/<name>/` while the device is active; its reads
    /// and writes use `inner`. Emptied first on drop.
    #[pin]
    sysfs: SysfsSlot,
    /// Runs `inner.run_work`; shut down on drop before `inner` drops.
    #[pin]
    worker: Worker<T>,
    ti: NonNull<bindings::dm_target>,
    /// The target; dropped last.
    #[pin]
    inner: T,
}

impl<T: TargetOps> Instance<T> {
    /// An instance of the target `init` builds, for `ti`.
    ///
    /// `ti` must be the target being constructed, whose `private` the caller
    /// sets to this instance once it is initialised (see the type
    /// invariants).
    pub(super) fn new(
        ti: NonNull<bindings::dm_target>,
        init: impl PinInit<T, super::CtrError>,
    ) -> impl PinInit<Self, super::CtrError> {
        try_pin_init!(Self {
            sysfs <- SysfsSlot::new(),
            worker <- Worker::new(),
            ti,
            inner <- init,
        }? super::CtrError)
    }

    /// The target.
    pub(super) fn inner(&self) -> &T {
        &self.inner
    }

    pub(super) fn worker(&self) -> &Worker<T> {
        &self.worker
    }

    pub(super) fn sysfs(&self) -> &SysfsSlot {
        &self.sysfs
    }

    /// The instance whose `worker` is `worker`.
    ///
    /// # Safety
    ///
    /// `worker` must be the `worker` field of an `Instance<T>` that stays
    /// alive while the returned borrow is used.
    pub(super) unsafe fn from_worker(worker: &Worker<T>) -> &Self {
        let worker = core::ptr::from_ref(worker);
        // SAFETY: the caller's contract: `worker` points into an `Instance<T>`,
        // so stepping back by the field's offset stays in that allocation and
        // gives a live instance.
        unsafe { &*kernel::container_of!(worker, Self, worker) }
    }

    /// One run of the worker: the target's `run_work`.
    pub(super) fn run_work(&self) {
        // SAFETY: `ti` is this instance's live `dm_target` (type invariants),
        // and the instance is alive for this borrow.
        let target = unsafe { Target::<T>::from_raw(self.ti.as_ptr()) };
        self.inner.run_work(target);
    }

    /// Ends everything that may still use the target, in order; the
    /// destructor calls it while the instance is still reachable, before
    /// it clears `private` and drops the box, so nothing holds a borrow of
    /// the instance when it drops. Idempotent: the drop calls it again.
    pub(super) fn teardown(&self) {
        // Reads and writes of the directory use the target: remove it first
        // (removal waits for those running).
        self.sysfs.remove();
        // Whatever would keep the worker busy or requeue it stops.
        self.inner.stop_work();
        // A run may still use the target (and may complete bios, whose
        // end_io finds the instance through `private`): wait for it, and
        // make every later one a no-op that touches only the worker.
        self.worker.shutdown();
    }
}

#[pinned_drop]
impl<T: TargetOps> PinnedDrop for Instance<T> {
    fn drop(self: Pin<&mut Self>) {
        // The destructor tore the instance down already (`teardown`), so no
        // directory read or write and no run of the worker holds a borrow of
        // it now; this repeats that (a no-op) so that the order holds for any
        // drop. The fields then drop in declaration order, the target last.
        self.teardown();
    }
}
