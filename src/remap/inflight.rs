// SPDX-License-Identifier: GPL-2.0
//! Counting of data bios in flight, in two epochs, so that a writer can wait
//! for every bio mapped before a point without stopping new ones.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::dm::sched;

/// In-flight counts per epoch.
#[derive(Default)]
pub(crate) struct InFlight {
    epoch: AtomicUsize,
    counts: [AtomicU64; 2],
}

impl InFlight {
    /// Counts a bio mapped now; returns the epoch to pass to `exit`.
    pub(crate) fn enter(&self) -> u8 {
        let e = self.epoch.load(Ordering::Acquire) & 1;
        if let Some(c) = self.counts.get(e) {
            c.fetch_add(1, Ordering::AcqRel);
        }
        // `e` is 0 or 1.
        e as u8
    }

    /// Uncounts a completed bio of epoch `epoch`.
    pub(crate) fn exit(&self, epoch: u8) {
        if let Some(c) = self.counts.get(usize::from(epoch & 1)) {
            c.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Waits until every bio counted before the call has completed. Bios
    /// mapped meanwhile count in the other epoch and are not waited for.
    /// Sleeps; callers serialise drains (the target's writer lock).
    pub(crate) fn drain(&self) {
        let old = self.epoch.fetch_add(1, Ordering::AcqRel) & 1;
        if let Some(c) = self.counts.get(old) {
            while c.load(Ordering::Acquire) != 0 {
                sched::sleep_ms(1);
            }
        }
    }
}
