// SPDX-License-Identifier: GPL-2.0
//! `list_remaps [<start_block> <count>]`: the table, a page at a time.

use core::fmt::Write;

use kernel::prelude::*;

use super::target::RemapTarget;
use crate::dm::rcu::RcuReadGuard;
use crate::dm::Emitter;
use crate::dm_remap_core::extent;

impl RemapTarget {
    /// Writes `main_block spare_block length state` per extent, from the
    /// extent holding or following `start_block`; with `max`, at most that
    /// many, then `next <main_block>` when more follow. Spare blocks count
    /// from the start of the spare device, in blocks. Without `max`, the
    /// pending blocks follow, as `<block> - 1 pending`.
    pub(super) fn list_message(&self, start_block: u64, max: Option<u64>, out: &mut Emitter<'_>) -> Result<bool> {
        let guard = RcuReadGuard::new();
        let extents = self.mapping.table(&guard).extents();
        let from = extent::first_ending_after(extents, start_block);
        let rest = extents.get(from..).unwrap_or_default();
        let shown = max.map_or(rest.len(), |m| usize::try_from(m).unwrap_or(usize::MAX).min(rest.len()));
        for e in rest.iter().take(shown) {
            let spare = self.geo.spare_device_block(u64::from(e.spare));
            if writeln!(out, "{} {} {} {}", e.main, spare, e.len, e.state.name()).is_err() {
                // DM sees the full buffer and asks again with a larger one.
                return Ok(true);
            }
        }
        if let Some(next) = rest.get(shown) {
            let _ = writeln!(out, "next {}", next.main);
        }
        if max.is_none() {
            // The whole list also names the pending blocks (unreadable, not
            // remapped yet).
            for b in self.mapping.pending(&guard).blocks() {
                if writeln!(out, "{} - 1 pending", b).is_err() {
                    return Ok(true);
                }
            }
        }
        Ok(true)
    }
}
