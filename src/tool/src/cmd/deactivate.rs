// SPDX-License-Identifier: GPL-2.0
//! `deactivate`: removes the devices of a config file, last first (exit
//! status 0 all of them, 1 some failed, 2 no config).

use std::path::Path;

use dm_remap_tool::activate;

use super::{Lift, Outcome};

pub fn run(config: &Path) -> anyhow::Result<Outcome> {
    activate::deactivate(config).lift().map(Outcome::all_or_some)
}
