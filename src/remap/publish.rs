// SPDX-License-Identifier: GPL-2.0
//! The one way a table change takes effect: build the next table version,
//! commit it to the spare's metadata, publish it to map() with RCU, and
//! record what it did. Remap messages and the recovery worker both use it.

use core::sync::atomic::Ordering;

use kernel::prelude::*;

use super::table::Table;
use super::target::{RemapTarget, Writer};
use crate::logic::extent;
use crate::logic::spare_alloc::SpareAllocator;

impl RemapTarget {
    /// Builds the next table with `next` from the current one, commits it
    /// with `alloc`'s cursor and publishes it; then `alloc` becomes the
    /// writer's allocator. On failure nothing is published or changed,
    /// except that a failed commit is reflected in status.
    pub(super) fn commit_and_publish(
        &self,
        writer: &mut Writer,
        alloc: SpareAllocator,
        next: impl FnOnce(&Table) -> Result<KBox<Table>>,
    ) -> Result {
        let meta = &mut writer.meta;
        let mut remapped = 0;
        self.table.update(|t| {
            let next = next(t)?;
            let copies = meta.commit(&self.spare, next.extents(), alloc.cursor());
            self.meta_copies.store(*copies.as_ref().unwrap_or(&0), Ordering::Relaxed);
            self.generation.store(meta.generation(), Ordering::Relaxed);
            copies?;
            remapped = extent::remapped_blocks(next.extents());
            Ok::<_, Error>(next)
        })?;
        writer.alloc = alloc;
        self.spare_used.store(alloc.used(), Ordering::Relaxed);
        self.remapped_blocks.store(remapped, Ordering::Relaxed);
        Ok(())
    }
}
