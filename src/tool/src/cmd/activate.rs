// SPDX-License-Identifier: GPL-2.0
//! `activate`: creates the devices of a config file that are not active
//! yet, as the boot unit does, waiting up to `--wait` seconds in all for
//! listed disks to appear (exit status 0 all of them, 1 some lines failed,
//! 2 no config).

use std::path::Path;

use dm_remap_tool::activate;

use super::{Lift, Outcome};

pub fn run(config: &Path, dry_run: bool, wait: u64) -> anyhow::Result<Outcome> {
    activate::activate(config, dry_run, wait).lift().map(Outcome::all_or_some)
}
