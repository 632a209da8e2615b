// SPDX-License-Identifier: GPL-2.0
//! `nagios`: a Nagios plugin check of one device or all of them: one line,
//! exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too),
//! performance data as the Nagios plugin guidelines give it
//! (`label=value[UOM];warn;crit;min;max`).

use std::path::Path;
use std::process::ExitCode;

use dm_remap_core::health::Health;

use dm_remap_tool::status::{self, DeviceStatus};

use crate::history::History;

/// Nagios plugin states and exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NagiosState {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl NagiosState {
    fn name(self) -> &'static str {
        ["OK", "WARNING", "CRITICAL", "UNKNOWN"][self as usize]
    }

    /// How bad: CRITICAL > WARNING > UNKNOWN > OK, so that a device in an
    /// unknown state never hides another's CRITICAL or WARNING.
    fn rank(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Unknown => 1,
            Self::Warning => 2,
            Self::Critical => 3,
        }
    }
}

/// The thresholds of a check.
#[derive(Clone, Copy, Debug, Default)]
pub struct Thresholds {
    /// Spare use, percent, at or above which the state is WARNING /
    /// CRITICAL (default: the device's `spare_warn` / `spare_crit`
    /// policies, which its health already follows).
    pub warn: Option<u8>,
    pub crit: Option<u8>,
}

/// One device, with what the history says about it.
pub struct Checked<'a> {
    pub dev: &'a DeviceStatus,
    /// Unrecovered errors since the start of the window (from the
    /// history); `None` without a sample that old.
    pub new_unrecovered: Option<u64>,
}

fn spare_percent(d: &DeviceStatus) -> f64 {
    if d.spare_total > 0 {
        d.spare_used as f64 * 100.0 / d.spare_total as f64
    } else {
        0.0
    }
}

/// The state of one device: CRITICAL when failing, out of spare or past
/// the critical threshold; WARNING when degraded, past the warning
/// threshold, with pending blocks, or with unrecovered errors within the
/// window. The lifetime error counters alone never decide a state: they
/// never go down, so they would hold it for good.
fn state_of(c: &Checked, t: Thresholds) -> NagiosState {
    let d = c.dev;
    let pct = spare_percent(d);
    let past = |limit: Option<u8>| limit.is_some_and(|l| pct >= f64::from(l));
    match d.health.parse() {
        Err(_) => NagiosState::Unknown,
        Ok(Health::Failing | Health::SpareExhausted) => NagiosState::Critical,
        Ok(_) if past(t.crit) => NagiosState::Critical,
        Ok(Health::Degraded) => NagiosState::Warning,
        Ok(_) if past(t.warn) || d.pending > 0 || c.new_unrecovered.unwrap_or(0) > 0 => NagiosState::Warning,
        Ok(_) => NagiosState::Ok,
    }
}

/// The plugin's output line and exit state for `devices`.
pub fn nagios(devices: &[Checked], t: Thresholds) -> (String, NagiosState) {
    if devices.is_empty() {
        return ("DM-REMAP UNKNOWN - no dm-remap device".into(), NagiosState::Unknown);
    }
    let worst = devices.iter().map(|c| state_of(c, t)).max_by_key(|s| s.rank()).unwrap_or(NagiosState::Unknown);
    let summary: Vec<String> = devices
        .iter()
        .map(|c| {
            let d = c.dev;
            let new = c.new_unrecovered.filter(|n| *n > 0).map_or(String::new(), |n| format!(", {n} new unrecovered"));
            format!(
                "{} {} ({} remapped, {} pending, {}/{} spare{new})",
                d.name, d.health, d.remaps, d.pending, d.spare_used, d.spare_total
            )
        })
        .collect();
    let perf: Vec<String> = devices
        .iter()
        .map(|c| {
            let d = c.dev;
            let w = t.warn.map_or(d.spare_warn, u32::from);
            let k = t.crit.map_or(d.spare_crit, u32::from);
            format!(
                "{0}_spare_used={1:.2}%;{w};{k};0;100 {0}_remaps={2};;;0;{3} {0}_pending={4};;;0; \
                 {0}_errors={5}c;;;0; {0}_unrecovered_errors={6}c;;;0;",
                d.name,
                spare_percent(d),
                d.remaps,
                d.spare_total,
                d.pending,
                d.errors,
                d.unrecovered_errors
            )
        })
        .collect();
    (format!("DM-REMAP {} - {} | {}", worst.name(), summary.join(", "), perf.join(" ")), worst)
}

/// Unrecovered errors of `d` since `window` seconds ago, from the history
/// at `db` (a counter that went down, the device recreated, counts from 0).
fn new_unrecovered(h: Option<&History>, d: &DeviceStatus, now: i64, window: i64) -> Option<u64> {
    let old = h?.at_or_before(&d.name, now - window).ok()??;
    Some(if d.unrecovered_errors >= old.unrecovered_errors {
        d.unrecovered_errors - old.unrecovered_errors
    } else {
        d.unrecovered_errors
    })
}

/// Runs the check: prints the plugin's line, exits with its state.
pub fn run(device: Option<&str>, t: Thresholds, db: &Path, window_hours: u64) -> ExitCode {
    if let (Some(w), Some(c)) = (t.warn, t.crit) {
        if w > c {
            println!("DM-REMAP UNKNOWN - usage: -w {w} is above -c {c}");
            return ExitCode::from(NagiosState::Unknown as u8);
        }
    }
    let history = History::open_read_only(db).ok();
    let now = super::monitor::now();
    let window = i64::try_from(window_hours.saturating_mul(3600)).unwrap_or(i64::MAX);
    let (line, state) = match status::collect(device) {
        Ok(devs) => {
            let checked: Vec<Checked> = devs
                .iter()
                .map(|d| Checked { dev: d, new_unrecovered: new_unrecovered(history.as_ref(), d, now, window) })
                .collect();
            nagios(&checked, t)
        }
        Err(e) => (format!("DM-REMAP UNKNOWN - {e}"), NagiosState::Unknown),
    };
    println!("{line}");
    ExitCode::from(state as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dm_remap_tool::status::parse_line;

    fn dev(name: &str, health: &str, pending: u64) -> DeviceStatus {
        let line = format!(
            "{name}: 0 8 remap 3 7:0 7:1 512 2 100 2 0 0 0 0 0 {health} 3 00112233445566778899aabbccddeeff 2 {pending} 0 0 0 on 3 3 80 95 idle 0 0 0"
        );
        parse_line(&line, None).unwrap()
    }

    fn check(devs: &[DeviceStatus]) -> (String, NagiosState) {
        let c: Vec<Checked> = devs.iter().map(|d| Checked { dev: d, new_unrecovered: None }).collect();
        nagios(&c, Thresholds::default())
    }

    #[test]
    fn unknown_never_masks_critical() {
        let mut odd = dev("b", "ok", 0);
        odd.health = "frobbed".into();
        assert_eq!(check(&[dev("a", "failing", 0), odd.clone()]).1, NagiosState::Critical);
        assert_eq!(check(&[dev("a", "degraded", 0), odd.clone()]).1, NagiosState::Warning);
        assert_eq!(check(&[dev("a", "ok", 0), odd]).1, NagiosState::Unknown);
    }

    #[test]
    fn a_lifetime_unrecovered_count_alone_is_not_a_warning() {
        let mut d = dev("a", "ok", 0);
        d.unrecovered_errors = 3;
        assert_eq!(check(std::slice::from_ref(&d)).1, NagiosState::Ok);
        // New ones within the window are.
        let c = [Checked { dev: &d, new_unrecovered: Some(1) }];
        let (line, state) = nagios(&c, Thresholds::default());
        assert_eq!(state, NagiosState::Warning);
        assert!(line.contains("1 new unrecovered"), "{line}");
    }

    #[test]
    fn spare_thresholds_decide_and_show_in_perfdata() {
        let mut d = dev("a", "ok", 0);
        d.spare_used = 50;
        let c = [Checked { dev: &d, new_unrecovered: None }];
        let t = |w, c| Thresholds { warn: Some(w), crit: Some(c) };
        assert_eq!(nagios(&c, t(60, 90)).1, NagiosState::Ok);
        assert_eq!(nagios(&c, t(50, 90)).1, NagiosState::Warning);
        let (line, state) = nagios(&c, t(40, 50));
        assert_eq!(state, NagiosState::Critical);
        assert!(line.contains("a_spare_used=50.00%;40;50;0;100 "), "{line}");
        // Without -w/-c, the device's own spare_warn/spare_crit policies.
        assert!(nagios(&c, Thresholds::default()).0.contains("a_spare_used=50.00%;80;95;0;100 "));
    }

    #[test]
    fn worst_device_decides() {
        assert_eq!(check(&[dev("a", "ok", 0)]).1, NagiosState::Ok);
        assert_eq!(check(&[dev("a", "ok", 0), dev("b", "ok", 2)]).1, NagiosState::Warning);
        assert_eq!(check(&[dev("a", "degraded", 0), dev("b", "failing", 0)]).1, NagiosState::Critical);
        assert_eq!(check(&[]).1, NagiosState::Unknown);
        let (line, _) = check(&[dev("a", "ok", 0)]);
        assert_eq!(
            line,
            "DM-REMAP OK - a ok (2 remapped, 0 pending, 2/100 spare) | a_spare_used=2.00%;80;95;0;100 \
             a_remaps=2;;;0;100 a_pending=0;;;0; a_errors=0c;;;0; a_unrecovered_errors=0c;;;0;"
        );
    }
}
