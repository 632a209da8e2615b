// SPDX-License-Identifier: GPL-2.0
//! The block layer's completion status (`blk_status_t`), and the class of
//! failure each one means to dm-remap (Documentation/dm-remap.rst has the
//! table).

use crate::dm_remap_core::error_class::ErrorClass;

use super::bindings;

/// A `blk_status_t`: success, or why a bio failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct BlkStatus(bindings::blk_status_t);

/// One of the generated `DM_REMAP_BLK_STS_*` (each a `BLK_STS_*`).
const fn generated(value: bindings::dm_remap_blk_sts) -> BlkStatus {
    // Evaluated at compile time: a value that did not fit would stop the build.
    assert!(value <= bindings::blk_status_t::MAX as bindings::dm_remap_blk_sts);
    BlkStatus(value as bindings::blk_status_t)
}

impl BlkStatus {
    pub(crate) const OK: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_OK);
    const NOTSUPP: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_NOTSUPP);
    const TIMEOUT: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_TIMEOUT);
    const NOSPC: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_NOSPC);
    const TRANSPORT: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_TRANSPORT);
    const TARGET: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_TARGET);
    const RESV_CONFLICT: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_RESV_CONFLICT);
    const MEDIUM: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_MEDIUM);
    const PROTECTION: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_PROTECTION);
    const RESOURCE: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_RESOURCE);
    pub(crate) const IOERR: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_IOERR);
    const DM_REQUEUE: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_DM_REQUEUE);
    const AGAIN: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_AGAIN);
    const DEV_RESOURCE: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_DEV_RESOURCE);
    const ZONE_OPEN_RESOURCE: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_ZONE_OPEN_RESOURCE);
    const ZONE_ACTIVE_RESOURCE: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_ZONE_ACTIVE_RESOURCE);
    const OFFLINE: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_OFFLINE);
    const DURATION_LIMIT: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_DURATION_LIMIT);
    const INVAL: Self = generated(bindings::dm_remap_blk_sts_DM_REMAP_BLK_STS_INVAL);

    /// The status DM passes to `end_io`.
    pub(super) fn from_raw(raw: bindings::blk_status_t) -> Self {
        Self(raw)
    }

    /// The value to complete a bio with.
    pub(super) fn raw(self) -> bindings::blk_status_t {
        self.0
    }

    /// Whether the I/O succeeded.
    pub(crate) fn is_ok(self) -> bool {
        self == Self::OK
    }

    /// What a failure says about the disk; `None` for success. `IOERR`
    /// counts as a media error: it is what most drivers (and dm-dust)
    /// report for an unreadable or unwritable range, and the block-by-block
    /// retry tells a bad block from a bad device. An unknown status is the
    /// device's problem (never remapped on).
    pub(crate) fn class(self) -> Option<ErrorClass> {
        Some(match self {
            Self::OK => return None,
            Self::MEDIUM | Self::IOERR | Self::PROTECTION => ErrorClass::Media,
            Self::TIMEOUT
            | Self::RESOURCE
            | Self::AGAIN
            | Self::DEV_RESOURCE
            | Self::ZONE_OPEN_RESOURCE
            | Self::ZONE_ACTIVE_RESOURCE
            | Self::DM_REQUEUE => ErrorClass::Transient,
            Self::TRANSPORT | Self::TARGET | Self::RESV_CONFLICT | Self::OFFLINE => ErrorClass::Device,
            Self::NOTSUPP | Self::NOSPC | Self::INVAL | Self::DURATION_LIMIT => ErrorClass::NotDisk,
            _ => ErrorClass::Device,
        })
    }
}

impl Default for BlkStatus {
    fn default() -> Self {
        Self::OK
    }
}
