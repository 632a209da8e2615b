// SPDX-License-Identifier: GPL-2.0
//! Waiting for the bios that change data and were mapped before a point,
//! without stopping new ones: bios are counted per CPU in one of two
//! epochs; a drain flips the epoch and waits for the old one's count to
//! reach zero. Only bios that change data are counted: a block is copied
//! (moved) only once no write to it is still on its way.

/// The counting a drain works on.
pub trait EpochCounts {
    /// Makes new bios count in the other epoch; returns the old one.
    fn flip(&self) -> usize;
    /// The old epoch's count, summed over the CPUs (which a bio may enter
    /// on one CPU and leave on another: one CPU's count can be negative).
    fn sum(&self, epoch: usize) -> i64;
    /// Waits for a grace period: every read-side critical section (in
    /// which bios are routed and counted) that began before has ended.
    fn synchronize(&self);
    /// Sleeps a little before looking again.
    fn pause(&self);
}

/// Waits until every bio counted before the call has completed. Bios
/// mapped meanwhile count in the other epoch and are not waited for.
/// Callers serialise drains (the writer lock), and wait for a grace period
/// between publishing what bios must not miss (the runs being moved) and
/// the drain, so that every bio routed without seeing it is counted.
///
/// After the flip, a grace period: a bio that read the old epoch before
/// the flip may still be about to count itself in it. Once no such bio
/// can, the old epoch's per-CPU counts only go down, so a sum of zero read
/// one CPU after the other is really zero (without the grace period, a bio
/// counted on a CPU already summed and completed on one not yet summed
/// hides another one still in flight).
pub fn drain(counts: &impl EpochCounts) {
    let old = counts.flip();
    counts.synchronize();
    while counts.sum(old) > 0 {
        counts.pause();
    }
}
