// SPDX-License-Identifier: GPL-2.0
//! Writing metadata copies so that a crash at any point leaves a complete,
//! consistent copy of the newest acknowledged generation on the spare.
//!
//! A commit of generation `g` writes one copy into each region, one region
//! after the other, never both in one batch: into the slot that does not
//! hold the region's newest copy (see [`super::slots`]), so no commit ever
//! overwrites the newest copy in place. Each copy is written as: its entry
//! blocks, a cache flush, then its superblock with FUA. Entry blocks carry
//! the generation they belong to, so a slot whose entries were overwritten
//! but whose superblock was not fails to load.
//!
//! The region that does not hold the newest generation is written first;
//! a region that keeps failing costs its own slots only, and the other
//! region keeps alternating between its two slots. A commit is
//! acknowledged when at least one copy is complete.
//!
//! In format version 3 a commit whose change fits one journal block may
//! instead *append* it to the chain of the region's newest copy (see
//! `journal`): a cache flush (for the data the change points at), then the
//! block with FUA, one write whatever the table's size. A region appends
//! only when it holds the newest generation and nothing failed in it since
//! its last full copy (see [`Slots::appendable`]); otherwise the commit
//! writes it a full copy, a *fold*, as above.

use super::extent::Extent;
use super::format::{
    encode_entry_blocks, entry_blocks, EncodeError, FormatError, Superblock, BLOCK, FORMAT_VERSION, FORMAT_VERSION_3,
};
use super::geometry::SpareLayout;
use super::journal::{encode_journal_block, runs_are_valid, ChainPlace, RECORDS_PER_BLOCK};
use super::slots::{entry_sector, journal_sector, superblock_sector, Append, Footprint, Slot, Slots, SLOTS};

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

/// Why one region's copy of a commit was not written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyError<E> {
    /// The table does not fit the format or the region.
    Format(FormatError),
    /// A write or flush failed; the slot holds nothing usable now.
    Write(E),
    /// No slot of the region can be written without putting the only copy
    /// of the newest generation at risk.
    NoSafeSlot,
}

impl<E> From<EncodeError<E>> for CopyError<E> {
    fn from(e: EncodeError<E>) -> Self {
        match e {
            EncodeError::Format(f) => Self::Format(f),
            EncodeError::Write(w) => Self::Write(w),
        }
    }
}

/// Writes one full copy of `extents` into the slot `sb.copy`/`sb.slot`
/// names, at `footprint`: entry blocks, flush, superblock with FUA. `buf`
/// is a 4096-byte scratch block.
pub fn write_slot<W: MetaWrite>(
    io: &mut W,
    layout: &SpareLayout,
    sb: &Superblock,
    footprint: &Footprint,
    extents: &[Extent],
    buf: &mut [u8],
) -> Result<(), CopyError<W::Error>> {
    encode_entry_blocks(extents, sb.generation, buf, |i, block| {
        io.write_block(entry_sector(layout, sb.copy, footprint, i), block)
    })?;
    io.flush().map_err(CopyError::Write)?;
    sb.encode(buf).map_err(CopyError::Format)?;
    io.write_durable(superblock_sector(layout, sb.copy, sb.slot), buf).map_err(CopyError::Write)
}

/// What a commit achieved in each region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed<E> {
    /// Region A's result.
    pub a: Result<(), CopyError<E>>,
    /// Region B's result.
    pub b: Result<(), CopyError<E>>,
}

impl<E> Committed<E> {
    /// Copies of this generation now on disk.
    pub fn copies_written(&self) -> u8 {
        u8::from(self.a.is_ok()) + u8::from(self.b.is_ok())
    }
}

/// Commits `extents` as generation `sb.generation` (higher than any on the
/// spare) to a slot of each region, as [`Slots::plan`] chooses, and records
/// the result in `slots`. `sb` gives every field but `version`, `copy`,
/// `slot` and `extent_count`, which this sets. A region that fails does
/// not stop the other.
pub fn commit<W: MetaWrite>(
    io: &mut W,
    layout: &SpareLayout,
    slots: &mut Slots,
    sb: &Superblock,
    extents: &[Extent],
    buf: &mut [u8],
) -> Committed<W::Error> {
    commit_change(io, layout, slots, sb, FORMAT_VERSION, extents, None, buf)
}

/// Commits `extents`, the table after the change `change` (its runs, as a
/// journal block states them; `None` when the change is not known), as
/// generation `sb.generation` in format `version`: in each region an
/// append of the change when the region can take one (format version 3, a
/// change of at most one block), else a full copy, as [`commit`] writes.
#[allow(clippy::too_many_arguments)]
pub fn commit_change<W: MetaWrite>(
    io: &mut W,
    layout: &SpareLayout,
    slots: &mut Slots,
    sb: &Superblock,
    version: u32,
    extents: &[Extent],
    change: Option<&[Extent]>,
    buf: &mut [u8],
) -> Committed<W::Error> {
    let change = change.filter(|r| version >= FORMAT_VERSION_3 && r.len() <= RECORDS_PER_BLOCK && runs_are_valid(r));
    let mut results = [Err(CopyError::NoSafeSlot), Err(CopyError::NoSafeSlot)];
    clear_unwritten_version_1_blocks(io, layout, slots, buf);
    // Planned before either region is written: once the first region holds
    // this generation, the second no longer holds the newest.
    let appends = [slots.plan_append(0), slots.plan_append(1)];
    for copy in slots.region_order() {
        let c = usize::from(copy & 1);
        let result = match (change, appends[c]) {
            (Some(runs), Some(at)) => append(io, layout, slots, copy, &at, sb, runs, buf),
            _ => fold(io, layout, slots, copy, sb, version, extents, buf),
        };
        slots.appendable[c] = result.is_ok() && version >= FORMAT_VERSION_3;
        results[c] = result;
    }
    let [a, b] = results;
    Committed { a, b }
}

/// Writes a full copy of `extents` in format `version` into region `copy`,
/// in the slot [`Slots::plan`] chooses.
#[allow(clippy::too_many_arguments)]
fn fold<W: MetaWrite>(
    io: &mut W,
    layout: &SpareLayout,
    slots: &mut Slots,
    copy: u8,
    sb: &Superblock,
    version: u32,
    extents: &[Extent],
    buf: &mut [u8],
) -> Result<(), CopyError<W::Error>> {
    let count = entry_blocks(extents.len() as u64);
    let (slot, footprint, destroyed) =
        slots.plan(copy, version, count, layout.region_meta_blocks()).ok_or(CopyError::NoSafeSlot)?;
    let (Ok(journal_start), Ok(journal_blocks)) =
        (u32::try_from(footprint.journal), u32::try_from(footprint.journal_blocks))
    else {
        return Err(CopyError::Format(FormatError::BadField));
    };
    let region = &mut slots.slots[usize::from(copy & 1)];
    for (s, gone) in region.iter_mut().zip(destroyed) {
        if gone {
            *s = Slot::Free;
        }
    }
    let sb =
        Superblock { version, copy, slot, extent_count: extents.len() as u64, journal_start, journal_blocks, ..*sb };
    write_slot(io, layout, &sb, &footprint, extents, buf)?;
    region[usize::from(slot)] = Slot::holding(&sb, footprint);
    Ok(())
}

/// Appends the journal block of generation `sb.generation` holding `runs`
/// (valid, at most one block's) to region `copy` where `at` says: a flush
/// (the data the runs point at must be durable first), then the block with
/// FUA.
#[allow(clippy::too_many_arguments)]
fn append<W: MetaWrite>(
    io: &mut W,
    layout: &SpareLayout,
    slots: &mut Slots,
    copy: u8,
    at: &Append,
    sb: &Superblock,
    runs: &[Extent],
    buf: &mut [u8],
) -> Result<(), CopyError<W::Error>> {
    let place = ChainPlace { uuid: sb.uuid, copy, base: at.base, index: at.index };
    encode_journal_block(buf, &place, sb.generation, sb.alloc_next, runs).map_err(CopyError::Format)?;
    let region = &mut slots.slots[usize::from(copy & 1)];
    if at.destroys_other {
        region[usize::from(at.slot == 0)] = Slot::Free;
    }
    io.flush().map_err(CopyError::Write)?;
    io.write_durable(journal_sector(layout, copy, &at.footprint, u64::from(at.index)), buf)
        .map_err(CopyError::Write)?;
    region[usize::from(at.slot)] = Slot::Holds {
        generation: sb.generation,
        footprint: at.footprint,
        base: at.base,
        chain: at.index.saturating_add(1),
    };
    Ok(())
}

/// Before a version-2 copy lands on a version-1 spare: zeroes, durably, the
/// block where slot 1's superblock goes in each region whose version-1
/// copy has no entry blocks (and so never wrote that block, which holds
/// what the disk held before) and whose slot 1 holds nothing. Once a
/// version-2 copy is the newest, foreign data there is someone else's (see
/// `discover::read_states`). A failed write is left to the commit of that
/// region, which fails too.
fn clear_unwritten_version_1_blocks<W: MetaWrite>(io: &mut W, layout: &SpareLayout, slots: &Slots, buf: &mut [u8]) {
    for (copy, region) in (0u8..).zip(slots.slots.iter()) {
        let empty_v1 = matches!(region[0], Slot::Holds { footprint, .. } if footprint == Footprint { superblock: 0, entries: 1, count: 0, journal: 0, journal_blocks: 0 });
        if empty_v1 && region[1] == Slot::Free {
            buf.fill(0);
            let _ = io.write_durable(superblock_sector(layout, copy, 1), buf.get(..BLOCK).unwrap_or_default());
        }
    }
}

/// Zeroes the superblock block of every slot but slot 0 in region `copy`,
/// so that nothing there can later look like someone's data.
pub fn clear_spare_slots<W: MetaWrite>(
    io: &mut W,
    layout: &SpareLayout,
    copy: u8,
    buf: &mut [u8],
) -> Result<(), W::Error> {
    buf.fill(0);
    for slot in 1..SLOTS {
        io.write_block(superblock_sector(layout, copy, slot), buf.get(..BLOCK).unwrap_or_default())?;
    }
    Ok(())
}

/// Formats a blank spare: clears the slot-1 superblocks and commits
/// `extents` (empty for a new spare) as generation `sb.generation` into
/// slot 0 of each region.
pub fn format<W: MetaWrite>(
    io: &mut W,
    layout: &SpareLayout,
    sb: &Superblock,
    extents: &[Extent],
    buf: &mut [u8],
) -> (Slots, Committed<W::Error>) {
    let mut slots = Slots::default();
    let cleared = [0u8, 1].map(|copy| clear_spare_slots(io, layout, copy, buf).is_ok());
    let mut done = commit(io, layout, &mut slots, sb, extents, buf);
    for (copy, ok) in cleared.into_iter().enumerate() {
        if !ok {
            // A region whose slot 1 is unknown is not trusted with a copy.
            slots.slots[copy] = [Slot::Free; 2];
            slots.appendable[copy] = false;
            let r = if copy == 0 { &mut done.a } else { &mut done.b };
            *r = Err(CopyError::NoSafeSlot);
        }
    }
    (slots, done)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::discover::{discover, Discovery, Fingerprint};
    use crate::extent::ExtentState;
    use crate::format::{encode_entries, BLOCK, FORMAT_VERSION_1};
    use crate::load::{newest, read_slot, read_tails, CopyState, MetaIo, ReadFailed};
    use crate::slots::footprint_of;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    pub(crate) enum Op {
        Write(u64, Vec<u8>),
        Flush,
        Durable(u64, Vec<u8>),
    }

    /// A spare image, every write made to it since the last `settle`, in
    /// order, and the sectors whose writes fail (changing nothing, or, when
    /// `failed_lands`, landing all the same: an error reported after the
    /// write reached the medium).
    #[derive(Clone)]
    pub(crate) struct Disk {
        pub(crate) image: Vec<u8>,
        pub(crate) log: Vec<Op>,
        pub(crate) failing: Vec<u64>,
        pub(crate) failed_lands: bool,
    }

    impl Disk {
        pub(crate) fn new(sectors: u64) -> Self {
            Self::of(vec![0; sectors as usize * 512])
        }

        /// A disk holding `image`, no write failing.
        pub(crate) fn of(image: Vec<u8>) -> Self {
            Self { image, log: vec![], failing: vec![], failed_lands: false }
        }

        /// Everything written so far reaches the image.
        pub(crate) fn settle(&mut self) {
            self.image = crash(&self.image, &self.log, self.log.len(), |_| 8);
            self.log.clear();
        }
    }

    impl MetaWrite for Disk {
        type Error = ();
        fn write_block(&mut self, sector: u64, block: &[u8]) -> Result<(), ()> {
            let failed = self.failing.contains(&sector);
            if !failed || self.failed_lands {
                self.log.push(Op::Write(sector, block.to_vec()));
            }
            if failed {
                Err(())
            } else {
                Ok(())
            }
        }
        fn flush(&mut self) -> Result<(), ()> {
            self.log.push(Op::Flush);
            Ok(())
        }
        fn write_durable(&mut self, sector: u64, block: &[u8]) -> Result<(), ()> {
            let failed = self.failing.contains(&sector);
            if !failed || self.failed_lands {
                self.log.push(Op::Durable(sector, block.to_vec()));
            }
            if failed {
                Err(())
            } else {
                Ok(())
            }
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
    pub(crate) fn crash(base: &[u8], log: &[Op], at: usize, mut persist: impl FnMut(usize) -> usize) -> Vec<u8> {
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

    pub(crate) fn table(n: u64, spare_base: u32) -> Vec<Extent> {
        (0..n).map(|i| Extent { main: i * 5, spare: spare_base + i as u32, len: 1, state: ExtentState::Ok }).collect()
    }

    pub(crate) fn sb(layout: &SpareLayout, generation: u64, alloc_next: u64) -> Superblock {
        Superblock {
            version: FORMAT_VERSION,
            generation,
            main_sectors: 1 << 20,
            main_logical_block_size: 512,
            block_bytes: layout.block_bytes,
            spare_sectors: SECTORS,
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
    pub(crate) fn load(image: Vec<u8>, layout: &SpareLayout) -> Option<(u64, Vec<Extent>)> {
        let mut disk = Disk::of(image);
        let mut buf = vec![0u8; BLOCK];
        let mut states = [[CopyState::Missing; 2]; 2];
        let mut tables = [[vec![], vec![]], [vec![], vec![]]];
        for copy in 0..2u8 {
            for slot in 0..2u8 {
                let t = &mut tables[copy as usize][slot as usize];
                states[copy as usize][slot as usize] =
                    read_slot(&mut disk, layout, copy, slot, &mut buf, |e| t.push(e));
            }
        }
        let (c, s) = newest(&states, &read_tails(&mut disk, layout, &states, &mut buf))?;
        let CopyState::Valid(sb) = states[c as usize][s as usize] else { unreachable!() };
        Some((sb.generation, tables[c as usize][s as usize].clone()))
    }

    const SECTORS: u64 = 16384;

    fn layout() -> SpareLayout {
        SpareLayout::new(SECTORS, 512).unwrap()
    }

    /// A formatted spare holding generation 7 (`table(old_n)`), the write
    /// log of the commit of generation 8 (`table(new_n)`), the layout.
    fn scenario(old_n: u64, new_n: u64) -> (Vec<u8>, Vec<Op>, SpareLayout, Vec<Extent>, Vec<Extent>) {
        let layout = layout();
        let (old, new) = (table(old_n, 0), table(new_n, 0));
        let mut disk = Disk::new(SECTORS);
        let mut buf = vec![0u8; BLOCK];
        let (mut slots, done) = format(&mut disk, &layout, &sb(&layout, 6, 0), &[], &mut buf);
        assert_eq!(done.copies_written(), 2);
        assert_eq!(commit(&mut disk, &layout, &mut slots, &sb(&layout, 7, old_n), &old, &mut buf).copies_written(), 2);
        disk.settle();
        let base = disk.image.clone();
        commit(&mut disk, &layout, &mut slots, &sb(&layout, 8, new_n), &new, &mut buf);
        (base, disk.log, layout, old, new)
    }

    #[test]
    fn a_finished_commit_loads_from_either_region() {
        let (base, log, layout, _, new) = scenario(300, 700);
        let image = crash(&base, &log, log.len(), |_| 0);
        assert_eq!(load(image.clone(), &layout), Some((8, new.clone())));
        // Lose region A entirely: B alone has the commit.
        let mut no_a = image;
        no_a[..layout.pool_start as usize * 512].fill(0xa5);
        assert_eq!(load(no_a, &layout), Some((8, new)));
    }

    #[test]
    fn regions_are_written_one_after_the_other() {
        let (_, log, layout, _, _) = scenario(10, 600);
        let b = layout.region_b_start..layout.region_b_start + layout.region_sectors;
        let in_b = |op: &Op| matches!(op, Op::Write(s, _) | Op::Durable(s, _) if b.contains(s));
        let first_b = log.iter().position(in_b).unwrap();
        let last_a_super =
            log.iter().rposition(|op| matches!(op, Op::Durable(s, _) if *s < layout.pool_start)).unwrap();
        assert!(last_a_super < first_b, "region B is written only once region A's superblock is durable");
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
                        _ => {
                            if i % 2 == 0 {
                                4
                            } else {
                                8
                            }
                        }
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

    /// Issue 13 point 3: generation 8 reached only copy A (copy B's
    /// superblock failed); the next commit must not put generation 8 at risk.
    /// A crash at any write of commit 9 must load generation 8 or 9, whether
    /// copy B has recovered or still fails.
    #[test]
    fn a_crash_after_a_one_copy_commit_never_loses_the_acknowledged_generation() {
        let layout = layout();
        for b_still_failing in [false, true] {
            let (t7, t8, t9) = (table(100, 0), table(101, 0), table(102, 0));
            let mut disk = Disk::new(SECTORS);
            let mut buf = vec![0u8; BLOCK];
            let (mut slots, _) = format(&mut disk, &layout, &sb(&layout, 6, 0), &[], &mut buf);
            assert_eq!(commit(&mut disk, &layout, &mut slots, &sb(&layout, 7, 100), &t7, &mut buf).copies_written(), 2);
            disk.settle();
            // Every superblock place of region B fails from now on.
            disk.failing = vec![layout.region_b_start, layout.region_b_start + 8];
            let done = commit(&mut disk, &layout, &mut slots, &sb(&layout, 8, 101), &t8, &mut buf);
            assert_eq!(done.copies_written(), 1, "generation 8 reaches copy A only");
            disk.settle();
            let base = disk.image.clone();
            assert_eq!(load(base.clone(), &layout).map(|l| l.0), Some(8), "generation 8 is acknowledged");
            if !b_still_failing {
                disk.failing.clear();
            }
            commit(&mut disk, &layout, &mut slots, &sb(&layout, 9, 102), &t9, &mut buf);
            let log = disk.log.clone();
            for at in 0..=log.len() {
                for mode in 0..3 {
                    let image = crash(&base, &log, at, |i| match mode {
                        0 => 0,
                        1 => 8,
                        _ => {
                            if i % 2 == 0 {
                                4
                            } else {
                                8
                            }
                        }
                    });
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

    /// Writes a version-1 spare (one copy per region, region B after the
    /// pool) holding `extents` as `generation`.
    pub(crate) fn v1_image(sectors: u64, generation: u64, extents: &[Extent]) -> (Disk, SpareLayout) {
        let layout = SpareLayout::v1(sectors, 512).unwrap();
        let mut disk = Disk::new(sectors);
        let mut buf = vec![0u8; BLOCK];
        for copy in 0..2u8 {
            let start = layout.region_start(copy);
            let sb = Superblock {
                version: FORMAT_VERSION_1,
                copy,
                extent_count: extents.len() as u64,
                spare_sectors: sectors,
                ..sb(&layout, generation, extents.iter().map(Extent::spare_end).max().unwrap_or(0))
            };
            for (i, chunk) in extents.chunks(252).enumerate() {
                encode_entries(&mut buf, generation, i as u32, chunk).unwrap();
                disk.write_block(start + 8 * (1 + i as u64), &buf).unwrap();
            }
            sb.encode(&mut buf).unwrap();
            disk.write_durable(start, &buf).unwrap();
        }
        disk.settle();
        (disk, layout)
    }

    /// The generation `discover` loads from `image` (of a main device of
    /// 2^20 sectors), or `None` when it refuses or formats the spare.
    fn discovered(image: Vec<u8>, sectors: u64) -> Option<u64> {
        let fp = Fingerprint { main_sectors: 1 << 20, main_logical_block_size: 512, block_bytes: 512 };
        let mut disk = Disk::of(image);
        match discover(&mut disk, sectors, &fp, false, &mut vec![0u8; BLOCK]) {
            Discovery::Load { sb, .. } => Some(sb.generation),
            _ => None,
        }
    }

    /// A version-1 image of `n` extents at generation 5, with its slots as
    /// the writer records them. An empty version-1 table never wrote block
    /// 1 of a region (where slot 1's superblock goes): it holds whatever the
    /// disk held before, here 0x77 bytes in both regions.
    fn v1_with_slots(n: u64) -> (Disk, SpareLayout, Slots) {
        let (mut disk, layout) = v1_image(32768, 5, &table(n, 0));
        if n == 0 {
            for copy in 0..2u8 {
                let at = superblock_sector(&layout, copy, 1) as usize * 512;
                disk.image[at..at + BLOCK].fill(0x77);
            }
        }
        let mut buf = vec![0u8; BLOCK];
        let mut slots = Slots::default();
        for copy in 0..2u8 {
            if let CopyState::Valid(v) = read_slot(&mut disk, &layout, copy, 0, &mut buf, |_| ()) {
                slots.slots[copy as usize][0] = Slot::holding(&v, footprint_of(&layout, &v).unwrap());
            }
        }
        (disk, layout, slots)
    }

    #[test]
    fn a_version_1_spare_loads_after_a_crash_anywhere_in_its_first_version_2_commit() {
        // The first version-2 commit may reach region A only: region B
        // still holds its version-1 copy, and in slot 1's superblock place
        // one of its entry blocks or, for an empty table, old data. That
        // data must not refuse the spare as someone else's.
        for n in [300, 0] {
            let (mut disk, layout, mut slots) = v1_with_slots(n);
            let base = disk.image.clone();
            let mut buf = vec![0u8; BLOCK];
            let done = commit(&mut disk, &layout, &mut slots, &sb(&layout, 6, n + 1), &table(n + 1, 0), &mut buf);
            assert_eq!(done.copies_written(), 2);
            for at in 0..=disk.log.len() {
                let image = crash(&base, &disk.log, at, |_| 0);
                let got = discovered(image, 32768);
                assert!(got == Some(5) || got == Some(6), "version-1 table of {n} entries, crash after {at}: {got:?}");
            }
        }
        // With region B failing every write, only a version-1 table with
        // entries shows its own entry block there; old data in region B,
        // which no commit could clear, refuses the spare (as it would if it
        // were someone else's).
        for (n, want) in [(300, Some(6)), (0, None)] {
            let (mut disk, layout, mut slots) = v1_with_slots(n);
            disk.failing = (0..layout.region_sectors).map(|s| layout.region_b_start + s).collect();
            let mut buf = vec![0u8; BLOCK];
            let done = commit(&mut disk, &layout, &mut slots, &sb(&layout, 6, n + 1), &table(n + 1, 0), &mut buf);
            assert_eq!(done.copies_written(), 1);
            disk.settle();
            assert_eq!(discovered(disk.image, 32768), want, "version-1 table of {n} entries, region B failing");
        }
    }

    #[test]
    fn a_version_1_spare_migrates_safely_even_with_one_region_failing() {
        // A version-1 table large enough that the slots of a region overlap.
        let t = table(20000, 0);
        let (base_disk, layout) = v1_image(32768, 5, &t);
        assert!(2 * crate::format::entry_blocks(20000) > layout.region_meta_blocks());
        assert_eq!(load(base_disk.image.clone(), &layout), Some((5, t.clone())));
        for b_failing in [false, true] {
            let mut disk = base_disk.clone();
            let mut slots = Slots::default();
            let mut buf = vec![0u8; BLOCK];
            for copy in 0..2u8 {
                if let CopyState::Valid(v) = read_slot(&mut disk, &layout, copy, 0, &mut buf, |_| ()) {
                    slots.slots[copy as usize][0] = Slot::holding(&v, footprint_of(&layout, &v).unwrap());
                }
            }
            if b_failing {
                disk.failing = (0..layout.region_sectors).map(|s| layout.region_b_start + s).collect();
            }
            let mut acked = (5, t.clone());
            for generation in 6..9u64 {
                let next = table(20000 + generation, 0);
                let base = disk.image.clone();
                let done = commit(
                    &mut disk,
                    &layout,
                    &mut slots,
                    &sb(&layout, generation, 20000 + generation),
                    &next,
                    &mut buf,
                );
                let log = disk.log.clone();
                for at in 0..=log.len() {
                    let image = crash(&base, &log, at, |_| 0);
                    let got = load(image.clone(), &layout);
                    assert!(
                        got.as_ref() == Some(&acked) || got == Some((generation, next.clone())),
                        "B failing: {b_failing}; generation {generation}, crash after {at}: {:?}",
                        got.map(|g| g.0)
                    );
                    // And the target loads it: what lies in slot 1's place
                    // of a region still holding its version-1 copy is not
                    // someone else's data.
                    let found = discovered(image, 32768);
                    assert_eq!(
                        found,
                        got.as_ref().map(|g| g.0),
                        "B failing: {b_failing}; generation {generation}, crash after {at}"
                    );
                }
                disk.settle();
                if done.copies_written() > 0 {
                    acked = (generation, next);
                }
                assert_eq!(load(disk.image.clone(), &layout), Some(acked.clone()));
            }
            // With region B failing, region A's version-1 copy can be given
            // up once (B still holds generation 5), but then A's newest copy
            // is the only one and the other slot overlaps it: commits stop.
            assert_eq!(acked.0, if b_failing { 6 } else { 8 });
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn a_crash_with_any_subset_of_volatile_writes_loads_a_whole_table(at_frac in 0.0f64..=1.0, seeds in prop::collection::vec(0usize..=8, 64)) {
            let (base, log, layout, old, new) = scenario(400, 900);
            let at = (at_frac * log.len() as f64) as usize;
            let image = crash(&base, &log, at, |i| seeds[i % seeds.len()]);
            let got = load(image, &layout);
            prop_assert!(got == Some((7, old.clone())) || got == Some((8, new.clone())));
        }

        /// Commits with regions failing for a while (transiently or for
        /// good), then a crash at any write of the last commit: the newest
        /// acknowledged generation, or the one being written, loads.
        #[test]
        fn the_newest_acknowledged_generation_survives_failures_and_a_crash(
            steps in prop::collection::vec((0u8..4, 1u64..600), 1..8),
            crash_frac in 0.0f64..=1.0,
            torn in prop::collection::vec(0usize..=8, 16),
        ) {
            let layout = layout();
            let mut disk = Disk::new(SECTORS);
            let mut buf = vec![0u8; BLOCK];
            let (mut slots, _) = format(&mut disk, &layout, &sb(&layout, 1, 0), &[], &mut buf);
            disk.settle();
            let mut acked = (1u64, vec![]);
            let region_sectors = |c: u8| (0..layout.region_sectors).map(move |s| layout.region_start(c) + s);
            let last = steps.len() - 1;
            for (i, (fail, n)) in steps.into_iter().enumerate() {
                disk.failing = match fail {
                    1 => region_sectors(0).collect(),
                    2 => region_sectors(1).collect(),
                    _ => vec![],
                };
                let generation = 2 + i as u64;
                let t = table(n, 0);
                let base = disk.image.clone();
                let done = commit(&mut disk, &layout, &mut slots, &sb(&layout, generation, n), &t, &mut buf);
                if i == last {
                    let at = (crash_frac * disk.log.len() as f64) as usize;
                    let got = load(crash(&base, &disk.log, at, |k| torn[k % torn.len()]), &layout);
                    prop_assert!(
                        got == Some(acked.clone()) || got == Some((generation, t.clone())),
                        "crash after {} of {} writes loads {:?}, acknowledged {}", at, disk.log.len(), got.map(|g| g.0), acked.0
                    );
                }
                disk.settle();
                if done.copies_written() > 0 {
                    acked = (generation, t);
                }
                prop_assert_eq!(load(disk.image.clone(), &layout), Some(acked.clone()));
            }
        }
    }
}
