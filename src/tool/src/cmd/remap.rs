// SPDX-License-Identifier: GPL-2.0
//! `remap`: remaps COUNT sectors from SECTOR of a live device to its spare.

use dm_remap_tool::status;

use super::{print_clean, Lift, Outcome};

pub fn run(device: &str, sector: u64, count: u64) -> anyhow::Result<Outcome> {
    // The device's name starts every error.
    status::remap(device, sector, count).lift().map(|out| print_clean(&out))
}
