// SPDX-License-Identifier: GPL-2.0
//! A change whose commit failed may still be on the spare: a write can
//! report an error after the drive took its data (a timeout, a bridge that
//! loses the completion), so the generation of a failed commit may be the
//! spare's newest and load at the next reload or reboot, mapping the
//! change's blocks where the change put them. Nothing acknowledged may
//! depend on which of the two tables loads.
//!
//! So a failed commit is retracted at once: the table that is live is
//! committed again, at a higher generation. Until that (or any later
//! commit) succeeds the writer is *unsettled*, and the blocks of the failed
//! change are *fenced*: marked pending, so that `map` gives every write to
//! them to the worker, which acknowledges one only after a commit that
//! supersedes the failed one (a remap of the block, or a retraction); so
//! does a write that failed before the fence and that the worker recovers
//! where the live table says. Where that commit fails too the write fails
//! (as does a held write the worker gives back): either table may load,
//! and both hold the block's data as of the failed change (its blocks'
//! writes were held back during a move, or were the change itself, or
//! failed). Reads are routed as before. Once settled, fenced blocks the
//! table remaps are unmarked; unmapped ones stay pending, so their next
//! write gets a spare block.

use super::super::extent::Extent;
use super::super::spare_alloc::SpareAllocator;
use super::{ChangeFailed, Platform, Writer};

/// Commits and publishes a table change (see
/// [`Platform::commit_and_publish`]); a failed commit is retracted, and
/// where the retraction fails too the change's blocks (`new`) are fenced.
/// The fence is built first: without memory for it nothing is committed
/// (`Err(NoMem)`), as a fence that could not be published after a failed
/// commit would let a write to its blocks be acknowledged that a reload
/// might not see. Returns `Err(Commit)` for a failed commit, retracted or
/// not.
pub fn commit_change<P: Platform>(
    p: &P,
    writer: &mut Writer<P::Meta, P::Buf>,
    alloc: SpareAllocator,
    moved: &[u64],
    new: &[Extent],
) -> Result<(), ChangeFailed> {
    let fence = p.prepare_fence(new).map_err(|_| ChangeFailed::NoMem)?;
    match p.commit_and_publish(writer, alloc, moved, new) {
        Ok(()) => {
            settled(p, writer);
            Ok(())
        }
        Err(ChangeFailed::Commit) => {
            if !retract(p, writer) {
                p.fence(fence);
            }
            Err(ChangeFailed::Commit)
        }
        Err(e) => Err(e),
    }
}

/// Commits the live table again, at a higher generation than any failed
/// commit; whether that succeeded (the writer is settled then, and stays
/// unsettled otherwise).
pub fn retract<P: Platform>(p: &P, writer: &mut Writer<P::Meta, P::Buf>) -> bool {
    writer.unsettled = true;
    let alloc = writer.alloc;
    if p.commit_and_publish(writer, alloc, &[], &[]).is_ok() {
        settled(p, writer);
        return true;
    }
    false
}

/// A table just loaded from a spare that shows a superblock of a higher
/// generation (`highest_seen`) than the one it loaded (`loaded`), or one
/// it could not read (`highest_seen` is then raised by
/// `discover::UNREAD_MARGIN`), commits itself above it before it goes
/// live: that copy may be a failed commit's that no retraction superseded
/// (its table's writer gone with a reload), whose changes no fence here
/// knows of, and a write acknowledged afterwards must not depend on that
/// copy never loading.
/// An unsettled writer (a table resumed after its own commit failed) knows
/// its failed change and has fenced it: its worker retracts. Whether the
/// table may go live (`false`: the commit failed, and the writer is not
/// unsettled by it).
pub fn supersede_unread<P: Platform>(
    p: &P,
    writer: &mut Writer<P::Meta, P::Buf>,
    loaded: u64,
    highest_seen: u64,
) -> bool {
    if writer.unsettled || highest_seen <= loaded || retract(p, writer) {
        return true;
    }
    // No fence covers what that copy may hold: not unsettled, so that the
    // next resume commits above it again before it goes live.
    writer.unsettled = false;
    false
}

/// Retries the retraction of an earlier failed commit, if one is due;
/// whether the writer is settled.
pub fn settle<P: Platform>(p: &P, writer: &mut Writer<P::Meta, P::Buf>) -> bool {
    !writer.unsettled || retract(p, writer)
}

/// A commit succeeded: no failed generation can load any more.
fn settled<P: Platform>(p: &P, writer: &mut Writer<P::Meta, P::Buf>) {
    if writer.unsettled {
        writer.unsettled = false;
        p.unfence();
    }
}
