// SPDX-License-Identifier: GPL-2.0
//! `list`: a live device's remaps (`main_block spare_block length state`),
//! as the target prints them.

use dm_remap_tool::status;

use super::{print_clean, Lift, Outcome};

pub fn run(device: &str) -> anyhow::Result<Outcome> {
    // The device's name starts every error.
    status::list(device).lift().map(|out| print_clean(&out))
}
