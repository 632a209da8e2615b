// SPDX-License-Identifier: GPL-2.0
//! What the spare holds as of the last commit, as status, sysfs and health
//! show it; commits and reloads update it.

use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// The spare's identity, its pool's use and the last commit.
pub(crate) struct SpareState {
    /// The spare's identity, chosen when it was formatted.
    uuid: [u8; 16],
    /// Blocks the allocator can hand out.
    total: u64,
    /// Blocks handed out.
    used: AtomicU64,
    /// Main blocks the table remaps.
    remapped: AtomicU64,
    /// Generation of the last metadata commit.
    generation: AtomicU64,
    /// Metadata copies the last commit wrote (2 when healthy).
    copies: AtomicU8,
}

impl SpareState {
    pub(crate) fn new(uuid: [u8; 16], total: u64) -> Self {
        Self {
            uuid,
            total,
            used: AtomicU64::new(0),
            remapped: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            copies: AtomicU8::new(0),
        }
    }

    pub(crate) fn uuid(&self) -> &[u8; 16] {
        &self.uuid
    }

    pub(crate) fn spare_total(&self) -> u64 {
        self.total
    }

    pub(crate) fn spare_used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    pub(crate) fn remapped_blocks(&self) -> u64 {
        self.remapped.load(Ordering::Relaxed)
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    pub(crate) fn metadata_copies(&self) -> u8 {
        self.copies.load(Ordering::Relaxed)
    }

    /// Records that the allocator has handed out `used` blocks.
    pub(crate) fn set_used(&self, used: u64) {
        self.used.store(used, Ordering::Relaxed);
    }

    /// Records that the table remaps `remapped` blocks.
    pub(crate) fn set_remapped(&self, remapped: u64) {
        self.remapped.store(remapped, Ordering::Relaxed);
    }

    /// Records a commit (or a load) of `generation` in `copies` copies.
    pub(crate) fn set_commit(&self, generation: u64, copies: u8) {
        self.copies.store(copies, Ordering::Relaxed);
        self.generation.store(generation, Ordering::Relaxed);
    }
}
