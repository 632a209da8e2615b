// SPDX-License-Identifier: GPL-2.0
//! Raw C bindings: the kernel crate's, plus the device-mapper API and the
//! `dm_remap_*` helpers, generated at build time by bindgen from
//! `include/dm_remap_bindings.h` with the kernel's own C flags (see Kbuild)
//! into `generated/dm_bindings.rs`, a build product.
//!
//! Items the generated file does not define (`bio`, `block_device`, ...) come
//! from the kernel crate through the glob import, so both agree on layout.
#![allow(
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn
)]

pub(crate) use kernel::bindings::*;
use kernel::ffi;

include!("../../generated/dm_bindings.rs");
