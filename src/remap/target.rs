// SPDX-License-Identifier: GPL-2.0
//! The `remap` target type: constructor checks, bio routing and status.

use core::fmt::Write;
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use kernel::c_str;
use kernel::ffi::c_int;
use kernel::prelude::*;
use kernel::sync::{Mutex, SpinLock};
use kernel::{new_mutex, new_spinlock};

use super::counters::IoCounters;
use super::geometry::Geometry;
use super::inflight::InFlight;
use super::metadata::Metadata;
use super::table::{Pending, Table};
use crate::dm::rcu::{RcuBox, RcuReadGuard};
use crate::dm::{
    Bio, BioOp, CtrError, DmDev, Emitter, EndIoOutcome, KeptBioList, MapBio, MapOutcome, QueueLimits,
    StatusKind, Target, TargetOps,
};
use crate::logic::discover::Fingerprint;
use crate::logic::extent;
use crate::logic::geometry::{self, SpareLayout};
use crate::logic::message::Message;
use crate::logic::spare_alloc::SpareAllocator;
use crate::logic::table_line::{Options, TableLine};

/// Version of the INFO status line layout (Documentation/dm-remap.rst).
const STATUS_FORMAT_VERSION: u32 = 2;

/// Index of the flush copy that goes to the spare (`num_flush_bios` is 2).
const SPARE_FLUSH_BIO: u32 = 1;

/// One `remap` target: a main device, a spare device, and the remap table.
pub(crate) struct RemapTarget {
    pub(super) main: DmDev,
    pub(super) spare: DmDev,
    options: Options,
    pub(super) layout: SpareLayout,
    pub(super) geo: Geometry,
    /// First sector and length of the target (`ti->begin`, `ti->len`).
    pub(super) begin: u64,
    pub(super) len: u64,
    /// The published table; map() reads it under RCU, without a lock.
    pub(super) table: RcuBox<Table>,
    /// Runs being copied; map() holds back I/O to them. Published before the
    /// table that maps them and cleared after it, so a reader that sees no
    /// pending run also sees the table that includes it.
    pub(super) pending: RcuBox<Pending>,
    /// Bios held back by `pending`, resubmitted once their run is mapped.
    pub(super) held: Pin<KBox<SpinLock<KeptBioList>>>,
    /// Serialises table changes; owns the spare allocator and metadata.
    pub(super) writer: Pin<KBox<Mutex<Writer>>>,
    pub(super) inflight: InFlight,
    counters: IoCounters,
    pub(super) remapped_blocks: AtomicU64,
    pub(super) spare_used: AtomicU64,
    /// Blocks the allocator can hand out.
    spare_total: u64,
    /// The spare's identity, chosen when it was formatted.
    uuid: [u8; 16],
    /// Generation of the last metadata commit.
    pub(super) generation: AtomicU64,
    /// Metadata copies the last commit wrote (2 when healthy).
    pub(super) meta_copies: AtomicU8,
}

/// What the table writer owns.
pub(super) struct Writer {
    pub(super) alloc: SpareAllocator,
    pub(super) meta: Metadata,
}

/// The UUID as 32 hex digits.
struct Hex<'a>(&'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// What DM keeps beside each bio for us.
#[derive(Default)]
pub(crate) struct PerBio {
    /// Whether `inflight` counted the bio, and in which epoch.
    counted: bool,
    epoch: u8,
    _pad: [u8; 6],
}

fn invalid(message: &'static core::ffi::CStr) -> CtrError {
    CtrError::new(EINVAL, message)
}

/// The argument words as bytes, for the pure parsers.
fn words<'a>(args: &[&'a CStr]) -> Result<KVec<&'a [u8]>> {
    let mut words = KVec::with_capacity(args.len(), GFP_KERNEL)?;
    for a in args {
        words.push(a.as_bytes(), GFP_KERNEL)?;
    }
    Ok(words)
}

/// What the spare's metadata must match: the main device and block size.
pub(super) fn fingerprint(main: &DmDev, block_bytes: u32) -> Fingerprint {
    Fingerprint { main_sectors: main.sectors(), main_logical_block_size: main.logical_block_size(), block_bytes }
}

fn nomem(_: impl core::fmt::Debug) -> CtrError {
    CtrError::new(ENOMEM, c"Cannot allocate target context")
}

impl RemapTarget {
    fn health(&self) -> &'static str {
        match self.meta_copies.load(Ordering::Relaxed) {
            0 => "failing",
            1 => "degraded",
            _ => "ok",
        }
    }

    /// Sends a data bio (or the part of it that goes to one place) where the
    /// table says; `false` when it must wait for a pending run.
    fn route_data(&self, bio: &mut MapBio<'_>, per_bio: &mut PerBio) -> bool {
        let (offset, block, blocks) = self.placement(bio);
        let guard = RcuReadGuard::new();
        let mut limit = blocks;
        if let Some(r) = self.pending.read(&guard).route(block, blocks) {
            if r.spare.is_some() {
                bio.accept_partial(self.sectors_u32(r.blocks));
                return false;
            }
            limit = r.blocks;
        }
        let route = self.table.read(&guard).route(block, limit);
        if route.blocks < blocks {
            bio.accept_partial(self.sectors_u32(route.blocks));
        }
        per_bio.counted = true;
        per_bio.epoch = self.inflight.enter();
        drop(guard);
        self.send(bio, offset, route.spare);
        match bio.op() {
            BioOp::Read => self.counters.count_io(false, route.spare.is_some()),
            BioOp::Write => self.counters.count_io(true, route.spare.is_some()),
            _ => {}
        }
        true
    }

    /// Where `bio` lies in the target: its sector offset, first block and
    /// number of blocks (at least 1).
    pub(super) fn placement(&self, bio: &Bio) -> (u64, u64, u64) {
        let offset = bio.sector().wrapping_sub(self.begin);
        let blocks = self.geo.blocks_in(u64::from(bio.size_bytes() >> 9)).max(1);
        (offset, self.geo.block_of(offset), blocks)
    }

    /// Points `bio`, at target offset `offset`, at its spare-pool block, or
    /// at the main device when `spare` is `None`.
    pub(super) fn send(&self, bio: &mut Bio, offset: u64, spare: Option<u64>) {
        match spare {
            Some(pool_block) => {
                let sector = self.geo.spare_sector(pool_block) + self.geo.offset_in_block(offset);
                bio.redirect(&self.spare, sector);
            }
            None => bio.redirect(&self.main, offset),
        }
    }

    fn sectors_u32(&self, blocks: u64) -> u32 {
        u32::try_from(self.geo.sectors_of(blocks)).unwrap_or(u32::MAX)
    }
}

#[vtable]
impl TargetOps for RemapTarget {
    const NAME: &'static CStr = c_str!("remap");
    const VERSION: [u32; 3] = [0, 3, 0];
    type PerBio = PerBio;

    fn ctr(target: &mut Target, args: &[&CStr]) -> Result<Self, CtrError> {
        let words = words(args).map_err(nomem)?;
        let line = TableLine::parse(&words).map_err(|e| invalid(e.message()))?;
        // `parse` succeeded, so the first two arguments are the devices.
        let (Some(main_path), Some(spare_path)) = (args.first(), args.get(1)) else {
            return Err(invalid(c"Invalid argument count"));
        };

        let main = target
            .open_device(main_path)
            .map_err(|e| CtrError::new(e, c"Main device lookup failed"))?;
        let spare = target
            .open_device(spare_path)
            .map_err(|e| CtrError::new(e, c"Spare device lookup failed"))?;
        if main.devt() == spare.devt() {
            return Err(invalid(c"Main and spare must be different devices"));
        }
        if target.len() > main.sectors() {
            return Err(invalid(c"Target length exceeds the main device"));
        }
        let block_bytes = geometry::block_size(main.logical_block_size(), spare.logical_block_size());
        if !geometry::valid_block_size(block_bytes) {
            return Err(invalid(c"Unsupported logical block size"));
        }
        if SpareLayout::new(spare.sectors(), block_bytes).is_none() {
            return Err(invalid(c"Spare device too small for two metadata copies plus one spare block"));
        }
        let fp = fingerprint(&main, block_bytes);
        let target_blocks = target.len().div_ceil(u64::from(block_bytes / 512));
        let opened = Metadata::open(&spare, &fp, line.options.force_format, target_blocks)?;
        let layout = *opened.meta.layout();
        let geo = Geometry::new(&layout, target.len());
        let remapped = extent::remapped_blocks(&opened.extents);

        let table = RcuBox::new(Table::loaded(geo.main_blocks(), opened.extents).map_err(nomem)?).map_err(nomem)?;
        let pending = RcuBox::new(Pending::none().map_err(nomem)?).map_err(nomem)?;
        let held = KBox::pin_init(new_spinlock!(KeptBioList::new()), GFP_KERNEL).map_err(nomem)?;
        let alloc = SpareAllocator::resume(layout.pool_blocks, opened.meta.alloc_next());
        let (spare_total, spare_used) = (alloc.total(), alloc.used());
        let (uuid, generation) = (opened.meta.uuid(), opened.meta.generation());
        let writer = KBox::pin_init(new_mutex!(Writer { alloc, meta: opened.meta }), GFP_KERNEL).map_err(nomem)?;

        // One flush to each device; discards and write-zeroes follow the data.
        target.set_special_bio_counts(2, 1, 1);
        Ok(Self {
            main,
            spare,
            options: line.options,
            layout,
            geo,
            begin: target.begin(),
            len: target.len(),
            table,
            pending,
            held,
            writer,
            inflight: InFlight::default(),
            counters: IoCounters::default(),
            remapped_blocks: AtomicU64::new(remapped),
            spare_used: AtomicU64::new(spare_used),
            spare_total,
            uuid,
            generation: AtomicU64::new(generation),
            meta_copies: AtomicU8::new(opened.copies),
        })
    }

    fn map(&self, _target: &Target, mut bio: MapBio<'_>, per_bio: &mut PerBio) -> MapOutcome {
        if bio.is_preflush() {
            // An empty flush (DM strips PREFLUSH from bios with data); copy
            // `SPARE_FLUSH_BIO` flushes the spare, the other one the main device.
            let dev = if bio.target_bio_nr() == SPARE_FLUSH_BIO { &self.spare } else { &self.main };
            let sector = bio.sector();
            bio.redirect(dev, sector);
            return MapOutcome::Remapped;
        }
        if self.route_data(&mut bio, per_bio) {
            MapOutcome::Remapped
        } else {
            self.held.lock().push(bio.keep());
            MapOutcome::Submitted
        }
    }

    fn end_io(&self, _target: &Target, _bio: &mut Bio, per_bio: &mut PerBio, status: u8) -> EndIoOutcome {
        if per_bio.counted {
            self.inflight.exit(per_bio.epoch);
        }
        if status != 0 {
            self.counters.count_error();
        }
        EndIoOutcome::Done
    }

    fn status(&self, _target: &Target, kind: StatusKind, out: &mut Emitter<'_>) {
        // A result cut short by a full buffer is what DMEMIT does too.
        let _ = match kind {
            StatusKind::Info => {
                let c = self.counters.snapshot();
                write!(
                    out,
                    "{} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {}",
                    STATUS_FORMAT_VERSION,
                    self.main.name(),
                    self.spare.name(),
                    self.layout.block_bytes,
                    self.remapped_blocks.load(Ordering::Relaxed),
                    self.spare_total,
                    self.spare_used.load(Ordering::Relaxed),
                    c.reads,
                    c.writes,
                    c.remapped_reads,
                    c.remapped_writes,
                    c.errors,
                    self.health(),
                    self.generation.load(Ordering::Relaxed),
                    Hex(&self.uuid),
                    self.meta_copies.load(Ordering::Relaxed),
                )
            }
            StatusKind::Table => write!(out, "{} {}", self.main.name(), self.spare.name())
                .and_then(|()| self.options.emit(out)),
            StatusKind::Ima => write!(
                out,
                "target_name={},target_version={}.{}.{},main_device_name={},spare_device_name={},block_size={},spare_uuid={};",
                Self::NAME,
                Self::VERSION[0],
                Self::VERSION[1],
                Self::VERSION[2],
                self.main.name(),
                self.spare.name(),
                self.layout.block_bytes,
                Hex(&self.uuid),
            ),
        };
    }

    fn message(&self, _target: &Target, args: &[&CStr], out: &mut Emitter<'_>) -> Result<bool> {
        let words = words(args)?;
        let command = kernel::str::BStr::from_bytes(words.first().copied().unwrap_or_default());
        let message = Message::parse(&words).map_err(|e| {
            let reason = e.message().to_str().unwrap_or_default();
            pr_warn!("{}: '{}' ({} argument(s))\n", reason, command, args.len().saturating_sub(1));
            EINVAL
        })?;
        match message {
            Message::Remap { sector, sectors } => self.remap_message(sector, sectors, out),
            Message::ListRemaps { start_block, max } => self.list_message(start_block, max, out),
        }
    }

    fn iterate_devices(&self, visit: &mut dyn FnMut(&DmDev, u64, u64) -> c_int) -> c_int {
        match visit(&self.main, 0, self.len) {
            0 => visit(&self.spare, 0, self.spare.sectors()),
            r => r,
        }
    }

    fn preresume(&self, _target: &Target) -> Result {
        self.reload_if_advanced()
    }

    fn io_hints(&self, limits: &mut QueueLimits) {
        limits.raise_logical_block_size(self.layout.block_bytes);
    }
}
