// SPDX-License-Identifier: GPL-2.0
//! `health`: a device's dm-remap state with the SMART data of the disks
//! under it.

use std::path::Path;

use anyhow::Context;

use dm_remap_tool::status::{self, Format};

use super::{Lift, Outcome};
use crate::smart;

/// The version of the JSON `health --format json` prints (and the REST
/// API's per-device object carries): raised when a field changes meaning
/// or goes; new fields may come without it.
pub const SCHEMA_VERSION: u32 = 1;

pub fn run(device: &str, format: Format, sys: &Path, timeout: std::time::Duration) -> anyhow::Result<Outcome> {
    let dev = status::collect(Some(device)).lift()?;
    let mut disks = vec![];
    for d in &dev {
        for majmin in [&d.main_dev, &d.spare_dev] {
            disks.extend(smart::leaf_disks(majmin, sys));
        }
    }
    disks.sort();
    disks.dedup();
    // Without SMART data (no smartctl, a disk in standby, a timeout) the
    // device's own state is still the answer: each disk says why.
    let smart: Vec<_> = disks.iter().map(|d| smart::query(d, timeout)).collect();
    match format {
        Format::Json => {
            let v = serde_json::json!({ "schema_version": SCHEMA_VERSION, "status": dev, "smart": smart });
            println!("{}", serde_json::to_string_pretty(&v).context("encoding the health as JSON")?);
        }
        _ => {
            print!("{}", status::render(&dev, Format::Table).lift()?);
            for s in &smart {
                let show = |v: Option<u64>| v.map_or("-".to_string(), |n| n.to_string());
                println!(
                    "{}: smart {} reallocated {} pending {} uncorrectable {} nvme_media_errors {} grown_defects {}{}",
                    s.device,
                    s.passed.map_or("unknown", |p| if p { "passed" } else { "FAILED" }),
                    show(s.reallocated_sectors),
                    show(s.pending_sectors),
                    show(s.uncorrectable_sectors),
                    show(s.nvme_media_errors),
                    show(s.grown_defects),
                    s.note.as_ref().map_or(String::new(), |n| format!(" ({n})")),
                );
            }
        }
    }
    Ok(Outcome::Clean)
}
