// SPDX-License-Identifier: GPL-2.0
//! dm-remap's pure logic, in `core` only.
//!
//! The host builds these files as the `dm_remap_core` crate for the
//! userspace tool and for `cargo test`; the kernel module compiles them as
//! its module of the same name, `crate::dm_remap_core` (through a `#[path]`
//! attribute, with `--cfg MODULE`).
//! Nothing here allocates, panics on any input, or touches the kernel.
#![cfg_attr(not(any(MODULE, test)), no_std)]
#![forbid(unsafe_code)]
// In the kernel this is a private module of which each user takes a part.
#![cfg_attr(MODULE, allow(unreachable_pub, dead_code))]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;

pub mod commit;
pub mod crc32c;
pub mod discover;
pub mod engine;
pub mod error_class;
pub mod extent;
pub mod extent_index;
pub mod format;
pub mod geometry;
pub mod health;
pub mod journal;
#[cfg(test)]
mod journal_replay;
pub mod latency;
pub mod load;
pub mod message;
pub mod name;
pub mod number;
pub mod policy;
pub mod slots;
pub mod sort;
pub mod spare_alloc;
pub mod status_line;
pub mod table_check;
pub mod table_line;
