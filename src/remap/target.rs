// SPDX-License-Identifier: GPL-2.0
//! The `remap` target type: its state, and its callbacks in `target_type`
//! order (constructor, destructor, map, end_io, status, message,
//! iterate_devices, io_hints, suspend and resume). The I/O path is in
//! `io.rs`, the reports in `reporting.rs`.

use core::sync::atomic::{AtomicU8, Ordering};

use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::lock::{mutex::MutexBackend, Guard};
use kernel::sync::{Mutex, SpinLock};
use kernel::{new_mutex, new_spinlock};

use super::counters::{IoStats, Recovery, RecoveryCounters};
use super::devices::Devices;
use super::inflight::InFlight;
use super::io::{PerBio, ToWorker};
use super::mapping::Mapping;
use super::metadata::Metadata;
use super::resend::LastReport;
use super::scan::Scan;
use super::spare_state::SpareState;
use super::table::Table;
use crate::dm::log::{dm_info_limited, dm_warn_limited, DmName};
use crate::dm::{
    BlkStatus, Claim, CtrError, DmDev, Emitter, EndBio, EndIoOutcome, IoBuffer, IterStop, MapBio, MapOutcome,
    QueueLimits, StatusKind, Target, TargetOps,
};
use crate::dm_remap_core::discover::Fingerprint;
use crate::dm_remap_core::extent;
use crate::dm_remap_core::geometry::{self, Geometry, SpareLayout};
use crate::dm_remap_core::health::{Health, HealthInputs};
use crate::dm_remap_core::message::Message;
use crate::dm_remap_core::policy::{Policies, Policy};
use crate::dm_remap_core::spare_alloc::SpareAllocator;
use crate::dm_remap_core::table_line::TableLine;

/// One `remap` target: a main device, a spare device, and the remap table.
///
/// Its fields are owned sub-states, each with its own methods; the other
/// files of this module use those, so the fields they need are
/// `pub(super)` (each keeps its own data private). The worker that runs
/// error recovery and the scan, and the sysfs directory, are the
/// abstraction's (`crate::dm`): they are gone before these fields drop.
#[pin_data]
pub(crate) struct RemapTarget {
    /// The mapped device's name, which every log line starts with (see
    /// `crate::dm::log`).
    pub(super) name: DmName,
    pub(super) devices: Devices,
    pub(super) geo: Geometry,
    /// What map() routes by, and the bios a move holds back.
    pub(super) mapping: Mapping,
    /// Bios `map` and `end_io` hand to the worker.
    pub(super) to_worker: ToWorker,
    /// Data-changing bios in flight, which a move drains.
    pub(super) inflight: InFlight,
    /// Serialises table changes; owns the spare allocator and metadata.
    #[pin]
    writer: Mutex<Writer>,
    pub(super) spare_state: SpareState,
    /// Error-handling policies (table arguments, `set` messages).
    #[pin]
    policies: SpinLock<Policies>,
    /// The health last reported, to raise an event when it changes.
    last_health: AtomicU8,
    /// I/O counters and latency histograms.
    pub(super) stats: IoStats,
    pub(super) recovery: RecoveryCounters,
    /// The background scan of the main device.
    pub(super) scan: Scan,
    /// The last `remap` report, for libdevmapper's re-send of the message.
    pub(super) last_report: LastReport,
}

/// What the table writer owns: the allocator, the metadata, and the I/O
/// buffers of recovery and moves (preallocated: a table change under memory
/// pressure never fails for want of one).
pub(super) type Writer = crate::dm_remap_core::engine::Writer<Metadata, IoBuffer>;

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

/// Claims `dev` for `target`; `taken` is the refusal when another dm-remap
/// device holds it.
fn claim(target: &mut Target<RemapTarget>, dev: &DmDev, taken: &'static core::ffi::CStr) -> Result<Claim, CtrError> {
    target.claim(dev).map_err(|e| if e == EBUSY { CtrError::new(EBUSY, taken) } else { nomem(e) })
}

fn nomem(_: impl core::fmt::Debug) -> CtrError {
    CtrError::new(ENOMEM, c"Cannot allocate target context")
}

impl RemapTarget {
    pub(super) fn health(&self) -> Health {
        let p = self.policies();
        Health::of(&HealthInputs {
            spare_warn: p.spare_warn,
            spare_crit: p.spare_crit,
            metadata_copies: self.spare_state.metadata_copies(),
            device_errors: self.recovery.get(Recovery::DeviceErrors),
            spare_errors: self.recovery.get(Recovery::SpareErrors),
            spare_used: self.spare_state.spare_used(),
            spare_total: self.spare_state.spare_total(),
        })
    }

    /// Raises a device-mapper event when health changed since the last
    /// check. Process context (dm_table_event sleeps).
    pub(super) fn check_health(&self, target: &Target<Self>) {
        let now = self.health();
        let before = self.last_health.swap(now as u8, Ordering::Relaxed);
        if before != now as u8 {
            dm_warn_limited!(self.name, "health is now {}\n", now.name());
            target.table_event();
        }
    }

    /// Changes one policy.
    pub(super) fn set_policy(&self, policy: Policy) {
        self.policies.lock().apply(policy);
    }

    /// The current policies.
    pub(super) fn policies(&self) -> Policies {
        *self.policies.lock()
    }

    /// Locks the table writer.
    pub(super) fn writer(&self) -> Guard<'_, Writer, MutexBackend> {
        self.writer.lock()
    }
}

#[vtable]
impl TargetOps for RemapTarget {
    const NAME: &'static CStr = c_str!("remap");
    const VERSION: [u32; 3] = [0, 3, 0];
    type PerBio = PerBio;

    fn ctr(target: &mut Target<Self>, args: &[&CStr]) -> Result<impl PinInit<Self, CtrError>, CtrError> {
        let words = words(args).map_err(nomem)?;
        let line = TableLine::parse(&words).map_err(|e| invalid(e.message()))?;
        // `parse` succeeded, so the first two arguments are the devices.
        let (Some(main_path), Some(spare_path)) = (args.first(), args.get(1)) else {
            return Err(invalid(c"Invalid argument count"));
        };

        let main = target.open_device(main_path).map_err(|e| CtrError::new(e, c"Main device lookup failed"))?;
        let spare = target.open_device(spare_path).map_err(|e| CtrError::new(e, c"Spare device lookup failed"))?;
        if main.devt() == spare.devt() {
            return Err(invalid(c"Main and spare must be different devices"));
        }
        // Before anything is written to either device.
        let claims = [
            claim(target, &main, c"Main device is already used by another dm-remap device")?,
            claim(target, &spare, c"Spare device is already used by another dm-remap device")?,
        ];
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
        let geo = Geometry::new(&layout, target.begin(), target.len());
        let remapped = extent::remapped_blocks(&opened.extents);

        let mapping = Mapping::new(Table::loaded(opened.extents).map_err(nomem)?).map_err(nomem)?;
        let alloc = SpareAllocator::for_layout(&layout, opened.meta.alloc_next());
        let spare_state = SpareState::new(opened.meta.uuid(), alloc.total());
        spare_state.set_used(alloc.used());
        spare_state.set_remapped(remapped);
        spare_state.set_commit(opened.meta.generation(), opened.copies);
        let (buf, scratch) = (IoBuffer::new().map_err(nomem)?, IoBuffer::new().map_err(nomem)?);
        let writer = Writer { alloc, meta: opened.meta, buf, scratch, unsettled: false };
        let (inflight, stats, last_report) =
            (InFlight::new().map_err(nomem)?, IoStats::new().map_err(nomem)?, LastReport::new().map_err(nomem)?);

        let name = target.dm_name();

        // One flush to each device; discards and write-zeroes follow the data.
        target.set_special_bio_counts(2, 1, 1);
        let init = try_pin_init!(Self {
            name,
            devices: Devices::new(main, spare, claims),
            geo,
            mapping,
            to_worker: ToWorker::new(),
            inflight,
            writer <- new_mutex!(writer),
            spare_state,
            policies <- new_spinlock!(line.options.policies),
            last_health: AtomicU8::new(Health::Ok as u8),
            stats,
            recovery: RecoveryCounters::default(),
            scan: Scan::default(),
            last_report,
        }? CtrError);
        Ok(init.pin_chain(|this| {
            // What status shows from the start; changes from here raise events.
            this.last_health.store(this.health() as u8, Ordering::Relaxed);
            Ok(())
        }))
    }

    /// The destructor's first step (see `TargetOps::stop_work`).
    fn stop_work(&self) {
        // A device removed while suspended skips presuspend; whatever
        // started the scan, the destructor must not wait for all of it.
        if self.scan.block() {
            dm_info_limited!(self.name, "patrol read stopped by remove\n");
        }
    }

    #[inline]
    fn map<'a>(&self, target: &Target<Self>, bio: MapBio<'a, Self>) -> MapOutcome<'a> {
        self.map_bio(target, bio)
    }

    #[inline]
    fn end_io<'a>(
        &self,
        target: &Target<Self>,
        bio: EndBio<'a, Self>,
        per_bio: &mut PerBio,
        status: BlkStatus,
    ) -> EndIoOutcome<'a> {
        self.end_bio(target, bio, per_bio, status)
    }

    fn status(&self, _target: &Target<Self>, kind: StatusKind, out: &mut Emitter<'_>) {
        self.write_status(kind, out);
    }

    fn message(&self, target: &Target<Self>, args: &[&CStr], out: &mut Emitter<'_>) -> Result<bool> {
        let words = words(args)?;
        let command = kernel::str::BStr::from_bytes(words.first().copied().unwrap_or_default());
        let message = Message::parse(&words).map_err(|e| {
            let reason = e.message().to_str().unwrap_or_default();
            dm_warn_limited!(self.name, "{}: '{}' ({} argument(s))\n", reason, command, args.len().saturating_sub(1));
            EINVAL
        })?;
        let result = match message {
            Message::Remap { sector, sectors } => self.remap_or_resend(sector, sectors, out),
            Message::RemapList(list) => self.remap_list_or_resend(list, out),
            Message::ListRemaps { start_block, max } => self.list_message(start_block, max, out),
            Message::Set(policy) => {
                self.set_policy(policy);
                Ok(false)
            }
            Message::ScanStart { mib_per_s } => self.scan_start(target, mib_per_s).map(|()| false),
            Message::ScanStop => {
                self.scan.stop();
                Ok(false)
            }
            Message::ScanStatus => {
                let _ = self.scan_progress().emit(out);
                Ok(true)
            }
            Message::Stats => {
                self.stats_message(out);
                Ok(true)
            }
            Message::ClearStats => {
                self.stats.clear();
                self.writer().meta.latency().clear();
                Ok(false)
            }
        };
        self.check_health(target);
        result
    }

    fn iterate_devices(&self, visit: &mut dyn FnMut(&DmDev, u64, u64) -> Result<(), IterStop>) -> Result<(), IterStop> {
        let (main, spare) = (self.devices.main(), self.devices.spare());
        visit(main, 0, self.geo.sectors())?;
        visit(spare, 0, spare.sectors())
    }

    fn io_hints(&self, limits: &mut QueueLimits) {
        limits.raise_logical_block_size(self.geo.layout().block_bytes);
    }

    fn presuspend(&self, target: &Target<Self>) {
        if self.scan.block() {
            dm_info_limited!(self.name, "patrol read stopped by suspend\n");
        }
        target.flush_work();
    }

    fn postsuspend(&self, target: &Target<Self>) {
        // Every bio has completed, and the worker commits nothing after the
        // bios of its round (a reloaded table must find the spare settled):
        // let whatever it still runs finish before the table can be swapped.
        target.flush_work();
        target.remove_sysfs();
    }

    fn presuspend_undo(&self, _target: &Target<Self>) {
        self.scan.unblock();
    }

    fn preresume(&self, _target: &Target<Self>) -> Result {
        self.catch_up()
    }

    fn resume(&self, target: &Target<Self>) {
        self.scan.unblock();
        // Published while the device is active; a reloaded table's
        // directory replaces the old one's (removed at its postsuspend).
        if let Err(e) = target.publish_sysfs() {
            dm_warn_limited!(self.name, "no sysfs directory: {:?}\n", e);
        }
    }

    // Not a `target_type` callback: what the worker runs.

    fn run_work(&self, target: &Target<Self>) {
        self.recover_all();
        self.scan_step(target);
        self.check_health(target);
    }
}
