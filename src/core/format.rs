// SPDX-License-Identifier: GPL-2.0
//! The on-disk metadata format: a superblock and entry blocks, 4 KiB each,
//! little-endian, every block checksummed with CRC-32C. Each metadata region
//! of the spare holds one full copy: the superblock in its first block, the
//! table's extents in the blocks after it. Documentation/dm-remap-format.rst
//! has the byte layout.
//!
//! Decoding never panics and never trusts a length it read: every field is
//! checked before use.

use super::crc32c::crc32c;
use super::extent::{Extent, ExtentState};
use super::geometry::{ENTRIES_PER_META_BLOCK, META_BLOCK_BYTES, META_BLOCK_HEADER_BYTES, META_ENTRY_BYTES};

/// Size of every metadata block.
pub const BLOCK: usize = META_BLOCK_BYTES as usize;
/// The format version this code writes: version 2 plus, in the superblock,
/// the place of each copy's journal area (see `journal`). It reads every
/// version up to this one.
pub const FORMAT_VERSION: u32 = FORMAT_VERSION_3;
/// The journal's format (issue 17.3).
pub const FORMAT_VERSION_3: u32 = 3;
/// Two slots per region, no journal.
pub const FORMAT_VERSION_2: u32 = 2;
/// The newest format version this code loads.
pub const NEWEST_LOADED: u32 = FORMAT_VERSION;
/// The first format: one copy per region, region B after the pool.
pub const FORMAT_VERSION_1: u32 = 1;
/// Superblock magic.
pub const SUPER_MAGIC: [u8; 8] = *b"DMREMAP1";
/// Entry-block magic.
pub const ENTRY_MAGIC: [u8; 8] = *b"DMRMENTR";

const SUPER_CRC_AT: usize = BLOCK - 4;
pub(crate) const ENTRY_CRC_AT: usize = 60;
pub(crate) const ENTRY_HEADER: usize = META_BLOCK_HEADER_BYTES as usize;
pub(crate) const ENTRY_SIZE: usize = META_ENTRY_BYTES as usize;
/// Extents in one entry block.
pub const ENTRIES_PER_BLOCK: usize = ENTRIES_PER_META_BLOCK as usize;

/// Why a metadata block was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// Not 4096 bytes.
    WrongSize,
    /// No dm-remap magic: not metadata, or never written.
    BadMagic,
    /// The checksum does not match: a torn or corrupted block.
    BadChecksum,
    /// Written by a newer dm-remap.
    UnsupportedVersion,
    /// A field is out of range or inconsistent.
    BadField,
}

/// The highest generation a copy may carry (2^63-1: never reached by
/// commits; a superblock above it is a bad field).
pub const MAX_GENERATION: u64 = i64::MAX as u64;

/// The generation after `generation`, `None` past [`MAX_GENERATION`].
pub fn next_generation(generation: u64) -> Option<u64> {
    generation.checked_add(1).filter(|g| *g <= MAX_GENERATION)
}

/// The superblock of one metadata copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Superblock {
    /// Format version the copy was written in.
    pub version: u32,
    /// Flags (none defined yet; must be 0).
    pub flags: u32,
    /// Commit counter: higher is newer; never goes back.
    pub generation: u64,
    /// Random identity chosen when the spare was formatted.
    pub uuid: [u8; 16],
    /// Fingerprint of the main device: size in sectors.
    pub main_sectors: u64,
    /// Fingerprint of the main device: logical block size.
    pub main_logical_block_size: u32,
    /// Remap block size in bytes.
    pub block_bytes: u32,
    /// Size of the spare device when formatted, in sectors.
    pub spare_sectors: u64,
    /// Sectors in each metadata region.
    pub region_sectors: u64,
    /// First sector of the spare pool.
    pub pool_start: u64,
    /// Blocks in the spare pool.
    pub pool_blocks: u64,
    /// First sector of metadata region B.
    pub region_b_start: u64,
    /// Extents in the table.
    pub extent_count: u64,
    /// The spare allocator's cursor.
    pub alloc_next: u64,
    /// Which copy this is: 0 for region A, 1 for region B.
    pub copy: u8,
    /// Which slot of its region this is (version 2; always 0 in version 1).
    pub slot: u8,
    /// Version 3: the first block of the copy's journal area, counted from
    /// the region's start (0 in versions 1 and 2).
    pub journal_start: u32,
    /// Version 3: blocks in the copy's journal area (0: none; always 0 in
    /// versions 1 and 2).
    pub journal_blocks: u32,
}

pub(crate) fn get<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = b.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

pub(crate) fn put(b: &mut [u8], at: usize, v: &[u8]) {
    if let Some(dst) = b.get_mut(at..at + v.len()) {
        dst.copy_from_slice(v);
    }
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(get(b, at))
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(get(b, at))
}

/// Number of entry blocks a table of `extents` extents needs.
pub fn entry_blocks(extents: u64) -> u64 {
    extents.div_ceil(ENTRIES_PER_META_BLOCK)
}

impl Superblock {
    /// Writes the superblock into `block` (4096 bytes), checksum included.
    pub fn encode(&self, block: &mut [u8]) -> Result<(), FormatError> {
        if block.len() != BLOCK {
            return Err(FormatError::WrongSize);
        }
        block.fill(0);
        put(block, 0, &SUPER_MAGIC);
        put(block, 8, &self.version.to_le_bytes());
        put(block, 12, &self.flags.to_le_bytes());
        put(block, 16, &self.generation.to_le_bytes());
        put(block, 24, &self.uuid);
        put(block, 40, &self.main_sectors.to_le_bytes());
        put(block, 48, &self.main_logical_block_size.to_le_bytes());
        put(block, 52, &self.block_bytes.to_le_bytes());
        put(block, 56, &self.spare_sectors.to_le_bytes());
        put(block, 64, &self.region_sectors.to_le_bytes());
        put(block, 72, &self.pool_start.to_le_bytes());
        put(block, 80, &self.pool_blocks.to_le_bytes());
        put(block, 88, &self.region_b_start.to_le_bytes());
        put(block, 96, &self.extent_count.to_le_bytes());
        put(block, 104, &self.alloc_next.to_le_bytes());
        put(block, 112, &[self.copy]);
        put(block, 113, &[self.slot]);
        put(block, 120, &self.journal_start.to_le_bytes());
        put(block, 124, &self.journal_blocks.to_le_bytes());
        let crc = crc32c(block.get(..SUPER_CRC_AT).unwrap_or_default());
        put(block, SUPER_CRC_AT, &crc.to_le_bytes());
        Ok(())
    }

    /// Reads and checks a superblock (of a version up to
    /// [`NEWEST_LOADED`]).
    pub fn decode(block: &[u8]) -> Result<Self, FormatError> {
        if block.len() != BLOCK {
            return Err(FormatError::WrongSize);
        }
        if get::<8>(block, 0) != SUPER_MAGIC {
            return Err(FormatError::BadMagic);
        }
        if crc32c(block.get(..SUPER_CRC_AT).unwrap_or_default()) != u32_at(block, SUPER_CRC_AT) {
            return Err(FormatError::BadChecksum);
        }
        let sb = Self {
            version: u32_at(block, 8),
            flags: u32_at(block, 12),
            generation: u64_at(block, 16),
            uuid: get(block, 24),
            main_sectors: u64_at(block, 40),
            main_logical_block_size: u32_at(block, 48),
            block_bytes: u32_at(block, 52),
            spare_sectors: u64_at(block, 56),
            region_sectors: u64_at(block, 64),
            pool_start: u64_at(block, 72),
            pool_blocks: u64_at(block, 80),
            region_b_start: u64_at(block, 88),
            extent_count: u64_at(block, 96),
            alloc_next: u64_at(block, 104),
            copy: get::<1>(block, 112)[0],
            slot: get::<1>(block, 113)[0],
            journal_start: u32_at(block, 120),
            journal_blocks: u32_at(block, 124),
        };
        if sb.version > NEWEST_LOADED {
            return Err(FormatError::UnsupportedVersion);
        }
        let region_blocks = sb.region_sectors / (META_BLOCK_BYTES / 512);
        // Version 1 has one superblock per region, version 2 two.
        let superblocks = if sb.version == FORMAT_VERSION_1 { 1 } else { 2 };
        if sb.version == 0
            || sb.generation > MAX_GENERATION
            || sb.flags != 0
            || sb.copy > 1
            || sb.slot >= superblocks as u8
            || sb.extent_count > sb.pool_blocks
            || sb.alloc_next > sb.pool_blocks
            || superblocks + entry_blocks(sb.extent_count) > region_blocks
            || (sb.version < FORMAT_VERSION_3 && (sb.journal_start, sb.journal_blocks) != (0, 0))
            || u64::from(sb.journal_start) + u64::from(sb.journal_blocks) > region_blocks
        {
            return Err(FormatError::BadField);
        }
        Ok(sb)
    }
}

/// Writes entry block `index` of generation `generation`, holding `extents`
/// (at most 252), into `block` (4096 bytes).
pub fn encode_entries(block: &mut [u8], generation: u64, index: u32, extents: &[Extent]) -> Result<(), FormatError> {
    if block.len() != BLOCK {
        return Err(FormatError::WrongSize);
    }
    if extents.len() > ENTRIES_PER_BLOCK {
        return Err(FormatError::BadField);
    }
    let (header, entries) = block.split_at_mut(ENTRY_HEADER);
    header.fill(0);
    put(header, 0, &ENTRY_MAGIC);
    put(header, 8, &generation.to_le_bytes());
    put(header, 16, &index.to_le_bytes());
    // At most 252 extents (checked above).
    put(header, 20, &(extents.len() as u32).to_le_bytes());
    // Each entry as a fixed-size array (see `decode_extent`); the unused
    // ones zeroed.
    let mut slots = entries.chunks_exact_mut(ENTRY_SIZE);
    // `extents` first: zip stops at its end without taking another slot.
    for (e, raw) in extents.iter().zip(&mut slots) {
        raw.copy_from_slice(&encode_extent(e));
    }
    for raw in slots {
        raw.fill(0);
    }
    let crc = entry_crc(block);
    put(block, ENTRY_CRC_AT, &crc.to_le_bytes());
    Ok(())
}

fn entry_crc(block: &[u8]) -> u32 {
    let head = block.get(..ENTRY_CRC_AT).unwrap_or_default();
    let tail = block.get(ENTRY_HEADER..).unwrap_or_default();
    !super::crc32c::update(super::crc32c::update(!0, head), tail)
}

/// Reads entry block `index` of generation `generation` and passes each
/// extent to `f`; returns how many there were. Checks magic, checksum,
/// generation, index and every extent's fields (sortedness across blocks is
/// the caller's check).
pub fn decode_entries(
    block: &[u8],
    generation: u64,
    index: u32,
    mut f: impl FnMut(Extent),
) -> Result<usize, FormatError> {
    if block.len() != BLOCK {
        return Err(FormatError::WrongSize);
    }
    if get::<8>(block, 0) != ENTRY_MAGIC {
        return Err(FormatError::BadMagic);
    }
    if entry_crc(block) != u32_at(block, ENTRY_CRC_AT) {
        return Err(FormatError::BadChecksum);
    }
    let count = u32_at(block, 20) as usize;
    if u64_at(block, 8) != generation || u32_at(block, 16) != index || count > ENTRIES_PER_BLOCK {
        return Err(FormatError::BadField);
    }
    let entries = block.get(ENTRY_HEADER..).unwrap_or_default().chunks_exact(ENTRY_SIZE);
    for raw in entries.take(count) {
        f(decode_extent(raw)?);
    }
    Ok(count)
}

/// One extent as the 16 bytes of an entry (or a journal record): main
/// block, spare block, length, state, a zero byte; little-endian.
#[inline]
pub(crate) fn encode_extent(e: &Extent) -> [u8; ENTRY_SIZE] {
    let [m0, m1, m2, m3, m4, m5, m6, m7] = e.main.to_le_bytes();
    let [s0, s1, s2, s3] = e.spare.to_le_bytes();
    let [l0, l1] = e.len.to_le_bytes();
    [m0, m1, m2, m3, m4, m5, m6, m7, s0, s1, s2, s3, l0, l1, e.state as u8, 0]
}

/// The extent in an entry's 16 bytes (`raw` of another length, an unknown
/// state, a zero length or a non-zero pad byte is a bad field). A
/// fixed-size array: the fields need no bounds checks (a 1M-extent table
/// decodes 1M of them at every load).
#[inline]
pub(crate) fn decode_extent(raw: &[u8]) -> Result<Extent, FormatError> {
    let Ok(&[m0, m1, m2, m3, m4, m5, m6, m7, s0, s1, s2, s3, l0, l1, state, pad]) = <&[u8; ENTRY_SIZE]>::try_from(raw)
    else {
        return Err(FormatError::BadField);
    };
    let state = match state {
        0 => ExtentState::Ok,
        1 => ExtentState::Lost,
        _ => return Err(FormatError::BadField),
    };
    let e = Extent {
        main: u64::from_le_bytes([m0, m1, m2, m3, m4, m5, m6, m7]),
        spare: u32::from_le_bytes([s0, s1, s2, s3]),
        len: u16::from_le_bytes([l0, l1]),
        state,
    };
    if e.len == 0 || pad != 0 {
        return Err(FormatError::BadField);
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Superblock {
        Superblock {
            version: FORMAT_VERSION,
            generation: 42,
            uuid: *b"0123456789abcdef",
            main_sectors: 1 << 20,
            main_logical_block_size: 512,
            block_bytes: 512,
            spare_sectors: 4096,
            region_sectors: 136,
            pool_start: 136,
            pool_blocks: 3824,
            region_b_start: 3960,
            extent_count: 300,
            alloc_next: 310,
            ..Default::default()
        }
    }

    #[test]
    fn a_generation_that_cannot_go_up_is_a_bad_field() {
        // A hostile spare at generation 2^64-1 (checksum recomputed) would
        // pin every later commit to the same generation: commits would
        // then overwrite the newest copy in place and a tie load the stale
        // one. Generations above 2^63-1 are never written.
        let mut b = [0u8; BLOCK];
        for (generation, ok) in [(MAX_GENERATION, true), (MAX_GENERATION + 1, false), (u64::MAX, false)] {
            Superblock { generation, ..sample() }.encode(&mut b).unwrap();
            assert_eq!(Superblock::decode(&b).is_ok(), ok, "generation {generation}");
        }
        assert_eq!(next_generation(41), Some(42));
        assert_eq!(next_generation(MAX_GENERATION), None);
    }

    #[test]
    fn entries_are_laid_out_as_documented_and_unused_ones_are_zero() {
        // A block that held a full one before: whatever is left past the
        // extents of the next one must not leak into it (the checksum
        // would cover it, so no round trip would notice).
        let mut b = [0xAAu8; BLOCK];
        let full = [Extent { main: 7, spare: 9, len: 3, state: ExtentState::Lost }; ENTRIES_PER_BLOCK];
        encode_entries(&mut b, 5, 0, &full).unwrap();
        let one = [Extent { main: 0x0102_0304_0506_0708, spare: 0x1122_3344, len: 0x5566, state: ExtentState::Lost }];
        encode_entries(&mut b, 6, 1, &one).unwrap();
        assert_eq!(&b[..8], &ENTRY_MAGIC);
        assert_eq!(u64_at(&b, 8), 6);
        assert_eq!(u32_at(&b, 16), 1);
        assert_eq!(u32_at(&b, 20), 1);
        let entry: [u8; ENTRY_SIZE] = [8, 7, 6, 5, 4, 3, 2, 1, 0x44, 0x33, 0x22, 0x11, 0x66, 0x55, 1, 0];
        assert_eq!(&b[ENTRY_HEADER..ENTRY_HEADER + ENTRY_SIZE], &entry);
        assert!(b[ENTRY_HEADER + ENTRY_SIZE..].iter().all(|&x| x == 0));
        assert!(b[24..ENTRY_CRC_AT].iter().all(|&x| x == 0));
        let mut got = vec![];
        decode_entries(&b, 6, 1, |e| got.push(e)).unwrap();
        assert_eq!(got, one);
    }

    #[test]
    fn superblock_round_trips() {
        let mut b = [0u8; BLOCK];
        sample().encode(&mut b).unwrap();
        assert_eq!(Superblock::decode(&b), Ok(sample()));
    }

    #[test]
    fn version_3_carries_its_journal_area() {
        let mut b = [0u8; BLOCK];
        // region_sectors 136: 17 blocks.
        let v3 = Superblock { version: FORMAT_VERSION_3, journal_start: 4, journal_blocks: 13, ..sample() };
        v3.encode(&mut b).unwrap();
        assert_eq!(Superblock::decode(&b), Ok(v3));
        let past_the_region = Superblock { journal_blocks: 14, ..v3 };
        past_the_region.encode(&mut b).unwrap();
        assert_eq!(Superblock::decode(&b), Err(FormatError::BadField));
        // Versions 1 and 2 have no journal.
        let v2 = Superblock { version: FORMAT_VERSION_2, journal_start: 4, journal_blocks: 1, ..sample() };
        v2.encode(&mut b).unwrap();
        assert_eq!(Superblock::decode(&b), Err(FormatError::BadField));
    }

    #[test]
    fn superblock_damage_is_detected() {
        let mut b = [0u8; BLOCK];
        sample().encode(&mut b).unwrap();
        let mut flipped = b;
        flipped[20] ^= 1;
        assert_eq!(Superblock::decode(&flipped), Err(FormatError::BadChecksum));
        assert_eq!(Superblock::decode(&[0u8; BLOCK]), Err(FormatError::BadMagic));
        assert_eq!(Superblock::decode(&b[..100]), Err(FormatError::WrongSize));
        let newer = Superblock { version: NEWEST_LOADED + 1, ..sample() };
        newer.encode(&mut b).unwrap();
        assert_eq!(Superblock::decode(&b), Err(FormatError::UnsupportedVersion));
        let too_many = Superblock { extent_count: 3825, ..sample() };
        too_many.encode(&mut b).unwrap();
        assert_eq!(Superblock::decode(&b), Err(FormatError::BadField));
    }

    #[test]
    fn entry_block_checks_generation_and_index() {
        let ext = [Extent { main: 7, spare: 3, len: 2, state: ExtentState::Lost }];
        let mut b = [0u8; BLOCK];
        encode_entries(&mut b, 9, 4, &ext).unwrap();
        let mut got = vec![];
        assert_eq!(decode_entries(&b, 9, 4, |e| got.push(e)), Ok(1));
        assert_eq!(got, ext);
        assert_eq!(decode_entries(&b, 8, 4, |_| ()), Err(FormatError::BadField), "stale generation");
        assert_eq!(decode_entries(&b, 9, 5, |_| ()), Err(FormatError::BadField), "misplaced block");
        b[100] ^= 0x80;
        assert_eq!(decode_entries(&b, 9, 4, |_| ()), Err(FormatError::BadChecksum));
    }

    proptest! {
        #[test]
        fn entries_round_trip(ext in prop::collection::vec((any::<u64>(), any::<u32>(), 1u16.., any::<bool>()), 0..=252), generation: u64, index: u32) {
            let ext: Vec<Extent> = ext.into_iter().map(|(m, s, l, lost)| Extent {
                main: m, spare: s, len: l, state: if lost { ExtentState::Lost } else { ExtentState::Ok },
            }).collect();
            let mut b = [0u8; BLOCK];
            encode_entries(&mut b, generation, index, &ext).unwrap();
            let mut got = vec![];
            prop_assert_eq!(decode_entries(&b, generation, index, |e| got.push(e)), Ok(ext.len()));
            prop_assert_eq!(got, ext);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..5000), generation: u64) {
            let _ = Superblock::decode(&bytes);
            let _ = decode_entries(&bytes, generation, 0, |_| ());
        }
    }
}

/// Encodes the entry blocks of a copy of `extents` at `generation`, calling
/// `emit(index, block)` for entry block 0, 1, ... in order; `buf` is a
/// 4096-byte scratch block. (The superblock is encoded separately, so that
/// writers can order it after the entries.)
pub fn encode_entry_blocks<E>(
    extents: &[Extent],
    generation: u64,
    buf: &mut [u8],
    mut emit: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<(), EncodeError<E>> {
    // A bounded range, not `enumerate`: its count has an overflow check.
    for (index, chunk) in (0..u32::MAX).zip(extents.chunks(ENTRIES_PER_BLOCK)) {
        encode_entries(buf, generation, index, chunk).map_err(EncodeError::Format)?;
        emit(u64::from(index), buf).map_err(EncodeError::Write)?;
    }
    Ok(())
}

/// Why encoding a copy stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError<E> {
    /// The data does not fit the format.
    Format(FormatError),
    /// The caller's writer failed.
    Write(E),
}
