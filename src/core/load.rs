// SPDX-License-Identifier: GPL-2.0
//! Reading and checking one full metadata copy, and choosing between the
//! two copies. Shared by the kernel's loader and the offline tool; block I/O
//! comes through [`MetaIo`], extents go to a caller's sink, nothing allocates.

use super::commit::{block_sector, region_start};
use super::extent::Extent;
use super::format::{decode_entries, entry_blocks, FormatError, Superblock, BLOCK};
use super::geometry::SpareLayout;

/// A metadata block could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadFailed;

/// Reads 4 KiB metadata blocks from a spare device or image.
pub trait MetaIo {
    /// Reads the metadata block at `sector` into `buf` (4096 bytes).
    fn read_block(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), ReadFailed>;
}

/// What one region holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyState {
    /// A complete copy whose every block and extent checks out.
    Valid(Superblock),
    /// A zeroed superblock block: never formatted.
    Missing,
    /// Something is there but it does not check out.
    Damaged(CopyFault),
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
    /// The superblock is fine but does not describe this region or spare.
    Misplaced,
    /// Extents overlap, are unsorted, exceed the pool or the count is wrong.
    BadTable,
}

/// Reads the copy in the region at `region_start` of a spare laid out as
/// `layout`, passing each extent to `sink` in order (the sink may see some
/// extents of a copy that turns out damaged; it must discard them then).
/// `copy` is 0 for region A and 1 for region B.
pub fn read_copy(
    io: &mut impl MetaIo,
    layout: &SpareLayout,
    copy: u8,
    buf: &mut [u8],
    mut sink: impl FnMut(Extent),
) -> CopyState {
    let region_start = region_start(layout, copy);
    if buf.len() != BLOCK {
        return CopyState::Damaged(CopyFault::Io);
    }
    if io.read_block(region_start, buf).is_err() {
        return CopyState::Damaged(CopyFault::Io);
    }
    let sb = match Superblock::decode(buf) {
        Ok(sb) => sb,
        // Only a zeroed block counts as never written (as dm-thin decides);
        // anything else without the magic is someone's data, or garbage.
        Err(FormatError::BadMagic) if buf.iter().all(|&b| b == 0) => return CopyState::Missing,
        Err(e) => return CopyState::Damaged(CopyFault::Superblock(e)),
    };
    if sb.copy != copy
        || sb.block_bytes != layout.block_bytes
        || sb.region_sectors != layout.region_sectors
        || sb.pool_start != layout.pool_start
        || sb.pool_blocks != layout.pool_blocks
        || sb.region_b_start != layout.region_b_start
    {
        return CopyState::Damaged(CopyFault::Misplaced);
    }
    let mut seen = 0u64;
    let mut prev_end = 0u64;
    let mut bad = false;
    for index in 0..entry_blocks(sb.extent_count) {
        if io.read_block(block_sector(region_start, 1 + index), buf).is_err() {
            return CopyState::Damaged(CopyFault::Io);
        }
        let idx = u32::try_from(index).unwrap_or(u32::MAX);
        let decoded = decode_entries(buf, sb.generation, idx, |e| {
            if e.main < prev_end || e.spare_end() > sb.alloc_next || e.main_end() == u64::MAX {
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

/// The copy to load: the valid one with the higher generation (A on a tie).
pub fn newest(a: &CopyState, b: &CopyState) -> Option<u8> {
    match (a, b) {
        (CopyState::Valid(x), CopyState::Valid(y)) => Some(if y.generation > x.generation { 1 } else { 0 }),
        (CopyState::Valid(_), _) => Some(0),
        (_, CopyState::Valid(_)) => Some(1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extent::ExtentState;
    use crate::format::{encode_entries, FORMAT_VERSION};

    /// A spare image in memory.
    struct Image(Vec<u8>);

    impl MetaIo for Image {
        fn read_block(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), ReadFailed> {
            let at = usize::try_from(sector * 512).map_err(|_| ReadFailed)?;
            buf.copy_from_slice(self.0.get(at..at + BLOCK).ok_or(ReadFailed)?);
            Ok(())
        }
    }

    fn write_copy(img: &mut Image, layout: &SpareLayout, copy: u8, generation: u64, ext: &[Extent]) {
        let start = if copy == 0 { 0 } else { layout.region_b_start } as usize * 512;
        let sb = Superblock {
            version: FORMAT_VERSION,
            generation,
            block_bytes: layout.block_bytes,
            spare_sectors: (img.0.len() / 512) as u64,
            region_sectors: layout.region_sectors,
            pool_start: layout.pool_start,
            pool_blocks: layout.pool_blocks,
            region_b_start: layout.region_b_start,
            extent_count: ext.len() as u64,
            alloc_next: ext.iter().map(Extent::spare_end).max().unwrap_or(0),
            copy,
            ..Default::default()
        };
        sb.encode(&mut img.0[start..start + BLOCK]).unwrap();
        for (i, chunk) in ext.chunks(252).enumerate() {
            let at = start + (1 + i) * BLOCK;
            encode_entries(&mut img.0[at..at + BLOCK], generation, i as u32, chunk).unwrap();
        }
    }

    fn table(n: u64) -> Vec<Extent> {
        (0..n).map(|i| Extent { main: i * 3, spare: i as u32, len: 1, state: ExtentState::Ok }).collect()
    }

    fn read(img: &mut Image, layout: &SpareLayout, copy: u8) -> (CopyState, Vec<Extent>) {
        let mut got = vec![];
        let mut buf = vec![0u8; BLOCK];
        let st = read_copy(img, layout, copy, &mut buf, |e| got.push(e));
        (st, got)
    }

    #[test]
    fn newest_valid_copy_wins_and_damage_is_named() {
        let sectors = 65536;
        let layout = SpareLayout::new(sectors, 512).unwrap();
        let mut img = Image(vec![0; sectors as usize * 512]);
        assert_eq!(read(&mut img, &layout, 0).0, CopyState::Missing);
        write_copy(&mut img, &layout, 0, 5, &table(600));
        write_copy(&mut img, &layout, 1, 4, &table(500));
        let (a, ea) = read(&mut img, &layout, 0);
        let (b, eb) = read(&mut img, &layout, 1);
        assert_eq!((ea.len(), eb.len()), (600, 500));
        assert_eq!(newest(&a, &b), Some(0));

        // A torn entry block in A: B (older but whole) is what loads.
        img.0[2 * BLOCK + 100] ^= 1;
        let (a, _) = read(&mut img, &layout, 0);
        assert_eq!(a, CopyState::Damaged(CopyFault::Entries { index: 1, error: FormatError::BadChecksum }));
        assert_eq!(newest(&a, &b), Some(1));

        // Both damaged: nothing loads.
        img.0[layout.region_b_start as usize * 512 + 30] ^= 1;
        let (b, _) = read(&mut img, &layout, 1);
        assert!(matches!(b, CopyState::Damaged(CopyFault::Superblock(FormatError::BadChecksum))));
        assert_eq!(newest(&a, &b), None);
    }

    #[test]
    fn overlapping_extents_are_refused() {
        let layout = SpareLayout::new(8192, 512).unwrap();
        let mut img = Image(vec![0; 8192 * 512]);
        let mut t = table(3);
        t[1].main = t[0].main; // overlaps the first
        write_copy(&mut img, &layout, 0, 1, &t);
        assert_eq!(read(&mut img, &layout, 0).0, CopyState::Damaged(CopyFault::BadTable));
    }

    #[test]
    fn a_copy_in_the_wrong_region_is_refused() {
        let layout = SpareLayout::new(8192, 512).unwrap();
        let mut img = Image(vec![0; 8192 * 512]);
        write_copy(&mut img, &layout, 1, 1, &table(2));
        let b_start = layout.region_b_start as usize * 512;
        let copy_b: Vec<u8> = img.0[b_start..b_start + BLOCK].to_vec();
        img.0[..BLOCK].copy_from_slice(&copy_b);
        assert_eq!(read(&mut img, &layout, 0).0, CopyState::Damaged(CopyFault::Misplaced));
    }
}
