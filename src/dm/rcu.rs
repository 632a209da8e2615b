// SPDX-License-Identifier: GPL-2.0
//! RCU-published boxes: lock-free readers, writers that replace the whole
//! value and free the old one after a grace period.

use core::marker::PhantomData;
use core::sync::atomic::{compiler_fence, AtomicPtr, Ordering};

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use super::bindings;

/// An RCU read-side critical section; ends when dropped. Never sleeps.
///
/// # Invariants
///
/// `rcu_read_lock()` was called by `new` on this CPU and is undone once, by
/// `drop`; the guard cannot move to another thread (`!Send`).
pub(crate) struct RcuReadGuard(PhantomData<*mut ()>);

/// Whether `rcu_read_lock()` and `rcu_read_unlock()` are a compiler
/// barrier alone in this kernel's configuration (`PREEMPT_NONE` without
/// lockdep): then the guard emits that barrier instead of calling the C
/// helpers, which `map` would otherwise call once each per bio.
const LOCK_IS_BARRIER: bool = bindings::dm_remap_config_DM_REMAP_RCU_READ_LOCK_IS_BARRIER != 0;

impl RcuReadGuard {
    /// Enters a read-side critical section.
    #[inline]
    pub(crate) fn new() -> Self {
        if LOCK_IS_BARRIER {
            // `rcu_read_lock()` here: `barrier()`.
            compiler_fence(Ordering::SeqCst);
        } else {
            // SAFETY: always allowed; balanced by `drop` (type invariants).
            unsafe { bindings::dm_remap_rcu_read_lock() };
        }
        Self(PhantomData)
    }
}

impl Drop for RcuReadGuard {
    #[inline]
    fn drop(&mut self) {
        if LOCK_IS_BARRIER {
            // `rcu_read_unlock()` here: `barrier()`.
            compiler_fence(Ordering::SeqCst);
        } else {
            // SAFETY: `new` entered the section on this thread (type
            // invariants).
            unsafe { bindings::dm_remap_rcu_read_unlock() };
        }
    }
}

/// Waits until every read-side critical section that began before the call
/// has ended. Sleeps: process context only.
pub(crate) fn synchronize() {
    // SAFETY: callers run in process context (the constructor, messages and
    // work items), where sleeping is allowed.
    unsafe { bindings::dm_remap_synchronize_rcu() };
}

/// A heap value that readers reach under RCU and writers replace whole.
///
/// # Invariants
///
/// `ptr` always comes from `KBox::into_raw` and is owned by this value. It is
/// only swapped with `writer` held, and a swapped-out version is freed only
/// after a grace period.
pub(crate) struct RcuBox<T> {
    ptr: AtomicPtr<T>,
    writer: Pin<KBox<Mutex<()>>>,
}

// SAFETY: readers get `&T` from any thread, and `T` is dropped on whichever
// thread replaces or drops the box.
unsafe impl<T: Send + Sync> Send for RcuBox<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for RcuBox<T> {}

impl<T> RcuBox<T> {
    /// Publishes `value` as the first version.
    pub(crate) fn new(value: KBox<T>) -> Result<Self> {
        let writer = KBox::pin_init(new_mutex!(()), GFP_KERNEL)?;
        Ok(Self { ptr: AtomicPtr::new(KBox::into_raw(value)), writer })
    }

    /// The current version, valid while both `guard` and this box live.
    #[inline]
    pub(crate) fn read<'a>(&'a self, _guard: &'a RcuReadGuard) -> &'a T {
        // Acquire pairs with the Release in `update` (rcu_dereference).
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: `p` is a live box (type invariants): a replaced version is
        // freed only after a grace period, which cannot end while `_guard`
        // holds this read-side critical section open, and the current one
        // only when the box drops, which the borrow of `self` rules out.
        unsafe { &*p }
    }

    /// Calls `f` with the current version while no writer can replace it.
    /// May sleep (it takes the writer lock): not for the I/O path.
    pub(crate) fn read_locked<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let _lock = self.writer.lock();
        // SAFETY: `ptr` is live (type invariants), and only a holder of
        // `writer`, which we are until `_lock` drops, can swap it out.
        f(unsafe { &*self.ptr.load(Ordering::Acquire) })
    }

    /// Replaces the value with `f(current)`, then waits for a grace period
    /// and frees the old version. Sleeps. When `f` fails nothing changes.
    pub(crate) fn update<E>(&self, f: impl FnOnce(&T) -> Result<KBox<T>, E>) -> Result<(), E> {
        let lock = self.writer.lock();
        // SAFETY: `ptr` is live (type invariants), and only a holder of
        // `writer`, which we are until `lock` drops, can swap it out.
        let new = f(unsafe { &*self.ptr.load(Ordering::Acquire) })?;
        // Release pairs with the Acquire in `read` (rcu_assign_pointer).
        let old = self.ptr.swap(KBox::into_raw(new), Ordering::AcqRel);
        drop(lock);
        synchronize();
        // SAFETY: `old` came from `KBox::into_raw` (type invariants), is no
        // longer reachable, `f`'s borrow of it has ended, and every reader that
        // could hold it has finished.
        drop(unsafe { KBox::from_raw(old) });
        Ok(())
    }
}

impl<T> Drop for RcuBox<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `KBox::into_raw` (type invariants); with
        // `&mut self` no reader or writer remains.
        drop(unsafe { KBox::from_raw(*self.ptr.get_mut()) });
    }
}
