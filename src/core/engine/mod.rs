// SPDX-License-Identifier: GPL-2.0
//! The remap engine: what the target decides about failed bios, writes to
//! pending blocks, `remap` messages, blocks moving to the spare and the
//! scan, as pure code over a [`Platform`] that does the I/O, holds
//! the published state and owns the bios.
//!
//! The kernel target is one platform (`src/remap`): RCU-published tables,
//! bios, a workqueue. The host simulator (`tests/sim`) is another: devices
//! with injected faults and volatile caches, crashes, and a deterministic
//! scheduler that interleaves the engine's steps with I/O and messages.
//! Both run these functions; what the simulator proves about them holds
//! for the kernel's use of them.
//!
//! Locking: a table change (a recovery round, a `remap` message, a move)
//! runs under the platform's writer lock ([`Platform::lock_writer`]); bios
//! are mapped and completed concurrently, without it.

pub mod drain;
pub mod moves;
pub mod recovery;
pub mod route;
pub mod settle;

use core::ops::{Deref, DerefMut};

use super::error_class::ErrorClass;
use super::extent::Extent;
use super::policy::Policies;
use super::spare_alloc::SpareAllocator;

/// An allocation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoMem;

/// A synchronous I/O failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoFailed;

/// Why a table change did not take effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeFailed {
    /// No memory for the next table.
    NoMem,
    /// No metadata copy could be written.
    Commit,
    /// The spare pool has not enough free blocks.
    NoSpace,
    /// A block could not be copied to the spare.
    Io,
}

impl From<NoMem> for ChangeFailed {
    fn from(_: NoMem) -> Self {
        Self::NoMem
    }
}

/// A growable list whose growth can fail (`KVec` in the kernel), consumed
/// by iterating over it.
pub trait List<T>: Default + Deref<Target = [T]> + DerefMut + IntoIterator<Item = T> {
    /// Appends `v`.
    fn try_push(&mut self, v: T) -> Result<(), NoMem>;
}

/// A preallocated I/O buffer of [`IO_BYTES`].
pub trait IoBuf {
    /// Its first `len` bytes (at most [`IO_BYTES`]).
    fn bytes(&mut self, len: usize) -> &mut [u8];
}

/// Bytes in an I/O buffer: the most one synchronous I/O moves.
pub const IO_BYTES: usize = 65536;

/// What a bio does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    WriteZeroes,
    Discard,
    /// Flushes and anything else with no data to route.
    Other,
}

/// Where a bio the worker handles lies and how it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BioInfo {
    pub op: Op,
    /// First block of the target it covers.
    pub block: u64,
    /// Blocks it covers.
    pub blocks: u64,
    /// The class of the status it failed with (`None` for a held bio that
    /// did not fail).
    pub class: Option<ErrorClass>,
    /// Whether map sent it to the spare.
    pub on_spare: bool,
}

/// How the worker completes a bio it holds; the platform turns it into its
/// own status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Success.
    Ok,
    /// With the status it failed with (for a failed bio).
    AsFailed,
    /// With a generic I/O error.
    IoError,
}

/// A bio the worker holds: failed and taken over by `end_io`, or held by
/// `map` (a write to a pending block).
pub trait WorkBio {
    /// Where it lies and how it failed.
    fn info(&mut self) -> BioInfo;
    /// Copies the bio's data from byte `at` into `buf`.
    fn copy_out(&mut self, at: usize, buf: &mut [u8]) -> Result<(), IoFailed>;
    /// Copies `buf` into the bio's data at byte `at`.
    fn copy_in(&mut self, at: usize, buf: &[u8]) -> Result<(), IoFailed>;
}

/// What the writer lock protects.
pub struct Writer<M, B> {
    /// The spare allocator as of the last commit.
    pub alloc: SpareAllocator,
    /// The metadata (what a commit needs).
    pub meta: M,
    /// Buffers for the I/O of table changes, preallocated so that a change
    /// under memory pressure does not fail for want of one.
    pub buf: B,
    pub scratch: B,
    /// A commit failed and no commit has succeeded since: its generation
    /// may be the spare's newest (see [`settle`]).
    pub unsettled: bool,
}

/// A counter the engine bumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Blocks remapped by recovery.
    AutoRemaps,
    /// Reads that failed and then read on retry.
    SoftReadErrors,
    /// Failed bios that completed with an error.
    Unrecovered,
    /// Failures on the spare.
    SpareErrors,
}

/// Something worth a kernel log line (the platform formats it, names the
/// device and rate-limits it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `block` failed every read retry and is pending now.
    Pending { block: u64 },
    /// No memory to mark `block` pending.
    PendingNoMem { block: u64 },
    /// Spare block `spare` of `block` failed a write; the block moves.
    SpareWriteFailed { block: u64, spare: u64 },
    /// Spare block `spare` failed a write and is retired.
    SpareRetired { spare: u64 },
    /// `block` could not be moved off its failing spare block.
    CannotMove { block: u64 },
    /// A round remapped `remapped` blocks and moved `moved`.
    Remapped { remapped: u64, moved: u64 },
    /// A round's commit failed; its `blocks` remaps were abandoned.
    RemapFailed { blocks: u64 },
    /// The pool cannot hold a `remap` message's blocks.
    PoolExhausted { free: u64, total: u64 },
    /// A `remap` message failed and changed nothing.
    MessageFailed { sector: u64, sectors: u64, why: ChangeFailed },
    /// A `remap_list` message of `ranges` ranges from `sector` failed and
    /// changed nothing.
    ListFailed { ranges: u64, sector: u64, why: ChangeFailed },
    /// A held bio spans a run edge (cannot happen) and is failed.
    HeldAcrossEdge { block: u64 },
}

/// What the engine needs from its host.
pub trait Platform {
    /// An I/O buffer.
    type Buf: IoBuf;
    /// A list.
    type List<T>: List<T>;
    /// A failed bio taken over by `end_io`.
    type Failed: WorkBio;
    /// A bio `map` held for the worker.
    type Held: WorkBio;
    /// What a commit needs.
    type Meta;
    /// A pending set built ahead: see [`Platform::prepare_fence`].
    type Fence;
    /// The writer lock, held.
    type WriterGuard<'a>: DerefMut<Target = Writer<Self::Meta, Self::Buf>>
    where
        Self: 'a;

    /// Takes the writer lock.
    fn lock_writer(&self) -> Self::WriterGuard<'_>;
    /// Whether the table is in step with the spare (it loaded or committed
    /// the spare's newest generation; a reloaded table is not until its
    /// preresume caught up). A table not in step writes nothing to the
    /// spare: its allocator may hand out blocks the spare's newest table
    /// already uses.
    fn in_step(&self, writer: &Writer<Self::Meta, Self::Buf>) -> bool;
    /// Block size in bytes.
    fn block_bytes(&self) -> usize;
    /// Blocks in the target.
    fn main_blocks(&self) -> u64;
    /// The current policies.
    fn policies(&self) -> Policies;

    /// Reads `len` bytes from main block `block` into `buf`.
    fn read_main(&self, block: u64, buf: &mut Self::Buf, len: usize) -> Result<(), IoFailed>;
    /// Writes `len` bytes of `buf` to main block `block`, durably (FUA).
    fn write_main_durable(&self, block: u64, buf: &mut Self::Buf, len: usize) -> Result<(), IoFailed>;
    /// Reads `len` bytes from spare-pool block `pool_block` into `buf`.
    fn read_spare(&self, pool_block: u64, buf: &mut Self::Buf, len: usize) -> Result<(), IoFailed>;
    /// Writes `len` bytes of `buf` to spare-pool block `pool_block`; it may
    /// sit in the spare's cache until the next commit's flush.
    fn write_spare(&self, pool_block: u64, buf: &mut Self::Buf, len: usize) -> Result<(), IoFailed>;
    /// The same, durably (FUA).
    fn write_spare_durable(&self, pool_block: u64, buf: &mut Self::Buf, len: usize) -> Result<(), IoFailed>;
    /// Sleeps (a backoff before a retry).
    fn sleep_ms(&self, ms: u32);

    /// The spare-pool block `block` is remapped to, in the published table.
    fn spare_block_of(&self, block: u64) -> Option<u64>;
    /// Calls `f(start, len)` for each unmapped run of `[first, first +
    /// blocks)` in the published table. Under the writer lock.
    fn for_each_unmapped(&self, first: u64, blocks: u64, f: &mut dyn FnMut(u64, u64));
    /// Whether `block` is pending.
    fn is_pending(&self, block: u64) -> bool;
    /// Marks `block` pending.
    fn mark_pending(&self, block: u64) -> Result<(), NoMem>;
    /// Unmarks the blocks of `runs`.
    fn unmark_pending(&self, runs: &[Extent]) -> Result<(), NoMem>;
    /// The pending set with every block of `runs` added, built before a
    /// commit (under the writer lock, which every change of the pending
    /// set holds) so that fencing the blocks of a failed commit that may
    /// have landed cannot fail (see [`settle`]).
    fn prepare_fence(&self, runs: &[Extent]) -> Result<Self::Fence, NoMem>;
    /// Publishes a pending set that [`Platform::prepare_fence`] built.
    fn fence(&self, fence: Self::Fence);
    /// Unmarks every pending block that the published table remaps (only
    /// fenced blocks are both); under the writer lock. Without memory for
    /// that the marks stay, and writes to those blocks merely pass through
    /// the worker, which sends them where the table says.
    fn unfence(&self);

    /// Publishes `runs` as moving: `map` holds back I/O to them from now.
    fn publish_moving(&self, runs: &[Extent]) -> Result<(), NoMem>;
    /// Publishes that nothing is moving (cannot fail).
    fn clear_moving(&self);
    /// Waits until every bio that changes data and was mapped before the
    /// call (and not held) has completed.
    fn drain_writes(&self);
    /// Sends the bios held back by moving runs where the table now says;
    /// with `fail_writes`, fails those that change data instead (their
    /// blocks are fenced: see [`settle`]).
    fn release_held(&self, fail_writes: bool);
    /// Sends a held bio where the table now says.
    fn resubmit(&self, bio: Self::Held);
    /// Completes a failed bio as `how` says.
    fn complete(&self, bio: Self::Failed, how: Completion);
    /// Completes a held bio as `how` says (the worker placed its data).
    fn complete_held(&self, bio: Self::Held, how: Completion);
    /// Builds the next table (this one without the blocks in `moved`, plus
    /// `new`), commits it with `alloc`'s cursor and publishes it; then
    /// `alloc` becomes the writer's allocator. Nothing changes on failure.
    fn commit_and_publish(
        &self,
        writer: &mut Writer<Self::Meta, Self::Buf>,
        alloc: SpareAllocator,
        moved: &[u64],
        new: &[Extent],
    ) -> Result<(), ChangeFailed>;

    /// Adds `n` to a counter.
    fn count(&self, counter: Counter, n: u64);
    /// Reports an event.
    fn log(&self, event: Event);
}
