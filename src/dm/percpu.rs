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
    #[inline]
    pub(crate) fn add(&self, i: usize, v: i64) {
        if i < N {
            // SAFETY: `ptr` is live (type invariants) and `i < N`.
            unsafe { bindings::dm_remap_percpu_add(self.ptr.as_ptr(), i as u32, v) };
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

/// Nanoseconds on the monotonic clock.
pub(crate) fn now_ns() -> u64 {
    // SAFETY: reads the clock; any context.
    unsafe { bindings::dm_remap_now_ns() }
}
