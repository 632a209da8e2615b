// SPDX-License-Identifier: GPL-2.0
//! `udev-check`: for 61-dm-remap.rules, prints `DM_REMAP_MAIN=1` (and the
//! links the device keeps) when the device is the main disk of a config
//! line. It never fails: without a readable config, udev goes on with the
//! device as an ordinary one.

use std::path::Path;

use dm_remap_tool::{activate, main_disks};

use super::Outcome;

pub fn run(devnode: &Path, links: &[String], config: &Path) -> Outcome {
    if let Ok((entries, _)) = activate::read_config(config) {
        print!("{}", main_disks::udev_check(&entries, devnode, links));
    }
    Outcome::Clean
}
