// SPDX-License-Identifier: GPL-2.0
//! What the `dm-remap` tool and `dm-remap-monitor` share: running dmsetup,
//! the live devices' status, and the spare's metadata (reading, writing and
//! its JSON form); and the activation config and main-disk checks of the
//! boot-time tool. The commands themselves are the binaries' `cmd` modules.
//! How a spare is opened (`spare_file`) stays private to `spare`.

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
mod spare_file;
pub mod stats;
pub mod status;
pub mod xml;
