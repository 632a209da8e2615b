// SPDX-License-Identifier: GPL-2.0
//! What the constructor does with a spare: load its metadata, format it, or
//! refuse it. Pure decision logic over [`MetaIo`]; the caller does the
//! loading (re-reading the chosen copy into its table) and the writing.

use super::format::{FormatError, Superblock, BLOCK};
use super::geometry::SpareLayout;
use super::load::{newest, read_copy, CopyFault, CopyState, MetaIo};

/// The main device the metadata must belong to, and the remap block size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// Size of the main device in sectors.
    pub main_sectors: u64,
    /// Logical block size of the main device.
    pub main_logical_block_size: u32,
    /// Remap block size these devices give.
    pub block_bytes: u32,
}

/// Why a spare is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Neither copy could be read at all.
    Unreadable,
    /// Both superblock blocks hold data that is not dm-remap metadata.
    NotMetadata,
    /// dm-remap metadata is there but no copy checks out.
    Damaged { a: CopyState, b: CopyState },
    /// A copy was written by a newer format version.
    NewerVersion,
    /// The metadata belongs to another main device.
    ForeignMain(Superblock),
    /// The metadata was written for another block size.
    BlockSizeChanged(Superblock),
    /// The spare is smaller than when the metadata was written.
    SpareShrank(Superblock),
}

impl Refusal {
    /// The message for `ti->error`.
    pub fn message(&self) -> &'static core::ffi::CStr {
        match self {
            Self::Unreadable => c"Cannot read either metadata copy on the spare device",
            Self::NotMetadata => c"Spare device holds data but no dm-remap metadata; not overwriting it (force_format formats the spare)",
            Self::Damaged { .. } => {
                c"Spare metadata is damaged in both copies; not overwriting it (force_format formats the spare)"
            }
            Self::NewerVersion => c"Spare metadata was written by a newer dm-remap format version",
            Self::ForeignMain(_) => c"Spare metadata belongs to another main device (its size or block size differs)",
            Self::BlockSizeChanged(_) => c"Spare metadata was written for a different remap block size",
            Self::SpareShrank(_) => c"Spare device is smaller than when its metadata was written",
        }
    }
}

/// The decision for a spare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discovery {
    /// Load copy `copy` (its superblock is `sb`, laid out as `layout`); the
    /// other copy is `other` and needs rewriting unless it is valid at the
    /// same generation.
    Load { copy: u8, sb: Superblock, layout: SpareLayout, other: CopyState },
    /// Nothing to keep: format the spare as `layout`.
    Format { layout: SpareLayout },
    /// Leave the spare alone.
    Refuse(Refusal),
}

impl Discovery {
    /// Whether the copy that was not loaded must be rewritten.
    pub fn other_is_stale(&self) -> bool {
        match self {
            Self::Load { sb, other: CopyState::Valid(o), .. } => o.generation != sb.generation,
            Self::Load { .. } => true,
            _ => false,
        }
    }
}

/// A superblock block that is neither zero nor dm-remap's.
const FOREIGN: CopyFault = CopyFault::Superblock(FormatError::BadMagic);

fn is_newer_version(state: &CopyState) -> bool {
    matches!(state, CopyState::Damaged(CopyFault::Superblock(FormatError::UnsupportedVersion)))
}

/// The layout the metadata was written with: the one recorded in copy A
/// when its superblock decodes (a spare that has grown since keeps its old
/// layout), else the one the spare's current size gives. `Err` holds a
/// superblock that records a larger spare than this one.
fn recorded_layout(
    io: &mut impl MetaIo,
    now: &SpareLayout,
    spare_sectors: u64,
    buf: &mut [u8],
) -> Result<SpareLayout, Superblock> {
    if io.read_block(0, buf).is_err() {
        return Ok(*now);
    }
    match Superblock::decode(buf) {
        Ok(sb) if sb.spare_sectors > spare_sectors => Err(sb),
        Ok(sb) if sb.spare_sectors != spare_sectors && sb.block_bytes == now.block_bytes => {
            Ok(SpareLayout::new(sb.spare_sectors, sb.block_bytes).unwrap_or(*now))
        }
        _ => Ok(*now),
    }
}

/// Decides what to do with a spare of `spare_sectors` sectors for the main
/// device `fp`. Reads (and fully checks) both copies; `force_format` turns
/// every refusal into a format. `buf` is a 4096-byte scratch block.
pub fn discover(
    io: &mut impl MetaIo,
    spare_sectors: u64,
    fp: &Fingerprint,
    force_format: bool,
    buf: &mut [u8],
) -> Discovery {
    let Some(now) = SpareLayout::new(spare_sectors, fp.block_bytes) else {
        // The constructor checks the size first; refuse rather than guess.
        return Discovery::Refuse(Refusal::Unreadable);
    };
    let refuse = |r| if force_format { Discovery::Format { layout: now } } else { Discovery::Refuse(r) };
    if buf.len() != BLOCK {
        return Discovery::Refuse(Refusal::Unreadable);
    }
    let layout = match recorded_layout(io, &now, spare_sectors, buf) {
        Ok(l) => l,
        Err(sb) => return refuse(Refusal::SpareShrank(sb)),
    };
    let a = read_copy(io, &layout, 0, buf, |_| ());
    let b = read_copy(io, &layout, 1, buf, |_| ());
    if is_newer_version(&a) || is_newer_version(&b) {
        return refuse(Refusal::NewerVersion);
    }
    let Some(copy) = newest(&a, &b) else {
        return match (a, b) {
            (CopyState::Missing, CopyState::Missing) => Discovery::Format { layout: now },
            (CopyState::Damaged(CopyFault::Io), CopyState::Damaged(CopyFault::Io)) => refuse(Refusal::Unreadable),
            (CopyState::Damaged(FOREIGN), CopyState::Damaged(FOREIGN)) => refuse(Refusal::NotMetadata),
            _ => refuse(Refusal::Damaged { a, b }),
        };
    };
    let (chosen, other) = if copy == 0 { (a, b) } else { (b, a) };
    let CopyState::Valid(sb) = chosen else {
        return Discovery::Refuse(Refusal::Unreadable);
    };
    if sb.block_bytes != fp.block_bytes {
        return refuse(Refusal::BlockSizeChanged(sb));
    }
    if sb.main_sectors != fp.main_sectors || sb.main_logical_block_size != fp.main_logical_block_size {
        return refuse(Refusal::ForeignMain(sb));
    }
    Discovery::Load { copy, sb, layout, other }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commit::{commit, region_start, MetaWrite};
    use crate::extent::{Extent, ExtentState};
    use crate::format::FORMAT_VERSION;
    use crate::load::ReadFailed;

    struct Image(Vec<u8>);

    impl MetaIo for Image {
        fn read_block(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), ReadFailed> {
            let at = sector as usize * 512;
            buf.copy_from_slice(self.0.get(at..at + BLOCK).ok_or(ReadFailed)?);
            Ok(())
        }
    }

    impl MetaWrite for Image {
        type Error = ();
        fn write_block(&mut self, sector: u64, block: &[u8]) -> Result<(), ()> {
            let at = sector as usize * 512;
            self.0[at..at + block.len()].copy_from_slice(block);
            Ok(())
        }
        fn flush(&mut self) -> Result<(), ()> {
            Ok(())
        }
        fn write_durable(&mut self, sector: u64, block: &[u8]) -> Result<(), ()> {
            self.write_block(sector, block)
        }
    }

    const SPARE: u64 = 16384;
    const FP: Fingerprint = Fingerprint { main_sectors: 1 << 20, main_logical_block_size: 512, block_bytes: 512 };

    fn formatted(generation: u64, spare_sectors: u64) -> (Image, SpareLayout) {
        let layout = SpareLayout::new(spare_sectors, 512).unwrap();
        let mut img = Image(vec![0; SPARE as usize * 512]);
        let sb = Superblock {
            version: FORMAT_VERSION,
            generation,
            main_sectors: FP.main_sectors,
            main_logical_block_size: 512,
            block_bytes: 512,
            spare_sectors,
            region_sectors: layout.region_sectors,
            pool_start: layout.pool_start,
            pool_blocks: layout.pool_blocks,
            region_b_start: layout.region_b_start,
            alloc_next: 2,
            ..Default::default()
        };
        let ext = [Extent { main: 9, spare: 0, len: 2, state: ExtentState::Ok }];
        let mut buf = vec![0u8; BLOCK];
        assert_eq!(commit(&mut img, &layout, &sb, None, &ext, &mut buf).copies_written(), 2);
        (img, layout)
    }

    fn run(img: &mut Image, fp: &Fingerprint, force: bool) -> Discovery {
        discover(img, SPARE, fp, force, &mut vec![0u8; BLOCK])
    }

    #[test]
    fn a_blank_spare_is_formatted() {
        let mut img = Image(vec![0; SPARE as usize * 512]);
        assert!(matches!(run(&mut img, &FP, false), Discovery::Format { .. }));
    }

    #[test]
    fn a_good_spare_loads_and_a_corrupt_copy_is_stale() {
        let (mut img, layout) = formatted(5, SPARE);
        let d = run(&mut img, &FP, false);
        assert!(matches!(d, Discovery::Load { copy: 0, sb, .. } if sb.generation == 5));
        assert!(!d.other_is_stale());
        img.0[..4096].fill(0x5a); // garbage over A's superblock
        let d = run(&mut img, &FP, false);
        assert!(matches!(d, Discovery::Load { copy: 1, .. }));
        assert!(d.other_is_stale());
        // force_format never wipes metadata that loads.
        assert!(matches!(run(&mut img, &FP, true), Discovery::Load { .. }));
        let _ = layout;
    }

    #[test]
    fn damage_in_both_copies_is_refused_unless_forced() {
        let (mut img, layout) = formatted(5, SPARE);
        img.0[..4096].fill(0x5a);
        let b = region_start(&layout, 1) as usize * 512;
        img.0[b + 4096 + 100] ^= 1; // an entry block of B
        assert!(matches!(run(&mut img, &FP, false), Discovery::Refuse(Refusal::Damaged { .. })));
        assert!(matches!(run(&mut img, &FP, true), Discovery::Format { .. }));
    }

    #[test]
    fn data_that_is_not_metadata_is_refused_unless_forced() {
        let mut img = Image(vec![0; SPARE as usize * 512]);
        img.0[100] = 1; // a used disk: copy A's block is not zero
        let layout = SpareLayout::new(SPARE, 512).unwrap();
        let b = region_start(&layout, 1) as usize * 512;
        img.0[b + 7] = 1;
        assert_eq!(run(&mut img, &FP, false), Discovery::Refuse(Refusal::NotMetadata));
        assert!(matches!(run(&mut img, &FP, true), Discovery::Format { .. }));
        img.0[b + 7] = 0; // B never written, A someone's data: still refused
        assert!(matches!(run(&mut img, &FP, false), Discovery::Refuse(Refusal::Damaged { .. })));
    }

    #[test]
    fn another_main_device_is_refused() {
        let (mut img, _) = formatted(5, SPARE);
        let other = Fingerprint { main_sectors: 12345, ..FP };
        assert!(matches!(run(&mut img, &other, false), Discovery::Refuse(Refusal::ForeignMain(_))));
        let other = Fingerprint { main_logical_block_size: 4096, ..FP };
        assert!(matches!(run(&mut img, &other, false), Discovery::Refuse(Refusal::ForeignMain(_))));
    }

    #[test]
    fn a_newer_format_is_refused() {
        let (mut img, layout) = formatted(5, SPARE);
        for copy in [0, 1] {
            let at = region_start(&layout, copy) as usize * 512;
            let mut sb = Superblock::decode(&img.0[at..at + BLOCK]).unwrap();
            sb.version = FORMAT_VERSION + 1;
            sb.encode(&mut img.0[at..at + BLOCK]).unwrap();
        }
        assert_eq!(run(&mut img, &FP, false), Discovery::Refuse(Refusal::NewerVersion));
    }

    #[test]
    fn a_grown_spare_keeps_its_recorded_layout_and_a_shrunk_one_is_refused() {
        let (mut img, layout) = formatted(5, SPARE - 2048);
        match run(&mut img, &FP, false) {
            Discovery::Load { layout: got, other, .. } => {
                assert_eq!(got, layout);
                assert!(matches!(other, CopyState::Valid(_)));
            }
            d => panic!("{d:?}"),
        }
        let d = discover(&mut img, SPARE - 4096, &FP, false, &mut vec![0u8; BLOCK]);
        assert!(matches!(d, Discovery::Refuse(Refusal::SpareShrank(_))));
    }

    /// Issue 13 point 5: a spare grown since it was formatted, whose copy A
    /// is damaged or zeroed: copy B must still be found (it is intact), and
    /// the spare must never be formatted over it.
    #[test]
    fn a_grown_spare_with_copy_a_damaged_or_zeroed_loads_copy_b() {
        let (mut img, _) = formatted(5, SPARE / 2);
        img.0[100] ^= 0xff; // copy A's superblock damaged
        let d = run(&mut img, &FP, false);
        assert!(matches!(d, Discovery::Load { sb, .. } if sb.generation == 5), "damaged A: {d:?}");
        img.0[..4096].fill(0); // copy A's superblock zeroed (discarded)
        let d = run(&mut img, &FP, false);
        assert!(matches!(d, Discovery::Load { sb, .. } if sb.generation == 5), "zeroed A: {d:?}");
    }

    /// Issue 13 point 6: a former spare reused for a filesystem (its first
    /// blocks overwritten, copy B intact) holds someone's data in copy A's
    /// place: refused, never "repaired".
    #[test]
    fn foreign_data_in_a_copys_place_refuses_the_spare() {
        let (mut img, _) = formatted(5, SPARE);
        for (i, b) in img.0[..4096].iter_mut().enumerate() {
            *b = (i % 251) as u8 + 1; // a filesystem's first block: no magic
        }
        let d = run(&mut img, &FP, false);
        assert!(matches!(d, Discovery::Refuse(_)), "foreign data where copy A was: {d:?}");
    }

    #[test]
    fn every_refusal_has_its_own_message() {
        let sb = Superblock::default();
        let all = [
            Refusal::Unreadable,
            Refusal::NotMetadata,
            Refusal::Damaged { a: CopyState::Missing, b: CopyState::Missing },
            Refusal::NewerVersion,
            Refusal::ForeignMain(sb),
            Refusal::BlockSizeChanged(sb),
            Refusal::SpareShrank(sb),
        ];
        let mut m: Vec<_> = all.iter().map(|r| r.message()).collect();
        m.sort();
        m.dedup();
        assert_eq!(m.len(), all.len());
    }
}
