// SPDX-License-Identifier: GPL-2.0
//! `stats`: a live device's I/O counters and metadata commit latencies, as
//! the target prints them, or as JSON or CSV.

use anyhow::Context;

use dm_remap_tool::stats;
use dm_remap_tool::status::{self, RecordFormat};

use super::{print_clean, Lift, Outcome};

pub fn run(device: &str, format: RecordFormat) -> anyhow::Result<Outcome> {
    let text = status::message(device, &["stats"]).lift().context("stats")?;
    let out = stats::render(device, &text, format).lift().with_context(|| format!("{device}: stats"))?;
    Ok(print_clean(&out))
}
