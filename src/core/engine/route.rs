// SPDX-License-Identifier: GPL-2.0
//! Where `map` sends a bio, from what is published: the runs being moved,
//! the pending blocks and the table. Run inside the read-side critical
//! section that sees those versions; the caller holds, queues or sends the
//! bio (and counts it in flight) inside that same section.

use super::Op;
use super::super::extent::Route;

/// The versions `map` reads, lock-free.
pub trait Published {
    /// The route through the runs being moved, `None` when none is near.
    fn moving(&self, block: u64, blocks: u64) -> Option<Route>;
    /// The first pending block in `[block, block + blocks)`.
    fn first_pending_in(&self, block: u64, blocks: u64) -> Option<u64>;
    /// The route through the table.
    fn route(&self, block: u64, blocks: u64) -> Route;
}

/// What to do with a bio (or with its first part: the caller splits it
/// after `blocks` blocks where that is less than the whole).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Its first `blocks` blocks are being moved: hold it until they are.
    Hold { blocks: u64 },
    /// A write whose first block is pending: its first block goes to the
    /// worker, which remaps it.
    Pending,
    /// Send its first `blocks` blocks to the spare-pool block `spare`, or
    /// to main for `None`.
    Send { spare: Option<u64>, blocks: u64 },
}

/// Decides where a bio of `op` over `blocks` blocks from `block` goes.
#[inline(always)]
pub fn decide(view: &impl Published, op: Op, block: u64, blocks: u64) -> Decision {
    let mut limit = blocks;
    if let Some(r) = view.moving(block, blocks) {
        if r.spare.is_some() {
            return Decision::Hold { blocks: r.blocks };
        }
        limit = r.blocks;
    }
    if op == Op::Write {
        if let Some(p) = view.first_pending_in(block, limit) {
            if p == block {
                return Decision::Pending;
            }
            limit = p.saturating_sub(block);
        }
    }
    let route = view.route(block, limit);
    Decision::Send { spare: route.spare, blocks: route.blocks }
}
