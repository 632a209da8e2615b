// SPDX-License-Identifier: GPL-2.0
//! The Prometheus exposition of the monitor's last sample, in the
//! Prometheus text format 0.0.4 (served as [`CONTENT_TYPE`]), the format
//! `promtool check metrics` validates and every Prometheus scrapes:
//! monotonic counts are counters named `_total`, health one series per
//! state, `dm_remap_info` the devices' identity, the kernel's log2 latency
//! histograms histograms (cumulative `_bucket{le}`, `_sum`, `_count`).
//!
//! (prometheus-client, which this crate used before, writes only
//! OpenMetrics; promtool reads OpenMetrics' counter families, `# TYPE x
//! counter` over samples `x_total`, as untyped samples without help, so the
//! exposition is written here, in a few lines, instead.)

use std::fmt::Write;

use dm_remap_tool::status::DeviceStatus;

use crate::live::{Live, Snapshot, BUCKETS};

/// The exposition's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The health states, in the kernel's order.
const STATES: [&str; 4] = ["ok", "degraded", "spare_exhausted", "failing"];

/// A label value, escaped as the text format wants.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `{k="v",...}` (nothing without labels).
fn labels(l: &[(&str, &str)]) -> String {
    if l.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{{{}}}", inner.join(","))
}

/// One metric family being written.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &'static str, kind: &str, help: &str) -> Self {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        Self { out, name }
    }

    fn sample(&mut self, suffix: &str, l: &[(&str, &str)], value: impl std::fmt::Display) {
        let _ = writeln!(self.out, "{}{suffix}{} {value}", self.name, labels(l));
    }

    /// A `latency_us_log2` histogram: bucket i's upper bound is 2^i us
    /// (bucket 31, the last, is `+Inf`). The kernel keeps counts only:
    /// `_sum` is estimated with each bucket's middle (0.5 us for bucket 0,
    /// 1.5 * 2^(i-1) us for bucket i).
    fn log2_histogram(&mut self, l: &[(&str, &str)], counts: &[u64; BUCKETS]) {
        let us = |i: usize| (1u64 << i) as f64;
        let mut cumulative = 0u64;
        for (i, c) in counts.iter().enumerate() {
            cumulative += c;
            let le = if i + 1 == BUCKETS { "+Inf".to_string() } else { format!("{}", us(i) / 1e6) };
            let mut with_le = l.to_vec();
            with_le.push(("le", &le));
            self.sample("_bucket", &with_le, cumulative);
        }
        let sum: f64 =
            counts.iter().enumerate().map(|(i, &c)| c as f64 * if i == 0 { 0.5 } else { 1.5 * us(i - 1) } / 1e6).sum();
        self.sample("_sum", l, sum);
        self.sample("_count", l, cumulative);
    }
}

/// A metric of the status line: name, help, value.
type Series = (&'static str, &'static str, fn(&DeviceStatus) -> u64);

/// The exposition of `snap`.
pub fn metrics(snap: &Snapshot) -> String {
    let mut out = String::new();
    let devs: Vec<&Live> = snap.devices.iter().collect();
    let dev = |d: &DeviceStatus| [("device", d.name.clone())];

    let counters: [Series; 8] = [
        ("dm_remap_reads_total", "Data reads mapped.", |d| d.reads),
        ("dm_remap_writes_total", "Data writes mapped.", |d| d.writes),
        ("dm_remap_remapped_reads_total", "Reads sent to the spare.", |d| d.remapped_reads),
        ("dm_remap_remapped_writes_total", "Writes sent to the spare.", |d| d.remapped_writes),
        ("dm_remap_errors_total", "Failed completions seen.", |d| d.errors),
        ("dm_remap_soft_read_errors_total", "Failed reads a retry recovered.", |d| d.soft_read_errors),
        ("dm_remap_unrecovered_errors_total", "Failed I/O whose error was returned.", |d| d.unrecovered_errors),
        ("dm_remap_auto_remaps_total", "Blocks remapped automatically.", |d| d.auto_remaps),
    ];
    for (name, help, get) in counters {
        let mut f = Family::new(&mut out, name, "counter", help);
        for l in &devs {
            let [(k, v)] = dev(&l.status);
            f.sample("", &[(k, &v)], get(&l.status));
        }
    }

    let gauges: [Series; 7] = [
        ("dm_remap_remapped_blocks", "Blocks remapped to the spare.", |d| d.remaps),
        ("dm_remap_pending_blocks", "Blocks that failed every read retry, awaiting a remap.", |d| d.pending),
        ("dm_remap_spare_used_blocks", "Spare pool blocks in use.", |d| d.spare_used),
        ("dm_remap_spare_total_blocks", "Spare pool blocks.", |d| d.spare_total),
        ("dm_remap_scan_percent", "Progress of the current or last scan, percent.", |d| u64::from(d.scan_percent)),
        ("dm_remap_scan_position_blocks", "Where the current or last scan is, in blocks.", |d| d.scan_position),
        ("dm_remap_scan_found_blocks", "Blocks the current or last scan marked pending.", |d| d.scan_found),
    ];
    for (name, help, get) in gauges {
        let mut f = Family::new(&mut out, name, "gauge", help);
        for l in &devs {
            let [(k, v)] = dev(&l.status);
            f.sample("", &[(k, &v)], get(&l.status));
        }
    }

    let mut f = Family::new(&mut out, "dm_remap_scan_running", "gauge", "1 while a scan runs.");
    for l in &devs {
        f.sample("", &[("device", &l.status.name)], u8::from(l.status.scan_state == "running"));
    }
    let mut f = Family::new(&mut out, "dm_remap_health", "gauge", "1 for the device's health state, 0 for the others.");
    for l in &devs {
        for s in STATES {
            f.sample("", &[("device", &l.status.name), ("state", s)], u8::from(l.status.health == s));
        }
    }
    let help = "The device's main and spare devices (major:minor), spare uuid and block size.";
    let mut f = Family::new(&mut out, "dm_remap_info", "gauge", help);
    for l in &devs {
        let d = &l.status;
        let bb = d.block_bytes.to_string();
        let l = [("device", d.name.as_str()), ("main", &d.main_dev), ("spare", &d.spare_dev), ("uuid", &d.uuid)];
        let mut l = l.to_vec();
        l.push(("block_bytes", &bb));
        f.sample("", &l, 1);
    }

    type Us = fn(&Live) -> Option<u64>;
    let commit: [(&str, &str, Us); 2] = [
        ("dm_remap_commit_latency_p50_seconds", "Median latency of the last 256 metadata commits.", |l| {
            l.extra.commit_p50_us
        }),
        ("dm_remap_commit_latency_p99_seconds", "99th percentile latency of the last 256 metadata commits.", |l| {
            l.extra.commit_p99_us
        }),
    ];
    for (name, help, get) in commit {
        let mut f = Family::new(&mut out, name, "gauge", help);
        for l in &devs {
            if let Some(us) = get(l) {
                f.sample("", &[("device", &l.status.name)], us as f64 / 1e6);
            }
        }
    }
    let help = "When the last metadata commit was (0: none).";
    let mut f = Family::new(&mut out, "dm_remap_last_commit_timestamp_seconds", "gauge", help);
    for l in &devs {
        if let Some(t) = l.extra.last_commit_time {
            f.sample("", &[("device", &l.status.name)], t);
        }
    }
    let help = "Completion latency of sampled data bios (each CPU times one in 32), by the device that served them.";
    let mut f = Family::new(&mut out, "dm_remap_io_latency_seconds", "histogram", help);
    for l in &devs {
        for (path, h) in [("main", &l.extra.latency_main), ("spare", &l.extra.latency_spare)] {
            if let Some(h) = h {
                f.log2_histogram(&[("device", &l.status.name), ("path", path)], h);
            }
        }
    }

    let help = "1 if the monitor's last reading of the devices worked, else 0 (the devices shown are older).";
    Family::new(&mut out, "dm_remap_last_scrape_success", "gauge", help).sample("", &[], u8::from(snap.ok));
    let help = "When the monitor last read the devices.";
    Family::new(&mut out, "dm_remap_last_scrape_timestamp_seconds", "gauge", help).sample("", &[], snap.time);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(labels(&[("device", "a\"b\\c\nd")]), r#"{device="a\"b\\c\nd"}"#);
        assert_eq!(labels(&[]), "");
    }
}
