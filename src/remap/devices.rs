// SPDX-License-Identifier: GPL-2.0
//! The target's two devices, claimed from every other dm-remap device for
//! the target's life.

use crate::dm::{Claim, DmDev};

/// Main and spare, with their claims.
pub(crate) struct Devices {
    main: DmDev,
    spare: DmDev,
    /// Main and spare, claimed from every other dm-remap device (and from
    /// the other targets of this table).
    _claims: [Claim; 2],
}

impl Devices {
    pub(crate) fn new(main: DmDev, spare: DmDev, claims: [Claim; 2]) -> Self {
        Self { main, spare, _claims: claims }
    }

    /// The device whose bad blocks are remapped.
    pub(crate) fn main(&self) -> &DmDev {
        &self.main
    }

    /// The device that holds the metadata and the spare pool.
    pub(crate) fn spare(&self) -> &DmDev {
        &self.spare
    }
}
