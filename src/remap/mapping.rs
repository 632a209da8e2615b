// SPDX-License-Identifier: GPL-2.0
//! What `map` reads to route a bio, published with RCU so that it reads
//! without a lock: the remap table, the runs being moved and the pending
//! blocks; and the bios held back by a move.

use core::sync::atomic::{AtomicBool, Ordering};

use kernel::new_spinlock;
use kernel::prelude::*;
use kernel::sync::SpinLock;

use super::pending_blocks::PendingBlocks;
use super::table::{MovingRuns, Table};
use super::target::RemapTarget;
use crate::dm::rcu::{RcuBox, RcuReadGuard};
use crate::dm::{KeptBio, KeptBioList};
use crate::dm_remap_core::engine::route::Published;
use crate::dm_remap_core::extent::{Extent, Route};

/// The published versions, and the bios a move holds back.
///
/// `quiet` lets `map` skip the moving runs and the pending blocks with one
/// load when neither has any (always, but during a move or while a block
/// is pending). It is true only while both published versions are empty:
/// every change to them takes `changes`, clears `quiet` before it
/// publishes (so before the grace period `RcuBox::update` waits for), and
/// sets it again only once both versions it left are empty. A read section
/// that sees `quiet` set is then one that could have seen the empty
/// versions: it began before the grace period that follows the change
/// ended, which every move and pending mark already waits for (readers
/// that saw the old versions), and it does what it would do with them.
pub(crate) struct Mapping {
    /// The published table; map() reads it under RCU, without a lock.
    table: RcuBox<Table>,
    /// Runs being copied; map() holds back I/O to them. Published before the
    /// table that maps them and cleared after it, so a reader that sees no
    /// moving run also sees the table that includes it.
    moving: RcuBox<MovingRuns>,
    /// The empty moving-runs version a move publishes when it ends,
    /// allocated before it holds anything back.
    no_moving: Pin<KBox<kernel::sync::Mutex<Option<KBox<MovingRuns>>>>>,
    /// Bios held back by `moving`, resubmitted once their run is mapped.
    held: Pin<KBox<SpinLock<KeptBioList<RemapTarget>>>>,
    /// Blocks that failed every read retry.
    pending: RcuBox<PendingBlocks>,
    /// No run is moving and no block is pending (see above).
    quiet: AtomicBool,
    /// Taken by every change to `moving` and `pending`, around the change
    /// and the update of `quiet`.
    changes: Pin<KBox<kernel::sync::Mutex<()>>>,
}

impl Mapping {
    /// Publishes `table`, with no run moving and no block pending.
    pub(crate) fn new(table: KBox<Table>) -> Result<Self> {
        Ok(Self {
            table: RcuBox::new(table)?,
            moving: RcuBox::new(MovingRuns::none()?)?,
            no_moving: KBox::pin_init(kernel::new_mutex!(None), GFP_KERNEL)?,
            held: KBox::pin_init(new_spinlock!(KeptBioList::new()), GFP_KERNEL)?,
            pending: RcuBox::new(PendingBlocks::none()?)?,
            quiet: AtomicBool::new(true),
            changes: KBox::pin_init(kernel::new_mutex!(()), GFP_KERNEL)?,
        })
    }

    /// Runs `change` of `moving` or `pending` with `quiet` clear, then sets
    /// `quiet` again if nothing moves and nothing is pending any more.
    fn change<R>(&self, change: impl FnOnce() -> R) -> R {
        let _changes = self.changes.lock();
        // Before the change publishes anything (Release for the
        // reasoning's sake: `RcuBox::update` publishes with a stronger
        // swap and waits for a grace period after it).
        self.quiet.store(false, Ordering::Release);
        let r = change();
        // Both versions are current while `changes` is held.
        let guard = RcuReadGuard::new();
        let empty = self.moving.read(&guard).is_empty() && self.pending.read(&guard).len() == 0;
        drop(guard);
        if empty {
            self.quiet.store(true, Ordering::Release);
        }
        r
    }

    /// What `map` routes by, as seen inside `guard`'s read section.
    #[inline(always)]
    pub(crate) fn view<'g>(&'g self, guard: &'g RcuReadGuard) -> View<'g> {
        // Inside the section (see `quiet`); Acquire pairs with the stores
        // in `change` (a plain load on x86).
        let quiet = self.quiet.load(Ordering::Acquire);
        View { mapping: self, guard, quiet }
    }

    /// The table, as seen inside `guard`'s read section.
    pub(crate) fn table<'g>(&'g self, guard: &'g RcuReadGuard) -> &'g Table {
        self.table.read(guard)
    }

    /// Calls `f` with the current table, under the update lock (which keeps
    /// it current while `f` runs).
    pub(crate) fn with_table<R>(&self, f: impl FnOnce(&Table) -> R) -> R {
        self.table.read_locked(f)
    }

    /// Publishes the table `next` builds from the current one.
    pub(crate) fn update_table<E>(&self, next: impl FnOnce(&Table) -> Result<KBox<Table>, E>) -> Result<(), E> {
        self.table.update(next)
    }

    /// The spare-pool block `block` is remapped to, if it is.
    pub(crate) fn spare_block_of(&self, block: u64) -> Option<u64> {
        self.table.read(&RcuReadGuard::new()).route(block, 1).spare
    }

    /// The pending blocks, as seen inside `guard`'s read section.
    pub(crate) fn pending<'g>(&'g self, guard: &'g RcuReadGuard) -> &'g PendingBlocks {
        self.pending.read(guard)
    }

    /// How many blocks are pending.
    pub(crate) fn pending_count(&self) -> usize {
        self.pending.read(&RcuReadGuard::new()).len()
    }

    /// Whether `block` is pending.
    pub(crate) fn is_pending(&self, block: u64) -> bool {
        self.pending.read(&RcuReadGuard::new()).first_in(block, 1).is_some()
    }

    /// Marks `block` pending.
    pub(crate) fn mark_pending(&self, block: u64) -> Result {
        self.change(|| self.pending.update(|p| p.with(block)))
    }

    /// The pending set with every block of `runs` added, to publish later
    /// with [`Self::publish_pending`] (valid while the pending set does not
    /// change meanwhile: under the writer lock, which every change of it
    /// holds). Built under the set's update lock, not in a read section:
    /// the allocation may sleep.
    pub(crate) fn pending_with_runs(&self, runs: &[Extent]) -> Result<KBox<PendingBlocks>> {
        self.pending.read_locked(|p| p.with_runs(runs))
    }

    /// Publishes a pending set built ahead (cannot fail).
    pub(crate) fn publish_pending(&self, next: KBox<PendingBlocks>) {
        self.change(|| {
            let _ = self.pending.update(|_| Ok::<_, Error>(next));
        });
    }

    /// Unmarks the pending blocks the table remaps. Under the writer lock,
    /// which keeps the table as it is meanwhile; each block is looked up in
    /// a read section of its own, not under the table's update lock, which
    /// would order that lock before `changes` (and `changes` comes before
    /// every box's update lock).
    pub(crate) fn unmark_remapped_pending(&self) -> Result {
        self.change(|| self.pending.update(|p| p.without(|b| self.spare_block_of(b).is_some())))
    }

    /// Unmarks the pending blocks that `runs` map.
    pub(crate) fn unmark_pending(&self, runs: &[Extent]) -> Result {
        self.change(|| self.pending.update(|p| p.without(|b| runs.iter().any(|e| e.main <= b && b < e.main_end()))))
    }

    /// Publishes `runs` as being moved: map() holds back I/O to them.
    pub(crate) fn publish_moving(&self, runs: &[Extent]) -> Result {
        // The empty version that `clear_moving` publishes, allocated before
        // anything is held back, so that releasing cannot fail.
        let none = MovingRuns::none()?;
        self.change(|| self.moving.update(|_| MovingRuns::of(runs)))?;
        *self.no_moving.lock() = Some(none);
        Ok(())
    }

    /// Publishes that no run is moving.
    pub(crate) fn clear_moving(&self) {
        if let Some(none) = self.no_moving.lock().take() {
            self.change(|| {
                let _ = self.moving.update(|_| Ok::<_, Error>(none));
            });
        }
    }

    /// Holds `bio` back until its run is mapped; called inside the read
    /// section that saw the run.
    pub(crate) fn hold(&self, bio: KeptBio<RemapTarget>) {
        self.held.lock().push(bio);
    }

    /// The bios held back so far.
    pub(crate) fn take_held(&self) -> KeptBioList<RemapTarget> {
        self.held.lock().take()
    }
}

/// What `map` reads under RCU, for the engine's routing: `quiet` as seen
/// in `guard`'s section, and the versions current in it (the moving runs
/// and pending blocks only read when `quiet` was not set).
pub(crate) struct View<'g> {
    mapping: &'g Mapping,
    guard: &'g RcuReadGuard,
    quiet: bool,
}

impl Published for View<'_> {
    #[inline(always)]
    fn quiet(&self) -> bool {
        self.quiet
    }
    #[inline(always)]
    fn moving(&self, block: u64, blocks: u64) -> Option<Route> {
        self.mapping.moving.read(self.guard).route(block, blocks)
    }
    #[inline(always)]
    fn first_pending_in(&self, block: u64, blocks: u64) -> Option<u64> {
        self.mapping.pending.read(self.guard).first_in(block, blocks)
    }
    #[inline(always)]
    fn route(&self, block: u64, blocks: u64) -> Route {
        self.mapping.table.read(self.guard).route(block, blocks)
    }
}
