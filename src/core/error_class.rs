// SPDX-License-Identifier: GPL-2.0
//! The classes of failed I/O, which decide what dm-remap does about a failed
//! bio. The platform classifies its own statuses (the kernel's
//! `blk_status_t` in `src/dm/blk_status.rs`); Documentation/dm-remap.rst has
//! the table.

/// What a failed completion says about the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The medium failed at this place: retry in blocks, remap on write.
    Media,
    /// Might succeed if tried again: retry with backoff.
    Transient,
    /// The device or the path to it failed: never remap (it would drain the
    /// spare), pass the error up, health turns `failing`.
    Device,
    /// Not the disk's fault (unsupported, invalid, no space): pass it up.
    NotDisk,
}
