// SPDX-License-Identifier: GPL-2.0
//! Counting of bios that change data (all but reads) in flight, in two
//! epochs, so that a remap can wait for every such bio mapped before a point
//! without stopping new ones: blocks are copied only once no write to them is
//! still on its way. Reads in flight need no wait: the blocks they read keep
//! their data, and spare blocks are never handed out twice. The
//! counts are per-cpu: a bio may complete on another CPU than it was mapped
//! on, so one CPU's count can go negative, but the sum is exact.

use core::sync::atomic::{AtomicUsize, Ordering};

use kernel::prelude::*;

use crate::dm::percpu::PerCpuCounters;

/// In-flight counts per epoch.
pub(crate) struct InFlight {
    epoch: AtomicUsize,
    counts: PerCpuCounters<2>,
}

impl InFlight {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self { epoch: AtomicUsize::new(0), counts: PerCpuCounters::new()? })
    }

    /// Counts a bio mapped now; returns the epoch to pass to `exit`. Called
    /// inside the RCU read section that routed the bio (see `drain`).
    pub(crate) fn enter(&self) -> u8 {
        let e = self.epoch.load(Ordering::Acquire) & 1;
        self.counts.add(e, 1);
        // `e` is 0 or 1.
        e as u8
    }

    /// Uncounts a completed bio of epoch `epoch`.
    pub(crate) fn exit(&self, epoch: u8) {
        self.counts.add(usize::from(epoch & 1), -1);
    }

    /// Makes new bios count in the other epoch; returns the old one (see
    /// `crate::dm_remap_core::engine::drain`, which waits for it to empty).
    pub(crate) fn flip_epoch(&self) -> usize {
        self.epoch.fetch_add(1, Ordering::AcqRel) & 1
    }

    /// Bios of `epoch` in flight, summed over the CPUs.
    pub(crate) fn count(&self, epoch: usize) -> i64 {
        self.counts.sum(epoch & 1)
    }
}
