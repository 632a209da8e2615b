// SPDX-License-Identifier: GPL-2.0
//! A bio as a target sees it in `map`.

use kernel::types::Opaque;

use super::bindings;
use super::DmDev;

/// The operation a bio carries, without its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BioOp {
    Read,
    Write,
    Flush,
    Discard,
    SecureErase,
    WriteZeroes,
    /// Anything else (zone operations, driver-private ones).
    Other,
}

/// A `struct bio` handed to a target.
///
/// # Invariants
///
/// The wrapped bio is a valid, live bio that DM passed to a target callback,
/// and the `&`/`&mut` borrows handed out for it last no longer than that
/// callback, during which the target owns the bio.
#[repr(transparent)]
pub(crate) struct Bio(Opaque<bindings::bio>);

impl Bio {
    /// Borrows the bio behind `ptr` for the duration of a callback.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live bio owned by the calling target for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::bio) -> &'a mut Self {
        // SAFETY: `Bio` is `repr(transparent)` over the C struct, and the caller
        // guarantees that `ptr` is valid and exclusively ours for `'a`.
        unsafe { &mut *ptr.cast::<Self>() }
    }

    fn raw(&self) -> *mut bindings::bio {
        self.0.get()
    }

    /// First sector, in the sector space of whoever the bio is addressed to.
    pub(crate) fn sector(&self) -> u64 {
        // SAFETY: by the type invariants the bio is valid; reading its iterator
        // is allowed while we own it.
        unsafe { (*self.raw()).bi_iter.bi_sector }
    }

    /// Readdresses the bio to `sector` of `dev`.
    pub(crate) fn redirect(&mut self, dev: &DmDev, sector: u64) {
        // SAFETY: by the type invariants we own the bio; `dev.bdev()` is an
        // open block device (the `DmDev` invariant) that outlives the bio,
        // since the target holds the device until its destructor, which DM
        // runs only after every bio it mapped has completed.
        unsafe {
            bindings::dm_remap_bio_set_dev(self.raw(), dev.bdev());
            (*self.raw()).bi_iter.bi_sector = sector;
        }
    }

    /// The operation, without flags.
    pub(crate) fn op(&self) -> BioOp {
        // SAFETY: the bio is valid by the type invariants.
        let op = unsafe { bindings::dm_remap_bio_op(self.raw()) };
        match op {
            bindings::req_op_REQ_OP_READ => BioOp::Read,
            bindings::req_op_REQ_OP_WRITE => BioOp::Write,
            bindings::req_op_REQ_OP_FLUSH => BioOp::Flush,
            bindings::req_op_REQ_OP_DISCARD => BioOp::Discard,
            bindings::req_op_REQ_OP_SECURE_ERASE => BioOp::SecureErase,
            bindings::req_op_REQ_OP_WRITE_ZEROES => BioOp::WriteZeroes,
            _ => BioOp::Other,
        }
    }

    /// Whether the bio asks for a cache flush (REQ_PREFLUSH).
    pub(crate) fn is_preflush(&self) -> bool {
        // SAFETY: the bio is valid by the type invariants.
        unsafe { bindings::dm_remap_bio_is_preflush(self.raw()) }
    }

    /// Which of the `num_*_bios` copies DM made of a flush or discard this is.
    pub(crate) fn target_bio_nr(&self) -> u32 {
        // SAFETY: the bio is valid and was cloned by DM for this target, which
        // is what `dm_bio_get_target_bio_nr` requires.
        unsafe { bindings::dm_bio_get_target_bio_nr(self.raw()) }
    }
}
