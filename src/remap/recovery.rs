// SPDX-License-Identifier: GPL-2.0
//! Error recovery, on the worker. A failed write is retried block by block
//! and each block that still fails is remapped, its data written to the
//! spare; a failed read is retried block by block, and a block that never
//! reads is marked pending; a write to a pending block gets a spare block
//! first. All new remaps of a round are committed together (one metadata
//! commit for many errors), before any bio that depends on them completes.


use kernel::prelude::*;

use super::counters::RecoveryCounters;
use super::target::{PerBio, RemapTarget, Writer};
use crate::dm::rcu::RcuReadGuard;
use crate::dm::sched::{sleep_ms, NoIoScope};
use crate::dm::{BioList, BioOp, DeferredBio, IoBuffer, KeptBio};
use crate::logic::error_class::{classify, status, ErrorClass};
use crate::logic::extent::{Extent, ExtentState};
use crate::logic::spare_alloc::SpareAllocator;
use crate::logic::sort::heapsort_by_key;

/// Spare blocks tried for one remapped block before giving up on it.
const SPARE_ATTEMPTS: u32 = 3;

/// The remaps one round of recovery adds.
struct Round {
    alloc: SpareAllocator,
    /// New single-block extents, for new remaps and moved blocks.
    runs: KVec<Extent>,
    /// Remapped blocks whose spare block failed: they move to the spare
    /// block their entry in `runs` names.
    moved: KVec<u64>,
}

/// A failed bio and what it will complete with.
struct Verdict {
    bio: DeferredBio<PerBio>,
    status: u8,
    /// Whether its data is only safe once the round's remaps are committed.
    needs_commit: bool,
}

/// Backoff before retry `attempt` (1, 2, ...) of a transient error.
fn backoff(attempt: u32) {
    sleep_ms((10u32 << attempt.min(3)).min(100));
}

impl RemapTarget {
    /// Handles every failed bio and held pending write, round after round,
    /// until none is left.
    pub(super) fn recover_all(&self) {
        loop {
            let failed = self.failed.take_all();
            let writes = self.pending_writes.take_all();
            if failed.is_empty() && writes.is_empty() {
                return;
            }
            self.recover_round(failed, writes);
        }
    }

    fn recover_round(&self, mut failed: BioList<DeferredBio<PerBio>>, mut writes: BioList<KeptBio>) {
        // The bios wait on us: reclaim must not wait on them.
        let _noio = NoIoScope::enter();
        let Ok(mut buf) = IoBuffer::new() else {
            // Dropping the lists fails their bios: nothing was acknowledged.
            return;
        };
        let mut writer = self.writer.lock();
        let mut round = Round { alloc: writer.alloc, runs: KVec::new(), moved: KVec::new() };
        let mut verdicts: KVec<Verdict> = KVec::new();
        while let Some(mut bio) = failed.pop() {
            let (status, needs_commit) = self.recover_bio(&mut bio, &mut buf, &mut round);
            // On allocation failure the verdict (and its bio) is dropped,
            // which fails the bio: never a false success.
            let _ = verdicts.push(Verdict { bio, status, needs_commit }, GFP_KERNEL);
        }
        let mut held: KVec<KeptBio> = KVec::new();
        while let Some(mut kept) = writes.pop() {
            self.plan_pending_write(&mut kept, &mut round);
            let _ = held.push(kept, GFP_KERNEL);
        }
        let committed = round.runs.is_empty() || self.commit_round(&mut writer, &mut round);
        drop(writer);
        for v in verdicts {
            let status = if v.needs_commit && !committed { status::IOERR } else { v.status };
            if status != status::OK {
                RecoveryCounters::add(&self.recovery.unrecovered, 1);
            }
            v.bio.complete(status);
        }
        for kept in held {
            self.resubmit(kept);
        }
    }

    /// Retries a failed bio block by block; returns its final status and
    /// whether that status depends on this round's commit.
    fn recover_bio(&self, bio: &mut DeferredBio<PerBio>, buf: &mut IoBuffer, round: &mut Round) -> (u8, bool) {
        let (iter, failed_with, on_spare) = {
            let pb = bio.per_bio();
            (pb.iter, pb.status, pb.to_spare)
        };
        let bs = self.geo.block_bytes();
        let first = self.geo.block_of(iter.sector().wrapping_sub(self.begin));
        let blocks = self.geo.blocks_of_bytes(iter.bytes() as usize);
        let transient = classify(failed_with) == ErrorClass::Transient;
        let op = bio.bio().op();
        let mut needs_commit = false;
        let mut lost = false;
        for k in 0..blocks {
            let block = first.wrapping_add(k);
            // At most 64 KiB per bio piece here: the offset fits a u32.
            let at = self.geo.bytes_of(k) as u32;
            match op {
                BioOp::Write => {
                    if bio.bio().copy_out(&iter, at, buf.bytes(bs)).is_err() {
                        return (failed_with, false);
                    }
                    // A block remapped since the bio was mapped (a remap
                    // message ran in between) is written where it now lives.
                    let on_main = !on_spare && self.spare_block_of(block).is_none();
                    if on_main && self.rewrite_main(block, buf, transient) {
                        continue;
                    }
                    if on_main && !self.policies().auto_remap {
                        return (failed_with, false);
                    }
                    match self.place_block(block, buf, round) {
                        Ok(commit) => needs_commit |= commit,
                        Err(_) => return (failed_with, false),
                    }
                }
                BioOp::Read if on_spare => {
                    if !self.reread_spare(block, buf) || bio.bio().copy_in(&iter, at, buf.bytes(bs)).is_err() {
                        lost = true;
                        continue;
                    }
                    // It read this time: move it off the failing spare block.
                    if self.fresh_block(block, buf, round, true).is_err() {
                        pr_warn!("block {}: cannot move off a failing spare block\n", block);
                    }
                }
                BioOp::Read => {
                    if self.reread_main(block, buf, transient) && bio.bio().copy_in(&iter, at, buf.bytes(bs)).is_ok() {
                        continue;
                    }
                    lost = true;
                    self.mark_pending(block);
                }
                _ => return (failed_with, false),
            }
        }
        if lost {
            return (failed_with, false);
        }
        if op == BioOp::Read {
            RecoveryCounters::add(&self.recovery.soft_read_errors, 1);
        }
        (status::OK, needs_commit)
    }

    /// Writes the block in `buf` to main again, durably; `true` if it took.
    /// A block that keeps failing with transient errors is given
    /// `error_threshold` attempts, then treated as a media error.
    fn rewrite_main(&self, block: u64, buf: &mut IoBuffer, transient: bool) -> bool {
        let attempts = if transient { self.policies().error_threshold.max(1) } else { 1 };
        (0..attempts).any(|attempt| {
            if attempt > 0 {
                backoff(attempt);
            }
            self.main.write_durable(self.geo.main_sector(block), buf, self.geo.block_bytes()).is_ok()
        })
    }

    /// Reads the block from main into `buf`, up to `read_retries` times (at
    /// least once, to tell the bad block among the bio's); `true` if it read.
    pub(super) fn reread_main(&self, block: u64, buf: &mut IoBuffer, transient: bool) -> bool {
        let attempts = self.policies().read_retries.max(1);
        (0..attempts).any(|attempt| {
            if attempt > 0 && transient {
                backoff(attempt);
            }
            self.main.read_sync(self.geo.main_sector(block), buf, self.geo.block_bytes()).is_ok()
        })
    }

    /// Puts the block in `buf` on the spare: on the spare block this round
    /// planned for it, or the one it is remapped to, or (when that one
    /// fails, or it has none) a fresh one. Returns whether it now depends
    /// on this round's commit.
    fn place_block(&self, block: u64, buf: &mut IoBuffer, round: &mut Round) -> Result<bool> {
        if round.runs.iter().any(|e| e.main == block) {
            return self.fresh_block(block, buf, round, false).map(|()| true);
        }
        let Some(spare) = self.spare_block_of(block) else {
            return self.fresh_block(block, buf, round, false).map(|()| true);
        };
        // Committed already: the write must be durable by itself.
        if self.spare.write_durable(self.geo.spare_sector(spare), buf, self.geo.block_bytes()).is_ok() {
            return Ok(false);
        }
        RecoveryCounters::add(&self.recovery.spare_errors, 1);
        pr_warn!("spare block {} of block {} failed a write; moving the block\n", spare, block);
        self.fresh_block(block, buf, round, true).map(|()| true)
    }

    /// Writes the block in `buf` to the spare block this round planned for
    /// it, or to a newly allocated one (`moving` a remapped block off its
    /// failed spare block, or remapping it for the first time). A spare
    /// block that fails the write is retired (never handed out again) and
    /// another one tried.
    fn fresh_block(&self, block: u64, buf: &mut IoBuffer, round: &mut Round, moving: bool) -> Result {
        let bs = self.geo.block_bytes();
        let planned = round.runs.iter().position(|e| e.main == block);
        let mut spare = match planned.and_then(|i| round.runs.get(i)) {
            Some(e) => e.spare,
            None => round.alloc.alloc(1).ok_or(ENOSPC)?,
        };
        for attempt in 0..SPARE_ATTEMPTS {
            if attempt > 0 {
                spare = round.alloc.alloc(1).ok_or(ENOSPC)?;
            }
            if self.spare.write_sync(self.geo.spare_sector(u64::from(spare)), buf, bs).is_ok() {
                match planned.and_then(|i| round.runs.get_mut(i)) {
                    Some(e) => e.spare = spare,
                    None => {
                        round.runs.push(Extent { main: block, spare, len: 1, state: ExtentState::Ok }, GFP_KERNEL)?;
                        if moving {
                            round.moved.push(block, GFP_KERNEL)?;
                        }
                    }
                }
                return Ok(());
            }
            RecoveryCounters::add(&self.recovery.spare_errors, 1);
            pr_warn!("spare block {} failed a write; retiring it\n", spare);
        }
        Err(EIO)
    }

    /// Reads the spare block of a remapped block into `buf`, up to
    /// `read_retries` times; `true` if it read.
    fn reread_spare(&self, block: u64, buf: &mut IoBuffer) -> bool {
        let Some(spare) = self.spare_block_of(block) else {
            return false;
        };
        let attempts = self.policies().read_retries.max(1);
        (0..attempts).any(|_| self.spare.read_sync(self.geo.spare_sector(spare), buf, self.geo.block_bytes()).is_ok())
    }

    /// Marks `block` pending (it failed every read).
    pub(super) fn mark_pending(&self, block: u64) {
        if self.pending_blocks.update(|p| p.with(block)).is_err() {
            pr_err!("block {}: unreadable, and no memory to mark it pending\n", block);
        } else {
            pr_warn!("block {}: unreadable after retries; pending until written\n", block);
        }
    }

    /// Plans a spare block for a held write to a pending block.
    fn plan_pending_write(&self, kept: &mut KeptBio, round: &mut Round) {
        let iter = kept.per_bio::<PerBio>().iter;
        let block = self.geo.block_of(iter.sector().wrapping_sub(self.begin));
        let mapped = self.spare_block_of(block).is_some();
        let pending = self.pending_blocks.read(&RcuReadGuard::new()).first_in(block, 1).is_some();
        if mapped || !pending || !self.policies().auto_remap || round.runs.iter().any(|e| e.main == block) {
            return;
        }
        // The write replaces the whole block: nothing to copy.
        if let Some(spare) = round.alloc.alloc(1) {
            let _ = round.runs.push(Extent { main: block, spare, len: 1, state: ExtentState::Ok }, GFP_KERNEL);
        }
    }

    /// Commits the round's remaps and publishes them; `false` if the
    /// commit failed (nothing is published then).
    fn commit_round(&self, writer: &mut Writer, round: &mut Round) -> bool {
        heapsort_by_key(&mut round.runs, |e| e.main);
        let moved = round.moved.as_mut_slice();
        heapsort_by_key(moved, |b| *b);
        let moved = &*moved;
        let runs = &round.runs;
        if let Err(e) = self.commit_and_publish(writer, round.alloc, |t| t.with_moved(moved, runs)) {
            pr_err!("automatic remap of {} block(s) failed: {:?}\n", round.runs.len(), e);
            return false;
        }
        let n = round.runs.len().saturating_sub(round.moved.len()) as u64;
        RecoveryCounters::add(&self.recovery.auto_remaps, n);
        let _ = self.pending_blocks.update(|p| p.without(|b| runs.iter().any(|e| e.main == b)));
        pr_info!("remapped {} block(s) automatically, moved {}\n", n, round.moved.len());
        true
    }
}
