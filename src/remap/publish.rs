// SPDX-License-Identifier: GPL-2.0
//! The one way a table change takes effect: build the next table version,
//! commit it to the spare's metadata, publish it to map() with RCU, and
//! record what it did. Remap messages and the recovery worker both use it.

use kernel::prelude::*;

use super::table::Table;
use super::target::{RemapTarget, Writer};
use crate::dm_remap_core::engine::ChangeFailed;
use crate::dm_remap_core::extent::{self, Extent};
use crate::dm_remap_core::spare_alloc::SpareAllocator;

impl RemapTarget {
    /// Builds the next table with `next` from the current one, commits it
    /// with `alloc`'s cursor (as the journal's `change` where that is the
    /// whole change, see `Metadata::commit`) and publishes it; then `alloc`
    /// becomes the
    /// writer's allocator. On failure nothing is published, except that a
    /// failed commit is reflected in status; and when a commit was tried,
    /// the allocator still moves past the blocks it named (a copy of it may
    /// have reached the disk: they are never handed out again).
    pub(super) fn commit_table(
        &self,
        writer: &mut Writer,
        alloc: SpareAllocator,
        change: Option<&[Extent]>,
        next: impl FnOnce(&Table) -> Result<KBox<Table>>,
    ) -> Result<(), ChangeFailed> {
        let meta = &mut writer.meta;
        let mut remapped = 0;
        let mut tried = false;
        let done = self.mapping.update_table(|t| {
            let next = next(t).map_err(|_| ChangeFailed::NoMem)?;
            tried = true;
            let copies = meta.commit(self.devices.spare(), next.extents(), change, alloc.cursor());
            self.spare_state.set_commit(meta.generation(), *copies.as_ref().unwrap_or(&0));
            copies.map_err(|_| ChangeFailed::Commit)?;
            remapped = extent::remapped_blocks(next.extents());
            Ok::<_, ChangeFailed>(next)
        });
        if done.is_ok() || tried {
            writer.alloc = alloc;
            self.spare_state.set_used(alloc.used());
        }
        done?;
        self.spare_state.set_remapped(remapped);
        Ok(())
    }
}
