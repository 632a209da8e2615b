// SPDX-License-Identifier: GPL-2.0
//! `remap <sector> [<count>]`: move blocks to the spare on request.
//!
//! The range's unmapped blocks get spare blocks, I/O to them is held back
//! while their contents are copied, then the table that maps them is
//! published and the held I/O released to the spare. Nothing is lost: a
//! write either completed on main before the copy read it, or waits and
//! lands on the spare.

use core::fmt::Write;

use kernel::prelude::*;

use super::copy::{copy_runs, Copied};
use super::table::MovingRuns;
use super::target::{PerBio, RemapTarget};
use crate::dm::rcu::RcuReadGuard;
use crate::dm::sched::NoIoScope;
use crate::dm::{Emitter, KeptBio};
use crate::logic::extent::{self, Extent, ExtentState, MAX_EXTENT_LEN};
use crate::logic::spare_alloc::SpareAllocator;

impl RemapTarget {
    pub(super) fn remap_message(&self, sector: u64, sectors: u64, out: &mut Emitter<'_>) -> Result<bool> {
        let end = sector.checked_add(sectors).filter(|&e| e <= self.len).ok_or_else(|| {
            pr_warn!("remap {} {}: range past the end of the device ({} sectors)\n", sector, sectors, self.len);
            EINVAL
        })?;
        let first = self.geo.block_of(sector);
        let blocks = self.geo.blocks_in(end) - first;

        let mut writer = self.writer.lock();
        let mut trial = writer.alloc;
        let runs = self.plan_runs(first, blocks, &mut trial)?;
        if runs.is_empty() {
            let _ = writeln!(out, "remapped 0 lost 0");
            return Ok(true);
        }
        // Allocated before anything is held back, so releasing cannot fail.
        let no_moving = MovingRuns::none()?;
        // From here until the release, reclaim must not write through us.
        let noio = NoIoScope::enter();

        self.moving.update(|_| MovingRuns::of(&runs))?;
        self.inflight.drain();
        // The new table is committed before it is published, so no held bio
        // reaches the spare before the remap that sends it there is on disk.
        let published = copy_runs(&self.main, &self.spare, &self.geo, &runs).and_then(|copied| {
            self.commit_and_publish(&mut writer, trial, |t| t.with(&copied.extents)).map(|()| copied)
        });
        self.moving.update(|_| Ok::<_, Error>(no_moving))?;
        self.release_held();
        drop(noio);

        let copied = published.inspect_err(|e| {
            pr_err!("remap {} {}: failed ({:?}); nothing was remapped\n", sector, sectors, e);
        })?;
        drop(writer);
        Self::report(extent::remapped_blocks(&copied.extents), &copied, out);
        Ok(true)
    }

    /// The unmapped runs of `blocks` blocks from `first`, each with spare
    /// blocks from `alloc` (-ENOSPC when the pool cannot hold them all).
    fn plan_runs(&self, first: u64, blocks: u64, alloc: &mut SpareAllocator) -> Result<KVec<Extent>> {
        let mut unmapped: KVec<(u64, u64)> = KVec::new();
        let mut failed = false;
        self.table.read_locked(|t| {
            extent::for_each_unmapped(t.extents(), first, blocks, |s, l| {
                failed |= unmapped.push((s, l), GFP_KERNEL).is_err();
            })
        });
        if failed {
            return Err(ENOMEM);
        }
        let mut runs = KVec::new();
        for &(start, len) in unmapped.iter() {
            let mut done = 0;
            while done < len {
                let want = (len - done).min(u64::from(MAX_EXTENT_LEN));
                if want > alloc.free() {
                    pr_warn!("remap: spare pool exhausted ({} of {} blocks free)\n", alloc.free(), alloc.total());
                    return Err(ENOSPC);
                }
                let (spare, piece) = alloc.alloc_up_to(want).ok_or(ENOSPC)?;
                // `piece` fits in a u16 (MAX_EXTENT_LEN).
                let e = Extent { main: start + done, spare, len: piece as u16, state: ExtentState::Ok };
                runs.push(e, GFP_KERNEL)?;
                done += piece;
            }
        }
        Ok(runs)
    }

    /// Resubmits the bios held back by moving runs, now that those runs are
    /// mapped (or abandoned).
    fn release_held(&self) {
        let mut held = self.held.lock().take();
        while let Some(kept) = held.pop() {
            self.resubmit(kept);
        }
    }

    /// Sends a bio that map() held back where the table now says. Its
    /// per-bio data is filled in as map() would, so a failure is recovered.
    pub(super) fn resubmit(&self, mut kept: KeptBio) {
        let bio = kept.bio();
        let (offset, block, blocks) = self.placement(bio);
        let iter = bio.save_iter();
        let guard = RcuReadGuard::new();
        let route = self.table.read(&guard).route(block, blocks);
        if route.blocks < blocks {
            // map() split held bios at run edges, so this cannot happen;
            // fail the bio rather than send part of it astray.
            pr_err!("held bio at block {} spans a run edge; failing it\n", block);
            return;
        }
        // Counted inside the read section that routed it, as map() counts,
        // so a later remap message's drain waits for it.
        let epoch = self.inflight.enter();
        drop(guard);
        self.send(kept.bio(), offset, route.spare);
        let per_bio = kept.per_bio::<PerBio>();
        per_bio.iter = iter;
        per_bio.to_spare = route.spare.is_some();
        per_bio.count_in(epoch);
        kept.submit();
    }

    fn report(blocks: u64, copied: &Copied, out: &mut Emitter<'_>) {
        let _ = writeln!(out, "remapped {} lost {}", blocks, copied.lost_blocks);
        for e in copied.extents.iter().filter(|e| e.state == ExtentState::Lost) {
            if writeln!(out, "lost {} {}", e.main, e.len).is_err() {
                break;
            }
        }
    }
}
