// SPDX-License-Identifier: GPL-2.0
//! The live state the monitor last read: every device's status line
//! (dmsetup) and what only sysfs has (the latency histograms, commit
//! latencies). `/metrics` shows this, so a removed device leaves it at the
//! next sample.

use std::path::Path;

use dm_remap_tool::status::DeviceStatus;

/// Buckets of a `latency_us_log2` histogram: bucket 0 under 1 us, bucket i
/// in [2^(i-1), 2^i) us.
pub const BUCKETS: usize = 32;

/// What sysfs adds to a device's status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extra {
    /// `latency_us_log2 main` and `spare` counts.
    pub latency_main: Option<[u64; BUCKETS]>,
    pub latency_spare: Option<[u64; BUCKETS]>,
    pub commit_p50_us: Option<u64>,
    pub commit_p99_us: Option<u64>,
    pub last_commit_time: Option<u64>,
}

/// One device as last read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Live {
    pub status: DeviceStatus,
    pub extra: Extra,
}

/// The last sample of every device.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// When it was taken (0: never).
    pub time: i64,
    /// Whether reading the devices worked (dmsetup ran, every line parsed).
    pub ok: bool,
    pub devices: Vec<Live>,
}

/// Parses the `latency_histogram` attribute: lines `latency_us_log2
/// main|spare <32 counts>`.
pub fn parse_histograms(text: &str) -> (Option<[u64; BUCKETS]>, Option<[u64; BUCKETS]>) {
    let (mut main, mut spare) = (None, None);
    for line in text.lines() {
        let mut w = line.split_whitespace();
        if w.next() != Some("latency_us_log2") {
            continue;
        }
        let which = w.next();
        let counts: Vec<u64> = w.map_while(|n| n.parse().ok()).collect();
        let Ok(counts) = <[u64; BUCKETS]>::try_from(counts.get(..BUCKETS).unwrap_or_default()) else { continue };
        match which {
            Some("main") => main = Some(counts),
            Some("spare") => spare = Some(counts),
            _ => {}
        }
    }
    (main, spare)
}

/// What `<sys>/kernel/dm_remap/<name>/` shows (nothing where it is
/// missing: a suspended device has no directory).
pub fn read_extra(sys: &Path, name: &str) -> Extra {
    let dir = sys.join("kernel/dm_remap").join(name);
    let read = |a: &str| std::fs::read_to_string(dir.join(a)).ok();
    let num = |a: &str| read(a).and_then(|v| v.trim().parse().ok());
    let (latency_main, latency_spare) = read("latency_histogram").map(|t| parse_histograms(&t)).unwrap_or_default();
    Extra {
        latency_main,
        latency_spare,
        commit_p50_us: num("commit_p50_us"),
        commit_p99_us: num("commit_p99_us"),
        last_commit_time: num("last_commit_time"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_lines_parse() {
        let mut text = String::from("latency_us_log2 main");
        for i in 0..BUCKETS {
            text += &format!(" {i}");
        }
        text += "\nlatency_us_log2 spare";
        text += &" 0".repeat(BUCKETS);
        text += " 7\n";
        let (m, s) = parse_histograms(&text);
        assert_eq!(m.unwrap()[31], 31);
        assert_eq!(s.unwrap(), [0; BUCKETS], "a trailing field a newer module appends is ignored");
        assert_eq!(parse_histograms("latency_us_log2 main 1 2\n"), (None, None));
    }
}
