// SPDX-License-Identifier: GPL-2.0
//! The commands, one file each: a command turns its arguments into calls on
//! the library, prints what it found, and says how it ended. Errors carry
//! context naming what failed and on which device or file.

pub mod activate;
pub mod badblocks;
pub mod check;
pub mod deactivate;
pub mod dump;
pub mod events;
pub mod list;
pub mod lvm_filter;
pub mod remap;
pub mod repair;
pub mod restore;
pub mod scan;
pub mod set;
pub mod stats;
pub mod status;
pub mod udev_check;
pub mod version;

use std::path::Path;

use anyhow::Context;

pub use dm_remap_tool::cli::{print_clean, Lift, Outcome};
use dm_remap_tool::spare::{Copies, Spare};

/// Opens the spare at `path` (for writing when `write`) and reads every
/// metadata copy.
pub fn load(path: &Path, write: bool) -> anyhow::Result<(Spare, Copies)> {
    let mut spare = Spare::open(path, write).lift().with_context(|| format!("opening spare {}", path.display()))?;
    let layout =
        spare.find_layout().lift().with_context(|| format!("finding the metadata of spare {}", path.display()))?;
    let copies = spare.read_copies(&layout);
    Ok((spare, copies))
}

/// Commands that moved to `dm-remap-monitor` (`dm-remap <one of them>`
/// says so and exits 2).
pub const MOVED_TO_MONITOR: [&str; 6] = ["health", "monitor", "nagios", "report", "watch", "zabbix-discovery"];
