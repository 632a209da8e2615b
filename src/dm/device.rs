// SPDX-License-Identifier: GPL-2.0
//! Block devices a target opened with `dm_get_device`, and the queue limits
//! a target may adjust.

use core::ptr::NonNull;

use kernel::ffi::c_uint;
use kernel::prelude::*;
use kernel::types::Opaque;

use super::bindings;

/// A device a target holds open.
///
/// # Invariants
///
/// `dev` was returned by `dm_get_device(ti, ...)` and is put exactly once, in
/// `drop`; `ti` is the target that opened it, and it outlives this value
/// (devices are stored in the target's private data, which is dropped in the
/// destructor, or dropped inside the constructor that opened them).
pub(crate) struct DmDev {
    dev: NonNull<bindings::dm_dev>,
    ti: NonNull<bindings::dm_target>,
}

// SAFETY: a `dm_dev` may be used and put from any thread; DM serialises table
// changes itself.
unsafe impl Send for DmDev {}
// SAFETY: the accessors only read fields that stay fixed while the device is
// held open.
unsafe impl Sync for DmDev {}

impl DmDev {
    /// Opens `path` for `ti` in the table's mode.
    ///
    /// # Safety
    ///
    /// `ti` must be a target inside its constructor, and the result must be
    /// dropped before the target is destroyed.
    pub(super) unsafe fn open(ti: NonNull<bindings::dm_target>, path: &CStr) -> Result<Self> {
        let mut dev: *mut bindings::dm_dev = core::ptr::null_mut();
        // SAFETY: `ti` is a live target (caller's contract); `path` is
        // NUL-terminated; `dev` is a valid place for the result.
        let ret = unsafe {
            let mode = bindings::dm_remap_table_mode(ti.as_ptr());
            bindings::dm_get_device(ti.as_ptr(), path.as_char_ptr(), mode, &mut dev)
        };
        kernel::error::to_result(ret)?;
        let dev = NonNull::new(dev).ok_or(ENODEV)?;
        // INVARIANT: `dev` was just returned by `dm_get_device(ti)`.
        Ok(Self { dev, ti })
    }

    /// The raw `dm_dev`, for iterate_devices callouts.
    pub(super) fn as_raw(&self) -> *mut bindings::dm_dev {
        self.dev.as_ptr()
    }

    /// The open block device.
    pub(super) fn bdev(&self) -> *mut bindings::block_device {
        // SAFETY: `dev` is held open by the type invariants.
        unsafe { (*self.dev.as_ptr()).bdev }
    }

    /// The `major:minor` name DM keeps for the device (used in table lines).
    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: `dev` is valid by the type invariants; DM fills its `name`
        // array, which does not change while the device is held.
        let raw = unsafe { &(*self.dev.as_ptr()).name };
        // SAFETY: `c_char` and `u8` have the same size and alignment, and the
        // slice covers exactly the array.
        let bytes = unsafe { core::slice::from_raw_parts(raw.as_ptr().cast::<u8>(), raw.len()) };
        // Found within the array, without strlen (whose `+ 1` the kernel
        // crate overflow-checks: a panic path in error recovery's messages).
        match bytes.iter().position(|&b| b == 0).and_then(|end| bytes.get(..=end)) {
            // SAFETY: `with_nul` ends at its first NUL byte and has no other.
            Some(with_nul) => unsafe { CStr::from_bytes_with_nul_unchecked(with_nul) },
            None => kernel::c_str!("?"),
        }
    }

    /// Size in 512-byte sectors.
    pub(crate) fn sectors(&self) -> u64 {
        // SAFETY: the block device is open by the type invariants.
        unsafe { bindings::dm_remap_bdev_nr_sectors(self.bdev()) }
    }

    /// Logical block size in bytes.
    pub(crate) fn logical_block_size(&self) -> u32 {
        // SAFETY: the block device is open by the type invariants.
        unsafe { bindings::dm_remap_bdev_logical_block_size(self.bdev()) }
    }

    /// The device number, which tells whether two paths name one device.
    pub(crate) fn devt(&self) -> u32 {
        // SAFETY: the block device is open by the type invariants.
        unsafe { bindings::dm_remap_bdev_devt(self.bdev()) }
    }
}

/// A kmalloc'ed I/O buffer of `IoBuffer::BYTES` bytes: physically contiguous,
/// so synchronous bios can address it page by page.
pub(crate) struct IoBuffer(KVec<u8>);

impl IoBuffer {
    /// Size of the buffer (a power of two, so kmalloc aligns it to its size).
    pub(crate) const BYTES: usize = 65536;

    /// A zeroed buffer.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self(KVec::from_elem(0u8, Self::BYTES, GFP_KERNEL)?))
    }

    /// The whole buffer.
    pub(crate) fn all(&mut self) -> &mut [u8] {
        self.0.as_mut_slice()
    }

    /// The first `len` bytes (all of them if `len` is larger).
    pub(crate) fn bytes(&mut self, len: usize) -> &mut [u8] {
        let len = len.min(Self::BYTES);
        self.0.as_mut_slice().get_mut(..len).unwrap_or_default()
    }
}

impl DmDev {
    fn sync_io(&self, sector: u64, buf: &mut IoBuffer, len: usize, write: bool, fua: bool) -> Result {
        let len = c_uint::try_from(len).map_err(|_| EINVAL)?;
        if len == 0 || len as usize > IoBuffer::BYTES {
            return Err(EINVAL);
        }
        let data = buf.0.as_mut_ptr().cast();
        // SAFETY: the device is open (type invariants); `data` points into a
        // live kmalloc'ed, physically contiguous buffer of at least `len` bytes
        // that we borrow mutably for the whole (synchronous) I/O.
        let ret = unsafe { bindings::dm_remap_sync_io(self.bdev(), sector, data, len, write, fua) };
        kernel::error::to_result(ret)
    }

    /// Reads `len` bytes at `sector` into `buf`, waiting for the result.
    /// Sleeps: process context only.
    pub(crate) fn read_sync(&self, sector: u64, buf: &mut IoBuffer, len: usize) -> Result {
        self.sync_io(sector, buf, len, false, false)
    }

    /// Writes the first `len` bytes of `buf` at `sector`, waiting for the
    /// result. Sleeps: process context only.
    pub(crate) fn write_sync(&self, sector: u64, buf: &mut IoBuffer, len: usize) -> Result {
        self.sync_io(sector, buf, len, true, false)
    }

    /// Like [`Self::write_sync`], but with FUA: the data is on stable
    /// storage when this returns.
    pub(crate) fn write_durable(&self, sector: u64, buf: &mut IoBuffer, len: usize) -> Result {
        self.sync_io(sector, buf, len, true, true)
    }

    /// Flushes the device's volatile write cache. Sleeps.
    pub(crate) fn flush(&self) -> Result {
        // SAFETY: the block device is open by the type invariants.
        kernel::error::to_result(unsafe { bindings::dm_remap_flush(self.bdev()) })
    }
}

impl Drop for DmDev {
    fn drop(&mut self) {
        // SAFETY: by the type invariants `dev` came from `dm_get_device(ti)`,
        // `ti` is still alive, and this is the only put.
        unsafe { bindings::dm_put_device(self.ti.as_ptr(), self.dev.as_ptr()) };
    }
}

/// The queue limits of a table, as `io_hints` sees them.
///
/// # Invariants
///
/// Wraps a live `queue_limits` that DM lends to `io_hints` for the call.
#[repr(transparent)]
pub(crate) struct QueueLimits(Opaque<bindings::queue_limits>);

impl QueueLimits {
    /// Borrows the limits behind `ptr` for the duration of `io_hints`.
    ///
    /// # Safety
    ///
    /// `ptr` must be valid and not otherwise accessed for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::queue_limits) -> &'a mut Self {
        // SAFETY: `repr(transparent)` over the C struct; validity and
        // exclusivity are the caller's contract.
        unsafe { &mut *ptr.cast::<Self>() }
    }

    /// Raises the logical (and with it the physical and minimum I/O) block
    /// size to at least `bytes`.
    pub(crate) fn raise_logical_block_size(&mut self, bytes: u32) {
        // SAFETY: the limits are valid and ours for the call (type invariants).
        unsafe { bindings::dm_remap_limits_set_logical_block_size(self.0.get(), bytes) };
    }
}
