// SPDX-License-Identifier: GPL-2.0
//! `list`: a live device's remaps (`main_block spare_block length state`),
//! as the target prints them, or as JSON or CSV.

use anyhow::Context;

use dm_remap_tool::remaps;
use dm_remap_tool::status::{self, RecordFormat};

use super::{print_clean, Lift, Outcome};

pub fn run(device: &str, format: RecordFormat) -> anyhow::Result<Outcome> {
    // The device's name starts every error.
    let text = status::list(device).lift()?;
    let out = remaps::render(device, &text, format).lift().with_context(|| format!("{device}: list"))?;
    Ok(print_clean(&out))
}
