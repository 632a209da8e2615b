// SPDX-License-Identifier: GPL-2.0
//! `lvm-filter`: prints the lvm.conf `devices/global_filter` that keeps LVM
//! off the main disks of a config file.

use std::path::Path;

use dm_remap_tool::{activate, main_disks};

use super::{print_clean, Lift, Outcome};

pub fn run(config: &Path) -> anyhow::Result<Outcome> {
    // The config's path starts the error.
    let (entries, _) = activate::read_config(config).lift()?;
    Ok(print_clean(&main_disks::lvm_filter(config, &entries)))
}
