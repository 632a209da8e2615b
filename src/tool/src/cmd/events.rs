// SPDX-License-Identifier: GPL-2.0
//! `events [DEVICE...] [--exec CMD]`: waits for device-mapper events and,
//! on every health change of a dm-remap device, logs it to stderr with a
//! `<N>` priority prefix that journald reads (crit, warning or notice), and
//! runs CMD (`sh -c`) with the change in its environment. The health is
//! read again every minute too, in case an event came while reading.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use dm_remap_tool::events::{changes, Change, Waiter};
use dm_remap_tool::status;

use super::{Lift, Outcome};

/// How long to wait for an event before reading the health anyway.
const RECHECK: Duration = Duration::from_secs(60);

/// Runs `cmd` for `change`; a failing command is logged, not fatal.
fn run_hook(cmd: &str, change: &Change) {
    let status = Command::new("/bin/sh")
        .args(["-c", cmd])
        .env("DM_REMAP_DEVICE", &change.device)
        .env("DM_REMAP_OLD_HEALTH", &change.old)
        .env("DM_REMAP_NEW_HEALTH", &change.new)
        .env("DM_REMAP_MAIN", &change.main)
        .env("DM_REMAP_SPARE", &change.spare)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!("<3>dm-remap: {}: --exec command {s}", change.device),
        Err(e) => eprintln!("<3>dm-remap: {}: cannot run the --exec command: {e}", change.device),
    }
}

pub fn run(devices: &[String], exec: Option<&str>, count: Option<u64>) -> anyhow::Result<Outcome> {
    let waiter = Waiter::open().lift()?;
    let mut known = BTreeMap::new();
    let mut reported = 0u64;
    let mut first = true;
    loop {
        waiter.arm().lift().context("waiting for device-mapper events")?;
        let now = match status::collect(None) {
            Ok(now) => now,
            // A device removed while dmsetup read it, say: try again at the
            // next event or recheck.
            Err(e) if !first => {
                eprintln!("<3>dm-remap: events: reading the status of every dm-remap device: {e}");
                waiter.wait(RECHECK).lift()?;
                continue;
            }
            Err(e) => return Err(anyhow::Error::msg(e)).context("reading the status of every dm-remap device"),
        };
        if first {
            // Info (6): where the journal shows the service is watching.
            eprintln!("<6>dm-remap: events: watching the health of {} dm-remap device(s)", now.len());
            first = false;
        }
        for change in changes(&mut known, &now, devices) {
            eprintln!("{}", change.log_line());
            if let Some(cmd) = exec {
                run_hook(cmd, &change);
            }
            reported += 1;
            if count.is_some_and(|c| reported >= c) {
                return Ok(Outcome::Clean);
            }
        }
        waiter.wait(RECHECK).lift()?;
    }
}
