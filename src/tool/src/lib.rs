// SPDX-License-Identifier: GPL-2.0
//! What the `dm-remap` tool and `dm-remap-monitor` share: running dmsetup,
//! the live devices' status, and the spare's metadata (reading, writing and
//! its JSON form). The commands themselves are the binaries' `cmd` modules.

pub mod activate;
pub mod badblocks;
pub mod cli;
pub mod devnames;
pub mod dmsetup;
pub mod dump;
pub mod events;
pub mod json;
pub mod main_disks;
pub mod remaps;
pub mod spare;
pub mod spare_file;
pub mod stats;
pub mod status;
pub mod xml;
