// SPDX-License-Identifier: GPL-2.0
//! Where `map` sends a bio, from what is published: the runs being moved,
//! the pending blocks and the table. Run inside the read-side critical
//! section that sees those versions; the caller holds, queues or sends the
//! bio (and counts it in flight) inside that same section.

use super::super::error_class::ErrorClass;
use super::super::extent::{Extent, Route};
use super::Op;

/// The versions `map` reads, lock-free.
pub trait Published {
    /// Whether the section may take it that no run is moving and no block
    /// is pending: then routing reads only the table. The platform keeps
    /// this true only while both are empty, and clears it before either
    /// gets an entry, inside the change that the move or the pending mark
    /// waits a grace period after (see `Mapping` in the kernel target):
    /// a section that sees it is one that could have seen them empty.
    fn quiet(&self) -> bool;
    /// The route through the runs being moved, `None` when none is near.
    fn moving(&self, block: u64, blocks: u64) -> Option<Route>;
    /// The first pending block in `[block, block + blocks)`.
    fn first_pending_in(&self, block: u64, blocks: u64) -> Option<u64>;
    /// The route through the table.
    fn route(&self, block: u64, blocks: u64) -> Route;
}

/// The route through `runs`, the runs being moved (sorted, disjoint), for
/// [`Published::moving`]: `None` when none is moving. Unlike a table route
/// it ends at the end of a run even where the next run continues it on
/// both devices: each run is published at its new place or stays at its
/// old one, so a bio held back must lie within one run to be sent whole
/// when it is released.
#[inline]
pub fn through_moving(runs: &[Extent], block: u64, blocks: u64) -> Option<Route> {
    if runs.is_empty() {
        return None;
    }
    let i = runs.partition_point(|e| e.main_end() <= block);
    Some(match runs.get(i) {
        Some(e) if e.main <= block => Route {
            spare: Some(u64::from(e.spare).saturating_add(block - e.main)),
            blocks: blocks.min(e.main_end().saturating_sub(block)),
        },
        Some(e) => Route { spare: None, blocks: blocks.min(e.main.saturating_sub(block)) },
        None => Route { spare: None, blocks },
    })
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

/// Decides where a bio of `op` over `blocks` blocks from `block` goes, as
/// `map` sees it.
#[inline(always)]
pub fn decide(view: &impl Published, op: Op, block: u64, blocks: u64) -> Decision {
    decide_from(view, op, block, blocks, true)
}

/// Decides where a bio the worker gives back goes (a held bio released
/// after its run moved, or a write to a pending block the worker did not
/// remap): as `map` decides, except that a pending block no longer sends
/// a write to the worker. One routing for both, so a bio the worker sends
/// is held back by a run being moved as any other is.
#[inline(always)]
pub fn decide_held(view: &impl Published, op: Op, block: u64, blocks: u64) -> Decision {
    decide_from(view, op, block, blocks, false)
}

#[inline(always)]
fn decide_from(view: &impl Published, op: Op, block: u64, blocks: u64, pending: bool) -> Decision {
    let mut limit = blocks;
    if !view.quiet() {
        if let Some(r) = view.moving(block, blocks) {
            if r.spare.is_some() {
                return Decision::Hold { blocks: r.blocks };
            }
            limit = r.blocks;
        }
        if pending && changes_data(op) {
            if let Some(p) = view.first_pending_in(block, limit) {
                if p == block {
                    return Decision::Pending;
                }
                limit = p.saturating_sub(block);
            }
        }
    }
    let route = view.route(block, limit);
    Decision::Send { spare: route.spare, blocks: route.blocks }
}

/// Whether `op` writes data the worker can place on the spare: writes and
/// write-zeroes (not discards, whose data is undefined anyway).
pub fn changes_data(op: Op) -> bool {
    matches!(op, Op::Write | Op::WriteZeroes)
}

/// Whether the worker takes over a failed completion of a bio of `op`
/// that covers data (`has_data`) and failed with an error of `class`:
/// reads, writes and write-zeroes that failed with a media or transient
/// error are retried and, for writes, remapped.
pub fn recoverable(op: Op, has_data: bool, class: ErrorClass) -> bool {
    let data = has_data && (op == Op::Read || changes_data(op));
    data && matches!(class, ErrorClass::Media | ErrorClass::Transient)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extent::ExtentState;

    fn run(main: u64, spare: u32) -> Extent {
        Extent { main, spare, len: 1, state: ExtentState::Ok }
    }

    #[test]
    fn a_held_bio_never_spans_two_moving_runs() {
        // Relocation moves adjacent blocks as single-block runs that may
        // continue each other on both devices. Each run is published at its
        // new place or stays at its old one (its copy can fail): a bio held
        // over two runs could not then be sent anywhere whole.
        let adjacent = [run(10, 50), run(11, 51)];
        let r = through_moving(&adjacent, 10, 2).unwrap();
        assert_eq!((r.spare, r.blocks), (Some(50), 1));
        let r = through_moving(&adjacent, 11, 4).unwrap();
        assert_eq!((r.spare, r.blocks), (Some(51), 1));
        // Before a run: up to it, not held.
        let r = through_moving(&[run(10, 50)], 7, 8).unwrap();
        assert_eq!((r.spare, r.blocks), (None, 3));
        assert!(through_moving(&[], 7, 8).is_none());
    }
}
