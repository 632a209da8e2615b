// SPDX-License-Identifier: GPL-2.0
//! The scan (`scan start [<MiB/s>] | stop | status`), a background patrol
//! read: the worker reads the main device in 64 KiB chunks within a rate
//! limit, and a block of a failing chunk that fails every read retry is
//! marked pending, as a failed read through the target would mark it.
//! Remapped blocks are not read from main. Suspend and remove stop a scan,
//! and a suspended target (or one not resumed yet) refuses to start one:
//! nothing would stop it before the destructor.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};

use kernel::prelude::*;

use super::target::RemapTarget;
use crate::dm::log::{dm_info_limited, dm_warn_limited};
use crate::dm::sched::{sleep_ms, NoIoScope};
use crate::dm::{IoBuffer, Target};
use crate::dm_remap_core::status_line::{ScanProgress, ScanState};

/// Chunks read per worker run before it yields (and requeues itself).
const CHUNKS_PER_RUN: u32 = 16;

const RUNNING: u8 = 1;
const DONE: u8 = 2;
const STOPPED: u8 = 3;

/// Scan progress, shared by messages, status and the worker.
pub(crate) struct Scan {
    /// 0 (idle, never started), `RUNNING`, `DONE` or `STOPPED`.
    state: AtomicU8,
    /// Set from presuspend (and from construction) until resume: no scan
    /// may start. `start` and `block` pair up with sequentially consistent
    /// accesses, so a start that races a suspend is either refused or seen
    /// running, and stopped, by the suspend.
    blocked: AtomicBool,
    /// Next block to read.
    position: AtomicU64,
    /// Blocks found unreadable (newly pending) by this scan.
    found: AtomicU64,
    mib_per_s: AtomicU32,
    /// Sleep owed to the rate limit, in microseconds.
    owed_us: AtomicU64,
}

impl Default for Scan {
    fn default() -> Self {
        Self {
            state: AtomicU8::new(0),
            // A new table has not resumed yet.
            blocked: AtomicBool::new(true),
            position: AtomicU64::new(0),
            found: AtomicU64::new(0),
            mib_per_s: AtomicU32::new(0),
            owed_us: AtomicU64::new(0),
        }
    }
}

impl Scan {
    fn state(&self) -> ScanState {
        match self.state.load(Ordering::Relaxed) {
            RUNNING => ScanState::Running,
            DONE => ScanState::Done,
            STOPPED => ScanState::Stopped,
            _ => ScanState::Idle,
        }
    }

    /// Stops a running scan; `true` if one was running.
    pub(crate) fn stop(&self) -> bool {
        self.state.compare_exchange(RUNNING, STOPPED, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    fn running(&self) -> bool {
        self.state.load(Ordering::Relaxed) == RUNNING
    }

    /// Refuses scans from now on and stops a running one; `true` if one was
    /// running. Presuspend and the destructor.
    pub(crate) fn block(&self) -> bool {
        self.blocked.store(true, Ordering::SeqCst);
        self.state.compare_exchange(RUNNING, STOPPED, Ordering::SeqCst, Ordering::Relaxed).is_ok()
    }

    /// Allows scans again. Resume, and an undone presuspend.
    pub(crate) fn unblock(&self) {
        self.blocked.store(false, Ordering::SeqCst);
    }
}

impl RemapTarget {
    /// `scan start`: restarts the scan from block 0; `EBUSY` while the
    /// device is suspended.
    pub(super) fn scan_start(&self, target: &Target<Self>, mib_per_s: u32) -> Result {
        let refuse = || {
            dm_warn_limited!(self.name, "scan start refused: the device is suspended\n");
            Err(EBUSY)
        };
        if self.scan.blocked.load(Ordering::SeqCst) {
            return refuse();
        }
        self.scan.position.store(0, Ordering::Relaxed);
        self.scan.found.store(0, Ordering::Relaxed);
        self.scan.owed_us.store(0, Ordering::Relaxed);
        self.scan.mib_per_s.store(mib_per_s, Ordering::Relaxed);
        self.scan.state.store(RUNNING, Ordering::SeqCst);
        // A suspend that began since the check above either sees the scan
        // running and stops it, or is seen here (see `Scan::blocked`).
        if self.scan.blocked.load(Ordering::SeqCst) {
            self.scan.stop();
            return refuse();
        }
        dm_info_limited!(self.name, "patrol read started at {} MiB/s\n", mib_per_s);
        target.queue_work();
        Ok(())
    }

    /// Where the scan is (`scan status` and the status line).
    pub(super) fn scan_progress(&self) -> ScanProgress {
        let position = self.scan.position.load(Ordering::Relaxed);
        ScanProgress::at(self.scan.state(), position, self.geo.main_blocks(), self.scan.found.load(Ordering::Relaxed))
    }

    /// Reads up to `CHUNKS_PER_RUN` chunks, then requeues the worker while
    /// the scan runs.
    pub(super) fn scan_step(&self, target: &Target<Self>) {
        if !self.scan.running() {
            return;
        }
        let _noio = NoIoScope::enter();
        let Ok(mut buf) = IoBuffer::new() else {
            target.queue_work();
            return;
        };
        let chunk = self.geo.blocks_of_bytes(IoBuffer::BYTES).max(1);
        for _ in 0..CHUNKS_PER_RUN {
            if !self.scan.running() {
                return;
            }
            let pos = self.scan.position.load(Ordering::Relaxed);
            let total = self.geo.main_blocks();
            if pos >= total {
                if self.scan.state.compare_exchange(RUNNING, DONE, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
                    dm_info_limited!(
                        self.name,
                        "patrol read done, {} unreadable block(s) found\n",
                        self.scan.found.load(Ordering::Relaxed)
                    );
                }
                return;
            }
            let n = chunk.min(total - pos);
            // At most the buffer's 64 KiB.
            let len = self.geo.bytes_of(n);
            if self.devices.main().read_sync(self.geo.main_sector(pos), &mut buf, len).is_err() {
                let found = crate::dm_remap_core::engine::recovery::scan_blocks(&self, pos, n);
                self.scan.found.fetch_add(found, Ordering::Relaxed);
            }
            self.scan.position.store(pos.saturating_add(n), Ordering::Relaxed);
            self.recover_all();
            self.rate_limit(len as u64);
        }
        target.queue_work();
    }

    /// Sleeps as long as reading `bytes` takes at the scan's rate.
    fn rate_limit(&self, bytes: u64) {
        let rate = u64::from(self.scan.mib_per_s.load(Ordering::Relaxed).max(1));
        let owed = self
            .scan
            .owed_us
            .load(Ordering::Relaxed)
            .saturating_add(bytes.saturating_mul(1_000_000).checked_div(rate.saturating_mul(1 << 20)).unwrap_or(0));
        let ms = owed / 1000;
        self.scan.owed_us.store(owed % 1000, Ordering::Relaxed);
        if ms > 0 {
            sleep_ms(u32::try_from(ms).unwrap_or(u32::MAX));
        }
    }
}
