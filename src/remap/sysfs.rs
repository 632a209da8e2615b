// SPDX-License-Identifier: GPL-2.0
//! The target's sysfs attributes (`/sys/kernel/dm_remap/<dm name>/`), by the
//! ids of `src/dm/sysfs.c`'s table: read-only state and counters, and the
//! policies, writable by root. Documentation/dm-remap.rst lists them.

use core::fmt::Write;

use kernel::prelude::*;

use super::counters::Recovery;
use super::reporting::Hex;
use super::target::RemapTarget;
use crate::dm::sysfs::SysfsAttrs;
use crate::dm::Emitter;
use crate::logic::policy::Policy;

/// Names of the writable attributes, from id 19 on (the policy names).
const POLICIES: [&[u8]; 5] = [b"auto_remap", b"read_retries", b"error_threshold", b"spare_warn", b"spare_crit"];
const FIRST_POLICY: u32 = 19;

impl SysfsAttrs for RemapTarget {
    fn show(&self, id: u32, out: &mut Emitter<'_>) {
        let c = || self.counters.snapshot();
        let rec = &self.recovery;
        let p = self.policies();
        let _ = match id {
            0 => write!(out, "{}", self.spare_state.remapped_blocks()),
            1 => write!(out, "{}", self.mapping.pending_count()),
            2 => write!(out, "{}", self.spare_state.spare_total()),
            3 => write!(out, "{}", self.spare_state.spare_used()),
            4 => write!(out, "{}", self.health().name()),
            5 => write!(out, "{}", self.spare_state.generation()),
            6 => write!(out, "{}", Hex(self.spare_state.uuid())),
            7 => write!(out, "{}", self.spare_state.metadata_copies()),
            8 => write!(out, "{}", c().reads),
            9 => write!(out, "{}", c().writes),
            10 => write!(out, "{}", c().remapped_reads),
            11 => write!(out, "{}", c().remapped_writes),
            12 => write!(out, "{}", c().errors),
            13 => write!(out, "{}", rec.get(Recovery::AutoRemaps)),
            14 => write!(out, "{}", rec.get(Recovery::SoftReadErrors)),
            15 => write!(out, "{}", rec.get(Recovery::Unrecovered)),
            16 => write!(out, "{}", self.writer().meta.latency().percentile(50)),
            17 => write!(out, "{}", self.writer().meta.latency().percentile(99)),
            18 => write!(out, "{}", self.writer().meta.last_commit_time()),
            19 => write!(out, "{}", if p.auto_remap { "on" } else { "off" }),
            20 => write!(out, "{}", p.read_retries),
            21 => write!(out, "{}", p.error_threshold),
            22 => write!(out, "{}", p.spare_warn),
            23 => write!(out, "{}", p.spare_crit),
            // Two lines; the trailing newline comes from the caller.
            24 => self.write_histograms(out),
            25 => write!(out, "{}", c().read_errors),
            26 => write!(out, "{}", c().write_errors),
            _ => Ok(()),
        };
    }

    fn store(&self, id: u32, value: &[u8]) -> Result {
        let name = id.checked_sub(FIRST_POLICY).and_then(|i| POLICIES.get(i as usize)).ok_or(EACCES)?;
        let policy = Policy::parse(name, value).map_err(|_| EINVAL)?;
        self.set_policy(policy);
        Ok(())
    }
}
