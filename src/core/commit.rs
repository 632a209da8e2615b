// SPDX-License-Identifier: GPL-2.0
//! Writing metadata copies so that a crash at any point leaves at least one
//! complete, consistent copy on the spare.
//!
//! A commit writes copy A, then copy B, never both in one batch. Each copy is
//! written as: its entry blocks, a cache flush, then its superblock with FUA.
//! Entry blocks carry the generation they belong to, so a copy whose entries
//! were overwritten but whose superblock was not fails to load; the other
//! copy, untouched at that moment, still holds the previous commit whole.
//!
//! Before a copy's entries are touched, its current superblock is rewritten
//! as it is (FUA): a copy whose superblock can no longer be written (a bad
//! sector, a dead device) fails that probe and is left exactly as it was,
//! so one failing copy never takes the other's last good state with it.

use super::extent::Extent;
use super::format::{encode_entry_blocks, EncodeError, Superblock};
use super::geometry::{SpareLayout, META_BLOCK_BYTES, SECTOR_SIZE};

/// Writes 4 KiB metadata blocks to a spare device or image.
pub trait MetaWrite {
    /// A failed write or flush.
    type Error;
    /// Writes the block at `sector`; it may sit in a volatile cache (or in a
    /// batch of the writer) until the next `flush`.
    fn write_block(&mut self, sector: u64, block: &[u8]) -> Result<(), Self::Error>;
    /// Completes every write issued so far and makes it durable.
    fn flush(&mut self) -> Result<(), Self::Error>;
    /// Writes the block at `sector` durably (FUA): on disk when it returns.
    /// Says nothing about earlier writes.
    fn write_durable(&mut self, sector: u64, block: &[u8]) -> Result<(), Self::Error>;
}

/// First sector of copy `copy`'s region (0 = A at the start of the spare,
/// 1 = B after the pool).
pub fn region_start(layout: &SpareLayout, copy: u8) -> u64 {
    if copy == 0 {
        0
    } else {
        layout.region_b_start
    }
}

/// Sector of metadata block `index` of a region starting at `region_start`.
pub fn block_sector(region_start: u64, index: u64) -> u64 {
    region_start.saturating_add(index.saturating_mul(META_BLOCK_BYTES / SECTOR_SIZE))
}

/// Writes one full copy (`sb.copy` says which) of `extents`: the probe (the
/// `previous` superblock rewritten with FUA, when there is one), entry
/// blocks, flush, superblock with FUA. `buf` is a 4096-byte scratch block.
pub fn write_copy<W: MetaWrite>(
    io: &mut W,
    layout: &SpareLayout,
    sb: &Superblock,
    previous: Option<&Superblock>,
    extents: &[Extent],
    buf: &mut [u8],
) -> Result<(), EncodeError<W::Error>> {
    let start = region_start(layout, sb.copy);
    if let Some(prev) = previous {
        Superblock { copy: sb.copy, ..*prev }.encode(buf).map_err(EncodeError::Format)?;
        io.write_durable(start, buf).map_err(EncodeError::Write)?;
    }
    encode_entry_blocks(extents, sb.generation, buf, |i, block| io.write_block(block_sector(start, i.saturating_add(1)), block))?;
    io.flush().map_err(EncodeError::Write)?;
    sb.encode(buf).map_err(EncodeError::Format)?;
    io.write_durable(start, buf).map_err(EncodeError::Write)
}

/// What a commit of both copies achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed<E> {
    /// Copy A's result.
    pub a: Result<(), EncodeError<E>>,
    /// Copy B's result.
    pub b: Result<(), EncodeError<E>>,
}

impl<E> Committed<E> {
    /// Copies now on disk.
    pub fn copies_written(&self) -> u8 {
        u8::from(self.a.is_ok()) + u8::from(self.b.is_ok())
    }
}

/// Commits `extents` as generation `sb.generation` to both copies, A first,
/// then B; a copy that fails does not stop the other. `sb` gives every field
/// but `copy` and `extent_count`, which this sets; `previous` is the last
/// committed superblock (`None` when formatting), used as each copy's probe.
pub fn commit<W: MetaWrite>(
    io: &mut W,
    layout: &SpareLayout,
    sb: &Superblock,
    previous: Option<&Superblock>,
    extents: &[Extent],
    buf: &mut [u8],
) -> Committed<W::Error> {
    let mut write = |copy: u8| {
        let sb = Superblock { copy, extent_count: extents.len() as u64, ..*sb };
        write_copy(io, layout, &sb, previous, extents, buf)
    };
    let a = write(0);
    let b = write(1);
    Committed { a, b }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extent::ExtentState;
    use crate::format::{FORMAT_VERSION, BLOCK};
    use crate::load::{newest, read_copy, CopyState, MetaIo, ReadFailed};
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Write(u64, Vec<u8>),
        Flush,
        Durable(u64, Vec<u8>),
    }

    /// A spare image and every write made to it, in order.
    #[derive(Clone)]
    struct Disk {
        image: Vec<u8>,
        log: Vec<Op>,
    }

    impl MetaWrite for Disk {
        type Error = ();
        fn write_block(&mut self, sector: u64, block: &[u8]) -> Result<(), ()> {
            self.log.push(Op::Write(sector, block.to_vec()));
            Ok(())
        }
        fn flush(&mut self) -> Result<(), ()> {
            self.log.push(Op::Flush);
            Ok(())
        }
        fn write_durable(&mut self, sector: u64, block: &[u8]) -> Result<(), ()> {
            self.log.push(Op::Durable(sector, block.to_vec()));
            Ok(())
        }
    }

    impl MetaIo for Disk {
        fn read_block(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), ReadFailed> {
            let at = sector as usize * 512;
            buf.copy_from_slice(self.image.get(at..at + BLOCK).ok_or(ReadFailed)?);
            Ok(())
        }
    }

    fn apply(image: &mut [u8], sector: u64, data: &[u8], sectors: usize) {
        let at = sector as usize * 512;
        let n = (sectors * 512).min(data.len());
        image[at..at + n].copy_from_slice(&data[..n]);
    }

    /// The image after a crash right after op `at` of `log`: everything up
    /// to the last flush (and every FUA write) is on disk; of the volatile
    /// writes since, `persist(i)` says how many of write i's 8 sectors made
    /// it (0 to 8: lost, torn or whole).
    fn crash(base: &[u8], log: &[Op], at: usize, mut persist: impl FnMut(usize) -> usize) -> Vec<u8> {
        let mut image = base.to_vec();
        let mut volatile: Vec<(u64, &[u8])> = vec![];
        for op in &log[..at] {
            match op {
                Op::Write(s, d) => volatile.push((*s, d)),
                Op::Flush => {
                    for (s, d) in volatile.drain(..) {
                        apply(&mut image, s, d, 8);
                    }
                }
                Op::Durable(s, d) => apply(&mut image, *s, d, 8),
            }
        }
        for (i, (s, d)) in volatile.into_iter().enumerate() {
            apply(&mut image, s, d, persist(i));
        }
        image
    }

    fn table(n: u64, spare_base: u32) -> Vec<Extent> {
        (0..n).map(|i| Extent { main: i * 5, spare: spare_base + i as u32, len: 1, state: ExtentState::Ok }).collect()
    }

    fn sb(layout: &SpareLayout, generation: u64, alloc_next: u64) -> Superblock {
        Superblock {
            version: FORMAT_VERSION,
            generation,
            main_sectors: 1 << 20,
            main_logical_block_size: 512,
            block_bytes: layout.block_bytes,
            spare_sectors: 65536,
            region_sectors: layout.region_sectors,
            pool_start: layout.pool_start,
            pool_blocks: layout.pool_blocks,
            region_b_start: layout.region_b_start,
            alloc_next,
            ..Default::default()
        }
    }

    /// What loads from `image`: the generation and extents of the newest
    /// valid copy.
    fn load(image: Vec<u8>, layout: &SpareLayout) -> Option<(u64, Vec<Extent>)> {
        let mut disk = Disk { image, log: vec![] };
        let mut buf = vec![0u8; BLOCK];
        let mut copies = [vec![], vec![]];
        let a = read_copy(&mut disk, layout, 0, &mut buf, |e| copies[0].push(e));
        let b = read_copy(&mut disk, layout, 1, &mut buf, |e| copies[1].push(e));
        let pick = newest(&a, &b)?;
        let CopyState::Valid(s) = (if pick == 0 { a } else { b }) else { unreachable!() };
        Some((s.generation, copies[pick as usize].clone()))
    }

    /// A spare holding generation 7 (`old`), about to commit generation 8
    /// (`new`): the image before, the write log of the commit, the layout.
    fn scenario(old_n: u64, new_n: u64) -> (Vec<u8>, Vec<Op>, SpareLayout, Vec<Extent>, Vec<Extent>) {
        let layout = SpareLayout::new(65536, 512).unwrap();
        let old = table(old_n, 0);
        let new = table(new_n, 0);
        let mut disk = Disk { image: vec![0; 65536 * 512], log: vec![] };
        let mut buf = vec![0u8; BLOCK];
        let done = commit(&mut disk, &layout, &sb(&layout, 7, old_n), None, &old, &mut buf);
        assert_eq!(done.copies_written(), 2);
        let base = crash(&disk.image, &disk.log, disk.log.len(), |_| 8);
        disk.log.clear();
        let previous = Superblock { extent_count: old_n, ..sb(&layout, 7, old_n) };
        commit(&mut disk, &layout, &sb(&layout, 8, new_n), Some(&previous), &new, &mut buf);
        (base, disk.log, layout, old, new)
    }

    #[test]
    fn a_finished_commit_loads_from_either_copy() {
        let (base, log, layout, _, new) = scenario(300, 700);
        let image = crash(&base, &log, log.len(), |_| 0);
        assert_eq!(load(image.clone(), &layout), Some((8, new.clone())));
        // Lose copy A entirely: B alone has the commit.
        let mut no_a = image;
        no_a[..layout.pool_start as usize * 512].fill(0xa5);
        assert_eq!(load(no_a, &layout), Some((8, new)));
    }

    #[test]
    fn copies_are_written_one_after_the_other() {
        let (_, log, layout, _, _) = scenario(10, 600);
        let b_start = layout.region_b_start;
        let first_b = log.iter().position(|op| matches!(op, Op::Write(s, _) | Op::Durable(s, _) if *s >= b_start)).unwrap();
        let last_a_super = log.iter().rposition(|op| matches!(op, Op::Durable(0, _))).unwrap();
        assert!(matches!(log[0], Op::Durable(0, _)), "copy A's superblock is probed before its entries");
        assert!(last_a_super < first_b, "copy B starts only after copy A's superblock is durable");
    }

    #[test]
    fn a_crash_at_any_point_loads_the_old_or_the_new_table() {
        // Shrinking and growing tables, crashing after every operation with
        // none, all, or torn halves of the volatile writes on disk.
        for (old_n, new_n) in [(300, 700), (700, 300), (0, 1)] {
            let (base, log, layout, old, new) = scenario(old_n, new_n);
            for at in 0..=log.len() {
                for mode in 0..3 {
                    let image = crash(&base, &log, at, |i| match mode {
                        0 => 0,
                        1 => 8,
                        _ => if i % 2 == 0 { 4 } else { 8 },
                    });
                    let got = load(image, &layout).unwrap_or_else(|| panic!("no copy loads after op {at}"));
                    assert!(got == (7, old.clone()) || got == (8, new.clone()), "op {at} mode {mode}: gen {}", got.0);
                    if at == log.len() {
                        assert_eq!(got.0, 8, "a finished commit is what loads");
                    }
                }
            }
        }
    }

    /// A disk on which writes to the sectors in `failing` fail (and change
    /// nothing), as a copy with a bad superblock sector does.
    struct FailingDisk {
        disk: Disk,
        failing: Vec<u64>,
    }

    impl MetaWrite for FailingDisk {
        type Error = ();
        fn write_block(&mut self, sector: u64, block: &[u8]) -> Result<(), ()> {
            if self.failing.contains(&sector) { Err(()) } else { self.disk.write_block(sector, block) }
        }
        fn flush(&mut self) -> Result<(), ()> {
            self.disk.flush()
        }
        fn write_durable(&mut self, sector: u64, block: &[u8]) -> Result<(), ()> {
            if self.failing.contains(&sector) { Err(()) } else { self.disk.write_durable(sector, block) }
        }
    }

    /// Issue 13 point 3: generation 8 reached only copy A (copy B's
    /// superblock failed); the next commit must not put generation 8 at risk.
    /// A crash at any write of commit 9 must load generation 8 or 9, whether
    /// copy B has recovered or still fails.
    #[test]
    fn a_crash_after_a_one_copy_commit_never_loses_the_acknowledged_generation() {
        let layout = SpareLayout::new(65536, 512).unwrap();
        let b_super = layout.region_b_start;
        for b_still_failing in [false, true] {
            let (t7, t8, t9) = (table(100, 0), table(101, 0), table(102, 0));
            let mut disk = Disk { image: vec![0; 65536 * 512], log: vec![] };
            let mut buf = vec![0u8; BLOCK];
            assert_eq!(commit(&mut disk, &layout, &sb(&layout, 7, 100), None, &t7, &mut buf).copies_written(), 2);
            let prev7 = Superblock { extent_count: 100, ..sb(&layout, 7, 100) };
            let mut failing = FailingDisk { disk, failing: vec![b_super] };
            let done = commit(&mut failing, &layout, &sb(&layout, 8, 101), Some(&prev7), &t8, &mut buf);
            assert_eq!(done.copies_written(), 1, "generation 8 reaches copy A only");
            let mut disk = failing.disk;
            let base = crash(&disk.image, &disk.log, disk.log.len(), |_| 8);
            assert_eq!(load(base.clone(), &layout).map(|l| l.0), Some(8), "generation 8 is acknowledged");
            disk.log.clear();
            disk.image = base.clone();
            let prev8 = Superblock { extent_count: 101, ..sb(&layout, 8, 101) };
            let failing_now = if b_still_failing { vec![b_super] } else { vec![] };
            let mut io = FailingDisk { disk, failing: failing_now };
            commit(&mut io, &layout, &sb(&layout, 9, 102), Some(&prev8), &t9, &mut buf);
            let log = io.disk.log;
            for at in 0..=log.len() {
                for mode in 0..3 {
                    let image = crash(&base, &log, at, |i| match mode { 0 => 0, 1 => 8, _ => if i % 2 == 0 { 4 } else { 8 } });
                    let got = load(image, &layout).map(|l| l.0);
                    assert!(
                        got == Some(8) || got == Some(9),
                        "B still failing: {b_still_failing}; crash after write {at} of commit 9 (mode {mode}) loads {got:?}, \
                         want generation 8 or 9"
                    );
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn a_crash_with_any_subset_of_volatile_writes_loads_a_whole_table(at_frac in 0.0f64..=1.0, seeds in prop::collection::vec(0usize..=8, 64)) {
            let (base, log, layout, old, new) = scenario(400, 900);
            let at = (at_frac * log.len() as f64) as usize;
            let image = crash(&base, &log, at, |i| seeds[i % seeds.len()]);
            let got = load(image, &layout);
            prop_assert!(got == Some((7, old.clone())) || got == Some((8, new.clone())));
        }
    }
}
