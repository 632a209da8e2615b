// SPDX-License-Identifier: GPL-2.0
//! What the target counts: the bios it routes and the completions that
//! failed, latency histograms of a sample of them (together, [`IoStats`]),
//! and what error recovery did ([`RecoveryCounters`]).

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::prelude::*;

use crate::dm::percpu::PerCpuCounters;

/// Counts of bios the target routed and of completions that failed,
/// per-cpu so the I/O path touches no shared cache line.
struct IoCounters(PerCpuCounters<6>);

const READS: usize = 0;
const WRITES: usize = 1;
const REMAPPED_READS: usize = 2;
const REMAPPED_WRITES: usize = 3;
const READ_ERRORS: usize = 4;
const WRITE_ERRORS: usize = 5;

/// A consistent-enough copy of the counters for reporting.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IoCounts {
    pub(crate) reads: u64,
    pub(crate) writes: u64,
    pub(crate) remapped_reads: u64,
    pub(crate) remapped_writes: u64,
    /// Failed completions of reads, of writes (and other bios), and both.
    pub(crate) read_errors: u64,
    pub(crate) write_errors: u64,
    pub(crate) errors: u64,
}

impl IoCounters {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self(PerCpuCounters::new()?))
    }

    /// Counts one data bio in `reads` or `writes`, and also in the
    /// `remapped_*` counter when it went to the spare; returns the bio's
    /// number among this CPU's reads or writes.
    #[inline(always)]
    pub(crate) fn count_io(&self, write: bool, remapped: bool) -> i64 {
        let (all, to_spare) = if write { (WRITES, REMAPPED_WRITES) } else { (READS, REMAPPED_READS) };
        if remapped {
            self.0.add(to_spare, 1);
        }
        self.0.add_return(all, 1)
    }

    /// Counts one failed completion, of a read or not.
    pub(crate) fn count_error(&self, read: bool) {
        self.0.add(if read { READ_ERRORS } else { WRITE_ERRORS }, 1);
    }

    /// Reads all counters.
    pub(crate) fn snapshot(&self) -> IoCounts {
        let get = |i| u64::try_from(self.0.sum(i)).unwrap_or(0);
        IoCounts {
            reads: get(READS),
            writes: get(WRITES),
            remapped_reads: get(REMAPPED_READS),
            remapped_writes: get(REMAPPED_WRITES),
            read_errors: get(READ_ERRORS),
            write_errors: get(WRITE_ERRORS),
            errors: get(READ_ERRORS) + get(WRITE_ERRORS),
        }
    }

    /// Zeroes every counter (`clear_stats`).
    pub(crate) fn clear(&self) {
        (0..6).for_each(|i| self.0.zero(i));
    }
}

/// What error recovery counts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Recovery {
    /// Blocks remapped automatically after a write error.
    AutoRemaps,
    /// Reads that failed but succeeded on a retry.
    SoftReadErrors,
    /// Failed I/O whose error was returned to the caller.
    Unrecovered,
    /// Device- or transport-class errors from the main device.
    DeviceErrors,
    /// Errors on the spare device.
    SpareErrors,
}

/// Counts of what error recovery did, by [`Recovery`].
#[derive(Default)]
pub(crate) struct RecoveryCounters([AtomicU64; 5]);

impl RecoveryCounters {
    /// Adds `n` to the count of `what`.
    pub(crate) fn add(&self, what: Recovery, n: u64) {
        if let Some(c) = self.0.get(what as usize) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The count of `what`.
    pub(crate) fn get(&self, what: Recovery) -> u64 {
        self.0.get(what as usize).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// Buckets of a latency histogram: bucket 0 counts latencies under 1 us,
/// bucket i (1..31) those in [2^(i-1), 2^i) us, the last also everything
/// longer.
pub(crate) const LATENCY_BUCKETS: usize = 32;

/// One data bio in this many is timed: each CPU times its reads and its
/// writes whose number (see [`IoCounters::count_io`]) is a multiple of it.
/// Reading the clock twice per bio cost more than the rest of the I/O path's
/// additions together (Documentation/benchmark.rst).
pub(crate) const LATENCY_SAMPLE_EVERY: i64 = 32;
const _: () = assert!(LATENCY_SAMPLE_EVERY.count_ones() == 1);

/// log2 latency histograms of a sample of data bios (see
/// [`LATENCY_SAMPLE_EVERY`]), for those served by the main device and those
/// sent to the spare; per-cpu like the I/O counters.
struct LatencyHistograms(PerCpuCounters<{ 2 * LATENCY_BUCKETS }>);

impl LatencyHistograms {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self(PerCpuCounters::new()?))
    }

    /// Whether the bio numbered `nth` on its CPU is timed (`nth` counts
    /// from 1, and `clear_stats` zeroes it: never negative).
    #[inline(always)]
    pub(crate) fn samples(nth: i64) -> bool {
        nth & (LATENCY_SAMPLE_EVERY - 1) == 0
    }

    /// Counts one bio that took `ns` nanoseconds.
    pub(crate) fn record(&self, remapped: bool, ns: u64) {
        let us = ns / 1000;
        let bucket = (64 - us.leading_zeros() as usize).min(LATENCY_BUCKETS - 1);
        self.0.add(usize::from(remapped) * LATENCY_BUCKETS + bucket, 1);
    }

    /// The histogram of the main device (`remapped` false) or the spare.
    pub(crate) fn snapshot(&self, remapped: bool) -> [u64; LATENCY_BUCKETS] {
        let mut out = [0u64; LATENCY_BUCKETS];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = u64::try_from(self.0.sum(usize::from(remapped) * LATENCY_BUCKETS + i)).unwrap_or(0);
        }
        out
    }

    /// Zeroes both histograms.
    pub(crate) fn clear(&self) {
        (0..2 * LATENCY_BUCKETS).for_each(|i| self.0.zero(i));
    }
}

/// The I/O counters and the latency histograms, which `clear_stats` zeroes
/// together.
pub(crate) struct IoStats {
    counters: IoCounters,
    /// log2 latency histograms of bios served by main and by the spare.
    latency: LatencyHistograms,
}

impl IoStats {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self { counters: IoCounters::new()?, latency: LatencyHistograms::new()? })
    }

    /// Counts one data bio (see [`IoCounters::count_io`]); `true` when it
    /// is one of the bios timed (see [`LATENCY_SAMPLE_EVERY`]).
    #[inline(always)]
    pub(crate) fn count_io(&self, write: bool, remapped: bool) -> bool {
        LatencyHistograms::samples(self.counters.count_io(write, remapped))
    }

    /// Counts one failed completion, of a read or not.
    pub(crate) fn count_error(&self, read: bool) {
        self.counters.count_error(read);
    }

    /// Counts one timed bio that took `ns` nanoseconds.
    pub(crate) fn record_latency(&self, remapped: bool, ns: u64) {
        self.latency.record(remapped, ns);
    }

    /// Reads all counters.
    pub(crate) fn counts(&self) -> IoCounts {
        self.counters.snapshot()
    }

    /// The latency histogram of the main device (`remapped` false) or the
    /// spare.
    pub(crate) fn histogram(&self, remapped: bool) -> [u64; LATENCY_BUCKETS] {
        self.latency.snapshot(remapped)
    }

    /// Zeroes the counters and the histograms (`clear_stats`).
    pub(crate) fn clear(&self) {
        self.counters.clear();
        self.latency.clear();
    }
}
