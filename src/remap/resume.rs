// SPDX-License-Identifier: GPL-2.0
//! Catching up with commits made by the table this one replaces, and
//! repairing a region that lacks the newest copy.
//!
//! `dmsetup reload` constructs the new table while the old one is still
//! live, and the old one can commit remaps until it is suspended. So the
//! constructor writes nothing, and the table commits nothing until its
//! preresume has checked the spare: if the spare holds a newer generation
//! than the one it loaded, it loads the table again, before its first I/O;
//! then it rewrites the newest copy into a region that lacks it, and commits
//! above a superblock newer than the copy it loaded or unreadable (see
//! `settle::supersede_unread`). When the
//! check fails the resume fails, and the table keeps refusing commits (it
//! could reuse spare blocks or generations handed out since) until a
//! resume succeeds.

use kernel::prelude::*;

use super::metadata::Metadata;
use super::table::Table;
use super::target::{fingerprint, RemapTarget, Writer};
use crate::dm_remap_core::engine::settle;
use crate::dm_remap_core::extent;
use crate::dm_remap_core::spare_alloc::SpareAllocator;

impl RemapTarget {
    /// Reloads the table from the spare if a newer generation was committed
    /// since this target loaded it. Runs in preresume: no I/O is in flight.
    pub(super) fn catch_up(&self) -> Result {
        let mut writer = self.writer();
        writer.meta.set_in_step(false);
        self.reload_if_advanced(&mut writer)?;
        writer.meta.set_in_step(true);
        let (loaded, seen) = (writer.meta.generation(), writer.meta.attempted());
        if !settle::supersede_unread(&self, &mut writer, loaded, seen) {
            // Nothing commits before a resume succeeds: a commit failing
            // now would leave this table unsettled, with fences that know
            // nothing of what it could not read.
            writer.meta.set_in_step(false);
            pr_err!(
                "spare {}: generation {} loaded, but a superblock is newer or unreadable (the next commit goes above {}), and committing above it failed; not resuming\n",
                self.devices.spare().name(),
                loaded,
                seen
            );
            return Err(EIO);
        }
        writer.meta.set_checked();
        if writer.meta.copies() < 2 {
            // Rewrite the newest table as the next generation: both regions
            // get it (or health stays degraded if one still fails).
            let alloc = writer.alloc;
            match self.commit_table(&mut writer, alloc, Some(&[]), |t| t.with(&[])) {
                Ok(()) if writer.meta.copies() == 2 => pr_info!(
                    "spare {}: metadata rewritten into both regions (generation {})\n",
                    self.devices.spare().name(),
                    writer.meta.generation()
                ),
                Ok(()) => pr_warn!("spare {}: metadata still in one region only\n", self.devices.spare().name()),
                Err(e) => pr_warn!(
                    "spare {}: cannot rewrite the missing metadata copy: {:?}\n",
                    self.devices.spare().name(),
                    e
                ),
            }
        }
        Ok(())
    }

    /// Loads the table again unless every slot superblock still says what
    /// this table loaded or committed; a superblock that cannot be read
    /// counts as changed (it may hold a newer commit), so that this table
    /// never goes live older than the spare. Fails when nothing loads.
    fn reload_if_advanced(&self, writer: &mut Writer) -> Result {
        if writer.meta.unchanged_on_disk(self.devices.spare()) {
            return Ok(());
        }
        pr_info!(
            "spare {}: metadata changed since generation {} was loaded by this table; reloading it\n",
            self.devices.spare().name(),
            writer.meta.generation(),
        );
        let fp = fingerprint(self.devices.main(), self.geo.layout().block_bytes);
        let opened = Metadata::open(self.devices.spare(), &fp, false, self.geo.main_blocks()).map_err(|e| {
            pr_err!(
                "spare {}: reload failed: {}\n",
                self.devices.spare().name(),
                e.message.to_str().unwrap_or_default()
            );
            e.errno
        })?;
        if opened.meta.generation() < writer.meta.generation() {
            pr_err!(
                "spare {}: metadata went back to generation {}\n",
                self.devices.spare().name(),
                opened.meta.generation()
            );
            return Err(EIO);
        }
        if opened.meta.layout() != self.geo.layout() {
            pr_err!("spare {}: metadata layout changed under a live table\n", self.devices.spare().name());
            return Err(EINVAL);
        }
        let remapped = extent::remapped_blocks(&opened.extents);
        let table = Table::loaded(opened.extents)?;
        self.mapping.update_table(|_| Ok::<_, Error>(table))?;
        // A failed commit of this table may have landed where the reload
        // could not read it: its generation and the spare blocks it handed
        // out stay used.
        let cursor = opened.meta.alloc_next().max(writer.alloc.cursor());
        writer.alloc = SpareAllocator::for_layout(self.geo.layout(), cursor);
        self.spare_state.set_remapped(remapped);
        self.spare_state.set_used(writer.alloc.used());
        self.spare_state.set_commit(opened.meta.generation(), opened.copies);
        let mut meta = opened.meta;
        meta.continue_from(&writer.meta);
        writer.meta = meta;
        Ok(())
    }
}
