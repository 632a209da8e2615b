// SPDX-License-Identifier: GPL-2.0
//! The `remap` target: table line, I/O routing, status and messages.

mod counters;
mod target;

pub(crate) use target::RemapTarget;
