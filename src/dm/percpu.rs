// SPDX-License-Identifier: GPL-2.0
//! Per-cpu counters: the I/O path adds to its own CPU's copy (no shared
//! cache line bounces between CPUs); readers sum over all CPUs.

use core::ptr::NonNull;

use kernel::prelude::*;

use super::bindings;

/// `N` signed 64-bit counters per CPU.
///
/// # Invariants
///
/// `ptr` is a per-cpu allocation of `N` u64 from `dm_remap_percpu_alloc`,
/// freed only by `drop`.
pub(crate) struct PerCpuCounters<const N: usize> {
    ptr: NonNull<u64>,
}

// SAFETY: per-cpu counters are updated with this_cpu ops and read with
// per_cpu_ptr sums, both safe from any context and thread.
unsafe impl<const N: usize> Send for PerCpuCounters<N> {}
// SAFETY: as above.
unsafe impl<const N: usize> Sync for PerCpuCounters<N> {}

impl<const N: usize> PerCpuCounters<N> {
    /// Zeroed counters.
    pub(crate) fn new() -> Result<Self> {
        let n = u32::try_from(N).map_err(|_| EINVAL)?;
        // SAFETY: plain allocation; the result is checked for null.
        let ptr = unsafe { bindings::dm_remap_percpu_alloc(n) };
        Ok(Self { ptr: NonNull::new(ptr).ok_or(ENOMEM)? })
    }

    /// Adds `v` to counter `i` on this CPU. Any context.
    #[inline(always)]
    pub(crate) fn add(&self, i: usize, v: i64) {
        if i < N {
            // SAFETY: `ptr` is live (type invariants) and `i < N`.
            unsafe { this_cpu_add(self.ptr.as_ptr().add(i), v) };
        }
    }

    /// Adds `v` to counter `i` on this CPU and returns the counter's new
    /// value on this CPU (0 when `i` is out of range). Any context.
    #[inline(always)]
    pub(crate) fn add_return(&self, i: usize, v: i64) -> i64 {
        if i < N {
            // SAFETY: `ptr` is live (type invariants) and `i < N`.
            unsafe { this_cpu_add_return(self.ptr.as_ptr().add(i), v) }
        } else {
            0
        }
    }

    /// Counter `i` summed over all CPUs.
    pub(crate) fn sum(&self, i: usize) -> i64 {
        if i >= N {
            return 0;
        }
        // SAFETY: `ptr` is live (type invariants) and `i < N`.
        unsafe { bindings::dm_remap_percpu_sum(self.ptr.as_ptr(), i as u32) }
    }

    /// Sets counter `i` to zero on every CPU (racing adds may survive).
    pub(crate) fn zero(&self, i: usize) {
        if i < N {
            // SAFETY: `ptr` is live (type invariants) and `i < N`.
            unsafe { bindings::dm_remap_percpu_zero(self.ptr.as_ptr(), i as u32) };
        }
    }
}

impl<const N: usize> Drop for PerCpuCounters<N> {
    fn drop(&mut self) {
        // SAFETY: allocated by `new` and freed once, here.
        unsafe { bindings::dm_remap_percpu_free(self.ptr.as_ptr()) };
    }
}

/// `this_cpu_add(*counter, v)`: on x86-64 the one instruction the kernel's
/// macro emits (so the I/O path makes no call), elsewhere the C helper.
///
/// Why not the C helper everywhere (issue 16.5, measured December 2026):
/// the 6.12 kernel crate has no per-cpu API, and with `CONFIG_LTO_NONE` a
/// C helper is never inlined into Rust, so each add is a call (call, endbr,
/// push/mov/pop of the frame pointer, ret: about 6 instructions more). The
/// icount benchmark (null_blk, 0 remaps, overhead against dm-linear) gave
/// randread4k 2.185% with this asm, 2.244% with the helper (+6 instructions
/// per bio: one add_return) and randwrite4k 2.309% against 2.503% (+20
/// instructions: add_return, in-flight enter and exit), where two identical
/// runs agree to 0.008%. See Documentation/benchmark.rst.
///
/// # Safety
///
/// `counter` must point into a live per-cpu allocation of u64.
#[inline(always)]
unsafe fn this_cpu_add(counter: *mut u64, v: i64) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: x86-64 addresses this CPU's copy of a per-cpu variable as
    // %gs:<per-cpu pointer> (what `this_cpu_add` compiles to); one
    // read-modify-write instruction cannot be split by preemption or an
    // interrupt. `counter` is a valid per-cpu pointer (the caller's contract).
    unsafe {
        core::arch::asm!("add qword ptr gs:[{p}], {v}", p = in(reg) counter, v = in(reg) v,
            options(nostack));
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: `counter` is a valid per-cpu pointer (the caller's contract).
    unsafe {
        bindings::dm_remap_percpu_add(counter, 0, v)
    };
}

/// `this_cpu_add_return(*counter, v)`, as [`this_cpu_add`].
///
/// # Safety
///
/// `counter` must point into a live per-cpu allocation of u64.
#[inline(always)]
unsafe fn this_cpu_add_return(counter: *mut u64, v: i64) -> i64 {
    #[cfg(target_arch = "x86_64")]
    {
        let mut old = v;
        // SAFETY: as in `this_cpu_add`; `xadd` leaves the old value in `old`
        // (what the kernel's `this_cpu_add_return` emits on x86-64).
        unsafe {
            core::arch::asm!("xadd qword ptr gs:[{p}], {old}", p = in(reg) counter, old = inout(reg) old,
                options(nostack));
        }
        old.wrapping_add(v)
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: `counter` is a valid per-cpu pointer (the caller's contract).
    unsafe {
        bindings::dm_remap_percpu_add_return(counter, 0, v)
    }
}

/// Nanoseconds on the monotonic clock.
pub(crate) fn now_ns() -> u64 {
    // SAFETY: reads the clock; any context.
    unsafe { bindings::dm_remap_now_ns() }
}
