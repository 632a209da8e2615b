// SPDX-License-Identifier: GPL-2.0
//! A target's dedicated workqueue (WQ_MEM_RECLAIM, so it makes progress
//! under memory pressure, as I/O completion must) with one work item that
//! runs the target's [`TargetOps::run_work`]. Targets queue it through
//! [`Target::queue_work`]. The destructor shuts it down before the instance
//! goes: it waits for the run in progress, and every run after that does
//! nothing, so no run sees the instance once it starts to drop, whatever
//! the order of its fields (a run that requeues itself, like the scan
//! read, cannot keep it alive either). Queueing an already queued item
//! does nothing, so `run_work` must drain whatever it is told about, not
//! one thing per queue.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use kernel::prelude::*;
use kernel::types::Opaque;

use super::bindings;
use super::target::{Target, TargetOps};

#[repr(C)]
struct Item<T> {
    /// First field: the work callback finds the item from it.
    work: Opaque<bindings::work_struct>,
    owner: AtomicPtr<T>,
    ti: AtomicPtr<bindings::dm_target>,
    /// Set by `shutdown`: runs no longer call the owner.
    dead: AtomicBool,
}

/// A workqueue and its work item.
///
/// # Invariants
///
/// `wq` is a live workqueue until `drop` destroys it; `item.work` was
/// initialised with `run::<T>`; until `item.dead` is set, `item.owner` and
/// `item.ti` are null or the constructed target instance (and its
/// `dm_target`) that last queued the item, which stay alive until this
/// worker is shut down (the contract of `queue`, kept by the destructor
/// trampoline). Once `item.dead` is set, runs do not touch them.
pub(crate) struct Worker<T: TargetOps> {
    wq: NonNull<bindings::workqueue_struct>,
    item: Pin<KBox<Item<T>>>,
}

// SAFETY: the workqueue API may be used from any context and thread.
unsafe impl<T: TargetOps> Send for Worker<T> {}
// SAFETY: as above; `owner` is atomic.
unsafe impl<T: TargetOps> Sync for Worker<T> {}

/// # Safety
///
/// Called by the workqueue only, with the `work` of a live `Item<T>`.
unsafe extern "C" fn run<T: TargetOps>(work: *mut bindings::work_struct) {
    let item = work.cast::<Item<T>>();
    // SAFETY: `work` is the first field of a `repr(C)` `Item<T>` that lives
    // while the worker exists; a queued worker is drained before it drops.
    let (dead, owner, ti) = unsafe {
        let item = &*item;
        (item.dead.load(Ordering::SeqCst), item.owner.load(Ordering::Acquire), item.ti.load(Ordering::Acquire))
    };
    if !dead && !owner.is_null() && !ti.is_null() {
        // SAFETY: not shut down when this run began, so `queue`'s contract
        // keeps the instance and its target alive until it ends: `shutdown`
        // waits for a run in progress.
        unsafe { (*owner).run_work(Target::from_raw(ti)) };
    }
}

impl<T: TargetOps> Worker<T> {
    /// A new workqueue called `name`, with its item.
    pub(crate) fn new(name: &'static CStr) -> Result<Self> {
        let item = KBox::pin(
            Item {
                work: Opaque::uninit(),
                owner: AtomicPtr::new(core::ptr::null_mut()),
                ti: AtomicPtr::new(core::ptr::null_mut()),
                dead: AtomicBool::new(false),
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `item.work` is pinned on the heap and initialised here, once,
        // before it can be queued.
        unsafe { bindings::dm_remap_init_work(item.work.get(), Some(run::<T>)) };
        // SAFETY: `name` is a NUL-terminated string that outlives the queue.
        let wq = unsafe { bindings::dm_remap_alloc_workqueue(name.as_char_ptr()) };
        let wq = NonNull::new(wq).ok_or(ENOMEM)?;
        Ok(Self { wq, item })
    }

    /// Queues the item to run `owner.run_work(ti)`.
    ///
    /// # Safety
    ///
    /// `owner` must be the constructed instance of `ti`, and both must stay
    /// alive until this worker is shut down.
    pub(super) unsafe fn queue(&self, ti: *mut bindings::dm_target, owner: &T) {
        if self.item.dead.load(Ordering::SeqCst) {
            return;
        }
        self.item.owner.store(core::ptr::from_ref(owner).cast_mut(), Ordering::Release);
        self.item.ti.store(ti, Ordering::Release);
        // SAFETY: `wq` is live and `work` initialised (type invariants).
        unsafe { bindings::dm_remap_queue_work(self.wq.as_ptr(), self.item.work.get()) };
    }

    /// Waits until every queued run has finished.
    pub(crate) fn flush(&self) {
        // SAFETY: `wq` is live (type invariants); we are not on it.
        unsafe { bindings::dm_remap_flush_workqueue(self.wq.as_ptr()) };
    }

    /// Ends the owner's runs: waits for the one in progress (and those
    /// queued), and every run after this returns at once, without the
    /// owner, which may then be dropped.
    pub(crate) fn shutdown(&self) {
        // Pairs with the load at the start of `run`: a run that saw `false`
        // had begun, or been queued, before this store, and the flush below
        // waits for it.
        self.item.dead.store(true, Ordering::SeqCst);
        self.flush();
    }
}

impl<T: TargetOps> Drop for Worker<T> {
    fn drop(&mut self) {
        // Runs the drain below might start do not touch the owner.
        self.item.dead.store(true, Ordering::SeqCst);
        // SAFETY: `wq` is live (type invariants); destroying drains it first,
        // so the item is idle before it is freed.
        unsafe { bindings::dm_remap_destroy_workqueue(self.wq.as_ptr()) };
    }
}
