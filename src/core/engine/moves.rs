// SPDX-License-Identifier: GPL-2.0
//! Moving blocks to new places on the spare: `remap <sector> [<count>]`
//! (from main, on request) and relocation (from a failing spare block).
//!
//! Every move follows one protocol: the blocks get new spare blocks, I/O to
//! them is held back (the runs are published as moving, then the writes
//! already on their way are drained), their contents are copied, then the
//! table that maps them there is committed and published and the held I/O
//! released to the new place. Nothing is lost: a write either completed at
//! the old place before the copy read it, or waits and lands at the new.

use super::super::extent::{Extent, ExtentState, MAX_EXTENT_LEN};
use super::super::spare_alloc::SpareAllocator;
use super::recovery::SPARE_ATTEMPTS;
use super::{settle, ChangeFailed, Counter, Event, IoBuf, List, Platform, IO_BYTES};

/// Backoff sleep (milliseconds) one remap message may spend rereading the
/// blocks it finds unreadable, under the writer lock and with I/O to its
/// runs held back. A media error is reported like a transient one (a
/// synchronous read gives no class), so each unreadable block would get
/// `read_retries` reads with backoff (60 ms at the default 3, 1100 ms at
/// the most, 16), and a `remap_list` of 16384 unreadable blocks would sleep
/// for 16 minutes or more: the recovery worker waiting on the lock (and a
/// writer to a listed block) would be a hung task after 120 s. The budget
/// covers every retry of one block at any `read_retries`, so a `remap` of
/// one block (or a few) keeps its full retries; once it is spent, each
/// further unreadable block is read once and retried once, without sleep.
pub const REREAD_SLEEP_BUDGET_MS: u32 = 2000;

/// Spare blocks one remap message may retire (each failed a write) before
/// it gives up with `Io`: a spare that fails every write does not cost a
/// failed write per block under the lock.
pub const SPARE_RETIRE_BUDGET: u32 = 16;

/// What a `remap` message did: the extents it added (a run whose blocks
/// could not all be read is split by state) and how many blocks were lost.
pub struct Report<L> {
    pub extents: L,
    pub lost_blocks: u64,
}

/// Remaps the unmapped blocks of `[first, first + blocks)`.
pub fn remap_range<P: Platform>(p: &P, first: u64, blocks: u64) -> Result<Report<P::List<Extent>>, ChangeFailed> {
    remap_ranges(p, &mut [(first, blocks)])
}

/// Remaps the unmapped blocks of every range `(first, blocks)` of
/// `ranges` (in any order, overlapping or not; sorted and merged here, in
/// place) as one change: one plan, one hold of every run, one copy pass,
/// one commit. All or nothing: when the pool cannot hold every block, a
/// copy to the spare fails or the commit fails, nothing is published and
/// the allocator is as before (but for a tried commit, which moves it past
/// the blocks it named). A block that cannot be read is remapped `Lost`
/// (zeros on the spare), as for one range. A spare block that fails its
/// write is retired as a recovery round retires one: the block goes to a
/// fresh spare block past the cursor, and the commit persists the cursor
/// past the bad one (after a crash before it, the bad block is merely
/// tried again).
pub fn remap_ranges<P: Platform>(p: &P, ranges: &mut [(u64, u64)]) -> Result<Report<P::List<Extent>>, ChangeFailed> {
    let n = merge_ranges(ranges);
    let ranges = ranges.get(..n).unwrap_or_default();
    let mut writer = p.lock_writer();
    if !p.in_step(&writer) {
        return Err(ChangeFailed::Commit);
    }
    let mut trial = writer.alloc;
    let runs = plan_runs(p, ranges, &mut trial)?;
    if runs.is_empty() {
        return Ok(Report { extents: Default::default(), lost_blocks: 0 });
    }
    p.publish_moving(&runs)?;
    p.drain_writes();
    // The new table is committed before it is published, so no held bio
    // reaches the spare before the remap that sends it there is on disk.
    let w = &mut *writer;
    let published = copy_runs(p, &mut w.buf, &mut w.scratch, &mut trial, &runs)
        .and_then(|copied| settle::commit_change(p, w, trial, &[], &copied.extents).map(|()| copied));
    if let Ok(copied) = &published {
        // A pending block now remapped is no longer pending: its data (or
        // the zeros of a lost block) is on the spare.
        let _ = p.unmark_pending(&copied.extents);
    }
    // While a failed commit is not superseded (this one's, or an earlier
    // one's that this change did not get to supersede: its copy or the
    // memory for its fence failed), the held writes fail: their blocks may
    // be fenced, and either table may load.
    let unsettled = w.unsettled;
    p.clear_moving();
    p.release_held(unsettled);
    published
}

/// Sorts `ranges` by first block and merges those that overlap or touch
/// into the first ones; returns how many there are then. Empty ranges are
/// dropped.
pub fn merge_ranges(ranges: &mut [(u64, u64)]) -> usize {
    super::super::sort::heapsort_by_key(ranges, |r| r.0);
    let mut n = 0usize;
    for i in 0..ranges.len() {
        let Some(&(start, len)) = ranges.get(i) else { break };
        if len == 0 {
            continue;
        }
        let end = start.saturating_add(len);
        if let Some(last) = n.checked_sub(1).and_then(|k| ranges.get_mut(k)) {
            let last_end = last.0.saturating_add(last.1);
            if start <= last_end {
                last.1 = last_end.max(end) - last.0;
                continue;
            }
        }
        if let Some(slot) = ranges.get_mut(n) {
            *slot = (start, len);
        }
        n += 1;
    }
    n
}

/// Moves the remapped blocks of `blocks` (sorted here, duplicates dropped)
/// off their spare blocks to new ones. A block whose old spare block does
/// not read now, or whose new one takes no write, stays where it is.
pub fn relocate<P: Platform>(p: &P, blocks: &mut [u64]) {
    super::super::sort::heapsort_by_key(blocks, |b| *b);
    let mut writer = p.lock_writer();
    if !p.in_step(&writer) {
        return;
    }
    let mut alloc = writer.alloc;
    let mut runs: P::List<Extent> = Default::default();
    for (i, &block) in blocks.iter().enumerate() {
        if (i > 0 && blocks.get(i - 1) == Some(&block)) || p.spare_block_of(block).is_none() {
            continue;
        }
        let Some(spare) = alloc.alloc(1) else {
            p.log(Event::CannotMove { block });
            break;
        };
        if runs.try_push(Extent { main: block, spare, len: 1, state: ExtentState::Ok }).is_err() {
            break;
        }
    }
    if runs.is_empty() || p.publish_moving(&runs).is_err() {
        return;
    }
    p.drain_writes();
    let bs = p.block_bytes();
    let w = &mut *writer;
    let mut moved: P::List<u64> = Default::default();
    let mut placed: P::List<Extent> = Default::default();
    for run in runs.iter() {
        let copied = p.spare_block_of(run.main).is_some_and(|old| {
            p.read_spare(old, &mut w.buf, bs).is_ok() && p.write_spare(u64::from(run.spare), &mut w.buf, bs).is_ok()
        });
        if !copied || placed.try_push(*run).is_err() {
            p.log(Event::CannotMove { block: run.main });
        }
    }
    for e in placed.iter() {
        if moved.try_push(e.main).is_err() {
            // Without the list of moved blocks nothing can be committed.
            p.clear_moving();
            p.release_held(w.unsettled);
            return;
        }
    }
    if !placed.is_empty() {
        match settle::commit_change(p, w, alloc, &moved, &placed) {
            Ok(()) => p.log(Event::Remapped { remapped: 0, moved: placed.len() as u64 }),
            Err(_) => p.log(Event::RemapFailed { blocks: placed.len() as u64 }),
        }
    }
    // As in `remap_ranges`: held writes fail while unsettled.
    let unsettled = w.unsettled;
    p.clear_moving();
    p.release_held(unsettled);
}

/// The unmapped runs of `ranges` (sorted, disjoint), each with spare
/// blocks from `alloc` (`NoSpace` when the pool cannot hold them all).
fn plan_runs<P: Platform>(
    p: &P,
    ranges: &[(u64, u64)],
    alloc: &mut SpareAllocator,
) -> Result<P::List<Extent>, ChangeFailed> {
    let mut unmapped: P::List<(u64, u64)> = Default::default();
    let mut failed = false;
    for &(first, blocks) in ranges {
        p.for_each_unmapped(first, blocks, &mut |s, l| failed |= unmapped.try_push((s, l)).is_err());
    }
    if failed {
        return Err(ChangeFailed::NoMem);
    }
    let wanted: u64 = unmapped.iter().map(|&(_, len)| len).fold(0, u64::saturating_add);
    if wanted > alloc.free() {
        p.log(Event::PoolExhausted { free: alloc.free(), total: alloc.total() });
        return Err(ChangeFailed::NoSpace);
    }
    let mut runs: P::List<Extent> = Default::default();
    for &(start, len) in unmapped.iter() {
        let mut done = 0;
        while done < len {
            let want = (len - done).min(u64::from(MAX_EXTENT_LEN));
            if want > alloc.free() {
                p.log(Event::PoolExhausted { free: alloc.free(), total: alloc.total() });
                return Err(ChangeFailed::NoSpace);
            }
            let (spare, piece) = alloc.alloc_up_to(want).ok_or(ChangeFailed::NoSpace)?;
            // `piece` fits in a u16 (MAX_EXTENT_LEN).
            let e = Extent { main: start + done, spare, len: piece as u16, state: ExtentState::Ok };
            runs.try_push(e)?;
            done += piece;
        }
    }
    Ok(runs)
}

/// Copies every run from main to the spare in one pass. Runs whose spare
/// blocks follow each other (scattered single blocks get consecutive spare
/// blocks) are gathered into one spare write of up to one buffer, so a
/// list of scattered blocks costs a read per run and a write per buffer. A
/// block that cannot be read is zero-filled on the spare and its extent
/// marked `Lost` (rereads within [`REREAD_SLEEP_BUDGET_MS`]). When a
/// gathered write fails, its blocks are written one by one and each one
/// whose spare block fails goes to fresh blocks from `alloc` (within
/// [`SPARE_RETIRE_BUDGET`]); a block no spare block took fails the whole
/// copy (nothing is published then).
fn copy_runs<P: Platform>(
    p: &P,
    buf: &mut P::Buf,
    one: &mut P::Buf,
    alloc: &mut SpareAllocator,
    runs: &[Extent],
) -> Result<Report<P::List<Extent>>, ChangeFailed> {
    let bs = p.block_bytes();
    let mut out = Report { extents: P::List::default(), lost_blocks: 0 };
    let mut sleep_left = REREAD_SLEEP_BUDGET_MS;
    let mut retire_left = SPARE_RETIRE_BUDGET;
    // At most 64 blocks per buffer, so one u64 holds its lost-block mask.
    let per_io = ((IO_BYTES / bs.max(1)) as u64).clamp(1, 64);
    // The gathered buffer: its first spare block, and the main block of
    // each of its `fill` blocks (the same pieces, in order, as `pieces`).
    let mut batch = Batch { spare: 0, fill: 0, lost: 0 };
    let mut mains = [0u64; 64];
    for run in runs {
        let mut done = 0u64;
        while done < u64::from(run.len) {
            let spare = u64::from(run.spare) + done;
            if batch.fill > 0 && (batch.spare + batch.fill != spare || batch.fill == per_io) {
                let mut spare_room = Spare { alloc: &mut *alloc, one: &mut *one, retire_left: &mut retire_left };
                flush_batch(p, buf, &mut spare_room, &batch, &mains, &mut out)?;
                batch = Batch { spare, fill: 0, lost: 0 };
            }
            if batch.fill == 0 {
                batch.spare = spare;
            }
            let n = (per_io - batch.fill).min(u64::from(run.len) - done);
            let lost = read_piece(p, buf, one, run.main + done, batch.fill, n, &mut sleep_left)?;
            batch.lost |= lost << batch.fill;
            for k in 0..n {
                if let Some(m) = mains.get_mut((batch.fill + k) as usize) {
                    *m = run.main + done + k;
                }
            }
            batch.fill += n;
            done += n;
        }
    }
    if batch.fill > 0 {
        let mut spare_room = Spare { alloc, one, retire_left: &mut retire_left };
        flush_batch(p, buf, &mut spare_room, &batch, &mains, &mut out)?;
    }
    Ok(out)
}

/// Blocks gathered in the copy buffer, bound for consecutive spare blocks.
struct Batch {
    /// The spare-pool block of the first.
    spare: u64,
    /// How many (at most 64).
    fill: u64,
    /// Bit `k`: block `k` could not be read (zeros in the buffer).
    lost: u64,
}

/// What a copy needs to move a block off a spare block that failed its
/// write.
struct Spare<'a, B> {
    /// The change's allocator: fresh blocks come from past its cursor.
    alloc: &'a mut SpareAllocator,
    /// A one-block buffer.
    one: &'a mut B,
    /// Spare blocks the change may still retire.
    retire_left: &'a mut u32,
}

/// Writes the gathered blocks to the spare and records their extents.
/// When the gathered write fails, each block is written alone, and one
/// whose spare block fails goes to a fresh one ([`place_one`]).
fn flush_batch<P: Platform, L: List<Extent>>(
    p: &P,
    buf: &mut P::Buf,
    spare: &mut Spare<'_, P::Buf>,
    batch: &Batch,
    mains: &[u64; 64],
    out: &mut Report<L>,
) -> Result<(), ChangeFailed> {
    let bytes = (batch.fill as usize) * p.block_bytes();
    let whole = p.write_spare(batch.spare, buf, bytes).is_ok();
    for k in 0..batch.fill {
        let lost = batch.lost & (1u64 << k) != 0;
        let state = if lost { ExtentState::Lost } else { ExtentState::Ok };
        out.lost_blocks += u64::from(lost);
        let planned = batch.spare + k;
        let placed = if whole { planned } else { place_one(p, buf, spare, k, planned)? };
        let spare_block = u32::try_from(placed).map_err(|_| ChangeFailed::Io)?;
        let main = *mains.get(k as usize).ok_or(ChangeFailed::Io)?;
        push_block(&mut out.extents, main, spare_block, state)?;
    }
    Ok(())
}

/// Writes block `k` of the copy buffer alone to spare block `planned`;
/// when that fails, retires it (the cursor is past it already, and the
/// commit persists that) and tries fresh blocks, [`SPARE_ATTEMPTS`] in all,
/// as a recovery round does. Returns the spare block that took it.
fn place_one<P: Platform>(
    p: &P,
    buf: &mut P::Buf,
    spare: &mut Spare<'_, P::Buf>,
    k: u64,
    planned: u64,
) -> Result<u64, ChangeFailed> {
    let bs = p.block_bytes();
    let at = (k as usize) * bs;
    let block = buf.bytes(at + bs).get(at..at + bs).ok_or(ChangeFailed::Io)?;
    spare.one.bytes(bs).copy_from_slice(block);
    let mut target = planned;
    for attempt in 0..SPARE_ATTEMPTS {
        if attempt > 0 {
            target = u64::from(spare.alloc.alloc(1).ok_or(ChangeFailed::Io)?);
        }
        if p.write_spare(target, spare.one, bs).is_ok() {
            return Ok(target);
        }
        p.count(Counter::SpareErrors, 1);
        p.log(Event::SpareRetired { spare: target });
        *spare.retire_left = spare.retire_left.checked_sub(1).ok_or(ChangeFailed::Io)?;
    }
    Err(ChangeFailed::Io)
}

/// Appends one block to `extents`, growing the last extent when it continues.
fn push_block<L: List<Extent>>(extents: &mut L, main: u64, spare: u32, state: ExtentState) -> Result<(), ChangeFailed> {
    let e = Extent { main, spare, len: 1, state };
    if let Some(last) = extents.last_mut() {
        if last.can_absorb(&e) {
            last.len += 1;
            return Ok(());
        }
    }
    extents.try_push(e)?;
    Ok(())
}

/// Reads `n` main blocks from `main_block` into the copy buffer at block
/// `at` (`at + n` at most 64 and within the buffer) and returns a bit mask
/// of the blocks that could not be read (zeros in the buffer).
fn read_piece<P: Platform>(
    p: &P,
    buf: &mut P::Buf,
    one: &mut P::Buf,
    main_block: u64,
    at: u64,
    n: u64,
    sleep_left: &mut u32,
) -> Result<u64, ChangeFailed> {
    let bs = p.block_bytes();
    let bytes = (n as usize) * bs;
    let offset = (at as usize) * bs;
    let end = offset + bytes;
    if at == 0 {
        // Straight into the buffer: a contiguous run costs no copy.
        if p.read_main(main_block, buf, bytes).is_ok() {
            return Ok(0);
        }
    } else if p.read_main(main_block, one, bytes).is_ok() {
        let piece = buf.bytes(end).get_mut(offset..end).ok_or(ChangeFailed::Io)?;
        piece.copy_from_slice(one.bytes(bytes));
        return Ok(0);
    }
    // Find the unreadable blocks one by one, each given the read retries a
    // failed read gets (the error may be transient) while the message's
    // sleep budget lasts, one retry without sleep after; keep what reads.
    let mut lost = 0u64;
    for k in 0..n {
        let at = offset + (k as usize) * bs;
        let read = super::recovery::reread_main_within(p, main_block + k, one, sleep_left);
        let piece = buf.bytes(end).get_mut(at..at + bs).ok_or(ChangeFailed::Io)?;
        if read {
            piece.copy_from_slice(one.bytes(bs));
        } else {
            piece.fill(0);
            lost |= 1u64 << k;
        }
    }
    Ok(lost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_merge_where_they_overlap_or_touch() {
        let mut r = [(10, 2), (0, 1), (11, 5), (1, 1), (30, 0), (20, 1)];
        let n = merge_ranges(&mut r);
        assert_eq!(&r[..n], &[(0, 2), (10, 6), (20, 1)]);
    }

    proptest! {
        #[test]
        fn merged_ranges_cover_the_same_blocks_sorted_and_apart(
            ranges in proptest::collection::vec((0u64..200, 0u64..8), 0..40)
        ) {
            let mut r = ranges.clone();
            let n = merge_ranges(&mut r);
            let merged = &r[..n];
            let mut want: Vec<u64> = ranges.iter().flat_map(|&(s, l)| s..s + l).collect();
            want.sort_unstable();
            want.dedup();
            let got: Vec<u64> = merged.iter().flat_map(|&(s, l)| s..s + l).collect();
            prop_assert_eq!(got, want);
            prop_assert!(merged.windows(2).all(|w| w[0].0 + w[0].1 < w[1].0));
            prop_assert!(merged.iter().all(|&(_, l)| l > 0));
        }
    }
}
