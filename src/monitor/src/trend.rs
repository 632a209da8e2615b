// SPDX-License-Identifier: GPL-2.0
//! Trends from a device's history: errors and remaps per day, and how many
//! days of spare are left at the current remap rate.

use serde::Serialize;

use crate::history::Sample;

/// Trends over a window of samples.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trend {
    pub name: String,
    /// Days the samples span.
    pub window_days: f64,
    pub errors_per_day: f64,
    pub remaps_per_day: f64,
    /// Days until the spare pool is full at `remaps_per_day`; `None` when
    /// nothing is being remapped (or there are too few samples).
    pub spare_runway_days: Option<f64>,
}

const DAY: f64 = 86_400.0;

/// The trend of `samples` (oldest first, one device). Counters that went
/// down (a device recreated, counters cleared) restart the count there.
pub fn trend(name: &str, samples: &[Sample]) -> Trend {
    let (first, last) = match (samples.first(), samples.last()) {
        (Some(f), Some(l)) if l.time > f.time => (f, l),
        _ => {
            return Trend {
                name: name.into(),
                window_days: 0.0,
                errors_per_day: 0.0,
                remaps_per_day: 0.0,
                spare_runway_days: None,
            }
        }
    };
    let days = (last.time - first.time) as f64 / DAY;
    let growth =
        |get: fn(&Sample) -> u64| -> u64 { samples.windows(2).map(|w| get(&w[1]).saturating_sub(get(&w[0]))).sum() };
    let errors_per_day = growth(|s| s.errors) as f64 / days;
    let remaps_per_day = growth(|s| s.remaps) as f64 / days;
    let free = last.spare_total.saturating_sub(last.spare_used) as f64;
    Trend {
        name: name.into(),
        window_days: days,
        errors_per_day,
        remaps_per_day,
        spare_runway_days: (remaps_per_day > 0.0).then(|| free / remaps_per_day),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(day: f64, remaps: u64, errors: u64) -> Sample {
        Sample {
            time: (day * DAY) as i64,
            name: "d".into(),
            health: "ok".into(),
            remaps,
            pending: 0,
            spare_used: remaps,
            spare_total: 1000,
            errors,
            unrecovered_errors: 0,
            auto_remaps: remaps,
        }
    }

    #[test]
    fn rates_and_runway() {
        let t = trend("d", &[s(0.0, 100, 0), s(1.0, 110, 4), s(2.0, 120, 8)]);
        assert_eq!((t.window_days, t.errors_per_day, t.remaps_per_day), (2.0, 4.0, 10.0));
        assert_eq!(t.spare_runway_days, Some(88.0));
        let idle = trend("d", &[s(0.0, 5, 0), s(3.0, 5, 0)]);
        assert_eq!(idle.spare_runway_days, None);
        assert_eq!(trend("d", &[s(0.0, 5, 0)]).window_days, 0.0);
        // A counter reset (device recreated) does not count as negative growth.
        let reset = trend("d", &[s(0.0, 0, 50), s(1.0, 0, 0), s(2.0, 0, 6)]);
        assert_eq!(reset.errors_per_day, 3.0);
    }
}
