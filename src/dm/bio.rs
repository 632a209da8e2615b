// SPDX-License-Identifier: GPL-2.0
//! A bio as a target sees it in `map`.

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::prelude::*;

use kernel::types::Opaque;

use super::bindings;
use super::per_bio::PerBioLayout;
use super::target::{EndIoOutcome, MapOutcome, TargetOps};
use super::{BlkStatus, DmDev};

/// The operation a bio carries, without its flags. The values are the
/// `REQ_OP_*` ones, so that [`Bio::op`] is a range check rather than a
/// chain of comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum BioOp {
    Read = bindings::req_op_REQ_OP_READ,
    Write = bindings::req_op_REQ_OP_WRITE,
    Flush = bindings::req_op_REQ_OP_FLUSH,
    Discard = bindings::req_op_REQ_OP_DISCARD,
    SecureErase = bindings::req_op_REQ_OP_SECURE_ERASE,
    WriteZeroes = bindings::req_op_REQ_OP_WRITE_ZEROES,
    /// Anything else (zone operations, driver-private ones).
    Other = bindings::req_op_REQ_OP_LAST,
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
    #[inline]
    pub(crate) fn redirect(&mut self, dev: &DmDev, sector: u64) {
        let bdev = dev.bdev();
        let bio = self.raw();
        // SAFETY: by the type invariants we own the bio; `bdev` is an open
        // block device (the `DmDev` invariant) that outlives the bio, since
        // the target holds the device until its destructor, which DM runs
        // only after every bio it mapped has completed. What follows is
        // `bio_set_dev` (a static inline, which a C helper would make a
        // call): the flags are the owner's to change (`bio_clear_flag` is
        // not atomic either).
        unsafe {
            let mut flags = (*bio).bi_flags;
            flags &= !(1 << bindings::BIO_REMAPPED);
            if (*bio).bi_bdev != bdev {
                flags &= !(1 << bindings::BIO_BPS_THROTTLED);
            }
            (*bio).bi_flags = flags;
            (*bio).bi_bdev = bdev;
            if bindings::dm_remap_config_DM_REMAP_BLK_CGROUP != 0 {
                bindings::dm_remap_bio_associate_blkg(bio);
            }
            (*bio).bi_iter.bi_sector = sector;
        }
    }

    /// The operation, without flags.
    #[inline]
    pub(crate) fn op(&self) -> BioOp {
        const KNOWN: u64 = 1 << BioOp::Read as u32
            | 1 << BioOp::Write as u32
            | 1 << BioOp::Flush as u32
            | 1 << BioOp::Discard as u32
            | 1 << BioOp::SecureErase as u32
            | 1 << BioOp::WriteZeroes as u32;
        let op = self.opf() & bindings::dm_remap_opf_DM_REMAP_REQ_OP_MASK;
        if op < 64 && KNOWN >> op & 1 != 0 {
            // SAFETY: `BioOp` is `repr(u32)` and `op` is the value of one of
            // its variants (a bit of `KNOWN`).
            unsafe { core::mem::transmute::<u32, BioOp>(op) }
        } else {
            BioOp::Other
        }
    }

    /// Whether the bio asks for a cache flush (REQ_PREFLUSH).
    #[inline]
    pub(crate) fn is_preflush(&self) -> bool {
        self.opf() & bindings::dm_remap_opf_DM_REMAP_REQ_PREFLUSH != 0
    }

    /// The operation and flags (`bi_opf`).
    #[inline]
    fn opf(&self) -> u32 {
        // SAFETY: the bio is valid by the type invariants, and its owner (we
        // are until map/end_io returns) is the only writer of `bi_opf`.
        unsafe { (*self.raw()).bi_opf }
    }

    /// Which of the `num_*_bios` copies DM made of a flush or discard this is.
    pub(crate) fn target_bio_nr(&self) -> u32 {
        // SAFETY: the bio is valid and was cloned by DM for this target, which
        // is what `dm_bio_get_target_bio_nr` requires.
        unsafe { bindings::dm_bio_get_target_bio_nr(self.raw()) }
    }
}

impl Bio {
    /// Size of the data in bytes (0 for an empty flush).
    pub(crate) fn size_bytes(&self) -> u32 {
        // SAFETY: the bio is valid by the type invariants.
        unsafe { (*self.raw()).bi_iter.bi_size }
    }
}

/// The bio `map` of target type `T` is routing, with what only `map` may
/// do to it.
///
/// # Invariants
///
/// Only the map trampoline of `T` builds one, for a clone that DM made for a
/// target of type `T`, whose per-bio data nothing has initialised yet: the
/// two ways out of `map`, [`MapBio::remapped`] and [`MapBio::keep`], write
/// it (once, and only there, so that `map` builds it in registers rather
/// than zeroing it first and filling it in after).
pub(crate) struct MapBio<'a, T: TargetOps> {
    bio: &'a mut Bio,
    _target: PhantomData<T>,
}

impl<'a, T: TargetOps> MapBio<'a, T> {
    /// # Safety
    ///
    /// `bio` must be a clone DM passed to `map` of a target of type `T`.
    pub(super) unsafe fn new(bio: &'a mut Bio) -> Self {
        // INVARIANT: the caller's contract.
        Self { bio, _target: PhantomData }
    }

    /// Keeps only the first `sectors` sectors in this bio; DM sends the rest
    /// to `map` again as a new bio. `sectors` must be less than the bio's size.
    pub(crate) fn accept_partial(&mut self, sectors: u32) {
        let size = self.bio.size_bytes() >> 9;
        if sectors == 0 || sectors >= size {
            return;
        }
        // SAFETY: we are inside `map` (only the map trampoline builds a
        // `MapBio`), with a bio DM cloned for this target, and `sectors` is
        // within the bio; DM only sends single copies of data bios and of the
        // discards and write-zeroes of a target with one such bio each.
        unsafe { bindings::dm_accept_partial_bio(self.bio.raw(), sectors) };
    }

    /// Writes the per-bio data, which nothing has initialised yet.
    #[inline(always)]
    fn init_per_bio(&mut self, per_bio: T::PerBio) {
        // SAFETY: a clone for a `T` target (type invariants), whose per-bio
        // data DM reserved (`PerBioLayout`) and nothing else uses while
        // `map` has the bio; `write` overwrites it without reading it.
        unsafe { PerBioLayout::<T>::get(self.bio.raw()).write(per_bio) };
    }

    /// Lets DM submit the bio where it now points, with `per_bio` as its
    /// per-bio data for `end_io`: `map` returns this.
    #[inline(always)]
    pub(crate) fn remapped(mut self, per_bio: T::PerBio) -> MapOutcome<'a> {
        self.init_per_bio(per_bio);
        MapOutcome::Remapped(Readdressed(PhantomData))
    }

    /// Takes ownership of the bio, with `per_bio` as its per-bio data:
    /// `map` then returns `Submitted` with the proof, and the target submits
    /// or completes it later through the returned handle.
    #[inline(always)]
    pub(crate) fn keep(mut self, per_bio: T::PerBio) -> (KeptBio<T>, Kept<'a>) {
        self.init_per_bio(per_bio);
        // INVARIANT: the bio is live, a clone for a `T` target (type
        // invariants) with its per-bio data initialised just above and, once
        // `map` returns `Submitted`, ours.
        (KeptBio { bio: NonNull::from(&self.bio.0).cast(), _target: PhantomData }, Kept(PhantomData))
    }
}

impl<T: TargetOps> core::ops::Deref for MapBio<'_, T> {
    type Target = Bio;
    fn deref(&self) -> &Bio {
        self.bio
    }
}

impl<T: TargetOps> core::ops::DerefMut for MapBio<'_, T> {
    fn deref_mut(&mut self) -> &mut Bio {
        self.bio
    }
}

/// Proof that `map` kept the bio it was given for `'a` (see
/// [`MapBio::keep`]); `map` returns `Submitted` only with it.
pub(crate) struct Kept<'a>(PhantomData<&'a mut Bio>);

/// Proof that `map` left the bio it was given for `'a` to DM (see
/// [`MapBio::remapped`]).
pub(crate) struct Readdressed<'a>(PhantomData<&'a mut Bio>);

/// A bio the `map` of target type `T` kept for later (it returned
/// `Submitted`).
///
/// # Invariants
///
/// `bio` is a live DM clone for a target of type `T`, with initialised
/// per-bio data, that this handle alone owns; it is either submitted
/// (`submit`) or completed (`complete`, `drop`), exactly once.
pub(crate) struct KeptBio<T: TargetOps> {
    bio: NonNull<bindings::bio>,
    _target: PhantomData<T>,
}

// SAFETY: a bio may be submitted or completed from any thread.
unsafe impl<T: TargetOps> Send for KeptBio<T> {}

impl<T: TargetOps> KeptBio<T> {
    /// The bio, to readdress it.
    pub(crate) fn bio(&mut self) -> &mut Bio {
        // SAFETY: we own the live bio (type invariants).
        unsafe { Bio::from_raw(self.bio.as_ptr()) }
    }

    /// The target's per-bio data.
    pub(crate) fn per_bio(&mut self) -> &mut T::PerBio {
        // SAFETY: the clone was made for a `T` target and its per-bio data
        // initialised (type invariants); we own it exclusively.
        unsafe { &mut *PerBioLayout::<T>::get(self.bio.as_ptr()) }
    }

    /// Completes the bio with `status` instead of submitting it: the target
    /// placed its data itself.
    pub(crate) fn complete(self, status: BlkStatus) {
        let bio = self.bio.as_ptr();
        core::mem::forget(self);
        // SAFETY: we owned the live bio (type invariants) and complete it
        // once; `forget` keeps `drop` from completing it again.
        unsafe { bindings::dm_remap_bio_complete(bio, status.raw()) };
    }

    /// Submits the bio where it now points.
    pub(crate) fn submit(self) {
        let bio = self.bio.as_ptr();
        core::mem::forget(self);
        // SAFETY: we owned the bio (type invariants) and hand it to the block
        // layer once; `forget` keeps `drop` from failing it too.
        unsafe { bindings::dm_remap_submit_kept_bio(bio) };
    }
}

impl<T: TargetOps> Drop for KeptBio<T> {
    fn drop(&mut self) {
        // SAFETY: we own the bio (type invariants); completing it is the one
        // way it leaves us here.
        unsafe { bindings::dm_remap_bio_io_error(self.bio.as_ptr()) };
    }
}

/// A handle that owns a DM clone bio.
///
/// # Safety
///
/// `into_raw` must hand over sole ownership of a live clone, and `from_raw`
/// must only take back a pointer that `into_raw` of the same type gave.
pub(crate) unsafe trait OwnedBio {
    fn into_raw(self) -> NonNull<bindings::bio>;
    /// # Safety
    ///
    /// `bio` came from `into_raw` of this type and is owned by the caller.
    unsafe fn from_raw(bio: NonNull<bindings::bio>) -> Self;
}

// SAFETY: `into_raw` forgets the handle, whose invariants say it alone owns
// the clone; `from_raw` rebuilds exactly such a handle.
unsafe impl<T: TargetOps> OwnedBio for KeptBio<T> {
    fn into_raw(self) -> NonNull<bindings::bio> {
        let bio = self.bio;
        core::mem::forget(self);
        bio
    }
    unsafe fn from_raw(bio: NonNull<bindings::bio>) -> Self {
        Self { bio, _target: PhantomData }
    }
}

/// A FIFO of owned bios, linked through `bi_next` (no allocation).
///
/// # Invariants
///
/// Every bio on the list is owned by the list as an `H` would own it;
/// `head` is null exactly when the list is empty, and `tail` is then stale.
pub(crate) struct BioList<H: OwnedBio> {
    head: *mut bindings::bio,
    tail: *mut bindings::bio,
    _owns: PhantomData<H>,
}

/// Bios held back by the `map` of target type `T`.
pub(crate) type KeptBioList<T> = BioList<KeptBio<T>>;

// SAFETY: the list owns its bios; clones may be completed from any thread.
unsafe impl<H: OwnedBio> Send for BioList<H> {}

impl<H: OwnedBio> BioList<H> {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        Self { head: core::ptr::null_mut(), tail: core::ptr::null_mut(), _owns: PhantomData }
    }

    /// Appends `handle`'s bio.
    pub(crate) fn push(&mut self, handle: H) {
        let bio = handle.into_raw().as_ptr();
        // SAFETY: `bio` is live and now owned by the list; `tail` is live when
        // the list is not empty (type invariants).
        unsafe {
            (*bio).bi_next = core::ptr::null_mut();
            if self.head.is_null() {
                self.head = bio;
            } else {
                (*self.tail).bi_next = bio;
            }
        }
        self.tail = bio;
    }

    /// Removes the first bio.
    pub(crate) fn pop(&mut self) -> Option<H> {
        let bio = NonNull::new(self.head)?;
        // SAFETY: `bio` is the live head, owned by the list (type invariants);
        // ownership passes to the returned handle.
        unsafe {
            self.head = (*bio.as_ptr()).bi_next;
            (*bio.as_ptr()).bi_next = core::ptr::null_mut();
            Some(H::from_raw(bio))
        }
    }

    /// Whether the list is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Moves every bio out, leaving this list empty.
    pub(crate) fn take(&mut self) -> Self {
        core::mem::replace(self, Self::new())
    }
}

impl<H: OwnedBio> Drop for BioList<H> {
    fn drop(&mut self) {
        while let Some(handle) = self.pop() {
            drop(handle);
        }
    }
}

/// Where a bio's data is, saved in `map` (the block layer consumes the
/// bio's own position as it completes it).
#[derive(Clone, Copy, Default)]
pub(crate) struct SavedIter(bindings::bvec_iter);

impl SavedIter {
    /// First sector, in the mapped device's sector space.
    pub(crate) fn sector(&self) -> u64 {
        self.0.bi_sector
    }

    /// Bytes of data.
    pub(crate) fn bytes(&self) -> u32 {
        self.0.bi_size
    }
}

impl Bio {
    /// The bio's current position, to find its data after completion.
    pub(crate) fn save_iter(&self) -> SavedIter {
        // SAFETY: the bio is live and ours (type invariants).
        SavedIter(unsafe { (*self.raw()).bi_iter })
    }

    fn copy(&mut self, iter: &SavedIter, offset: u32, buf: *mut u8, len: usize, to_bio: bool) -> Result {
        let len = u32::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: the bio is live and ours (type invariants), `iter` was saved
        // from it and its pages are still attached (a clone's data lives until
        // it completes); `buf` is valid for `len` bytes (callers pass slices);
        // the helper checks the range against `iter`.
        let r = unsafe { bindings::dm_remap_bio_copy(self.raw(), &iter.0, offset, buf.cast(), len, to_bio) };
        kernel::error::to_result(r)
    }

    /// Copies `buf.len()` bytes of the data at byte `offset` of `iter` out.
    pub(crate) fn copy_out(&mut self, iter: &SavedIter, offset: u32, buf: &mut [u8]) -> Result {
        self.copy(iter, offset, buf.as_mut_ptr(), buf.len(), false)
    }

    /// Copies `buf` into the data at byte `offset` of `iter`.
    pub(crate) fn copy_in(&mut self, iter: &SavedIter, offset: u32, buf: &[u8]) -> Result {
        // The helper only reads `buf` when copying into the bio.
        self.copy(iter, offset, buf.as_ptr().cast_mut(), buf.len(), true)
    }
}

/// A completing bio in the `end_io` of target type `T`, which the target
/// may take over.
///
/// # Invariants
///
/// Only the end_io trampoline of `T` builds one, for a clone that DM made
/// for a target of type `T` and that its `map` saw (so its per-bio data is
/// initialised).
pub(crate) struct EndBio<'a, T: TargetOps> {
    bio: &'a mut Bio,
    _target: PhantomData<T>,
}

/// Proof that `end_io` took the bio it was given for `'a` over (see
/// [`EndBio::defer`]); `end_io` returns `Incomplete` only with it.
pub(crate) struct Deferred<'a>(PhantomData<&'a mut Bio>);

/// Proof that `end_io` left the bio it was given for `'a` to complete (see
/// [`EndBio::done`]).
pub(crate) struct Passed<'a>(PhantomData<&'a mut Bio>);

impl<'a, T: TargetOps> EndBio<'a, T> {
    /// # Safety
    ///
    /// `bio` must be a clone DM passed to `end_io` of a target of type `T`,
    /// after that target's `map`.
    pub(super) unsafe fn new(bio: &'a mut Bio) -> Self {
        // INVARIANT: the caller's contract.
        Self { bio, _target: PhantomData }
    }

    /// Lets the completion through: `end_io` returns this.
    pub(crate) fn done(self) -> EndIoOutcome<'a> {
        EndIoOutcome::Done(Passed(PhantomData))
    }

    /// Takes the bio over: `end_io` returns `Incomplete` with the proof, and
    /// the target completes the bio later through the handle.
    pub(crate) fn defer(self) -> (DeferredBio<T>, Deferred<'a>) {
        // INVARIANT: a live clone for a `T` target with initialised per-bio
        // data (type invariants), ours once `end_io` returns `Incomplete`.
        (DeferredBio { bio: NonNull::from(&self.bio.0).cast(), _target: PhantomData }, Deferred(PhantomData))
    }
}

impl<T: TargetOps> core::ops::Deref for EndBio<'_, T> {
    type Target = Bio;
    fn deref(&self) -> &Bio {
        self.bio
    }
}

/// A bio whose completion the target of type `T` took over in `end_io`.
///
/// # Invariants
///
/// `bio` is a live DM clone for a target of type `T`, with initialised
/// per-bio data, that this handle alone owns; it is completed exactly once,
/// by `complete` or (with an I/O error) by `drop`, which runs `end_io` again.
pub(crate) struct DeferredBio<T: TargetOps> {
    bio: NonNull<bindings::bio>,
    _target: PhantomData<T>,
}

// SAFETY: a clone may be completed from any thread.
unsafe impl<T: TargetOps> Send for DeferredBio<T> {}

impl<T: TargetOps> DeferredBio<T> {
    /// The bio.
    pub(crate) fn bio(&mut self) -> &mut Bio {
        // SAFETY: owned and live (type invariants).
        unsafe { Bio::from_raw(self.bio.as_ptr()) }
    }

    /// The target's per-bio data.
    pub(crate) fn per_bio(&mut self) -> &mut T::PerBio {
        // SAFETY: the clone was made for a `T` target and its per-bio data
        // initialised (type invariants); we own it exclusively.
        unsafe { &mut *PerBioLayout::<T>::get(self.bio.as_ptr()) }
    }

    /// Completes the bio with `status`.
    pub(crate) fn complete(self, status: BlkStatus) {
        let bio = self.bio.as_ptr();
        core::mem::forget(self);
        // SAFETY: owned and live (type invariants); completed exactly once.
        unsafe { bindings::dm_remap_bio_complete(bio, status.raw()) };
    }
}

impl<T: TargetOps> Drop for DeferredBio<T> {
    fn drop(&mut self) {
        // SAFETY: owned and live (type invariants); completed exactly once.
        unsafe { bindings::dm_remap_bio_complete(self.bio.as_ptr(), BlkStatus::IOERR.raw()) };
    }
}

// SAFETY: as for `KeptBio`.
unsafe impl<T: TargetOps> OwnedBio for DeferredBio<T> {
    fn into_raw(self) -> NonNull<bindings::bio> {
        let bio = self.bio;
        core::mem::forget(self);
        bio
    }
    unsafe fn from_raw(bio: NonNull<bindings::bio>) -> Self {
        Self { bio, _target: PhantomData }
    }
}

/// A stack of owned bios that any context can push onto without a lock
/// (completions run in interrupt context); the worker takes them all at once.
///
/// # Invariants
///
/// `head` is null or the first of a `bi_next` chain of bios the stack owns
/// as `H` handles would.
pub(crate) struct AtomicBioStack<H: OwnedBio> {
    head: core::sync::atomic::AtomicPtr<bindings::bio>,
    _owns: PhantomData<H>,
}

// SAFETY: the stack owns its bios and is manipulated with atomics only.
unsafe impl<H: OwnedBio> Send for AtomicBioStack<H> {}
// SAFETY: as above.
unsafe impl<H: OwnedBio> Sync for AtomicBioStack<H> {}

impl<H: OwnedBio> AtomicBioStack<H> {
    pub(crate) const fn new() -> Self {
        Self { head: core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()), _owns: PhantomData }
    }

    /// Pushes `handle`'s bio. Any context; never blocks.
    pub(crate) fn push(&self, handle: H) {
        use core::sync::atomic::Ordering;
        let bio = handle.into_raw().as_ptr();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: `bio` is live and owned by us until the exchange below
            // publishes it.
            unsafe { (*bio).bi_next = head };
            match self.head.compare_exchange_weak(head, bio, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    /// Takes every bio, oldest first.
    pub(crate) fn take_all(&self) -> BioList<H> {
        use core::sync::atomic::Ordering;
        let mut bio = self.head.swap(core::ptr::null_mut(), Ordering::Acquire);
        // Reverse the LIFO chain into a FIFO list.
        let mut reversed: *mut bindings::bio = core::ptr::null_mut();
        while !bio.is_null() {
            // SAFETY: every bio on the chain is live and now ours (invariants).
            let next = unsafe { (*bio).bi_next };
            // SAFETY: as above.
            unsafe { (*bio).bi_next = reversed };
            reversed = bio;
            bio = next;
        }
        let mut list = BioList::new();
        while let Some(b) = NonNull::new(reversed) {
            // SAFETY: as above; each bio is handed to the list once.
            unsafe {
                reversed = (*b.as_ptr()).bi_next;
                list.push(H::from_raw(b));
            }
        }
        list
    }
}

impl<H: OwnedBio> Drop for AtomicBioStack<H> {
    fn drop(&mut self) {
        drop(self.take_all());
    }
}
