// SPDX-License-Identifier: GPL-2.0
//! `scan start|stop|status`: the background scan (patrol read) of a live
//! device, by message; `scan start --all` starts it on every dm-remap
//! device not scanning already (dm-remap-scrub.service runs it monthly).

use anyhow::Context;

use dm_remap_tool::status;

use super::{print_clean, Lift, Outcome};

pub fn start(device: Option<&str>, rate: Option<u32>) -> anyhow::Result<Outcome> {
    let rate = rate.map(|r| r.to_string());
    let mut words = vec!["scan", "start"];
    words.extend(rate.as_deref());
    let Some(device) = device else {
        // --all: a failure on one device does not keep the others from
        // their scan; the exit status says some failed.
        let devices = status::collect(None).lift().context("listing the dm-remap devices")?;
        let mut all = true;
        for d in devices.iter().filter(|d| d.scan_state != "running") {
            match status::message(&d.name, &words) {
                Ok(_) => println!("{}: scan started", d.name),
                Err(e) => {
                    eprintln!("dm-remap: scan start: {e}");
                    all = false;
                }
            }
        }
        return Ok(Outcome::all_or_some(all));
    };
    status::message(device, &words).lift().context("scan start")?;
    Ok(print_clean(&format!("{device}: scan started")))
}

pub fn stop(device: &str) -> anyhow::Result<Outcome> {
    status::message(device, &["scan", "stop"]).lift().context("scan stop")?;
    Ok(print_clean(&format!("{device}: scan stopped")))
}

/// `<state> <percent> <position> <found>`, as the target answers.
pub fn status(device: &str) -> anyhow::Result<Outcome> {
    status::message(device, &["scan", "status"]).lift().context("scan status").map(|out| print_clean(&out))
}
