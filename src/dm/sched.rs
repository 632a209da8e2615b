// SPDX-License-Identifier: GPL-2.0
//! Sleeping.

use super::bindings;

/// Sleeps for about `ms` milliseconds. Process context only.
pub(crate) fn sleep_ms(ms: u32) {
    // SAFETY: callers run in process context, where sleeping is allowed.
    unsafe { bindings::dm_remap_msleep(ms) };
}
