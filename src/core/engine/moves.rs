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
use super::{ChangeFailed, Event, IoBuf, List, Platform, IO_BYTES};

/// What a `remap` message did: the extents it added (a run whose blocks
/// could not all be read is split by state) and how many blocks were lost.
pub struct Report<L> {
    pub extents: L,
    pub lost_blocks: u64,
}

/// Remaps the unmapped blocks of `[first, first + blocks)`.
pub fn remap_range<P: Platform>(p: &P, first: u64, blocks: u64) -> Result<Report<P::List<Extent>>, ChangeFailed> {
    let mut writer = p.lock_writer();
    if !p.in_step(&writer) {
        return Err(ChangeFailed::Commit);
    }
    let mut trial = writer.alloc;
    let runs = plan_runs(p, first, blocks, &mut trial)?;
    if runs.is_empty() {
        return Ok(Report { extents: Default::default(), lost_blocks: 0 });
    }
    p.publish_moving(&runs)?;
    p.drain_writes();
    // The new table is committed before it is published, so no held bio
    // reaches the spare before the remap that sends it there is on disk.
    let w = &mut *writer;
    let published = copy_runs(p, &mut w.buf, &mut w.scratch, &runs)
        .and_then(|copied| p.commit_and_publish(w, trial, &[], &copied.extents).map(|()| copied));
    if let Ok(copied) = &published {
        // A pending block now remapped is no longer pending: its data (or
        // the zeros of a lost block) is on the spare.
        let _ = p.unmark_pending(&copied.extents);
    }
    p.clear_moving();
    p.release_held();
    published
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
            p.release_held();
            return;
        }
    }
    if !placed.is_empty() {
        match p.commit_and_publish(w, alloc, &moved, &placed) {
            Ok(()) => p.log(Event::Remapped { remapped: 0, moved: placed.len() as u64 }),
            Err(_) => p.log(Event::RemapFailed { blocks: placed.len() as u64 }),
        }
    }
    p.clear_moving();
    p.release_held();
}

/// The unmapped runs of `blocks` blocks from `first`, each with spare
/// blocks from `alloc` (`NoSpace` when the pool cannot hold them all).
fn plan_runs<P: Platform>(
    p: &P,
    first: u64,
    blocks: u64,
    alloc: &mut SpareAllocator,
) -> Result<P::List<Extent>, ChangeFailed> {
    let mut unmapped: P::List<(u64, u64)> = Default::default();
    let mut failed = false;
    p.for_each_unmapped(first, blocks, &mut |s, l| failed |= unmapped.try_push((s, l)).is_err());
    if failed {
        return Err(ChangeFailed::NoMem);
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

/// Copies every run from main to the spare. A block that cannot be read is
/// zero-filled on the spare and its extent marked `Lost`; a failed spare
/// write fails the whole copy (nothing is published then).
fn copy_runs<P: Platform>(
    p: &P,
    buf: &mut P::Buf,
    one: &mut P::Buf,
    runs: &[Extent],
) -> Result<Report<P::List<Extent>>, ChangeFailed> {
    let bs = p.block_bytes();
    let mut out = Report { extents: P::List::default(), lost_blocks: 0 };
    // At most 64 blocks per I/O, so one u64 holds the piece's lost-block mask.
    let per_io = ((IO_BYTES / bs.max(1)) as u64).clamp(1, 64);
    for run in runs {
        let mut done = 0u64;
        while done < u64::from(run.len) {
            let n = per_io.min(u64::from(run.len) - done);
            let lost = copy_piece(p, buf, one, run.main + done, u64::from(run.spare) + done, n)?;
            for k in 0..n {
                let state = if lost & (1u64 << k) != 0 { ExtentState::Lost } else { ExtentState::Ok };
                if state == ExtentState::Lost {
                    out.lost_blocks += 1;
                }
                let spare_block = u32::try_from(u64::from(run.spare) + done + k).map_err(|_| ChangeFailed::Io)?;
                push_block(&mut out.extents, run.main + done + k, spare_block, state)?;
            }
            done += n;
        }
    }
    Ok(out)
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

/// Copies `n` blocks (at most 64, and at most one buffer) and returns a bit
/// mask of the blocks that could not be read.
fn copy_piece<P: Platform>(
    p: &P,
    buf: &mut P::Buf,
    one: &mut P::Buf,
    main_block: u64,
    spare_block: u64,
    n: u64,
) -> Result<u64, ChangeFailed> {
    let bs = p.block_bytes();
    let bytes = (n as usize) * bs;
    let mut lost = 0u64;
    if p.read_main(main_block, buf, bytes).is_err() {
        // Find the unreadable blocks one by one, each given the read
        // retries a failed read gets (the error may be transient); keep
        // what reads.
        for k in 0..n {
            let at = (k as usize) * bs;
            let read = super::recovery::reread_main(p, main_block + k, one, true);
            let piece = buf.bytes(bytes).get_mut(at..at + bs).ok_or(ChangeFailed::Io)?;
            if read {
                piece.copy_from_slice(one.bytes(bs));
            } else {
                piece.fill(0);
                lost |= 1u64 << k;
            }
        }
    }
    p.write_spare(spare_block, buf, bytes).map_err(|_| ChangeFailed::Io)?;
    Ok(lost)
}
