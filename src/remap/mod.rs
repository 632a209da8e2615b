// SPDX-License-Identifier: GPL-2.0
//! The `remap` target: table line, I/O routing, the remap table and the
//! messages that change and list it.

mod counters;
mod inflight;
mod io;
mod listing;
mod manual;
mod metadata;
mod pending_blocks;
mod platform;
mod publish;
mod reporting;
mod resend;
mod resume;
mod scrub;
mod spare_io;
mod sysfs;
mod table;
mod target;

pub(crate) use target::RemapTarget;
