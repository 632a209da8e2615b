// SPDX-License-Identifier: GPL-2.0
//! Where DM keeps a target's per-bio data, found without a call.
//!
//! DM allocates each clone it hands a target inside a `struct
//! dm_target_io` (`drivers/md/dm-core.h`), which is either embedded at the
//! end of the `struct dm_io` of the original bio (the first clone of each
//! bio: flag `DM_TIO_INSIDE_DM_IO` in `tio->flags`) or allocated on its
//! own (further clones, such as the second copy of a flush), and puts the
//! target's per-bio data right before the outer one of the two. So
//! `dm_per_bio_data(bio, size)` is `bio - DM_IO_BIO_OFFSET - size` or
//! `bio - DM_TARGET_IO_BIO_OFFSET - size`, chosen by that flag. It is an
//! exported function, not an inline one, and the two offsets are private
//! to DM (`dm-core.h` is not installed with the kernel headers; the first
//! depends on the configuration through the size of a spinlock): calling
//! it from `map` and `end_io` cost a call each, with the registers it
//! clobbers.
//!
//! [`calibrate`] asks `dm_per_bio_data` itself, once at module init, for
//! both offsets, with a stand-in for a `dm_target_io`, and checks that the
//! flag it tests is the one [`PerBioLayout::get`] tests; `get` then does
//! what `dm_per_bio_data` does, inline.

use core::marker::PhantomData;
use core::sync::atomic::{AtomicUsize, Ordering};

use kernel::ffi::c_uint;
use kernel::prelude::*;

use super::bindings;
use super::target::TargetOps;

/// Byte offset of `flags` in `struct dm_target_io` (after `unsigned short
/// magic`; `blk_short_t flags`).
const TIO_FLAGS: usize = 2;
/// `1 << DM_TIO_INSIDE_DM_IO` (bit 0 of the `dm_target_io` flags).
const INSIDE_DM_IO: u16 = 1;

/// The two offsets, in bytes from a clone back to the end of its per-bio
/// data: `tio` for a clone in a `dm_target_io` of its own
/// (`DM_TARGET_IO_BIO_OFFSET`), `io` for one inside a `dm_io`
/// (`DM_IO_BIO_OFFSET`). Set by [`calibrate`] before the target type is
/// registered, never changed after.
struct Offsets {
    tio: AtomicUsize,
    io: AtomicUsize,
}

static OFFSETS: Offsets = Offsets { tio: AtomicUsize::new(0), io: AtomicUsize::new(0) };

/// A stand-in for a clone and the `dm_target_io` header before it: the
/// "clone" starts `STANDIN_BIO` bytes in (the header is 40 bytes in 6.12).
#[repr(C, align(8))]
struct StandIn([u8; 2 * STANDIN_BIO]);
const STANDIN_BIO: usize = 256;

impl StandIn {
    /// `dm_per_bio_data(clone, 0)`, as an offset back from the clone.
    fn offset(&mut self) -> usize {
        let bio = self.0.as_mut_ptr().wrapping_add(STANDIN_BIO);
        // SAFETY: with a `data_size` of 0, `dm_per_bio_data` only reads
        // `container_of(bio, struct dm_target_io, clone)->flags`, 2 bytes at
        // `DM_TARGET_IO_BIO_OFFSET - 2` before `bio` (38 in 6.12, inside the
        // `STANDIN_BIO` bytes before it; `calibrate` checks the offset it
        // finds), and computes an address from them; it writes nothing.
        let data = unsafe { bindings::dm_per_bio_data(bio.cast(), 0) };
        (bio as usize).wrapping_sub(data as usize)
    }

    /// Fills the stand-in with `fill`, but for the 2 bytes at `at`: `flags`.
    fn set(&mut self, fill: u8, at: usize, flags: u16) {
        self.0.fill(fill);
        if let Some(f) = self.0.get_mut(at..at + 2) {
            f.copy_from_slice(&flags.to_ne_bytes());
        }
    }
}

/// Finds where DM keeps per-bio data (see the module comment), once, before
/// the target type is registered. Fails if `dm_per_bio_data` does not
/// behave as [`PerBioLayout::get`] assumes.
pub(super) fn calibrate() -> Result {
    let mut s = StandIn([0; 2 * STANDIN_BIO]);
    // All zero: a clone in a `dm_target_io` of its own.
    let tio = s.offset();
    if !(TIO_FLAGS + 2..=STANDIN_BIO).contains(&tio) || tio % 8 != 0 {
        pr_err!("unexpected dm_target_io layout: clone {tio} bytes in\n");
        return Err(EINVAL);
    }
    // The flags, where `get` reads them.
    let at = STANDIN_BIO - tio + TIO_FLAGS;
    // Only the flag set: inside a `dm_io`.
    s.set(0, at, INSIDE_DM_IO);
    let io = s.offset();
    // Every bit set but the flag: not inside, whatever else the header says.
    s.set(0xff, at, !INSIDE_DM_IO);
    let tio_again = s.offset();
    if io <= tio || io % 8 != 0 || io > 4096 || tio_again != tio {
        pr_err!("unexpected dm_target_io layout: clone {tio}, {io}, {tio_again} bytes in\n");
        return Err(EINVAL);
    }
    OFFSETS.tio.store(tio, Ordering::Relaxed);
    OFFSETS.io.store(io, Ordering::Relaxed);
    Ok(())
}

/// Checks, at compile time, that DM can place `T::PerBio` before each bio,
/// and finds it there.
pub(super) struct PerBioLayout<T>(PhantomData<T>);

impl<T: TargetOps> PerBioLayout<T> {
    pub(super) const SIZE: c_uint = {
        let size = core::mem::size_of::<T::PerBio>();
        assert!(size % 8 == 0 && core::mem::align_of::<T::PerBio>() <= 8 && size <= 1024);
        size as c_uint
    };

    /// The per-bio data of `bio`: `dm_per_bio_data(bio, SIZE)`, inline.
    ///
    /// # Safety
    ///
    /// `bio` must be a live bio that DM cloned for a target of type `T`
    /// (which `calibrate` precedes: it runs before the type is registered).
    #[inline(always)]
    pub(super) unsafe fn get(bio: *mut bindings::bio) -> *mut T::PerBio {
        let tio = OFFSETS.tio.load(Ordering::Relaxed);
        // SAFETY: DM made `bio` as the `clone` member of a `dm_target_io`
        // (the caller's contract), which starts `tio` bytes before it and
        // holds its flags at `TIO_FLAGS` (`calibrate`); the clone is live, so
        // its `dm_target_io` is, and DM does not change the flags while the
        // target has the clone.
        let flags = unsafe { bio.cast::<u8>().sub(tio).add(TIO_FLAGS).cast::<u16>().read() };
        let outer = if flags & INSIDE_DM_IO != 0 { OFFSETS.io.load(Ordering::Relaxed) } else { tio };
        // SAFETY: DM reserved `SIZE` bytes, 8-aligned, right before the
        // structure that holds the clone (`per_io_data_size`, set in `ctr`),
        // which begins `outer` bytes before the clone (`calibrate`).
        unsafe { bio.cast::<u8>().sub(outer.wrapping_add(Self::SIZE as usize)).cast::<T::PerBio>() }
    }
}
