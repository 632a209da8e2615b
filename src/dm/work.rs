// SPDX-License-Identifier: GPL-2.0
//! A target's dedicated workqueue (WQ_MEM_RECLAIM, so it makes progress
//! under memory pressure, as I/O completion must) with one work item that
//! runs the target's [`TargetOps::run_work`]. Targets queue it through
//! [`Target::queue_work`](super::Target::queue_work). Queueing an already
//! queued item does nothing, so `run_work` must drain whatever it is told
//! about, not one thing per queue.
//!
//! The worker is a field of the target's [`Instance`], declared before the
//! target itself, and its work item is embedded in it: a run finds its
//! target by `container_of`, not through a pointer stored at queue time.
//! The instance's drop shuts the worker down before the target drops (see
//! `instance.rs`): it waits for the run in progress, and every run after
//! that does nothing, so a run that requeues itself (the scan read) cannot
//! keep it alive either.
//!
//! Why not `kernel::workqueue`: Linux 6.12's kernel crate cannot allocate a
//! workqueue with WQ_MEM_RECLAIM (only the system queues and
//! `Queue::try_spawn` on them), and a storage target's worker completes
//! I/O that reclaim may be waiting for. `helpers.c` allocates it.

use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};

use kernel::prelude::*;
use kernel::types::Opaque;

use super::bindings;
use super::instance::Instance;
use super::target::{CtrError, TargetOps};

/// What the workqueue is called (its rescuer thread's name).
const NAME: &CStr = kernel::c_str!("dm-remap");

/// A workqueue and its work item, the `worker` of an [`Instance<T>`].
///
/// # Invariants
///
/// Only [`Instance`] creates a `Worker<T>` (the constructor is private to
/// `src/dm`), as its `worker` field, so `work` lies inside a live
/// `Instance<T>`. `work` was initialised with `run::<T>`. `wq`, when
/// present, is a live workqueue until `drop` destroys it (draining it
/// first); it is present exactly when `T` has a `run_work`. Once `dead` is
/// set, runs do not touch the instance.
#[pin_data(PinnedDrop)]
pub(super) struct Worker<T: TargetOps> {
    #[pin]
    work: Opaque<bindings::work_struct>,
    wq: Option<NonNull<bindings::workqueue_struct>>,
    /// Set by `shutdown`: runs no longer call the target.
    dead: AtomicBool,
    _target: PhantomData<T>,
}

// SAFETY: the workqueue API may be used from any context and thread; `dead`
// is atomic, and the rest is not changed after construction.
unsafe impl<T: TargetOps> Send for Worker<T> {}
// SAFETY: as above.
unsafe impl<T: TargetOps> Sync for Worker<T> {}

/// # Safety
///
/// Called by the workqueue only, with the `work` of a live `Worker<T>`.
unsafe extern "C" fn run<T: TargetOps>(work: *mut bindings::work_struct) {
    // SAFETY: `work` is the `work` field of a live `Worker<T>` (only
    // `Worker::new` hands out `run::<T>`, for its own item); a queued item is
    // drained before its worker drops.
    let worker = unsafe { &*kernel::container_of!(work.cast::<Opaque<bindings::work_struct>>(), Worker<T>, work) };
    if worker.dead.load(Ordering::SeqCst) {
        return;
    }
    // SAFETY: every `Worker<T>` is the `worker` of an `Instance<T>` (type
    // invariants); not shut down when this run began, so the instance's
    // drop, which shuts the worker down before the target drops, waits for
    // this run to end.
    unsafe { Instance::<T>::from_worker(worker) }.run_work();
}

impl<T: TargetOps> Worker<T> {
    /// The work item, and a workqueue if `T` has work to run. Only for
    /// [`Instance`] (see the type invariants).
    pub(super) fn new() -> impl PinInit<Self, CtrError> {
        try_pin_init!(Self {
            // SAFETY: `slot` is the pinned, not yet initialised item;
            // initialised here, once, before it can be queued.
            work <- Opaque::ffi_init(|slot| unsafe { bindings::dm_remap_init_work(slot, Some(run::<T>)) }),
            wq: if T::HAS_RUN_WORK {
                // SAFETY: `NAME` is a NUL-terminated string that outlives the
                // queue.
                let wq = unsafe { bindings::dm_remap_alloc_workqueue(NAME.as_char_ptr()) };
                Some(NonNull::new(wq).ok_or(CtrError::new(ENOMEM, c"Cannot allocate the workqueue"))?)
            } else {
                None
            },
            dead: AtomicBool::new(false),
            _target: PhantomData,
        }? CtrError)
    }

    /// Queues the item to run the target's `run_work`, unless the worker is
    /// shut down (or `T` has no `run_work`).
    pub(super) fn queue(&self) {
        let Some(wq) = self.wq else { return };
        if self.dead.load(Ordering::SeqCst) {
            return;
        }
        // SAFETY: `wq` is live and `work` initialised (type invariants); the
        // item lives inside its instance until this worker has been drained.
        unsafe { bindings::dm_remap_queue_work(wq.as_ptr(), self.work.get()) };
    }

    /// Waits until every queued run has finished. Not from a run.
    pub(super) fn flush(&self) {
        if let Some(wq) = self.wq {
            // SAFETY: `wq` is live (type invariants); the caller is not on it.
            unsafe { bindings::dm_remap_flush_workqueue(wq.as_ptr()) };
        }
    }

    /// Ends the target's runs: waits for the one in progress (and those
    /// queued), and every run after this returns at once, without the
    /// target, which may then be dropped.
    pub(super) fn shutdown(&self) {
        // Pairs with the load at the start of `run`: a run that saw `false`
        // had begun, or been queued, before this store, and the flush below
        // waits for it.
        self.dead.store(true, Ordering::SeqCst);
        self.flush();
    }
}

#[pinned_drop]
impl<T: TargetOps> PinnedDrop for Worker<T> {
    fn drop(self: Pin<&mut Self>) {
        // Runs the drain below might start do not touch the target.
        self.dead.store(true, Ordering::SeqCst);
        if let Some(wq) = self.wq {
            // SAFETY: `wq` is live (type invariants); destroying drains it
            // first, so the item is idle before the instance holding it is
            // freed.
            unsafe { bindings::dm_remap_destroy_workqueue(wq.as_ptr()) };
        }
    }
}
