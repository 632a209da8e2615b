// SPDX-License-Identifier: GPL-2.0
//! `nagios`: a Nagios plugin check of one device or all of them: one line,
//! exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

use std::process::ExitCode;

use dm_remap_core::health::Health;

use dm_remap_tool::status::{self, DeviceStatus};

/// Nagios plugin states and exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
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
}

/// The state of one device: CRITICAL when failing or out of spare, WARNING
/// when degraded or with pending blocks or unrecovered errors.
fn state_of(d: &DeviceStatus) -> NagiosState {
    match d.health.parse() {
        Ok(Health::Failing | Health::SpareExhausted) => NagiosState::Critical,
        Ok(Health::Degraded) => NagiosState::Warning,
        Ok(Health::Ok) if d.pending > 0 || d.unrecovered_errors > 0 => NagiosState::Warning,
        Ok(Health::Ok) => NagiosState::Ok,
        Err(_) => NagiosState::Unknown,
    }
}

/// The plugin's output line and exit state for `devices`.
pub fn nagios(devices: &[DeviceStatus]) -> (String, NagiosState) {
    if devices.is_empty() {
        return ("DM-REMAP UNKNOWN - no dm-remap device".into(), NagiosState::Unknown);
    }
    let worst = devices.iter().map(state_of).max().unwrap_or(NagiosState::Unknown);
    let summary: Vec<String> = devices
        .iter()
        .map(|d| {
            format!(
                "{} {} ({} remapped, {} pending, {}/{} spare)",
                d.name, d.health, d.remaps, d.pending, d.spare_used, d.spare_total
            )
        })
        .collect();
    let perf: Vec<String> = devices
        .iter()
        .map(|d| {
            format!(
                "{0}_remaps={1} {0}_pending={2} {0}_spare_used={3};;;0;{4}",
                d.name, d.remaps, d.pending, d.spare_used, d.spare_total
            )
        })
        .collect();
    (format!("DM-REMAP {} - {} | {}", worst.name(), summary.join(", "), perf.join(" ")), worst)
}

/// Runs the check: prints the plugin's line, exits with its state.
pub fn run(device: Option<&str>) -> ExitCode {
    let (line, state) = match status::collect(device) {
        Ok(d) => nagios(&d),
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

    #[test]
    fn unknown_never_masks_critical() {
        let mut odd = dev("b", "ok", 0);
        odd.health = "frobbed".into();
        assert_eq!(nagios(&[dev("a", "failing", 0), odd.clone()]).1, NagiosState::Critical);
        assert_eq!(nagios(&[dev("a", "degraded", 0), odd.clone()]).1, NagiosState::Warning);
        assert_eq!(nagios(&[dev("a", "ok", 0), odd]).1, NagiosState::Unknown);
    }

    #[test]
    fn a_lifetime_unrecovered_count_alone_is_not_a_warning() {
        let mut d = dev("a", "ok", 0);
        d.unrecovered_errors = 3;
        assert_eq!(nagios(&[d]).1, NagiosState::Ok);
    }

    #[test]
    fn worst_device_decides() {
        assert_eq!(nagios(&[dev("a", "ok", 0)]).1, NagiosState::Ok);
        assert_eq!(nagios(&[dev("a", "ok", 0), dev("b", "ok", 2)]).1, NagiosState::Warning);
        assert_eq!(nagios(&[dev("a", "degraded", 0), dev("b", "failing", 0)]).1, NagiosState::Critical);
        assert_eq!(nagios(&[]).1, NagiosState::Unknown);
        let (line, _) = nagios(&[dev("a", "ok", 0)]);
        assert_eq!(
            line,
            "DM-REMAP OK - a ok (2 remapped, 0 pending, 2/100 spare) | a_remaps=2 a_pending=0 a_spare_used=2;;;0;100"
        );
    }
}
