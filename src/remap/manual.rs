// SPDX-License-Identifier: GPL-2.0
//! `remap <sector> [<count>]` and `remap_list <sector>[+<count>]...`: move
//! blocks to the spare on request. The move itself (plan, hold, drain,
//! copy, commit, publish, release) is the engine's
//! (`crate::dm_remap_core::engine::moves`); this is the message: the range
//! check and the report.

use core::fmt::Write;

use kernel::prelude::*;

use super::platform::KList;
use super::target::RemapTarget;
use crate::dm::log::dm_warn_limited;
use crate::dm::sched::NoIoScope;
use crate::dm::Emitter;
use crate::dm_remap_core::engine::moves::{remap_range, remap_ranges, Report};
use crate::dm_remap_core::engine::{ChangeFailed, Event};
use crate::dm_remap_core::extent::{self, Extent, ExtentState};
use crate::dm_remap_core::message::RangeList;

impl RemapTarget {
    pub(super) fn remap_message(&self, sector: u64, sectors: u64, out: &mut Emitter<'_>) -> Result<bool> {
        let (first, blocks) = self.geo.blocks_of_range(sector, sectors).ok_or_else(|| {
            dm_warn_limited!(
                self.name,
                "remap {} {}: range past the end of the device ({} sectors)\n",
                sector,
                sectors,
                self.geo.sectors()
            );
            EINVAL
        })?;
        // While I/O is held back, reclaim must not write through us.
        let noio = NoIoScope::enter();
        let report = remap_range(&self, first, blocks);
        drop(noio);
        let report = report.map_err(|why| {
            self.log(Event::MessageFailed { sector, sectors, why });
            errno(why)
        })?;
        write_report(&report, out);
        Ok(true)
    }

    /// `remap_list`: every range checked first (one past the end refuses
    /// the whole message), then remapped as one change.
    pub(super) fn remap_list_message(&self, list: RangeList<'_>, out: &mut Emitter<'_>) -> Result<bool> {
        let mut ranges = KVec::with_capacity(list.len(), GFP_KERNEL)?;
        for (sector, sectors) in list.iter() {
            let range = self.geo.blocks_of_range(sector, sectors).ok_or_else(|| {
                dm_warn_limited!(
                    self.name,
                    "remap_list {}+{}: range past the end of the device ({} sectors)\n",
                    sector,
                    sectors,
                    self.geo.sectors()
                );
                EINVAL
            })?;
            ranges.push(range, GFP_KERNEL)?;
        }
        let noio = NoIoScope::enter();
        let report = remap_ranges(&self, &mut ranges);
        drop(noio);
        let report = report.map_err(|why| {
            let sector = list.iter().next().map_or(0, |r| r.0);
            self.log(Event::ListFailed { ranges: list.len() as u64, sector, why });
            errno(why)
        })?;
        write_report(&report, out);
        Ok(true)
    }
}

fn errno(why: ChangeFailed) -> Error {
    match why {
        ChangeFailed::NoMem => ENOMEM,
        ChangeFailed::NoSpace => ENOSPC,
        ChangeFailed::Commit | ChangeFailed::Io => EIO,
    }
}

/// `remapped <n> lost <n>`, then a `lost <block> <count>` line per lost run.
fn write_report(report: &Report<KList<Extent>>, out: &mut Emitter<'_>) {
    let _ = writeln!(out, "remapped {} lost {}", extent::remapped_blocks(&report.extents), report.lost_blocks);
    for e in report.extents.iter().filter(|e| e.state == ExtentState::Lost) {
        if writeln!(out, "lost {} {}", e.main, e.len).is_err() {
            break;
        }
    }
}
