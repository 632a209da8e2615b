// SPDX-License-Identifier: GPL-2.0
//! Reading and checking one full metadata copy (one slot of a region), and
//! choosing between copies. Shared by the kernel's loader and the offline
//! tool; block I/O comes through [`MetaIo`], extents go to a caller's sink,
//! nothing allocates.

use super::extent::Extent;
use super::format::{decode_entries, entry_blocks, FormatError, Superblock, BLOCK, ENTRY_MAGIC, SUPER_MAGIC};
use super::geometry::SpareLayout;
use super::slots::{entry_sector, footprint_of, superblock_sector};

/// A metadata block could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadFailed;

/// Reads 4 KiB metadata blocks from a spare device or image.
pub trait MetaIo {
    /// Reads the metadata block at `sector` into `buf` (4096 bytes).
    fn read_block(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), ReadFailed>;
}

/// What one slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyState {
    /// A complete copy whose every block and extent checks out.
    Valid(Superblock),
    /// A zeroed superblock block: never written.
    Missing,
    /// One of our entry blocks where a superblock goes: what a version-1
    /// copy's first entry block leaves in slot 1's place. Ours, no copy.
    Leftover,
    /// Our superblock magic, but the copy does not check out.
    Damaged(CopyFault),
    /// Neither zero nor dm-remap metadata: someone else's data.
    Foreign,
}

/// Why a copy is damaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyFault {
    /// A block could not be read.
    Io,
    /// The superblock failed to decode.
    Superblock(FormatError),
    /// Entry block `index` failed to decode.
    Entries { index: u64, error: FormatError },
    /// The superblock is fine but does not describe this slot or spare.
    Misplaced,
    /// Extents overlap, are unsorted, exceed the pool or the count is wrong.
    BadTable,
}

/// What the block at a superblock position holds, before any checksum:
/// zero, our superblock magic, our entry magic, or something else.
pub fn classify_block(block: &[u8]) -> CopyState {
    // A superblock's bytes past its fields are zero up to its checksum.
    let (head, checksum) = block.split_at(block.len().saturating_sub(4));
    match block.get(..8) {
        Some(m) if m == SUPER_MAGIC => CopyState::Damaged(CopyFault::Superblock(FormatError::BadChecksum)),
        Some(m) if m == ENTRY_MAGIC => CopyState::Leftover,
        _ if head.iter().all(|&b| b == 0) => {
            if checksum.iter().all(|&b| b == 0) {
                // Only a zeroed block counts as never written (as dm-thin
                // decides).
                CopyState::Missing
            } else {
                // A superblock write torn over a zeroed block on a
                // 512-byte-sector spare, its first sector lost: ours, not
                // someone's data.
                CopyState::Damaged(CopyFault::Superblock(FormatError::BadChecksum))
            }
        }
        _ => CopyState::Foreign,
    }
}

/// Reads the superblock of slot `slot` of region `copy` and checks it
/// against `layout` (no entry blocks are read).
pub fn read_superblock(io: &mut impl MetaIo, layout: &SpareLayout, copy: u8, slot: u8, buf: &mut [u8]) -> CopyState {
    if buf.len() != BLOCK || io.read_block(superblock_sector(layout, copy, slot), buf).is_err() {
        return CopyState::Damaged(CopyFault::Io);
    }
    let sb = match Superblock::decode(buf) {
        Ok(sb) => sb,
        Err(FormatError::BadMagic) => return classify_block(buf),
        Err(e) => return CopyState::Damaged(CopyFault::Superblock(e)),
    };
    if sb.copy != copy
        || sb.slot != slot
        || sb.block_bytes != layout.block_bytes
        || sb.region_sectors != layout.region_sectors
        || sb.pool_start != layout.pool_start
        || sb.pool_blocks != layout.pool_blocks
        || sb.region_b_start != layout.region_b_start
        || footprint_of(layout, &sb).is_none()
    {
        return CopyState::Damaged(CopyFault::Misplaced);
    }
    CopyState::Valid(sb)
}

/// Reads the copy in slot `slot` of region `copy` of a spare laid out as
/// `layout`, passing each extent to `sink` in order (the sink may see some
/// extents of a copy that turns out damaged; it must discard them then).
pub fn read_slot(
    io: &mut impl MetaIo,
    layout: &SpareLayout,
    copy: u8,
    slot: u8,
    buf: &mut [u8],
    mut sink: impl FnMut(Extent),
) -> CopyState {
    let sb = match read_superblock(io, layout, copy, slot, buf) {
        CopyState::Valid(sb) => sb,
        other => return other,
    };
    let Some(footprint) = footprint_of(layout, &sb) else {
        return CopyState::Damaged(CopyFault::Misplaced);
    };
    let mut seen = 0u64;
    let mut prev_end = 0u64;
    let mut bad = false;
    let gap = layout.gap();
    for index in 0..entry_blocks(sb.extent_count) {
        if io.read_block(entry_sector(layout, copy, &footprint, index), buf).is_err() {
            return CopyState::Damaged(CopyFault::Io);
        }
        let idx = u32::try_from(index).unwrap_or(u32::MAX);
        let decoded = decode_entries(buf, sb.generation, idx, |e| {
            let in_gap =
                gap.is_some_and(|(first, len)| u64::from(e.spare) < first.saturating_add(len) && e.spare_end() > first);
            if e.main < prev_end || e.spare_end() > sb.alloc_next || e.main_end() == u64::MAX || in_gap {
                bad = true;
            }
            prev_end = e.main_end();
            seen = seen.saturating_add(1);
            sink(e);
        });
        if let Err(error) = decoded {
            return CopyState::Damaged(CopyFault::Entries { index, error });
        }
    }
    if bad || seen != sb.extent_count {
        return CopyState::Damaged(CopyFault::BadTable);
    }
    CopyState::Valid(sb)
}

/// The newest valid copy among `states` (`[region][slot]`), as `(region,
/// slot)`; the earlier one on a tie.
pub fn newest(states: &[[CopyState; 2]; 2]) -> Option<(u8, u8)> {
    let mut best: Option<(u8, u8, u64)> = None;
    for (c, region) in (0u8..).zip(states) {
        for (s, state) in (0u8..).zip(region) {
            if let CopyState::Valid(sb) = state {
                if !matches!(best, Some(b) if b.2 >= sb.generation) {
                    best = Some((c, s, sb.generation));
                }
            }
        }
    }
    best.map(|(c, s, _)| (c, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commit::tests::{sb, table, Disk};
    use crate::commit::{commit, format, MetaWrite};
    use crate::extent::ExtentState;

    fn read(img: &mut Disk, layout: &SpareLayout, copy: u8, slot: u8) -> (CopyState, Vec<Extent>) {
        let mut got = vec![];
        let mut buf = vec![0u8; BLOCK];
        let st = read_slot(img, layout, copy, slot, &mut buf, |e| got.push(e));
        (st, got)
    }

    fn states(img: &mut Disk, layout: &SpareLayout) -> [[CopyState; 2]; 2] {
        [0u8, 1].map(|c| [0u8, 1].map(|t| read(img, layout, c, t).0))
    }

    #[test]
    fn newest_valid_copy_wins_and_damage_is_named() {
        let layout = SpareLayout::new(65536, 512).unwrap();
        let mut img = Disk::new(65536);
        let mut buf = vec![0u8; BLOCK];
        assert_eq!(read(&mut img, &layout, 0, 0).0, CopyState::Missing);
        let (mut slots, _) = format(&mut img, &layout, &sb(&layout, 4, 0), &[], &mut buf);
        commit(&mut img, &layout, &mut slots, &sb(&layout, 5, 600), &table(600, 0), &mut buf);
        img.settle();
        let s = states(&mut img, &layout);
        assert_eq!(newest(&s), Some((0, 1)));
        assert_eq!(read(&mut img, &layout, 0, 1).1.len(), 600);

        // A torn entry block in region A's slot 1: region B's copy of the
        // same generation is what loads.
        let entry1 = layout.region_sectors as usize * 512 - 2 * BLOCK;
        img.image[entry1 + 100] ^= 1;
        assert!(matches!(
            read(&mut img, &layout, 0, 1).0,
            CopyState::Damaged(CopyFault::Entries { error: FormatError::BadChecksum, .. })
        ));
        assert_eq!(newest(&states(&mut img, &layout)), Some((1, 1)));

        // Someone's data over a superblock is foreign, not damage.
        img.image[..BLOCK].fill(0x42);
        assert_eq!(read(&mut img, &layout, 0, 0).0, CopyState::Foreign);
    }

    #[test]
    fn overlapping_extents_are_refused() {
        let layout = SpareLayout::new(65536, 512).unwrap();
        let mut img = Disk::new(65536);
        let mut buf = vec![0u8; BLOCK];
        let mut t = table(3, 0);
        t[1].main = t[0].main; // overlaps the first
        let (mut slots, _) = format(&mut img, &layout, &sb(&layout, 1, 0), &[], &mut buf);
        commit(&mut img, &layout, &mut slots, &sb(&layout, 2, 3), &t, &mut buf);
        img.settle();
        assert_eq!(read(&mut img, &layout, 0, 1).0, CopyState::Damaged(CopyFault::BadTable));
    }

    #[test]
    fn extents_in_region_b_are_refused() {
        let layout = SpareLayout::new(65536, 512).unwrap();
        let (gap, _) = layout.gap().unwrap();
        let mut img = Disk::new(65536);
        let mut buf = vec![0u8; BLOCK];
        let t = [Extent { main: 0, spare: gap as u32, len: 1, state: ExtentState::Ok }];
        let (mut slots, _) = format(&mut img, &layout, &sb(&layout, 1, 0), &[], &mut buf);
        commit(&mut img, &layout, &mut slots, &sb(&layout, 2, gap + 1), &t, &mut buf);
        img.settle();
        assert_eq!(read(&mut img, &layout, 0, 1).0, CopyState::Damaged(CopyFault::BadTable));
    }

    #[test]
    fn a_copy_in_the_wrong_place_is_refused() {
        let layout = SpareLayout::new(65536, 512).unwrap();
        let mut img = Disk::new(65536);
        let mut buf = vec![0u8; BLOCK];
        let (_, _) = format(&mut img, &layout, &sb(&layout, 1, 0), &[], &mut buf);
        img.settle();
        let b = layout.region_b_start as usize * 512;
        let copy_b: Vec<u8> = img.image[b..b + BLOCK].to_vec();
        img.write_durable(0, &copy_b).unwrap();
        img.settle();
        assert_eq!(read(&mut img, &layout, 0, 0).0, CopyState::Damaged(CopyFault::Misplaced));
    }
}
