// SPDX-License-Identifier: GPL-2.0
//! Error recovery, on the worker. A failed write is retried block by block
//! and each block that still fails is remapped, its data written to the
//! spare; a failed read is retried block by block, and a block that never
//! reads is marked pending; a write to a pending block gets a spare block
//! first. All new remaps of a round are committed together (one metadata
//! commit for many errors), before any bio that depends on them completes.

use super::super::error_class::ErrorClass;
use super::super::extent::{Extent, ExtentState};
use super::super::sort::heapsort_by_key;
use super::super::spare_alloc::SpareAllocator;
use super::{settle, BioInfo, Completion, Counter, Event, IoBuf, List, Op, Platform, WorkBio, Writer};

/// Spare blocks tried for one remapped block before giving up on it.
pub(super) const SPARE_ATTEMPTS: u32 = 3;

/// The remaps one round of recovery adds.
struct Round<P: Platform> {
    alloc: SpareAllocator,
    /// Whether new spare blocks may be written (the table is in step with
    /// the spare).
    may_place: bool,
    /// New single-block extents, for new remaps and moved blocks.
    runs: P::List<Extent>,
    /// Remapped blocks whose spare block failed: they move to the spare
    /// block their entry in `runs` names.
    moved: P::List<u64>,
    /// Whether a write to a fenced block was put where the live table
    /// says: it may complete only after a commit that supersedes the
    /// failed change, so the round commits even without new remaps.
    fenced_writes: bool,
}

/// Backoff before retry `attempt` (1, 2, ...) of a transient error.
fn backoff<P: Platform>(p: &P, attempt: u32) {
    p.sleep_ms(backoff_ms(attempt));
}

/// Milliseconds of the backoff before retry `attempt`: 20, 40, then 80.
fn backoff_ms(attempt: u32) -> u32 {
    (10u32 << attempt.min(3)).min(100)
}

/// Handles `failed` bios and `writes` held for pending blocks: one round,
/// one commit.
pub fn recover_round<P: Platform>(
    p: &P,
    failed: impl Iterator<Item = P::Failed>,
    writes: impl Iterator<Item = P::Held>,
) {
    let mut writer = p.lock_writer();
    // A failed commit not yet superseded is retracted first (see `settle`).
    settle::settle(p, &mut writer);
    let mut round: Round<P> = Round {
        alloc: writer.alloc,
        may_place: p.in_step(&writer),
        runs: Default::default(),
        moved: Default::default(),
        fenced_writes: false,
    };
    let mut verdicts: P::List<(P::Failed, Completion, bool)> = Default::default();
    let mut relocate: P::List<u64> = Default::default();
    for mut bio in failed {
        let (how, needs_commit) = recover_bio(p, &mut writer, &mut bio, &mut round, &mut relocate);
        // On allocation failure the bio is dropped, which fails it: never
        // a false success.
        let _ = verdicts.try_push((bio, how, needs_commit));
    }
    let mut placed: P::List<P::Held> = Default::default();
    let mut resubmit: P::List<P::Held> = Default::default();
    for mut kept in writes {
        // Its data goes to a new spare block before the remap that names
        // that block is committed; the write completes after the commit.
        let _ = if place_pending_write(p, &mut writer, &mut kept, &mut round) {
            placed.try_push(kept)
        } else {
            resubmit.try_push(kept)
        };
    }
    let committed = if round.runs.is_empty() {
        // A successful retraction supersedes the failed change too.
        !round.fenced_writes || settle::settle(p, &mut writer)
    } else {
        commit_round(p, &mut writer, &mut round)
    };
    drop(writer);
    // Blocks that read from a failing spare block only on retry move off
    // it (writes to them held and drained like any move) before the bios
    // of the round complete: a suspend waits for bios, not for the worker,
    // so a commit after them could land behind a table reloaded meanwhile.
    // The failed bios are out of the in-flight counts the move drains.
    // A move whose commit fails fences its blocks (the verdicts' data was
    // on the blocks before the move copied them, so either table holds it).
    if !relocate.is_empty() {
        super::moves::relocate(p, &mut relocate);
    }
    for (bio, how, needs_commit) in verdicts {
        let how = if needs_commit && !committed { Completion::IoError } else { how };
        if how != Completion::Ok {
            p.count(Counter::Unrecovered, 1);
        }
        p.complete(bio, how);
    }
    for kept in placed {
        if !committed {
            p.count(Counter::Unrecovered, 1);
        }
        p.complete_held(kept, if committed { Completion::Ok } else { Completion::IoError });
    }
    // Writes to fenced blocks are acknowledged only once settled. Decided
    // and sent under the writer lock: a change that fails and fences a
    // block (this round's move, or a `remap` message since the round) ran
    // before, and `unsettled` and the fence show it, or runs after, and
    // its drain waits for the write, in flight by then.
    let writer = p.lock_writer();
    for mut kept in resubmit {
        if writer.unsettled && p.is_pending(kept.info().block) {
            p.count(Counter::Unrecovered, 1);
            p.complete_held(kept, Completion::IoError);
        } else {
            p.resubmit(kept);
        }
    }
    drop(writer);
}

/// Retries a failed bio block by block; returns how to complete it and
/// whether that depends on this round's commit.
fn recover_bio<P: Platform>(
    p: &P,
    writer: &mut Writer<P::Meta, P::Buf>,
    bio: &mut P::Failed,
    round: &mut Round<P>,
    relocate: &mut P::List<u64>,
) -> (Completion, bool) {
    let BioInfo { op, block: first, blocks, class, on_spare } = bio.info();
    let bs = p.block_bytes();
    let transient = class == Some(ErrorClass::Transient);
    let unsettled = writer.unsettled;
    let buf = &mut writer.buf;
    let mut needs_commit = false;
    let mut lost = false;
    for k in 0..blocks {
        let block = first.wrapping_add(k);
        let at = (k as usize).wrapping_mul(bs);
        match op {
            Op::Write | Op::WriteZeroes => {
                if op == Op::WriteZeroes {
                    buf.bytes(bs).fill(0);
                } else if bio.copy_out(at, buf.bytes(bs)).is_err() {
                    return (Completion::AsFailed, false);
                }
                // A block fenced since the bio was mapped (a change of it
                // failed to commit, and so did its retraction) is written
                // where the live table says, but that write may not load:
                // the bio waits for a commit that supersedes the change.
                let fenced = unsettled && p.is_pending(block);
                round.fenced_writes |= fenced;
                // A block remapped since the bio was mapped (a remap
                // message ran in between) is written where it now lives.
                let on_main = !on_spare && p.spare_block_of(block).is_none();
                if on_main && rewrite_main(p, block, buf, transient) {
                    needs_commit |= fenced;
                    continue;
                }
                if on_main && !p.policies().auto_remap {
                    return (Completion::AsFailed, false);
                }
                match place_block(p, block, buf, round) {
                    Ok(commit) => needs_commit |= commit || fenced,
                    Err(()) => return (Completion::AsFailed, false),
                }
            }
            // On the spare: where the bio failed, or remapped since it was
            // mapped (a remap message ran in between).
            Op::Read if on_spare || p.spare_block_of(block).is_some() => {
                if !reread_spare(p, block, buf) || bio.copy_in(at, buf.bytes(bs)).is_err() {
                    lost = true;
                    continue;
                }
                // It read this time: move it off the failing spare block
                // (after the round, as a move).
                if on_spare && relocate.try_push(block).is_err() {
                    p.log(Event::CannotMove { block });
                }
            }
            Op::Read => {
                if reread_main(p, block, buf, transient) && bio.copy_in(at, buf.bytes(bs)).is_ok() {
                    continue;
                }
                lost = true;
                mark_pending(p, block);
            }
            _ => return (Completion::AsFailed, false),
        }
    }
    if lost {
        return (Completion::AsFailed, false);
    }
    if op == Op::Read {
        p.count(Counter::SoftReadErrors, 1);
    }
    (Completion::Ok, needs_commit)
}

/// Writes the block in `buf` to main again, durably; `true` if it took.
/// A block that keeps failing with transient errors is given
/// `error_threshold` attempts, then treated as a media error.
fn rewrite_main<P: Platform>(p: &P, block: u64, buf: &mut P::Buf, transient: bool) -> bool {
    let attempts = if transient { p.policies().error_threshold.max(1) } else { 1 };
    (0..attempts).any(|attempt| {
        if attempt > 0 {
            backoff(p, attempt);
        }
        p.write_main_durable(block, buf, p.block_bytes()).is_ok()
    })
}

/// Reads the block from main into `buf`, up to `read_retries` times (at
/// least once, to tell the bad block among the bio's); `true` if it read.
pub fn reread_main<P: Platform>(p: &P, block: u64, buf: &mut P::Buf, transient: bool) -> bool {
    let attempts = p.policies().read_retries.max(1);
    (0..attempts).any(|attempt| {
        if attempt > 0 && transient {
            backoff(p, attempt);
        }
        p.read_main(block, buf, p.block_bytes()).is_ok()
    })
}

/// [`reread_main`] for an error that may be transient, with its backoff
/// sleeps paid from `sleep_left` (milliseconds): while it lasts, the block
/// gets its `read_retries` reads with backoff; once a backoff no longer
/// fits, the budget is spent and the block (and every later one) gets at
/// most one retry, without sleeping. `true` if it read.
pub fn reread_main_within<P: Platform>(p: &P, block: u64, buf: &mut P::Buf, sleep_left: &mut u32) -> bool {
    let attempts = p.policies().read_retries.max(1);
    let mut attempt = 0;
    loop {
        if p.read_main(block, buf, p.block_bytes()).is_ok() {
            return true;
        }
        attempt += 1;
        if attempt >= attempts {
            return false;
        }
        let ms = backoff_ms(attempt);
        if let Some(left) = sleep_left.checked_sub(ms) {
            *sleep_left = left;
            p.sleep_ms(ms);
        } else {
            *sleep_left = 0;
            if attempt > 1 {
                return false;
            }
        }
    }
}

/// Puts the block in `buf` on the spare: on the spare block this round
/// planned for it, or the one it is remapped to, or (when that one fails,
/// or it has none) a fresh one. Returns whether it now depends on this
/// round's commit.
fn place_block<P: Platform>(p: &P, block: u64, buf: &mut P::Buf, round: &mut Round<P>) -> Result<bool, ()> {
    if round.runs.iter().any(|e| e.main == block) {
        return fresh_block(p, block, buf, round, false).map(|()| true);
    }
    let Some(spare) = p.spare_block_of(block) else {
        return fresh_block(p, block, buf, round, false).map(|()| true);
    };
    // Committed already: the write must be durable by itself.
    if p.write_spare_durable(spare, buf, p.block_bytes()).is_ok() {
        return Ok(false);
    }
    p.count(Counter::SpareErrors, 1);
    p.log(Event::SpareWriteFailed { block, spare });
    fresh_block(p, block, buf, round, true).map(|()| true)
}

/// Writes the block in `buf` to the spare block this round planned for it,
/// or to a newly allocated one (`moving` a remapped block off its failed
/// spare block, or remapping it for the first time). A spare block that
/// fails the write is retired (never handed out again) and another one
/// tried.
fn fresh_block<P: Platform>(p: &P, block: u64, buf: &mut P::Buf, round: &mut Round<P>, moving: bool) -> Result<(), ()> {
    if !round.may_place {
        return Err(());
    }
    let bs = p.block_bytes();
    let planned = round.runs.iter().position(|e| e.main == block);
    let mut spare = match planned.and_then(|i| round.runs.get(i)) {
        Some(e) => e.spare,
        None => round.alloc.alloc(1).ok_or(())?,
    };
    for attempt in 0..SPARE_ATTEMPTS {
        if attempt > 0 {
            spare = round.alloc.alloc(1).ok_or(())?;
        }
        if p.write_spare(u64::from(spare), buf, bs).is_ok() {
            match planned.and_then(|i| round.runs.get_mut(i)) {
                Some(e) => e.spare = spare,
                None => {
                    round
                        .runs
                        .try_push(Extent { main: block, spare, len: 1, state: ExtentState::Ok })
                        .map_err(|_| ())?;
                    if moving {
                        round.moved.try_push(block).map_err(|_| ())?;
                    }
                }
            }
            return Ok(());
        }
        p.count(Counter::SpareErrors, 1);
        p.log(Event::SpareRetired { spare: u64::from(spare) });
    }
    Err(())
}

/// Reads the spare block of a remapped block into `buf`, up to
/// `read_retries` times; `true` if it read.
fn reread_spare<P: Platform>(p: &P, block: u64, buf: &mut P::Buf) -> bool {
    let Some(spare) = p.spare_block_of(block) else {
        return false;
    };
    let attempts = p.policies().read_retries.max(1);
    (0..attempts).any(|_| p.read_spare(spare, buf, p.block_bytes()).is_ok())
}

/// Marks `block` pending (it failed every read).
pub fn mark_pending<P: Platform>(p: &P, block: u64) {
    if p.mark_pending(block).is_err() {
        p.log(Event::PendingNoMem { block });
    } else {
        p.log(Event::Pending { block });
    }
}

/// Writes the data of a held write to a pending block to a new spare
/// block of this round (or the one this round planned for the block);
/// `false` when the write should rather go where the table says: the block
/// is remapped or no longer pending, `auto_remap` is off, or no spare block
/// took the data.
fn place_pending_write<P: Platform>(
    p: &P,
    writer: &mut Writer<P::Meta, P::Buf>,
    kept: &mut P::Held,
    round: &mut Round<P>,
) -> bool {
    let BioInfo { op, block, .. } = kept.info();
    let bs = p.block_bytes();
    let buf = &mut writer.buf;
    let planned = round.runs.iter().any(|e| e.main == block);
    if !planned && (p.spare_block_of(block).is_some() || !p.is_pending(block) || !p.policies().auto_remap) {
        return false;
    }
    if op == Op::WriteZeroes {
        buf.bytes(bs).fill(0);
    } else if kept.copy_out(0, buf.bytes(bs)).is_err() {
        return false;
    }
    fresh_block(p, block, buf, round, false).is_ok()
}

/// Commits the round's remaps and publishes them; `false` if the commit
/// failed (nothing is published then).
fn commit_round<P: Platform>(p: &P, writer: &mut Writer<P::Meta, P::Buf>, round: &mut Round<P>) -> bool {
    heapsort_by_key(&mut round.runs, |e| e.main);
    heapsort_by_key(&mut round.moved, |b| *b);
    let (runs, moved) = (&round.runs, &round.moved);
    if settle::commit_change(p, writer, round.alloc, moved, runs).is_err() {
        p.log(Event::RemapFailed { blocks: runs.len() as u64 });
        return false;
    }
    let n = (runs.len() as u64).saturating_sub(moved.len() as u64);
    p.count(Counter::AutoRemaps, n);
    let _ = p.unmark_pending(runs);
    p.log(Event::Remapped { remapped: n, moved: moved.len() as u64 });
    true
}

/// The scan's look at a chunk that failed to read: each of its
/// blocks that is neither remapped nor pending is read again, and marked
/// pending when it never reads (as a failed read through the target would
/// mark it). Under the writer lock, so that no block remapped meanwhile is
/// marked. Returns how many blocks turned pending.
pub fn scan_blocks<P: Platform>(p: &P, first: u64, n: u64) -> u64 {
    let mut writer = p.lock_writer();
    let mut found = 0;
    for block in first..first.saturating_add(n) {
        if p.spare_block_of(block).is_some() || p.is_pending(block) {
            continue;
        }
        if !reread_main(p, block, &mut writer.buf, false) {
            mark_pending(p, block);
            found += 1;
        }
    }
    found
}
