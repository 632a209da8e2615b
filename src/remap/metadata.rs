// SPDX-License-Identifier: GPL-2.0
//! The spare's metadata in the kernel: discovery and loading when a target
//! is constructed, and commits of new table versions.
//!
//! The decisions (load, format or refuse; the write order of a commit) are
//! the shared pure code's; this file does the I/O and keeps the state a
//! commit needs: the layout and the last committed superblock.

use kernel::prelude::*;

use super::spare_io::SpareIo;
use crate::dm::percpu::now_ns;
use crate::dm::sched::fill_random;
use crate::dm::sysfs::real_seconds;
use crate::dm::{CtrError, DmDev, IoBuffer};
use crate::dm_remap_core::commit::{commit_change, format, Committed, CopyError};
use crate::dm_remap_core::discover::{
    attempted_at_load, discover, seen_generations, slots_unchanged, Discovery, Fingerprint, Seen,
};
use crate::dm_remap_core::extent::Extent;
use crate::dm_remap_core::format::{next_generation, Superblock, BLOCK, FORMAT_VERSION};
use crate::dm_remap_core::geometry::SpareLayout;
use crate::dm_remap_core::journal::RECORDS_PER_BLOCK;
use crate::dm_remap_core::latency::LatencyRing;
use crate::dm_remap_core::load::{apply_journal, read_slot, ApplyError, CopyState, ExtentStore, Tail};
use crate::dm_remap_core::slots::Slots;
use crate::dm_remap_core::table_check::{bitmap_words, check_table, prefer_bitmap, Scratch};

/// Metadata state of one target; the table writer owns it.
pub(crate) struct Metadata {
    layout: SpareLayout,
    /// The last committed superblock (its `copy` and `slot` are meaningless).
    sb: Superblock,
    /// What each slot of the spare holds.
    slots: Slots,
    /// The highest generation ever attempted or seen on the spare: a failed
    /// commit may have reached the disk in part, so the next one goes
    /// higher still.
    attempted: u64,
    /// The generations seen on the spare at load.
    seen: Seen,
    /// Whether a preresume of this table has succeeded: every generation
    /// written to the spare since is this writer's (another table commits
    /// only after its own preresume, and replaces this one).
    checked: bool,
    /// Whether this state is known to be the spare's newest: false from
    /// construction until a preresume has checked the spare (another table
    /// of the device may commit meanwhile), and after a failed check.
    /// Commits are refused until then.
    in_step: bool,
    /// How long recent commits took.
    latency: LatencyRing,
    /// Wall-clock seconds of the last successful commit (0: none yet).
    last_commit: i64,
    buf: IoBuffer,
    block: KVec<u8>,
}

/// What the constructor gets from the spare.
pub(crate) struct Opened {
    pub(crate) meta: Metadata,
    /// The loaded table (empty after a format), sorted by main block.
    pub(crate) extents: VVec<Extent>,
    /// Regions holding the newest generation (2 when healthy).
    pub(crate) copies: u8,
}

fn ctr_err(e: Error, message: &'static core::ffi::CStr) -> CtrError {
    CtrError::new(e, message)
}

fn no_buffers<E>(_: E) -> CtrError {
    ctr_err(ENOMEM, c"Cannot allocate metadata buffers")
}

fn no_table<E>(_: E) -> CtrError {
    ctr_err(ENOMEM, c"Cannot allocate the loaded remap table")
}

fn log_commit(spare: &DmDev, what: &str, done: &Committed<Error>) {
    for (name, r) in [("A", &done.a), ("B", &done.b)] {
        match r {
            Ok(()) => {}
            Err(CopyError::NoSafeSlot) => {
                pr_warn!("spare {}: {}: metadata copy {} not written: it would risk the only copy of the newest generation\n", spare.name(), what, name)
            }
            Err(e) => pr_warn!("spare {}: {}: writing metadata copy {} failed: {:?}\n", spare.name(), what, name, e),
        }
    }
}

impl Metadata {
    /// Loads the metadata of `spare` for the main device `fp`, formats a
    /// blank spare (or any spare when `force_format`), or refuses it. A
    /// loaded table must fit a target of `target_blocks` blocks. Writes
    /// nothing to a spare it loads: a copy that needs rewriting is
    /// rewritten by [`Self::repair`] once the table is live.
    pub(crate) fn open(
        spare: &DmDev,
        fp: &Fingerprint,
        force_format: bool,
        target_blocks: u64,
    ) -> Result<Opened, CtrError> {
        let mut buf = IoBuffer::new().map_err(no_buffers)?;
        let mut block = KVec::from_elem(0u8, BLOCK, GFP_KERNEL).map_err(no_buffers)?;
        let decision = discover(&mut SpareIo::new(spare, &mut buf), spare.sectors(), fp, force_format, &mut block);
        match decision {
            Discovery::Refuse(r) => {
                pr_err!("spare {}: {:?}\n", spare.name(), r);
                Err(ctr_err(EINVAL, r.message()))
            }
            Discovery::Format { layout, highest } => {
                let Some(generation) = next_generation(highest) else {
                    pr_err!(
                        "spare {}: a superblock is at the highest generation; not formatting over it\n",
                        spare.name()
                    );
                    return Err(ctr_err(EINVAL, c"Spare metadata generation cannot go higher"));
                };
                let mut sb = Superblock {
                    version: FORMAT_VERSION,
                    generation,
                    main_sectors: fp.main_sectors,
                    main_logical_block_size: fp.main_logical_block_size,
                    block_bytes: layout.block_bytes,
                    spare_sectors: spare.sectors(),
                    region_sectors: layout.region_sectors,
                    pool_start: layout.pool_start,
                    pool_blocks: layout.pool_blocks,
                    region_b_start: layout.region_b_start,
                    ..Default::default()
                };
                fill_random(&mut sb.uuid);
                let (slots, done) = format(&mut SpareIo::new(spare, &mut buf), &layout, &sb, &[], &mut block);
                log_commit(spare, "format", &done);
                let copies = done.copies_written();
                if copies == 0 {
                    return Err(ctr_err(EIO, c"Cannot write metadata to the spare device"));
                }
                pr_info!("spare {}: formatted, generation {}\n", spare.name(), generation);
                let meta = Self {
                    layout,
                    sb,
                    slots,
                    attempted: generation,
                    seen: Seen { highest: generation, unread: false },
                    checked: false,
                    in_step: false,
                    latency: LatencyRing::default(),
                    last_commit: 0,
                    buf,
                    block,
                };
                Ok(Opened { meta, extents: VVec::new(), copies })
            }
            Discovery::Load { copy, slot, sb, tail, layout, slots, .. } => {
                let (extents, sb) =
                    Self::read_table(spare, &mut buf, &mut block, &layout, copy, slot, &sb, &tail, target_blocks)?;
                let seen = seen_generations(&mut SpareIo::new(spare, &mut buf), &layout, spare.sectors(), &mut block);
                let meta = Self {
                    layout,
                    sb,
                    slots,
                    attempted: attempted_at_load(seen, sb.generation, 0, false),
                    seen,
                    checked: false,
                    in_step: false,
                    latency: LatencyRing::default(),
                    last_commit: 0,
                    buf,
                    block,
                };
                Ok(Opened { meta, extents, copies: slots.copies() })
            }
        }
    }

    /// Reads the copy in `slot` of region `copy` (already checked by
    /// discovery: its checkpoint `sb`, its chain's tail `tail`) into a
    /// table, applies its journal chain and checks the table's
    /// consistency. Returns the table and the superblock it amounts to (the
    /// chain's generation and allocator cursor).
    #[allow(clippy::too_many_arguments)]
    fn read_table(
        spare: &DmDev,
        buf: &mut IoBuffer,
        block: &mut [u8],
        layout: &SpareLayout,
        copy: u8,
        slot: u8,
        sb: &Superblock,
        tail: &Tail,
        target_blocks: u64,
    ) -> Result<(VVec<Extent>, Superblock), CtrError> {
        let count = usize::try_from(sb.extent_count).map_err(|_| ctr_err(ENOMEM, c"Remap table too large"))?;
        let mut extents = VVec::with_capacity(count, GFP_KERNEL).map_err(no_table)?;
        let mut overflow = false;
        let state = read_slot(&mut SpareIo::new(spare, buf), layout, copy, slot, block, |e| {
            overflow |= extents.push(e, GFP_KERNEL).is_err();
        });
        if overflow {
            return Err(no_table(()));
        }
        if state != CopyState::Valid(*sb) {
            pr_err!("spare {}: metadata copy {}/{} changed while loading ({:?})\n", spare.name(), copy, slot, state);
            return Err(ctr_err(EIO, c"Spare metadata changed while it was being loaded"));
        }
        let (extents, sb) = Self::apply_chain(spare, buf, block, layout, copy, sb, tail, extents)?;
        let count = extents.len();
        let checked = if prefer_bitmap(count as u64, sb.alloc_next) {
            let words = usize::try_from(bitmap_words(sb.alloc_next)).map_err(|_| no_table(()))?;
            let mut bits = VVec::from_elem(0u64, words, GFP_KERNEL).map_err(no_table)?;
            check_table(&extents, Scratch::Bitmap(&mut bits), layout.gap(), sb.alloc_next, target_blocks)
        } else {
            let mut copy = VVec::with_capacity(count, GFP_KERNEL).map_err(no_table)?;
            copy.extend_from_slice(&extents, GFP_KERNEL).map_err(no_table)?;
            check_table(&extents, Scratch::Sorted(&mut copy), layout.gap(), sb.alloc_next, target_blocks)
        };
        if let Err(fault) = checked {
            pr_err!("spare {}: inconsistent remap table: {:?}\n", spare.name(), fault);
            return Err(ctr_err(EINVAL, c"Spare metadata holds an inconsistent remap table"));
        }
        Ok((extents, sb))
    }

    /// Applies the journal chain on the checkpoint `sb` (region `copy`) to
    /// its `extents` (core's `load::apply_journal`, as the tool does): the
    /// chain discovery saw (`tail`), whose first `tail.blocks` blocks must
    /// still be there (a live table's commits may have appended more since,
    /// which this table's preresume sees). Returns the table and its
    /// superblock (the chain's generation and cursor).
    #[allow(clippy::too_many_arguments)]
    fn apply_chain(
        spare: &DmDev,
        buf: &mut IoBuffer,
        block: &mut [u8],
        layout: &SpareLayout,
        copy: u8,
        sb: &Superblock,
        tail: &Tail,
        extents: VVec<Extent>,
    ) -> Result<(VVec<Extent>, Superblock), CtrError> {
        if tail.blocks == 0 {
            return Ok((extents, *sb));
        }
        let mut runs = KVec::from_elem(Extent::default(), RECORDS_PER_BLOCK, GFP_KERNEL).map_err(no_table)?;
        let (chain, table) = apply_journal::<VVec<Extent>>(
            &mut SpareIo::new(spare, buf),
            layout,
            copy,
            sb,
            &extents,
            tail.blocks,
            &mut runs,
            block,
        );
        let table = match table {
            Ok(table) => table,
            Err(ApplyError::NoMemory) => return Err(no_table(())),
            Err(ApplyError::BadRecords) => {
                pr_err!("spare {}: metadata copy {}: a journal block holds invalid records\n", spare.name(), copy);
                return Err(ctr_err(EINVAL, c"Spare metadata journal holds invalid records"));
            }
        };
        if chain.generation != tail.generation || chain.blocks != tail.blocks {
            pr_err!(
                "spare {}: metadata copy {} changed while loading (journal of {} blocks up to generation {}, {} when found)\n",
                spare.name(),
                copy,
                chain.blocks,
                chain.generation,
                tail.generation
            );
            return Err(ctr_err(EIO, c"Spare metadata changed while it was being loaded"));
        }
        let table = table.unwrap_or(extents);
        let alloc_next = chain.alloc_next.unwrap_or(sb.alloc_next);
        let sb = Superblock { generation: chain.generation, alloc_next, extent_count: table.len() as u64, ..*sb };
        Ok((table, sb))
    }

    /// Whether every slot superblock on the spare still says what this
    /// state records (see `slots_unchanged`).
    pub(crate) fn unchanged_on_disk(&mut self, spare: &DmDev) -> bool {
        slots_unchanged(&mut SpareIo::new(spare, &mut self.buf), &self.layout, &self.slots, &mut self.block)
    }

    /// Commits `extents` (the next table version, the current one with the
    /// runs `change` applied when known) with the allocator's cursor at
    /// `alloc_next`, as a new generation: a journal block per region where
    /// it can, a full copy elsewhere. Returns the copies written, at least
    /// 1; `EIO` when none was, and then the next commit still uses a higher
    /// generation than any copy that may have landed.
    pub(crate) fn commit(
        &mut self,
        spare: &DmDev,
        extents: &[Extent],
        change: Option<&[Extent]>,
        alloc_next: u64,
    ) -> Result<u8> {
        if !self.in_step {
            pr_warn!(
                "spare {}: table not in step with the spare (its last resume failed); not committing\n",
                spare.name()
            );
            return Err(EAGAIN);
        }
        let Some(generation) = next_generation(self.attempted) else {
            pr_err!(
                "spare {}: metadata generation {} cannot go higher; not committing\n",
                spare.name(),
                self.attempted
            );
            return Err(ERANGE);
        };
        self.attempted = generation;
        let next = Superblock { generation, alloc_next, extent_count: extents.len() as u64, ..self.sb };
        let started = now_ns();
        let mut io = SpareIo::new(spare, &mut self.buf);
        let done = commit_change(
            &mut io,
            &self.layout,
            &mut self.slots,
            &next,
            FORMAT_VERSION,
            extents,
            change,
            &mut self.block,
        );
        log_commit(spare, "commit", &done);
        let us = now_ns().saturating_sub(started) / 1000;
        self.latency.record(u32::try_from(us).unwrap_or(u32::MAX));
        match done.copies_written() {
            0 => Err(EIO),
            n => {
                self.sb = next;
                self.last_commit = real_seconds();
                Ok(n)
            }
        }
    }

    /// Regions holding the newest committed generation.
    pub(crate) fn copies(&self) -> u8 {
        self.slots.copies()
    }

    /// Marks this state as the spare's newest (or not): see `in_step`.
    pub(crate) fn set_in_step(&mut self, in_step: bool) {
        self.in_step = in_step;
    }

    /// Whether this state is the spare's newest: see `in_step`.
    pub(crate) fn in_step(&self) -> bool {
        self.in_step
    }

    /// Wall-clock seconds of the last successful commit (0: none yet).
    pub(crate) fn last_commit_time(&self) -> i64 {
        self.last_commit
    }

    /// Latencies of recent commits.
    pub(crate) fn latency(&mut self) -> &mut LatencyRing {
        &mut self.latency
    }

    /// The spare's layout.
    pub(crate) fn layout(&self) -> &SpareLayout {
        &self.layout
    }

    /// The last committed generation.
    pub(crate) fn generation(&self) -> u64 {
        self.sb.generation
    }

    /// The highest generation seen on the spare or tried by a commit (the
    /// next commit goes above it).
    pub(crate) fn attempted(&self) -> u64 {
        self.attempted
    }

    /// Takes over what `before`, this table's state before a reload, knew
    /// of the spare. Generations and spare blocks its failed commits used
    /// stay used (one that landed may be unreadable now). Where a
    /// preresume of this table succeeded before, a superblock it cannot
    /// read now holds nothing but its own commits, which `before` counts:
    /// the reload needs no margin above it.
    pub(crate) fn continue_from(&mut self, before: &Metadata) {
        self.attempted = attempted_at_load(self.seen, self.sb.generation, before.attempted, before.checked);
        self.checked = before.checked;
    }

    /// Records that a preresume of this table succeeded (see `checked`).
    pub(crate) fn set_checked(&mut self) {
        self.checked = true;
    }

    /// The allocator cursor of the last committed generation.
    pub(crate) fn alloc_next(&self) -> u64 {
        self.sb.alloc_next
    }

    /// The identity chosen when the spare was formatted.
    pub(crate) fn uuid(&self) -> [u8; 16] {
        self.sb.uuid
    }
}

/// A loaded table grows in virtually contiguous memory (core's
/// `load::apply_journal` allocates through this).
impl ExtentStore for VVec<Extent> {
    fn with_len(n: usize) -> Option<Self> {
        VVec::from_elem(Extent::default(), n, GFP_KERNEL).ok()
    }
    fn extents(&self) -> &[Extent] {
        self
    }
    fn extents_mut(&mut self) -> &mut [Extent] {
        self
    }
    fn keep(self, n: usize) -> Option<Self> {
        // Copied, not truncated: the table keeps only the memory it uses.
        let mut kept = VVec::with_capacity(n, GFP_KERNEL).ok()?;
        kept.extend_from_slice(self.get(..n)?, GFP_KERNEL).ok()?;
        Some(kept)
    }
}
