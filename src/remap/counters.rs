// SPDX-License-Identifier: GPL-2.0
//! I/O counters shown in the INFO status.

use core::sync::atomic::{AtomicU64, Ordering};

/// Counts of bios the target routed and of completions that failed.
#[derive(Default)]
pub(crate) struct IoCounters {
    reads: AtomicU64,
    writes: AtomicU64,
    remapped_reads: AtomicU64,
    remapped_writes: AtomicU64,
    errors: AtomicU64,
}

/// A consistent-enough copy of the counters for reporting.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IoCounts {
    pub(crate) reads: u64,
    pub(crate) writes: u64,
    pub(crate) remapped_reads: u64,
    pub(crate) remapped_writes: u64,
    pub(crate) errors: u64,
}

impl IoCounters {
    /// Counts one data bio in `reads` or `writes`, and also in the
    /// `remapped_*` counter when it went to the spare.
    pub(crate) fn count_io(&self, write: bool, remapped: bool) {
        let (all, to_spare) = if write {
            (&self.writes, &self.remapped_writes)
        } else {
            (&self.reads, &self.remapped_reads)
        };
        all.fetch_add(1, Ordering::Relaxed);
        if remapped {
            to_spare.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one failed completion.
    pub(crate) fn count_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads all counters.
    pub(crate) fn snapshot(&self) -> IoCounts {
        IoCounts {
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            remapped_reads: self.remapped_reads.load(Ordering::Relaxed),
            remapped_writes: self.remapped_writes.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}

/// Counts of what error recovery did.
#[derive(Default)]
pub(crate) struct RecoveryCounters {
    /// Blocks remapped automatically after a write error.
    pub(crate) auto_remaps: AtomicU64,
    /// Reads that failed but succeeded on a retry.
    pub(crate) soft_read_errors: AtomicU64,
    /// Failed I/O whose error was returned to the caller.
    pub(crate) unrecovered: AtomicU64,
    /// Device- or transport-class errors from the main device.
    pub(crate) device_errors: AtomicU64,
    /// Errors on the spare device.
    pub(crate) spare_errors: AtomicU64,
}

impl RecoveryCounters {
    /// Adds `n` to `counter`.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads `counter`.
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
