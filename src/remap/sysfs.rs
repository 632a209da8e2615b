// SPDX-License-Identifier: GPL-2.0
//! The target's sysfs attributes (`/sys/kernel/dm_remap/<dm name>/`):
//! read-only state and counters, and the policies, writable by root.
//! Documentation/dm-remap.rst lists them.

use core::fmt::Write;

use kernel::prelude::*;

use super::counters::Recovery;
use super::reporting::Hex;
use super::target::RemapTarget;
use crate::dm::sysfs::{SysfsAttr, SysfsAttrs};
use crate::dm_remap_core::policy::Policy;

/// A read-only attribute that shows `$value` (of the target `$t`).
macro_rules! shows {
    ($name:literal, |$t:ident| $value:expr) => {
        SysfsAttr::read_only(kernel::c_str!($name), |$t, out| write!(out, "{}", $value))
    };
}

/// A policy, shown as `$value` and set by writing its value.
macro_rules! policy {
    ($name:literal, |$p:ident| $value:expr) => {
        SysfsAttr::read_write(
            kernel::c_str!($name),
            |t, out| {
                let $p = t.policies();
                write!(out, "{}", $value)
            },
            |t, value| set_policy(t, $name.as_bytes(), value),
        )
    };
}

/// Sets the policy `name` from `value`.
fn set_policy(t: &RemapTarget, name: &[u8], value: &[u8]) -> Result {
    t.set_policy(Policy::parse(name, value).map_err(|_| EINVAL)?);
    Ok(())
}

impl SysfsAttrs for RemapTarget {
    const ATTRS: &'static [SysfsAttr<Self>] = &[
        shows!("remaps", |t| t.spare_state.remapped_blocks()),
        shows!("pending", |t| t.mapping.pending_count()),
        shows!("spare_total", |t| t.spare_state.spare_total()),
        shows!("spare_used", |t| t.spare_state.spare_used()),
        shows!("health", |t| t.health().name()),
        shows!("generation", |t| t.spare_state.generation()),
        shows!("uuid", |t| Hex(t.spare_state.uuid())),
        shows!("metadata_copies", |t| t.spare_state.metadata_copies()),
        shows!("reads", |t| t.stats.counts().reads),
        shows!("writes", |t| t.stats.counts().writes),
        shows!("remapped_reads", |t| t.stats.counts().remapped_reads),
        shows!("remapped_writes", |t| t.stats.counts().remapped_writes),
        shows!("errors", |t| t.stats.counts().errors),
        shows!("auto_remaps", |t| t.recovery.get(Recovery::AutoRemaps)),
        shows!("soft_read_errors", |t| t.recovery.get(Recovery::SoftReadErrors)),
        shows!("unrecovered_errors", |t| t.recovery.get(Recovery::Unrecovered)),
        shows!("commit_p50_us", |t| t.writer().meta.latency().percentile(50)),
        shows!("commit_p99_us", |t| t.writer().meta.latency().percentile(99)),
        shows!("last_commit_time", |t| t.writer().meta.last_commit_time()),
        policy!("auto_remap", |p| if p.auto_remap { "on" } else { "off" }),
        policy!("read_retries", |p| p.read_retries),
        policy!("error_threshold", |p| p.error_threshold),
        policy!("spare_warn", |p| p.spare_warn),
        policy!("spare_crit", |p| p.spare_crit),
        // Two lines; the trailing newline comes from the caller.
        SysfsAttr::read_only(kernel::c_str!("latency_histogram"), |t, out| t.write_histograms(out)),
        shows!("read_errors", |t| t.stats.counts().read_errors),
        shows!("write_errors", |t| t.stats.counts().write_errors),
    ];
}
