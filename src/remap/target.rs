// SPDX-License-Identifier: GPL-2.0
//! The `remap` target type: constructor checks, bio routing and status.

use core::fmt::Write;

use kernel::c_str;
use kernel::ffi::c_int;
use kernel::prelude::*;

use super::counters::IoCounters;
use crate::dm::{
    Bio, BioOp, CtrError, DmDev, Emitter, EndIoOutcome, MapOutcome, QueueLimits, StatusKind, Target,
    TargetOps,
};
use crate::logic::geometry::{self, SpareLayout};
use crate::logic::table_line::{Options, TableLine};

/// Version of the INFO status line layout (Documentation/dm-remap.rst).
const STATUS_FORMAT_VERSION: u32 = 1;

/// Index of the flush copy that goes to the spare (`num_flush_bios` is 2).
const SPARE_FLUSH_BIO: u32 = 1;

/// One `remap` target: a main device, a spare device and their geometry.
pub(crate) struct RemapTarget {
    main: DmDev,
    spare: DmDev,
    options: Options,
    layout: SpareLayout,
    /// Target length in sectors (`ti->len`).
    len: u64,
    counters: IoCounters,
}

fn invalid(message: &'static core::ffi::CStr) -> CtrError {
    CtrError::new(EINVAL, message)
}

impl RemapTarget {
    fn health(&self) -> &'static str {
        "ok"
    }
}

#[vtable]
impl TargetOps for RemapTarget {
    const NAME: &'static CStr = c_str!("remap");
    const VERSION: [u32; 3] = [0, 1, 0];

    fn ctr(target: &mut Target, args: &[&CStr]) -> Result<Self, CtrError> {
        let mut words = KVec::with_capacity(args.len(), GFP_KERNEL)
            .map_err(|_| CtrError::new(ENOMEM, c"Cannot allocate argument list"))?;
        for a in args {
            words
                .push(a.as_bytes(), GFP_KERNEL)
                .map_err(|_| CtrError::new(ENOMEM, c"Cannot allocate argument list"))?;
        }
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
        let layout = SpareLayout::new(spare.sectors(), block_bytes)
            .ok_or_else(|| invalid(c"Spare device too small for the metadata reserve plus one spare block"))?;

        // One flush to each device; discards and write-zeroes follow the data.
        target.set_special_bio_counts(2, 1, 1);
        Ok(Self {
            main,
            spare,
            options: line.options,
            layout,
            len: target.len(),
            counters: IoCounters::default(),
        })
    }

    fn map(&self, target: &Target, bio: &mut Bio) -> MapOutcome {
        if bio.is_preflush() {
            // An empty flush (DM strips PREFLUSH from bios with data); copy
            // `SPARE_FLUSH_BIO` flushes the spare, the other one the main device.
            let dev = if bio.target_bio_nr() == SPARE_FLUSH_BIO { &self.spare } else { &self.main };
            let sector = bio.sector();
            bio.redirect(dev, sector);
            return MapOutcome::Remapped;
        }
        let offset = bio.sector().wrapping_sub(target.begin());
        match bio.op() {
            BioOp::Read => self.counters.count_io(false, false),
            BioOp::Write => self.counters.count_io(true, false),
            _ => {}
        }
        bio.redirect(&self.main, offset);
        MapOutcome::Remapped
    }

    fn end_io(&self, _target: &Target, _bio: &mut Bio, status: u8) -> EndIoOutcome {
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
                    "{} {} {} {} {} {} {} {} {} {} {} {} {}",
                    STATUS_FORMAT_VERSION,
                    self.main.name(),
                    self.spare.name(),
                    self.layout.block_bytes,
                    0, // remaps
                    self.layout.pool_blocks,
                    0, // spare blocks used
                    c.reads,
                    c.writes,
                    c.remapped_reads,
                    c.remapped_writes,
                    c.errors,
                    self.health(),
                )
            }
            StatusKind::Table => write!(out, "{} {}", self.main.name(), self.spare.name())
                .and_then(|()| self.options.emit(out)),
            StatusKind::Ima => write!(
                out,
                "target_name={},target_version={}.{}.{},main_device_name={},spare_device_name={},block_size={};",
                Self::NAME,
                Self::VERSION[0],
                Self::VERSION[1],
                Self::VERSION[2],
                self.main.name(),
                self.spare.name(),
                self.layout.block_bytes,
            ),
        };
    }

    fn message(&self, _target: &Target, args: &[&CStr], _out: &mut Emitter<'_>) -> Result<bool> {
        let command = args.first().map(|c| c.as_bytes()).unwrap_or_default();
        pr_warn!(
            "unrecognised message '{}' ({} argument(s))\n",
            kernel::str::BStr::from_bytes(command),
            args.len().saturating_sub(1)
        );
        Err(EINVAL)
    }

    fn iterate_devices(&self, visit: &mut dyn FnMut(&DmDev, u64, u64) -> c_int) -> c_int {
        match visit(&self.main, 0, self.len) {
            0 => visit(&self.spare, 0, self.spare.sectors()),
            r => r,
        }
    }

    fn io_hints(&self, limits: &mut QueueLimits) {
        limits.raise_logical_block_size(self.layout.block_bytes);
    }
}
