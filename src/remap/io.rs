// SPDX-License-Identifier: GPL-2.0
//! The I/O path: `map` and `end_io`, and the routing they share with the
//! worker's resubmission of bios it held. Nothing here sleeps or panics
//! (`scripts/check-io-path.py`).

use super::counters::Recovery;
use super::platform::op_of;
use super::target::RemapTarget;
use crate::dm::percpu::now_ns;
use crate::dm::rcu::RcuReadGuard;
use crate::dm::{
    AtomicBioStack, Bio, BioList, BioOp, BlkStatus, DeferredBio, EndBio, EndIoOutcome, KeptBio, MapBio, MapOutcome,
    SavedIter, Target,
};
use crate::dm_remap_core::engine::route::{self, decide, decide_held, Decision};
use crate::dm_remap_core::engine::Event;
use crate::dm_remap_core::error_class::ErrorClass;

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
    /// The per-bio data of a bio `map` sends: its saved iterator, whether to
    /// the spare, the epoch `inflight` counted it in, if it did, and when it
    /// was sent, if it is timed.
    #[inline(always)]
    fn sent(iter: SavedIter, spare: Option<u64>, epoch: Option<u8>, start_ns: u64) -> Self {
        Self {
            iter,
            counted: epoch.is_some(),
            epoch: epoch.unwrap_or(0),
            to_spare: spare.is_some(),
            deferred: false,
            status: BlkStatus::OK,
            start_ns,
        }
    }

    /// Records where the worker sent a bio it held (see [`PerBio::sent`]).
    fn resent(&mut self, iter: SavedIter, spare: Option<u64>, epoch: Option<u8>) {
        self.iter = iter;
        self.to_spare = spare.is_some();
        if let Some(e) = epoch {
            self.counted = true;
            self.epoch = e;
        }
    }
}

/// A routing decision for a bio, made inside the read section `guard`,
/// which stays open until the bio is held back or sent.
struct Routed {
    guard: RcuReadGuard,
    decision: Decision,
    op: BioOp,
    /// Where the bio lies in the target (see `placement`).
    offset: u64,
    block: u64,
    blocks: u64,
}

/// Bios `map` and `end_io` hand to the worker (lock-free stacks: the I/O
/// path pushes, the worker takes all).
pub(crate) struct ToWorker {
    /// Failed bios taken over by `end_io`.
    failed: AtomicBioStack<DeferredBio<RemapTarget>>,
    /// Writes to pending blocks, held by `map`.
    pending_writes: AtomicBioStack<KeptBio<RemapTarget>>,
}

impl ToWorker {
    pub(crate) fn new() -> Self {
        Self { failed: AtomicBioStack::new(), pending_writes: AtomicBioStack::new() }
    }

    /// The failed bios and the pending writes handed over so far.
    pub(crate) fn take_all(&self) -> (BioList<DeferredBio<RemapTarget>>, BioList<KeptBio<RemapTarget>>) {
        (self.failed.take_all(), self.pending_writes.take_all())
    }
}

impl RemapTarget {
    /// `map`: an empty flush goes to both devices (one copy each), a data
    /// bio where the table says.
    #[inline]
    pub(super) fn map_bio<'a>(&self, target: &Target<Self>, mut bio: MapBio<'a, Self>) -> MapOutcome<'a> {
        if bio.is_preflush() {
            // An empty flush (DM strips PREFLUSH from bios with data); copy
            // `SPARE_FLUSH_BIO` flushes the spare, the other one the main device.
            let dev = if bio.target_bio_nr() == SPARE_FLUSH_BIO { self.devices.spare() } else { self.devices.main() };
            let sector = bio.sector();
            bio.redirect(dev, sector);
            return bio.remapped(PerBio::default());
        }
        self.route_data(target, bio)
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
        if per_bio.start_ns == 0 && (status.is_ok() || per_bio.deferred) {
            // Success, or the worker's verdict on a bio it took over.
            return bio.done();
        }
        self.end_timed_or_failed(target, bio, per_bio, status)
    }

    /// The rest of `end_io`, out of line: a timed bio's latency (the clock
    /// is a call), then a failure (`failed`).
    #[cold]
    #[inline(never)]
    fn end_timed_or_failed<'a>(
        &self,
        target: &Target<Self>,
        bio: EndBio<'a, Self>,
        per_bio: &mut PerBio,
        status: BlkStatus,
    ) -> EndIoOutcome<'a> {
        if per_bio.start_ns != 0 {
            self.stats.record_latency(per_bio.to_spare, now_ns().saturating_sub(per_bio.start_ns));
            per_bio.start_ns = 0;
        }
        if status.is_ok() || per_bio.deferred {
            return bio.done();
        }
        self.failed(target, bio, per_bio, status)
    }

    /// Where a data bio goes: the one routing of `map` and of the bios the
    /// worker gives back. Decides from what is published, inside a read
    /// section that the result keeps open: the caller holds the bio back or
    /// hands it to the worker inside that same section, or counts it in
    /// flight there (`leave_routed`) and sends it (a remap clears its runs,
    /// waits for a grace period, then releases the bios held back).
    #[inline(always)]
    fn route(&self, bio: &Bio, from_worker: bool) -> Routed {
        let (offset, block, blocks) = self.placement(bio);
        let op = bio.op();
        let guard = RcuReadGuard::new();
        let view = self.mapping.view(&guard);
        let decision = if from_worker {
            decide_held(&view, op_of(op), block, blocks)
        } else {
            decide(&view, op_of(op), block, blocks)
        };
        Routed { guard, decision, op, offset, block, blocks }
    }

    /// Takes a bio `route` decided to send (its first `blocks` blocks, the
    /// caller having split it there) out of its read section; a bio that
    /// changes data is counted in flight inside that section (see
    /// `InFlight`). Returns the bio's in-flight epoch, for its `PerBio`. The
    /// caller saves the bio's iterator, records both and sends the bio
    /// (`send`) last.
    #[inline(always)]
    fn leave_routed(&self, routed: Routed) -> Option<u8> {
        // Only bios that change data need draining before a remap copies
        // blocks.
        let epoch = (routed.op != BioOp::Read).then(|| self.inflight.enter());
        drop(routed.guard);
        epoch
    }

    /// `map` of a data bio (or of the part of it that goes to one place): a
    /// bio to a run being moved is held back, a write to a pending block
    /// goes to the worker, any other is sent, counted and sampled. The
    /// common case, a bio sent whole, runs straight through without a call;
    /// the others are out of line (`route_data_split`, `send_timed`).
    #[inline(always)]
    fn route_data<'a>(&self, target: &Target<Self>, bio: MapBio<'a, Self>) -> MapOutcome<'a> {
        let routed = self.route(&bio, false);
        match routed.decision {
            Decision::Send { spare, blocks } if blocks == routed.blocks => self.send_routed(bio, routed, spare),
            _ => self.route_data_split(target, bio, routed),
        }
    }

    /// `route_data` of a bio held back, handed to the worker or split.
    #[cold]
    #[inline(never)]
    fn route_data_split<'a>(&self, target: &Target<Self>, mut bio: MapBio<'a, Self>, routed: Routed) -> MapOutcome<'a> {
        match routed.decision {
            Decision::Hold { blocks: n } => {
                bio.accept_partial(self.sectors_u32(n));
                let (kept, proof) = bio.keep(PerBio::default());
                self.mapping.hold(kept);
                drop(routed);
                MapOutcome::Submitted(proof)
            }
            Decision::Pending => {
                bio.accept_partial(self.sectors_u32(1));
                let iter = bio.save_iter();
                let (kept, proof) = bio.keep(PerBio { iter, ..PerBio::default() });
                self.to_worker.pending_writes.push(kept);
                drop(routed);
                target.queue_work();
                MapOutcome::Submitted(proof)
            }
            Decision::Send { spare, blocks: n } => {
                if n < routed.blocks {
                    bio.accept_partial(self.sectors_u32(n));
                }
                self.send_routed(bio, routed, spare)
            }
        }
    }

    /// Sends a bio `route` decided to send whole (after any split): counts
    /// it in flight inside its read section if it changes data, counts it,
    /// records its `PerBio` and readdresses it.
    #[inline(always)]
    fn send_routed<'a>(&self, mut bio: MapBio<'a, Self>, routed: Routed, spare: Option<u64>) -> MapOutcome<'a> {
        let (op, offset) = (routed.op, routed.offset);
        let epoch = self.leave_routed(routed);
        let timed = match op {
            BioOp::Read => self.stats.count_io(false, spare.is_some()),
            BioOp::Write => self.stats.count_io(true, spare.is_some()),
            _ => false,
        };
        if timed {
            return self.send_timed(bio, offset, spare, epoch);
        }
        // Where the bio is in the target, before `send` readdresses it.
        let per_bio = PerBio::sent(bio.save_iter(), spare, epoch, 0);
        self.send(&mut bio, offset, spare);
        bio.remapped(per_bio)
    }

    /// The end of `send_routed` for a bio whose latency is sampled: reading
    /// the clock is a call, out of the common path.
    #[cold]
    #[inline(never)]
    fn send_timed<'a>(
        &self,
        mut bio: MapBio<'a, Self>,
        offset: u64,
        spare: Option<u64>,
        epoch: Option<u8>,
    ) -> MapOutcome<'a> {
        let per_bio = PerBio::sent(bio.save_iter(), spare, epoch, now_ns());
        self.send(&mut bio, offset, spare);
        bio.remapped(per_bio)
    }

    /// Sends a bio the worker gives back where `map` would send it now,
    /// holding it back if its run is being moved.
    pub(super) fn route_held(&self, mut kept: KeptBio<Self>) {
        let routed = self.route(kept.bio(), true);
        match routed.decision {
            Decision::Hold { blocks: n } | Decision::Send { blocks: n, .. } if n < routed.blocks => {
                // map split held bios at run edges, so this cannot happen;
                // fail the bio rather than send part of it astray.
                let block = routed.block;
                drop(routed);
                self.log(Event::HeldAcrossEdge { block });
            }
            Decision::Hold { .. } | Decision::Pending => {
                // Inside the section that saw the run (see `route`).
                self.mapping.hold(kept);
                drop(routed);
            }
            Decision::Send { spare, .. } => {
                let offset = routed.offset;
                let epoch = self.leave_routed(routed);
                let iter = kept.bio().save_iter();
                kept.per_bio().resent(iter, spare, epoch);
                self.send(kept.bio(), offset, spare);
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
            self.recovery.add(Recovery::SpareErrors, 1);
        } else if class == ErrorClass::Device {
            self.recovery.add(Recovery::DeviceErrors, 1);
        }
        // Media and transient failures are retried, on main or on the spare
        // (where a failing spare block is replaced by a fresh one).
        let recoverable = route::recoverable(op_of(op), data, class);
        if !recoverable {
            self.recovery.add(Recovery::Unrecovered, 1);
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
        self.stats.count_error(op == BioOp::Read);
        if !self.recoverable(op, per_bio, status) {
            // Health may have changed; the worker reports it.
            target.queue_work();
            return bio.done();
        }
        per_bio.deferred = true;
        per_bio.status = status;
        let (deferred, proof) = bio.defer();
        self.to_worker.failed.push(deferred);
        target.queue_work();
        EndIoOutcome::Incomplete(proof)
    }

    /// Where `bio` lies in the target: its sector offset, first block and
    /// number of blocks (at least 1).
    #[inline]
    pub(super) fn placement(&self, bio: &Bio) -> (u64, u64, u64) {
        let offset = bio.sector().wrapping_sub(self.geo.begin());
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
                bio.redirect(self.devices.spare(), sector);
            }
            None => bio.redirect(self.devices.main(), offset),
        }
    }

    pub(super) fn sectors_u32(&self, blocks: u64) -> u32 {
        u32::try_from(self.geo.sectors_of(blocks)).unwrap_or(u32::MAX)
    }
}
