// SPDX-License-Identifier: GPL-2.0
//! Latencies of the most recent operations (metadata commits), for p50/p99.

use super::sort::heapsort_by_key;

/// Samples kept.
pub const SAMPLES: usize = 256;

/// The last `SAMPLES` latencies in microseconds, plus a count and maximum
/// over all time.
#[derive(Clone, Copy, Debug)]
pub struct LatencyRing {
    samples: [u32; SAMPLES],
    next: usize,
    len: usize,
    count: u64,
    max: u32,
}

impl Default for LatencyRing {
    fn default() -> Self {
        Self { samples: [0; SAMPLES], next: 0, len: 0, count: 0, max: 0 }
    }
}

impl LatencyRing {
    /// Records one latency.
    pub fn record(&mut self, us: u32) {
        if let Some(slot) = self.samples.get_mut(self.next) {
            *slot = us;
        }
        self.next = self.next.wrapping_add(1) % SAMPLES;
        self.len = self.len.saturating_add(1).min(SAMPLES);
        self.count = self.count.saturating_add(1);
        self.max = self.max.max(us);
    }

    /// Operations recorded since creation (or `clear`).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest latency recorded.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// The `pct`th percentile (0 to 100, nearest rank) of the kept samples;
    /// 0 when none.
    pub fn percentile(&self, pct: u32) -> u32 {
        let mut sorted = [0u32; SAMPLES];
        let n = self.len;
        for (dst, src) in sorted.iter_mut().zip(self.samples.iter()).take(n) {
            *dst = *src;
        }
        let v = sorted.get_mut(..n).unwrap_or_default();
        heapsort_by_key(v, |x| *x);
        if n == 0 {
            return 0;
        }
        let rank = (n * pct.min(100) as usize).div_ceil(100).max(1);
        v.get(rank - 1).copied().unwrap_or(0)
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_the_recent_samples() {
        let mut r = LatencyRing::default();
        assert_eq!(r.percentile(50), 0);
        for us in 1..=100 {
            r.record(us);
        }
        assert_eq!((r.percentile(50), r.percentile(99), r.percentile(100)), (50, 99, 100));
        for _ in 0..SAMPLES {
            r.record(7);
        }
        assert_eq!((r.percentile(50), r.percentile(99)), (7, 7), "old samples age out");
        assert_eq!((r.count(), r.max()), (100 + SAMPLES as u64, 100));
    }
}
