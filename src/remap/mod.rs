// SPDX-License-Identifier: GPL-2.0
//! The `remap` target: table line, I/O routing, the remap table and the
//! messages that change and list it.

mod counters;
mod geometry;
mod inflight;
mod listing;
mod manual;
mod metadata;
mod pending_blocks;
mod publish;
mod platform;
mod resend;
mod resume;
mod scrub;
mod sysfs;
mod spare_io;
mod table;
mod target;

pub(crate) use target::RemapTarget;
