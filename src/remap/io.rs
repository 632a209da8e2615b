// SPDX-License-Identifier: GPL-2.0
//! The I/O path: `map` and `end_io`, and the routing they share with the
//! worker's resubmission of bios it held. Nothing here sleeps or panics
//! (`scripts/check-io-path.py`).

use super::counters::{LatencyHistograms, RecoveryCounters};
use super::pending_blocks::PendingBlocks;
use super::platform::op_of;
use super::table::{MovingRuns, Table};
use super::target::RemapTarget;
use crate::dm::percpu::now_ns;
use crate::dm::rcu::RcuReadGuard;
use crate::dm::{Bio, BioOp, BlkStatus, EndBio, EndIoOutcome, KeptBio, MapBio, MapOutcome, SavedIter, Target};
use crate::logic::engine::route::{self, decide, decide_held, Decision, Published};
use crate::logic::engine::Event;
use crate::logic::error_class::ErrorClass;
use crate::logic::extent::Route;

/// Index of the flush copy that goes to the spare (`num_flush_bios` is 2).
const SPARE_FLUSH_BIO: u32 = 1;

/// What DM keeps beside each bio for us.
#[derive(Default)]
pub(crate) struct PerBio {
    /// Where the bio's data is and where it was addressed in the target
    /// (saved in map; zero bytes for bios map did not route).
    pub(super) iter: SavedIter,
    /// Whether `inflight` counted the bio, and in which epoch.
    counted: bool,
    epoch: u8,
    /// Whether map sent the bio to the spare.
    pub(super) to_spare: bool,
    /// Whether end_io handed the bio to the worker, or the worker gives its
    /// verdict (the next completion passes as it is).
    pub(super) deferred: bool,
    /// The status the bio first failed with.
    pub(super) status: BlkStatus,
    /// When map() sent the bio (local clock, ns; 0 for bios not timed).
    start_ns: u64,
}

impl PerBio {
    /// Records that `inflight` counted the bio in `epoch`.
    pub(super) fn count_in(&mut self, epoch: u8) {
        self.counted = true;
        self.epoch = epoch;
    }
}

/// What `map` reads under RCU, for the engine's routing.
pub(super) struct View<'g> {
    moving: &'g MovingRuns,
    pending: &'g PendingBlocks,
    table: &'g Table,
}

impl<'g> View<'g> {
    #[inline(always)]
    pub(super) fn new(t: &'g RemapTarget, guard: &'g RcuReadGuard) -> Self {
        Self { moving: t.moving.read(guard), pending: t.pending_blocks.read(guard), table: t.table.read(guard) }
    }
}

impl Published for View<'_> {
    #[inline(always)]
    fn moving(&self, block: u64, blocks: u64) -> Option<Route> {
        self.moving.route(block, blocks)
    }
    #[inline(always)]
    fn first_pending_in(&self, block: u64, blocks: u64) -> Option<u64> {
        self.pending.first_in(block, blocks)
    }
    #[inline(always)]
    fn route(&self, block: u64, blocks: u64) -> Route {
        self.table.route(block, blocks)
    }
}

impl RemapTarget {
    /// `map`: an empty flush goes to both devices (one copy each), a data
    /// bio where the table says.
    #[inline]
    pub(super) fn map_bio<'a>(
        &self,
        target: &Target<Self>,
        mut bio: MapBio<'a, Self>,
        per_bio: &mut PerBio,
    ) -> MapOutcome<'a> {
        if bio.is_preflush() {
            // An empty flush (DM strips PREFLUSH from bios with data); copy
            // `SPARE_FLUSH_BIO` flushes the spare, the other one the main device.
            let dev = if bio.target_bio_nr() == SPARE_FLUSH_BIO { &self.spare } else { &self.main };
            let sector = bio.sector();
            bio.redirect(dev, sector);
            return bio.remapped();
        }
        self.route_data(target, bio, per_bio)
    }

    /// `end_io`: uncounts and times the bio; a failure goes to `failed`.
    #[inline]
    pub(super) fn end_bio<'a>(
        &self,
        target: &Target<Self>,
        bio: EndBio<'a, Self>,
        per_bio: &mut PerBio,
        status: BlkStatus,
    ) -> EndIoOutcome<'a> {
        if per_bio.counted {
            self.inflight.exit(per_bio.epoch);
            per_bio.counted = false;
        }
        if per_bio.start_ns != 0 {
            self.latency.record(per_bio.to_spare, now_ns().saturating_sub(per_bio.start_ns));
            per_bio.start_ns = 0;
        }
        if status.is_ok() || per_bio.deferred {
            // Success, or the worker's verdict on a bio it took over.
            return bio.done();
        }
        self.failed(target, bio, per_bio, status)
    }

    /// Sends a data bio (or the part of it that goes to one place) where the
    /// engine's routing says, or holds it: a bio to a run being moved goes
    /// on `held`, a write to a pending block to the worker, both inside the
    /// read section that saw the run or the pending block (a remap clears
    /// its runs, waits for a grace period, then releases `held`).
    #[inline(always)]
    fn route_data<'a>(&self, target: &Target<Self>, mut bio: MapBio<'a, Self>, per_bio: &mut PerBio) -> MapOutcome<'a> {
        let (offset, block, blocks) = self.placement(&bio);
        let op = bio.op();
        let guard = RcuReadGuard::new();
        let (spare, n) = match decide(&View::new(self, &guard), op_of(op), block, blocks) {
            Decision::Hold { blocks: n } => {
                bio.accept_partial(self.sectors_u32(n));
                let (kept, proof) = bio.keep();
                self.held.lock().push(kept);
                drop(guard);
                return MapOutcome::Submitted(proof);
            }
            Decision::Pending => {
                bio.accept_partial(self.sectors_u32(1));
                per_bio.iter = bio.save_iter();
                let (kept, proof) = bio.keep();
                self.pending_writes.push(kept);
                drop(guard);
                target.queue_work();
                return MapOutcome::Submitted(proof);
            }
            Decision::Send { spare, blocks } => (spare, blocks),
        };
        if n < blocks {
            bio.accept_partial(self.sectors_u32(n));
        }
        if op != BioOp::Read {
            // Only bios that change data need draining before a remap
            // copies blocks (see `InFlight`).
            per_bio.count_in(self.inflight.enter());
        }
        drop(guard);
        per_bio.iter = bio.save_iter();
        per_bio.to_spare = spare.is_some();
        let nth = match op {
            BioOp::Read => self.counters.count_io(false, per_bio.to_spare),
            BioOp::Write => self.counters.count_io(true, per_bio.to_spare),
            _ => 0,
        };
        if LatencyHistograms::samples(nth) {
            per_bio.start_ns = now_ns();
        }
        self.send(&mut bio, offset, spare);
        bio.remapped()
    }

    /// Sends a bio the worker gives back where `map` would send it now,
    /// holding it if its run is being moved; counted in flight inside the
    /// read section that routed it, as map counts.
    pub(super) fn route_held(&self, mut kept: KeptBio<Self>) {
        let (offset, block, blocks) = self.placement(kept.bio());
        let op = kept.bio().op();
        let guard = RcuReadGuard::new();
        let view = View::new(self, &guard);
        match decide_held(&view, op_of(op), block, blocks) {
            Decision::Hold { blocks: n } | Decision::Send { blocks: n, .. } if n < blocks => {
                // map split held bios at run edges, so this cannot happen;
                // fail the bio rather than send part of it astray.
                drop(guard);
                self.log(Event::HeldAcrossEdge { block });
            }
            Decision::Hold { .. } | Decision::Pending => {
                // Inside the section that saw the run (see `map`).
                self.held.lock().push(kept);
                drop(guard);
            }
            Decision::Send { spare, .. } => {
                let epoch = (op != BioOp::Read).then(|| self.inflight.enter());
                drop(guard);
                let iter = kept.bio().save_iter();
                self.send(kept.bio(), offset, spare);
                let per_bio = kept.per_bio();
                per_bio.iter = iter;
                per_bio.to_spare = spare.is_some();
                if let Some(e) = epoch {
                    per_bio.count_in(e);
                }
                kept.submit();
            }
        }
    }

    /// Whether the worker should try to recover a failed completion; counts
    /// the failures it will not see.
    fn recoverable(&self, op: BioOp, per_bio: &PerBio, status: BlkStatus) -> bool {
        let data = per_bio.iter.bytes() > 0;
        // Unknown statuses are the device's problem; `end_io` passes
        // successes before it asks.
        let class = status.class().unwrap_or(ErrorClass::Device);
        if data && per_bio.to_spare {
            RecoveryCounters::add(&self.recovery.spare_errors, 1);
        } else if class == ErrorClass::Device {
            RecoveryCounters::add(&self.recovery.device_errors, 1);
        }
        // Media and transient failures are retried, on main or on the spare
        // (where a failing spare block is replaced by a fresh one).
        let recoverable = route::recoverable(op_of(op), data, class);
        if !recoverable {
            RecoveryCounters::add(&self.recovery.unrecovered, 1);
        }
        recoverable
    }

    /// A failed completion: counted, and taken over for the worker to
    /// recover when it can be.
    #[cold]
    #[inline(never)]
    fn failed<'a>(
        &self,
        target: &Target<Self>,
        bio: EndBio<'a, Self>,
        per_bio: &mut PerBio,
        status: BlkStatus,
    ) -> EndIoOutcome<'a> {
        let op = bio.op();
        self.counters.count_error(op == BioOp::Read);
        if !self.recoverable(op, per_bio, status) {
            // Health may have changed; the worker reports it.
            target.queue_work();
            return bio.done();
        }
        per_bio.deferred = true;
        per_bio.status = status;
        let (deferred, proof) = bio.defer();
        self.failed.push(deferred);
        target.queue_work();
        EndIoOutcome::Incomplete(proof)
    }

    /// The spare-pool block `block` is remapped to, if it is.
    pub(super) fn spare_block_of(&self, block: u64) -> Option<u64> {
        self.table.read(&RcuReadGuard::new()).route(block, 1).spare
    }

    /// Where `bio` lies in the target: its sector offset, first block and
    /// number of blocks (at least 1).
    #[inline]
    pub(super) fn placement(&self, bio: &Bio) -> (u64, u64, u64) {
        let offset = bio.sector().wrapping_sub(self.begin);
        let blocks = self.geo.blocks_in(u64::from(bio.size_bytes() >> 9)).max(1);
        (offset, self.geo.block_of(offset), blocks)
    }

    /// Points `bio`, at target offset `offset`, at its spare-pool block, or
    /// at the main device when `spare` is `None`.
    #[inline]
    pub(super) fn send(&self, bio: &mut Bio, offset: u64, spare: Option<u64>) {
        match spare {
            Some(pool_block) => {
                let sector = self.geo.spare_sector(pool_block).wrapping_add(self.geo.offset_in_block(offset));
                bio.redirect(&self.spare, sector);
            }
            None => bio.redirect(&self.main, offset),
        }
    }

    pub(super) fn sectors_u32(&self, blocks: u64) -> u32 {
        u32::try_from(self.geo.sectors_of(blocks)).unwrap_or(u32::MAX)
    }
}
