// SPDX-License-Identifier: GPL-2.0
//! Sleeping, allocation scopes of the current task, and randomness.

use super::bindings;

/// Sleeps for about `ms` milliseconds. Process context only.
pub(crate) fn sleep_ms(ms: u32) {
    // SAFETY: callers run in process context, where sleeping is allowed.
    unsafe { bindings::dm_remap_msleep(ms) };
}

/// While alive, every allocation of this task behaves as GFP_NOIO: memory
/// reclaim will not issue I/O, which could wait on bios the task holds back.
///
/// # Invariants
///
/// `flags` came from `memalloc_noio_save()` on this task and is restored once,
/// by `drop`; the scope cannot leave the task (`!Send`).
pub(crate) struct NoIoScope {
    flags: u32,
    _not_send: core::marker::PhantomData<*mut ()>,
}

impl NoIoScope {
    /// Enters the scope.
    pub(crate) fn enter() -> Self {
        // SAFETY: always allowed in task context; balanced by `drop`.
        let flags = unsafe { bindings::dm_remap_noio_save() };
        Self { flags, _not_send: core::marker::PhantomData }
    }
}

impl Drop for NoIoScope {
    fn drop(&mut self) {
        // SAFETY: `flags` came from the matching save on this task (type
        // invariants); scopes nest like the stack frames that own them.
        unsafe { bindings::dm_remap_noio_restore(self.flags) };
    }
}

/// Fills `buf` with random bytes from the kernel's CRNG.
pub(crate) fn fill_random(buf: &mut [u8]) {
    // SAFETY: `buf` is a live, writable slice of exactly `buf.len()` bytes.
    unsafe { bindings::dm_remap_random_bytes(buf.as_mut_ptr().cast(), buf.len()) };
}
