// SPDX-License-Identifier: GPL-2.0
//! What the target reports: its status (INFO, TABLE and IMA), the `stats`
//! message and the latency histograms.

use super::counters::{Recovery, LATENCY_BUCKETS, LATENCY_SAMPLE_EVERY};
use super::target::RemapTarget;
use crate::dm::rcu::RcuReadGuard;
use crate::dm::{Emitter, StatusKind, TargetOps};
use crate::dm_remap_core::status_line::{StatusLine, STATUS_FORMAT_VERSION};
use crate::dm_remap_core::table_line::Options;
use core::fmt::Write;

/// The UUID as 32 hex digits.
pub(super) struct Hex<'a>(pub(super) &'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl RemapTarget {
    /// The INFO, TABLE or IMA status.
    pub(super) fn write_status(&self, kind: StatusKind, out: &mut Emitter<'_>) {
        // A result cut short by a full buffer is what DMEMIT does too.
        let _ = match kind {
            StatusKind::Info => {
                let c = self.stats.counts();
                StatusLine {
                    format_version: STATUS_FORMAT_VERSION,
                    // `major:minor`, always ASCII.
                    main_dev: self.devices.main().name().to_str().unwrap_or("?"),
                    spare_dev: self.devices.spare().name().to_str().unwrap_or("?"),
                    block_bytes: self.geo.layout().block_bytes,
                    remaps: self.spare_state.remapped_blocks(),
                    spare_total: self.spare_state.spare_total(),
                    spare_used: self.spare_state.spare_used(),
                    reads: c.reads,
                    writes: c.writes,
                    remapped_reads: c.remapped_reads,
                    remapped_writes: c.remapped_writes,
                    errors: c.errors,
                    health: self.health(),
                    generation: self.spare_state.generation(),
                    uuid: *self.spare_state.uuid(),
                    metadata_copies: self.spare_state.metadata_copies(),
                    pending: self.mapping.pending_count() as u64,
                    auto_remaps: self.recovery.get(Recovery::AutoRemaps),
                    soft_read_errors: self.recovery.get(Recovery::SoftReadErrors),
                    unrecovered: self.recovery.get(Recovery::Unrecovered),
                    policies: self.policies(),
                    scan: self.scan_progress(),
                }
                .emit(out)
            }
            StatusKind::Table => write!(out, "{} {}", self.devices.main().name(), self.devices.spare().name())
                .and_then(|()| self.options().emit(out)),
            StatusKind::Ima => write!(
                out,
                "target_name={},target_version={}.{}.{},main_device_name={},spare_device_name={},block_size={},spare_uuid={};",
                Self::NAME,
                Self::VERSION[0],
                Self::VERSION[1],
                Self::VERSION[2],
                self.devices.main().name(),
                self.devices.spare().name(),
                self.geo.layout().block_bytes,
                Hex(self.spare_state.uuid()),
            ),
        };
    }

    /// The policies as optional table arguments.
    fn options(&self) -> Options {
        Options { force_format: false, policies: self.policies() }
    }

    /// `stats`: `<name> <value>` lines.
    pub(super) fn stats_message(&self, out: &mut Emitter<'_>) {
        let c = self.stats.counts();
        let lat = *self.writer().meta.latency();
        let _ = write!(
            out,
            "reads {}\nwrites {}\nremapped_reads {}\nremapped_writes {}\nerrors {}\nread_errors {}\nwrite_errors {}\n\
             commits {}\ncommit_p50_us {}\ncommit_p99_us {}\ncommit_max_us {}\n",
            c.reads,
            c.writes,
            c.remapped_reads,
            c.remapped_writes,
            c.errors,
            c.read_errors,
            c.write_errors,
            lat.count(),
            lat.percentile(50),
            lat.percentile(99),
            lat.max(),
        );
        let (extents, bytes) = {
            let guard = RcuReadGuard::new();
            let t = self.mapping.table(&guard);
            (t.extents().len(), t.bytes())
        };
        let _ = write!(
            out,
            "table_extents {}\ntable_bytes {}\nlatency_sample_every {}\n",
            extents, bytes, LATENCY_SAMPLE_EVERY
        );
        let _ = self.write_histograms(out);
    }

    /// `latency_us_log2 main|spare <32 counts>` lines (bucket i: latencies
    /// in [2^(i-1), 2^i) us).
    pub(super) fn write_histograms(&self, out: &mut Emitter<'_>) -> core::fmt::Result {
        for (name, remapped) in [("main", false), ("spare", true)] {
            if remapped {
                writeln!(out)?;
            }
            write!(out, "latency_us_log2 {name}")?;
            let h: [u64; LATENCY_BUCKETS] = self.stats.histogram(remapped);
            h.iter().try_for_each(|c| write!(out, " {c}"))?;
        }
        Ok(())
    }
}
