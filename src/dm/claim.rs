// SPDX-License-Identifier: GPL-2.0
//! Which mapped device holds which block device, across every target of
//! the module.
//!
//! Device-mapper lets any number of tables open one device; two dm-remap
//! devices over one spare (or one main) would overwrite each other's
//! metadata and data. A target claims its devices in its constructor, before
//! it writes to them; a claim is refused while a target of another mapped
//! device, or another target of the same table, holds the device. The one
//! exception is a reload: the new table of a mapped device is constructed
//! while its old table is still live, and both hold the claims until the
//! old table's destructor. A [`Claim`] is released when it is dropped (in
//! the destructor, or when the constructor fails after claiming).

use core::cell::UnsafeCell;

use kernel::prelude::*;

use super::bindings;
use super::target::{Target, TargetOps};
use super::DmDev;

/// One claimed device: its number, the mapped device and the table that
/// hold it (compared, never dereferenced).
struct Entry {
    devt: u32,
    md: usize,
    table: usize,
}

/// The claims of every live target: a slot per claim, `None` once released
/// (and reused by the next claim).
///
/// # Invariants
///
/// The vector is only accessed inside [`locked`], with
/// `dm_remap_claims_lock` held.
struct Registry(UnsafeCell<KVec<Option<Entry>>>);

// SAFETY: every access is serialised by the claims mutex (type invariants).
unsafe impl Sync for Registry {}

static REGISTRY: Registry = Registry(UnsafeCell::new(KVec::new()));

/// Runs `f` on the registry with the claims mutex held. Process context.
fn locked<R>(f: impl FnOnce(&mut KVec<Option<Entry>>) -> R) -> R {
    // SAFETY: a plain kernel mutex; callers are ctr and dtr, which may sleep.
    unsafe { bindings::dm_remap_claims_lock() };
    // SAFETY: the mutex is held, so this is the only reference to the vector
    // (type invariants); it is dropped before the unlock.
    let r = f(unsafe { &mut *REGISTRY.0.get() });
    // SAFETY: locked above by this thread.
    unsafe { bindings::dm_remap_claims_unlock() };
    r
}

/// A device claimed for one target; released on drop.
pub(crate) struct Claim {
    devt: u32,
    table: usize,
}

impl<T: TargetOps> Target<T> {
    /// Claims `dev` for this target: `EBUSY` when a target of another
    /// mapped device, or another target of this table, holds it (a reload's
    /// old table does not count). Process context.
    pub(crate) fn claim(&mut self, dev: &DmDev) -> Result<Claim> {
        // SAFETY: inside the constructor (type invariants), so the target's
        // table and its mapped device are live.
        let (table, md) = unsafe {
            let table = (*self.raw()).table;
            (table as usize, bindings::dm_table_get_md(table) as usize)
        };
        let devt = dev.devt();
        locked(|claims| {
            let mut free = None;
            for (i, slot) in claims.iter().enumerate() {
                match slot {
                    Some(c) if c.devt == devt && (c.md != md || c.table == table) => return Err(EBUSY),
                    Some(_) => {}
                    None => free = free.or(Some(i)),
                }
            }
            let entry = Some(Entry { devt, md, table });
            match free.and_then(|i| claims.as_mut_slice().get_mut(i)) {
                Some(slot) => *slot = entry,
                None => claims.push(entry, GFP_KERNEL)?,
            }
            Ok(Claim { devt, table })
        })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        locked(|claims| {
            for slot in claims.as_mut_slice() {
                if slot.as_ref().is_some_and(|c| c.devt == self.devt && c.table == self.table) {
                    *slot = None;
                }
            }
            if claims.iter().all(Option::is_none) {
                // Frees the buffer, so that nothing is left at module exit.
                *claims = KVec::new();
            }
        });
    }
}
