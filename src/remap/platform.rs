// SPDX-License-Identifier: GPL-2.0
//! The engine's platform in the kernel: what `crate::dm_remap_core::engine` decides
//! about failed bios, pending writes and moves is carried out here with the
//! target's devices, its RCU-published table, moving runs and pending set,
//! its held bios and its in-flight counts. The host simulator mirrors each
//! of these steps (`tests/sim/src/target.rs`).

use kernel::prelude::*;
use kernel::sync::lock::{mutex::MutexBackend, Guard};

use super::counters::Recovery;
use super::inflight::InFlight;
use super::io::PerBio;
use super::metadata::Metadata;
use super::pending_blocks::PendingBlocks;
use super::table::Table;
use super::target::RemapTarget;
use crate::dm::log::{dm_err_limited, dm_info_limited, dm_warn_limited};
use crate::dm::rcu;
use crate::dm::sched::{sleep_ms, NoIoScope};
use crate::dm::{BioOp, BlkStatus, DeferredBio, IoBuffer, KeptBio, SavedIter};
use crate::dm_remap_core::engine::drain::{drain, EpochCounts};
use crate::dm_remap_core::engine::{
    BioInfo, ChangeFailed, Completion, Counter, Event, IoBuf, IoFailed, List, NoMem, Op, Platform, WorkBio, Writer,
};
use crate::dm_remap_core::extent::{self, Extent};
use crate::dm_remap_core::journal;
use crate::dm_remap_core::policy::Policies;
use crate::dm_remap_core::spare_alloc::SpareAllocator;

/// A list for the engine: a `KVec` whose growth can fail.
pub(crate) struct KList<T>(KVec<T>);

impl<T> Default for KList<T> {
    fn default() -> Self {
        Self(KVec::new())
    }
}

impl<T> core::ops::Deref for KList<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> core::ops::DerefMut for KList<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<T> IntoIterator for KList<T> {
    type Item = T;
    type IntoIter = kernel::alloc::kvec::IntoIter<T, kernel::alloc::allocator::Kmalloc>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<T> List<T> for KList<T> {
    fn try_push(&mut self, v: T) -> Result<(), NoMem> {
        // The worker runs in a NOIO scope: this allocation cannot recurse
        // into I/O through us.
        self.0.push(v, GFP_KERNEL).map_err(|_| NoMem)
    }
}

impl IoBuf for IoBuffer {
    fn bytes(&mut self, len: usize) -> &mut [u8] {
        IoBuffer::bytes(self, len)
    }
}

/// The engine's `Op` of a block-layer operation.
pub(super) fn op_of(op: BioOp) -> Op {
    match op {
        BioOp::Read => Op::Read,
        BioOp::Write => Op::Write,
        BioOp::WriteZeroes => Op::WriteZeroes,
        BioOp::Discard | BioOp::SecureErase => Op::Discard,
        _ => Op::Other,
    }
}

/// What the worker needs of a bio, from its saved iterator.
fn info_of(target: &RemapTarget, op: BioOp, per_bio: &PerBio) -> BioInfo {
    let iter = per_bio.iter;
    BioInfo {
        op: op_of(op),
        block: target.geo.block_of(iter.sector().wrapping_sub(target.geo.begin())),
        blocks: target.geo.blocks_of_bytes(iter.bytes() as usize),
        class: per_bio.status.class(),
        on_spare: per_bio.to_spare,
    }
}

/// The status the worker's verdict `how` completes a bio with.
fn status_of(how: Completion, per_bio: &PerBio) -> BlkStatus {
    match how {
        Completion::Ok => BlkStatus::OK,
        Completion::AsFailed => per_bio.status,
        Completion::IoError => BlkStatus::IOERR,
    }
}

fn copy_out(bio: &mut crate::dm::Bio, iter: &SavedIter, at: usize, buf: &mut [u8]) -> Result<(), IoFailed> {
    let at = u32::try_from(at).map_err(|_| IoFailed)?;
    bio.copy_out(iter, at, buf).map_err(|_| IoFailed)
}

fn copy_in(bio: &mut crate::dm::Bio, iter: &SavedIter, at: usize, buf: &[u8]) -> Result<(), IoFailed> {
    let at = u32::try_from(at).map_err(|_| IoFailed)?;
    bio.copy_in(iter, at, buf).map_err(|_| IoFailed)
}

/// A failed bio the worker took over, with the target it belongs to.
pub(crate) struct FailedBio<'t> {
    target: &'t RemapTarget,
    bio: DeferredBio<RemapTarget>,
}

impl WorkBio for FailedBio<'_> {
    fn info(&mut self) -> BioInfo {
        let op = self.bio.bio().op();
        info_of(self.target, op, self.bio.per_bio())
    }
    fn copy_out(&mut self, at: usize, buf: &mut [u8]) -> Result<(), IoFailed> {
        let iter = self.bio.per_bio().iter;
        copy_out(self.bio.bio(), &iter, at, buf)
    }
    fn copy_in(&mut self, at: usize, buf: &[u8]) -> Result<(), IoFailed> {
        let iter = self.bio.per_bio().iter;
        copy_in(self.bio.bio(), &iter, at, buf)
    }
}

/// A bio `map` held for the worker, with the target it belongs to.
pub(crate) struct HeldBio<'t> {
    target: &'t RemapTarget,
    bio: KeptBio<RemapTarget>,
}

impl WorkBio for HeldBio<'_> {
    fn info(&mut self) -> BioInfo {
        let op = self.bio.bio().op();
        info_of(self.target, op, self.bio.per_bio())
    }
    fn copy_out(&mut self, at: usize, buf: &mut [u8]) -> Result<(), IoFailed> {
        let iter = self.bio.per_bio().iter;
        copy_out(self.bio.bio(), &iter, at, buf)
    }
    fn copy_in(&mut self, at: usize, buf: &[u8]) -> Result<(), IoFailed> {
        let iter = self.bio.per_bio().iter;
        copy_in(self.bio.bio(), &iter, at, buf)
    }
}

impl EpochCounts for InFlight {
    fn flip(&self) -> usize {
        self.flip_epoch()
    }
    fn sum(&self, epoch: usize) -> i64 {
        self.count(epoch)
    }
    fn synchronize(&self) {
        rcu::synchronize();
    }
    fn pause(&self) {
        sleep_ms(1);
    }
}

impl RemapTarget {
    /// Handles every failed bio and held pending write, round after round,
    /// until none is left.
    pub(super) fn recover_all(&self) {
        // The bios wait on us: reclaim must not wait on them.
        let _noio = NoIoScope::enter();
        loop {
            let (mut failed, mut writes) = self.to_worker.take_all();
            if failed.is_empty() && writes.is_empty() {
                return;
            }
            crate::dm_remap_core::engine::recovery::recover_round(
                &self,
                core::iter::from_fn(|| failed.pop().map(|bio| FailedBio { target: self, bio })),
                core::iter::from_fn(|| writes.pop().map(|bio| HeldBio { target: self, bio })),
            );
        }
    }

    fn device_block(&self, pool_block: u64) -> u64 {
        self.geo.spare_sector(pool_block)
    }
}

impl<'t> Platform for &'t RemapTarget {
    type Buf = IoBuffer;
    type List<T> = KList<T>;
    type Failed = FailedBio<'t>;
    type Held = HeldBio<'t>;
    type Meta = Metadata;
    type Fence = KBox<PendingBlocks>;
    type WriterGuard<'a>
        = Guard<'a, Writer<Metadata, IoBuffer>, MutexBackend>
    where
        Self: 'a;

    fn lock_writer(&self) -> Self::WriterGuard<'_> {
        self.writer()
    }
    fn in_step(&self, writer: &Writer<Metadata, IoBuffer>) -> bool {
        let in_step = writer.meta.in_step();
        if !in_step {
            dm_warn_limited!(
                self.name,
                "table not in step with the spare (not resumed yet, or its resume failed); writing nothing to it\n"
            );
        }
        in_step
    }
    fn block_bytes(&self) -> usize {
        self.geo.block_bytes()
    }
    fn main_blocks(&self) -> u64 {
        self.geo.main_blocks()
    }
    fn policies(&self) -> Policies {
        RemapTarget::policies(self)
    }

    fn read_main(&self, block: u64, buf: &mut IoBuffer, len: usize) -> Result<(), IoFailed> {
        self.devices.main().read_sync(self.geo.main_sector(block), buf, len).map_err(|_| IoFailed)
    }
    fn write_main_durable(&self, block: u64, buf: &mut IoBuffer, len: usize) -> Result<(), IoFailed> {
        self.devices.main().write_durable(self.geo.main_sector(block), buf, len).map_err(|_| IoFailed)
    }
    fn read_spare(&self, pool_block: u64, buf: &mut IoBuffer, len: usize) -> Result<(), IoFailed> {
        self.devices.spare().read_sync(self.device_block(pool_block), buf, len).map_err(|_| IoFailed)
    }
    fn write_spare(&self, pool_block: u64, buf: &mut IoBuffer, len: usize) -> Result<(), IoFailed> {
        self.devices.spare().write_sync(self.device_block(pool_block), buf, len).map_err(|_| IoFailed)
    }
    fn write_spare_durable(&self, pool_block: u64, buf: &mut IoBuffer, len: usize) -> Result<(), IoFailed> {
        self.devices.spare().write_durable(self.device_block(pool_block), buf, len).map_err(|_| IoFailed)
    }
    fn sleep_ms(&self, ms: u32) {
        sleep_ms(ms);
    }

    fn spare_block_of(&self, block: u64) -> Option<u64> {
        self.mapping.spare_block_of(block)
    }
    fn for_each_unmapped(&self, first: u64, blocks: u64, f: &mut dyn FnMut(u64, u64)) {
        self.mapping.with_table(|t| extent::for_each_unmapped(t.extents(), first, blocks, &mut *f));
    }
    fn is_pending(&self, block: u64) -> bool {
        self.mapping.is_pending(block)
    }
    fn mark_pending(&self, block: u64) -> Result<(), NoMem> {
        self.mapping.mark_pending(block).map_err(|_| NoMem)
    }
    fn unmark_pending(&self, runs: &[Extent]) -> Result<(), NoMem> {
        self.mapping.unmark_pending(runs).map_err(|_| NoMem)
    }

    fn prepare_fence(&self, runs: &[Extent]) -> Result<KBox<PendingBlocks>, NoMem> {
        self.mapping.pending_with_runs(runs).map_err(|_| NoMem)
    }
    fn fence(&self, fence: KBox<PendingBlocks>) {
        self.mapping.publish_pending(fence);
    }
    fn unfence(&self) {
        // Without memory the marks stay: see `Platform::unfence`.
        let _ = self.mapping.unmark_remapped_pending();
    }

    fn publish_moving(&self, runs: &[Extent]) -> Result<(), NoMem> {
        self.mapping.publish_moving(runs).map_err(|_| NoMem)
    }
    fn clear_moving(&self) {
        self.mapping.clear_moving();
    }
    fn drain_writes(&self) {
        drain(&self.inflight);
    }
    fn release_held(&self, fail_writes: bool) {
        let mut held = self.mapping.take_held();
        while let Some(mut kept) = held.pop() {
            if fail_writes && kept.bio().op() != BioOp::Read {
                self.complete_held(HeldBio { target: self, bio: kept }, Completion::IoError);
            } else {
                self.route_held(kept);
            }
        }
    }
    fn resubmit(&self, bio: HeldBio<'t>) {
        self.route_held(bio.bio);
    }
    fn complete(&self, mut bio: FailedBio<'t>, how: Completion) {
        let per_bio = bio.bio.per_bio();
        per_bio.deferred = true;
        let status = status_of(how, per_bio);
        bio.bio.complete(status);
    }
    fn complete_held(&self, mut bio: HeldBio<'t>, how: Completion) {
        // The worker's verdict: end_io lets it through as it is.
        let per_bio = bio.bio.per_bio();
        per_bio.deferred = true;
        let status = status_of(how, per_bio);
        bio.bio.complete(status);
    }
    fn commit_and_publish(
        &self,
        writer: &mut Writer<Metadata, IoBuffer>,
        alloc: SpareAllocator,
        moved: &[u64],
        new: &[Extent],
    ) -> Result<(), ChangeFailed> {
        // The journal states runs absolutely: `new` is the whole change when
        // it maps every moved block again (the engine's changes do).
        let change = journal::covers(new, moved).then_some(new);
        self.commit_table(writer, alloc, change, |t: &Table| t.with_moved(moved, new))
    }

    fn count(&self, counter: Counter, n: u64) {
        let what = match counter {
            Counter::AutoRemaps => Recovery::AutoRemaps,
            Counter::SoftReadErrors => Recovery::SoftReadErrors,
            Counter::Unrecovered => Recovery::Unrecovered,
            Counter::SpareErrors => Recovery::SpareErrors,
        };
        self.recovery.add(what, n);
    }
    fn log(&self, event: Event) {
        RemapTarget::log(self, event);
    }
}

impl RemapTarget {
    /// The kernel log line of an engine event: names the device, and is
    /// rate-limited per kind of event.
    pub(super) fn log(&self, event: Event) {
        match event {
            Event::Pending { block } => {
                dm_warn_limited!(self.name, "block {}: unreadable after retries; pending until written\n", block)
            }
            Event::PendingNoMem { block } => {
                dm_err_limited!(self.name, "block {}: unreadable, and no memory to mark it pending\n", block)
            }
            Event::SpareWriteFailed { block, spare } => {
                dm_warn_limited!(
                    self.name,
                    "spare block {} of block {} failed a write; moving the block\n",
                    spare,
                    block
                )
            }
            Event::SpareRetired { spare } => {
                dm_warn_limited!(self.name, "spare block {} failed a write; retiring it\n", spare)
            }
            Event::CannotMove { block } => {
                dm_warn_limited!(self.name, "block {}: cannot move off a failing spare block\n", block)
            }
            Event::Remapped { remapped, moved } => {
                dm_info_limited!(self.name, "remapped {} block(s) automatically, moved {}\n", remapped, moved)
            }
            Event::RemapFailed { blocks } => {
                dm_err_limited!(self.name, "remapping {} block(s) failed: no metadata copy could be written\n", blocks)
            }
            Event::PoolExhausted { free, total } => {
                dm_warn_limited!(self.name, "remap: spare pool exhausted ({} of {} blocks free)\n", free, total)
            }
            Event::MessageFailed { sector, sectors, why } => {
                dm_err_limited!(self.name, "remap {} {}: failed ({:?}); nothing was remapped\n", sector, sectors, why)
            }
            Event::ListFailed { ranges, sector, why } => {
                dm_err_limited!(
                    self.name,
                    "remap_list of {} range(s) from sector {}: failed ({:?}); nothing was remapped\n",
                    ranges,
                    sector,
                    why
                )
            }
            Event::HeldAcrossEdge { block } => {
                dm_err_limited!(self.name, "held bio at block {} spans a run edge; failing it\n", block)
            }
        }
    }
}
