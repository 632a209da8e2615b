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
use crate::dm::sysfs::real_seconds;
use crate::dm::sched::fill_random;
use crate::dm::{CtrError, DmDev, IoBuffer};
use crate::logic::commit::{commit, region_start, write_copy, Committed};
use crate::logic::discover::{discover, Discovery, Fingerprint};
use crate::logic::extent::Extent;
use crate::logic::format::{Superblock, BLOCK, FORMAT_VERSION};
use crate::logic::geometry::SpareLayout;
use crate::logic::latency::LatencyRing;
use crate::logic::load::{read_copy, CopyState};
use crate::logic::table_check::check_table;

/// Metadata state of one target; the table writer owns it.
pub(crate) struct Metadata {
    layout: SpareLayout,
    /// The last committed superblock (its `copy` field is meaningless).
    sb: Superblock,
    /// The highest generation ever attempted: a failed commit may have
    /// reached the disk in part, so the next one goes higher still.
    attempted: u64,
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
    /// Metadata copies known good on disk (2, or 1 if a repair failed).
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

fn log_commit(what: &str, done: &Committed<Error>) {
    if let Err(e) = &done.a {
        pr_warn!("{}: writing metadata copy A failed: {:?}\n", what, e);
    }
    if let Err(e) = &done.b {
        pr_warn!("{}: writing metadata copy B failed: {:?}\n", what, e);
    }
}

impl Metadata {
    /// Loads the metadata of `spare` for the main device `fp`, formats a
    /// blank spare (or any spare when `force_format`), or refuses it. A
    /// loaded table must fit a target of `target_blocks` blocks.
    pub(crate) fn open(spare: &DmDev, fp: &Fingerprint, force_format: bool, target_blocks: u64) -> Result<Opened, CtrError> {
        let mut buf = IoBuffer::new().map_err(no_buffers)?;
        let mut block = KVec::from_elem(0u8, BLOCK, GFP_KERNEL).map_err(no_buffers)?;
        let decision = discover(&mut SpareIo::new(spare, &mut buf), spare.sectors(), fp, force_format, &mut block);
        match decision {
            Discovery::Refuse(r) => {
                pr_err!("spare {}: {:?}\n", spare.name(), r);
                Err(ctr_err(EINVAL, r.message()))
            }
            Discovery::Format { layout } => {
                let generation = Self::highest_generation(spare, &mut buf, &mut block, &layout) + 1;
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
                let mut meta = Self { layout, sb, attempted: generation, latency: LatencyRing::default(), last_commit: 0, buf, block };
                let copies = meta.write_both(spare, &sb, None, &[], "format");
                if copies == 0 {
                    return Err(ctr_err(EIO, c"Cannot write metadata to the spare device"));
                }
                pr_info!("spare {}: formatted, generation {}\n", spare.name(), generation);
                Ok(Opened { meta, extents: VVec::new(), copies })
            }
            Discovery::Load { copy, sb, layout, other: _ } => {
                let stale = decision.other_is_stale();
                let extents = Self::read_table(spare, &mut buf, &mut block, &layout, copy, &sb, target_blocks)?;
                let mut meta = Self { layout, sb, attempted: sb.generation, latency: LatencyRing::default(), last_commit: 0, buf, block };
                let mut copies = 2;
                if stale {
                    let other = 1 - copy;
                    let sb = Superblock { copy: other, ..meta.sb };
                    let mut io = SpareIo::new(spare, &mut meta.buf);
                    match write_copy(&mut io, &meta.layout, &sb, None, &extents, &mut meta.block) {
                        Ok(()) => pr_info!("spare {}: rewrote stale metadata copy {}\n", spare.name(), ["A", "B"][usize::from(other)]),
                        Err(e) => {
                            pr_warn!("spare {}: cannot repair metadata copy {}: {:?}\n", spare.name(), other, e);
                            copies = 1;
                        }
                    }
                }
                Ok(Opened { meta, extents, copies })
            }
        }
    }

    /// Reads copy `copy` (already checked by discovery) into a table and
    /// checks the table's consistency.
    fn read_table(
        spare: &DmDev,
        buf: &mut IoBuffer,
        block: &mut [u8],
        layout: &SpareLayout,
        copy: u8,
        sb: &Superblock,
        target_blocks: u64,
    ) -> Result<VVec<Extent>, CtrError> {
        let count = usize::try_from(sb.extent_count).map_err(|_| ctr_err(ENOMEM, c"Remap table too large"))?;
        let mut extents = VVec::with_capacity(count, GFP_KERNEL).map_err(no_table)?;
        let mut overflow = false;
        let state = read_copy(&mut SpareIo::new(spare, buf), layout, copy, block, |e| {
            overflow |= extents.push(e, GFP_KERNEL).is_err();
        });
        if overflow {
            return Err(no_table(()));
        }
        if state != CopyState::Valid(*sb) {
            pr_err!("spare {}: metadata copy {} changed while loading ({:?})\n", spare.name(), copy, state);
            return Err(ctr_err(EIO, c"Spare metadata changed while it was being loaded"));
        }
        let mut scratch = VVec::with_capacity(count, GFP_KERNEL).map_err(no_table)?;
        scratch.extend_from_slice(&extents, GFP_KERNEL).map_err(no_table)?;
        if let Err(fault) = check_table(&extents, &mut scratch, sb.alloc_next, target_blocks) {
            pr_err!("spare {}: inconsistent remap table: {:?}\n", spare.name(), fault);
            return Err(ctr_err(EINVAL, c"Spare metadata holds an inconsistent remap table"));
        }
        Ok(extents)
    }

    /// The highest generation in a superblock that still decodes on the
    /// spare (0 if none), so a format never goes back in generations.
    fn highest_generation(spare: &DmDev, buf: &mut IoBuffer, block: &mut [u8], layout: &SpareLayout) -> u64 {
        let mut io = SpareIo::new(spare, buf);
        [0u8, 1]
            .iter()
            .filter_map(|&copy| {
                use crate::logic::load::MetaIo;
                io.read_block(region_start(layout, copy), block).ok()?;
                Superblock::decode(block).ok().map(|sb| sb.generation)
            })
            .max()
            .unwrap_or(0)
    }

    /// The highest generation any superblock on the spare records now.
    pub(crate) fn generation_on_disk(&mut self, spare: &DmDev) -> u64 {
        Self::highest_generation(spare, &mut self.buf, &mut self.block, &self.layout)
    }

    /// Writes `extents` as `sb` to both copies, probing each with
    /// `previous`; returns how many made it.
    fn write_both(
        &mut self,
        spare: &DmDev,
        sb: &Superblock,
        previous: Option<&Superblock>,
        extents: &[Extent],
        what: &str,
    ) -> u8 {
        let mut io = SpareIo::new(spare, &mut self.buf);
        let done = commit(&mut io, &self.layout, sb, previous, extents, &mut self.block);
        log_commit(what, &done);
        done.copies_written()
    }

    /// Commits `extents` (the next table version) with the allocator's
    /// cursor at `alloc_next`, as a new generation. Returns the copies
    /// written, at least 1; `EIO` when none was, and then the next commit
    /// still uses a higher generation than any copy that may have landed.
    pub(crate) fn commit(&mut self, spare: &DmDev, extents: &[Extent], alloc_next: u64) -> Result<u8> {
        self.attempted = self.attempted.saturating_add(1);
        let next = Superblock {
            generation: self.attempted,
            alloc_next,
            extent_count: extents.len() as u64,
            ..self.sb
        };
        let previous = self.sb;
        let started = now_ns();
        let written = self.write_both(spare, &next, Some(&previous), extents, "commit");
        let us = now_ns().saturating_sub(started) / 1000;
        self.latency.record(u32::try_from(us).unwrap_or(u32::MAX));
        match written {
            0 => Err(EIO),
            n => {
                self.sb = next;
                self.last_commit = real_seconds();
                Ok(n)
            }
        }
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

    /// The allocator cursor of the last committed generation.
    pub(crate) fn alloc_next(&self) -> u64 {
        self.sb.alloc_next
    }

    /// The identity chosen when the spare was formatted.
    pub(crate) fn uuid(&self) -> [u8; 16] {
        self.sb.uuid
    }
}
