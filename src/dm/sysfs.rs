// SPDX-License-Identifier: GPL-2.0
//! A target's directory in sysfs, `/sys/kernel/dm_remap/<dm name>/`. The
//! kobject plumbing is C (`sysfs.c`); the attributes, their names and modes
//! and what they show and accept, are the target's ([`SysfsAttrs`]).
//!
//! A target publishes its directory through [`Target::publish_sysfs`]; the
//! abstraction keeps it in the [`SysfsSlot`] of the target's `Instance`,
//! whose drop empties the slot before the target goes (see `instance.rs`),
//! and removal waits for running reads and writes.

use core::ptr::NonNull;

use kernel::ffi::{c_char, c_uint, c_void};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use super::bindings;
use super::target::{Target, TargetOps};
use super::Emitter;

/// One attribute of a target's directory: its name, its mode, and what it
/// shows and accepts.
pub(crate) struct SysfsAttr<T> {
    name: &'static CStr,
    mode: u16,
    /// Writes the value (a trailing newline is added).
    show: fn(&T, &mut Emitter<'_>) -> core::fmt::Result,
    /// Sets the value from the bytes written (trimmed); `None` for a
    /// read-only attribute.
    store: Option<fn(&T, &[u8]) -> Result>,
}

impl<T> SysfsAttr<T> {
    /// A read-only attribute (mode 0444).
    pub(crate) const fn read_only(name: &'static CStr, show: fn(&T, &mut Emitter<'_>) -> core::fmt::Result) -> Self {
        Self { name, mode: 0o444, show, store: None }
    }

    /// An attribute root can write (mode 0644).
    pub(crate) const fn read_write(
        name: &'static CStr,
        show: fn(&T, &mut Emitter<'_>) -> core::fmt::Result,
        store: fn(&T, &[u8]) -> Result,
    ) -> Self {
        Self { name, mode: 0o644, show, store: Some(store) }
    }
}

/// A target's sysfs attributes.
pub(crate) trait SysfsAttrs: Sync + Sized + 'static {
    /// The attributes of its directory.
    const ATTRS: &'static [SysfsAttr<Self>];
}

/// Creates `/sys/kernel/dm_remap`; module init calls it once.
pub(crate) fn init() -> Result {
    // SAFETY: called once at module init, before any target exists.
    kernel::error::to_result(unsafe { bindings::dm_remap_sysfs_init() })
}

/// Removes `/sys/kernel/dm_remap`; module exit calls it once.
pub(crate) fn exit() {
    // SAFETY: called once at module exit, after every target is gone.
    unsafe { bindings::dm_remap_sysfs_exit() };
}

/// One published directory.
///
/// # Invariants
///
/// `kobj` came from `dm_remap_sysfs_add` and is removed once, by `drop`.
struct SysfsDir {
    kobj: NonNull<bindings::dm_remap_kobj>,
}

// SAFETY: the kobject may be removed from any process context.
unsafe impl Send for SysfsDir {}

impl Drop for SysfsDir {
    fn drop(&mut self) {
        // SAFETY: added by `dm_remap_sysfs_add` and removed once (invariant).
        unsafe { bindings::dm_remap_sysfs_remove(self.kobj.as_ptr()) };
    }
}

/// Where the abstraction keeps a target's directory while the device is
/// active: the `sysfs` field of its `Instance`.
#[pin_data]
pub(super) struct SysfsSlot {
    #[pin]
    dir: Mutex<Option<SysfsDir>>,
}

impl SysfsSlot {
    /// An empty slot.
    pub(super) fn new() -> impl PinInit<Self> {
        pin_init!(Self { dir <- new_mutex!(None) })
    }

    /// Removes the directory, if there is one; waits for running reads and
    /// writes of its attributes.
    pub(super) fn remove(&self) {
        let dir = self.dir.lock().take();
        drop(dir);
    }
}

/// The attribute `T::ATTRS[id]`, if there is one.
fn attr<T: SysfsAttrs>(id: c_uint) -> Option<&'static SysfsAttr<T>> {
    T::ATTRS.get(usize::try_from(id).ok()?)
}

/// # Safety
///
/// Called by sysfs only, with the `ctx` given to `dm_remap_sysfs_add` (a
/// live `T`) and a buffer of `size` bytes.
unsafe extern "C" fn show<T: SysfsAttrs>(ctx: *mut c_void, id: c_uint, buf: *mut c_char, size: usize) -> isize {
    // SAFETY: `ctx` is a live `T` while its directory exists (the caller's
    // contract, kept by the instance's `SysfsSlot`); sysfs lends `buf` for
    // the call.
    let (this, buf) = unsafe { (&*ctx.cast::<T>(), core::slice::from_raw_parts_mut(buf.cast::<u8>(), size)) };
    let mut out = Emitter::new(buf);
    if let Some(a) = attr::<T>(id) {
        // A value cut short by the page's end is what sysfs_emit does too.
        let _ = (a.show)(this, &mut out);
    }
    let _ = core::fmt::Write::write_char(&mut out, '\n');
    out.len() as isize
}

/// # Safety
///
/// As for `show`, with `len` bytes at `buf`.
unsafe extern "C" fn store<T: SysfsAttrs>(ctx: *mut c_void, id: c_uint, buf: *const c_char, len: usize) -> isize {
    // SAFETY: as in `show`; sysfs lends `len` bytes at `buf` for the call.
    let (this, value) = unsafe { (&*ctx.cast::<T>(), core::slice::from_raw_parts(buf.cast::<u8>(), len)) };
    // (`trim_ascii` is newer than the kernel's minimum Rust.)
    let end = value.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    let start = value.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(end);
    let value = value.get(start..end).unwrap_or_default();
    // sysfs calls store for read-only attributes too (root may open them
    // for writing).
    let Some(store) = attr::<T>(id).and_then(|a| a.store) else {
        return EACCES.to_errno() as isize;
    };
    match store(this, value) {
        Ok(()) => isize::try_from(len).unwrap_or(isize::MAX),
        Err(e) => e.to_errno() as isize,
    }
}

impl<T: TargetOps + SysfsAttrs> Target<T> {
    /// Publishes the target's sysfs directory, named after its device,
    /// unless it is published already (or the target is inside its
    /// constructor). Process context.
    pub(crate) fn publish_sysfs(&self) -> Result {
        let Some(instance) = self.instance() else {
            return Ok(());
        };
        let mut dir = instance.sysfs().dir.lock();
        if dir.is_some() {
            return Ok(());
        }
        let mut attrs = KVec::with_capacity(T::ATTRS.len(), GFP_KERNEL)?;
        for a in T::ATTRS {
            attrs.push(bindings::dm_remap_sysfs_attr { name: a.name.as_char_ptr(), mode: a.mode }, GFP_KERNEL)?;
        }
        let nr_attrs = c_uint::try_from(attrs.len()).map_err(|_| EINVAL)?;
        let ctx = core::ptr::from_ref(instance.inner()).cast_mut().cast::<c_void>();
        // SAFETY: the target is live (type invariants); `ctx` is the target in
        // its instance, which outlives the directory: the instance's drop
        // empties the slot before the target drops. `attrs` holds `nr_attrs`
        // entries for the call, and the names they point to are `'static`, so
        // they outlive the directory.
        let kobj = unsafe {
            bindings::dm_remap_sysfs_add(self.raw(), ctx, Some(show::<T>), Some(store::<T>), attrs.as_ptr(), nr_attrs)
        };
        *dir = Some(SysfsDir { kobj: NonNull::new(kobj).ok_or(ENOMEM)? });
        Ok(())
    }
}

/// Wall-clock seconds since the epoch.
pub(crate) fn real_seconds() -> i64 {
    // SAFETY: reads the clock; any context.
    unsafe { bindings::dm_remap_real_seconds() }
}
