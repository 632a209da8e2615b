// SPDX-License-Identifier: GPL-2.0
//! The `remap` target: table line, I/O routing, the remap table and the
//! messages that change and list it.
//!
//! Safe Rust only: raw pointers and C calls stay in `crate::dm`, whose
//! bindings are private to it.
#![forbid(unsafe_code)]

mod counters;
mod devices;
mod inflight;
mod io;
mod listing;
mod manual;
mod mapping;
mod metadata;
mod pending_blocks;
mod platform;
mod publish;
mod reporting;
mod resend;
mod resume;
mod scan;
mod spare_io;
mod spare_state;
mod sysfs;
mod table;
mod target;

pub(crate) use target::RemapTarget;
