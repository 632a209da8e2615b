// SPDX-License-Identifier: GPL-2.0
//! What the constructor does with a spare: load its metadata, format it, or
//! refuse it. Pure decision logic over [`MetaIo`]; the caller does the
//! loading (re-reading the chosen copy into its table) and the writing.
//!
//! The layout is read from any superblock that decodes: region A's two
//! superblocks first, then region B's at every place it can be (where the
//! current size puts it, in version 1 or 2, and every power of two below
//! the size, where a version-2 spare that has grown since keeps it). A
//! spare is formatted only when every one of those places is blank.

use super::format::{FormatError, Superblock, BLOCK, FORMAT_VERSION_1, MAX_GENERATION};
use super::geometry::{region_b_candidates, valid_block_size, SpareLayout, META_BLOCK_SECTORS};
use super::journal::{chain_next, ChainPlace};
use super::load::{classify_block, newest, read_slot, read_tail, read_tails, CopyFault, CopyState, MetaIo, Tail};
use super::slots::{footprint_of, journal_sector, Footprint, Slot, Slots};

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
#[allow(clippy::large_enum_variant)] // built once per table load
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No metadata block could be read at all.
    Unreadable,
    /// The spare holds data but no dm-remap metadata.
    NotMetadata,
    /// dm-remap metadata is there, but a copy's place holds someone else's
    /// data (the spare was reused): never overwritten.
    Foreign { copy: u8, slot: u8 },
    /// dm-remap metadata is there but no copy checks out.
    Damaged { states: [[CopyState; 2]; 2] },
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
            Self::Unreadable => c"Cannot read the metadata on the spare device",
            Self::NotMetadata => c"Spare device holds data but no dm-remap metadata; not overwriting it (force_format formats the spare)",
            Self::Foreign { .. } => {
                c"Spare device holds someone else's data where a metadata copy belongs; not overwriting it (force_format formats the spare)"
            }
            Self::Damaged { .. } => {
                c"Spare metadata is damaged in every copy; not overwriting it (force_format formats the spare)"
            }
            Self::NewerVersion => c"Spare metadata was written by a newer dm-remap format version",
            Self::ForeignMain(_) => c"Spare metadata belongs to another main device (its size or block size differs)",
            Self::BlockSizeChanged(_) => c"Spare metadata was written for a different remap block size",
            Self::SpareShrank(_) => c"Spare device is smaller than when its metadata was written",
        }
    }
}

/// The decision for a spare.
#[allow(clippy::large_enum_variant)] // built once per table load
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discovery {
    /// Load the copy in slot `slot` of region `copy` (its checkpoint's
    /// superblock is `sb`, its journal chain's tail `tail`, the spare laid
    /// out as `layout`). `states` is what every slot holds, `slots` the
    /// same for the writer.
    Load {
        copy: u8,
        slot: u8,
        sb: Superblock,
        tail: Tail,
        layout: SpareLayout,
        states: [[CopyState; 2]; 2],
        slots: Slots,
    },
    /// Nothing to keep: format the spare as `layout`, with a generation
    /// above `highest` (the highest any superblock on the spare records).
    Format { layout: SpareLayout, highest: u64 },
    /// Leave the spare alone.
    Refuse(Refusal),
}

impl Discovery {
    /// Whether a copy of the newest generation is missing from a region, so
    /// that a commit should rewrite it.
    pub fn needs_repair(&self) -> bool {
        matches!(self, Self::Load { slots, .. } if slots.copies() < 2)
    }
}

/// The layout a decoded superblock records, if it is a possible one for a
/// spare of `spare_sectors` sectors. `Err` holds a superblock that records
/// a larger spare than this one.
fn recorded_layout(sb: &Superblock, spare_sectors: u64) -> Option<Result<SpareLayout, Superblock>> {
    if sb.spare_sectors > spare_sectors {
        return Some(Err(*sb));
    }
    let l = SpareLayout {
        block_bytes: sb.block_bytes,
        region_sectors: sb.region_sectors,
        pool_start: sb.pool_start,
        pool_blocks: sb.pool_blocks,
        region_b_start: sb.region_b_start,
    };
    let bs = l.block_sectors();
    let sane = valid_block_size(sb.block_bytes)
        && l.region_sectors >= 2 * META_BLOCK_SECTORS
        && l.region_sectors & (bs - 1) == 0
        && l.pool_start >= l.region_sectors
        && l.region_b_start >= l.pool_start
        && l.region_b_start.checked_add(l.region_sectors).is_some_and(|e| e <= spare_sectors)
        && l.pool_blocks.checked_mul(bs).and_then(|p| p.checked_add(l.pool_start)).is_some_and(|e| e <= spare_sectors);
    sane.then_some(Ok(l))
}

/// Every place region B can start on a spare of `spare_sectors` sectors,
/// and whether it is where this size puts it (in version 2 or 1).
fn b_places(spare_sectors: u64, block_bytes: u32) -> impl Iterator<Item = (u64, bool)> {
    let v2 = SpareLayout::new(spare_sectors, block_bytes).map(|l| (l.region_b_start, true));
    let v1 = SpareLayout::v1(spare_sectors, block_bytes).map(|l| (l.region_b_start, true));
    v2.into_iter().chain(v1).chain(region_b_candidates(spare_sectors).map(|b| (b, false)))
}

/// What the superblock positions of a spare whose layout is unknown hold.
struct Survey {
    /// The newest superblock that decodes and sits where it says it does.
    best: Option<Superblock>,
    /// The highest generation of any superblock that decodes.
    highest: u64,
    /// Whether any block read, whether any failed, whether a block was
    /// foreign, and whether a dm-remap block was there (damaged, leftover,
    /// newer version).
    read_any: bool,
    read_failed: bool,
    foreign: bool,
    ours: bool,
    newer: bool,
}

impl Survey {
    /// Reads the superblock position `sector` of region `copy` starting at
    /// `region_start`. Someone's data there counts as foreign only where a
    /// superblock must be (`fixed`), not at the places region B would have
    /// had at another size, which are pool blocks then.
    fn look(&mut self, io: &mut impl MetaIo, sector: u64, copy: u8, region_start: u64, fixed: bool, buf: &mut [u8]) {
        if io.read_block(sector, buf).is_err() {
            self.read_failed = true;
            return;
        }
        self.read_any = true;
        match Superblock::decode(buf) {
            Ok(sb) => {
                self.highest = self.highest.max(sb.generation);
                let in_place = sb.copy == copy
                    && sb.region_start_matches(region_start)
                    && region_start + u64::from(sb.slot) * META_BLOCK_SECTORS == sector;
                if in_place && !matches!(self.best, Some(b) if b.generation >= sb.generation) {
                    self.best = Some(sb);
                }
                self.ours = true;
            }
            Err(FormatError::UnsupportedVersion) => self.newer = true,
            Err(FormatError::BadMagic) => match classify_block(buf) {
                CopyState::Missing => {}
                CopyState::Foreign => self.foreign |= fixed,
                _ => self.ours = true,
            },
            Err(_) => self.ours = true,
        }
    }
}

impl Superblock {
    /// Whether this superblock's region starts at `start`.
    fn region_start_matches(&self, start: u64) -> bool {
        if self.copy == 0 {
            start == 0
        } else {
            start == self.region_b_start
        }
    }
}

/// Looks at every place a superblock can be on a spare of `spare_sectors`
/// sectors whose remap block size is one of `block_sizes`: region A's two
/// superblocks, then, only if neither gives the layout, region B's wherever
/// it can start.
fn survey(io: &mut impl MetaIo, spare_sectors: u64, block_sizes: &[u32], buf: &mut [u8]) -> Survey {
    let mut survey = Survey {
        best: None,
        highest: 0,
        read_any: false,
        read_failed: false,
        foreign: false,
        ours: false,
        newer: false,
    };
    for slot in 0..2u64 {
        survey.look(io, slot * META_BLOCK_SECTORS, 0, 0, true, buf);
    }
    if survey.best.is_none() {
        // Copy A gives no layout: look for region B wherever it can be.
        for &bs in block_sizes {
            for (place, fixed) in b_places(spare_sectors, bs) {
                for slot in 0..2u64 {
                    survey.look(io, place.saturating_add(slot * META_BLOCK_SECTORS), 1, place, fixed, buf);
                }
            }
        }
    }
    survey
}

/// Why [`find_layout`] found no layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoLayout {
    /// No superblock that decodes where it says it is.
    NotFound,
    /// The newest one records a larger spare than this.
    SpareShrank(Superblock),
    /// The newest one records an impossible layout.
    Insane(Superblock),
}

/// The layout recorded on a spare of `spare_sectors` sectors (for a tool
/// that does not know the block size: every valid one is tried).
pub fn find_layout(io: &mut impl MetaIo, spare_sectors: u64, buf: &mut [u8]) -> Result<SpareLayout, NoLayout> {
    let sizes = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];
    let best = survey(io, spare_sectors, &sizes, buf).best.ok_or(NoLayout::NotFound)?;
    match recorded_layout(&best, spare_sectors) {
        Some(Ok(l)) => Ok(l),
        Some(Err(sb)) => Err(NoLayout::SpareShrank(sb)),
        None => Err(NoLayout::Insane(best)),
    }
}

/// What every slot of a spare holds: `[region][slot]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Copies {
    /// Each slot's copy.
    pub states: [[CopyState; 2]; 2],
    /// The journal tail of each valid copy.
    pub tails: [[Tail; 2]; 2],
}

impl Copies {
    /// The newest valid copy (see [`newest`]).
    pub fn newest(&self) -> Option<(u8, u8)> {
        newest(&self.states, &self.tails)
    }
}

/// Reads (and fully checks) every slot of a spare laid out as `layout`,
/// and the journal chain of every valid copy.
pub fn read_copies(io: &mut impl MetaIo, layout: &SpareLayout, buf: &mut [u8]) -> Copies {
    let mut states = [[CopyState::Missing; 2]; 2];
    for (copy, region) in (0u8..).zip(states.iter_mut()) {
        for (slot, state) in (0u8..).zip(region.iter_mut()) {
            *state = read_slot(io, layout, copy, slot, buf, |_| ());
        }
    }
    let tails = read_tails(io, layout, &states, buf);
    // Version 1 never wrote slot 1's places: on a spare whose newest copy
    // is version 1, what is there is not a copy, whatever it holds. (The
    // first version-2 commit clears those places before it writes a copy,
    // so once a version-2 copy is the newest, foreign data there is
    // someone else's.)
    let v1 = newest(&states, &tails).is_some_and(|(c, s)| {
        matches!(states[usize::from(c)][usize::from(s)], CopyState::Valid(sb) if sb.version == FORMAT_VERSION_1)
    });
    for region in states.iter_mut() {
        if v1 && region[1] == CopyState::Foreign {
            region[1] = CopyState::Missing;
        }
    }
    Copies { states, tails }
}

/// What the writer knows of each slot, from what [`read_copies`] found.
pub fn slots_of(layout: &SpareLayout, copies: &Copies) -> Slots {
    let mut slots = Slots::default();
    for ((region, row), tails) in slots.slots.iter_mut().zip(copies.states.iter()).zip(copies.tails.iter()) {
        for ((s, state), tail) in region.iter_mut().zip(row.iter()).zip(tails.iter()) {
            if let CopyState::Valid(v) = state {
                if let Some(footprint) = footprint_of(layout, v) {
                    *s = Slot::Holds { generation: tail.generation, footprint, base: v.generation, chain: tail.blocks };
                }
            }
        }
    }
    slots
}

/// Whether every slot superblock of the spare still says what `slots`
/// records (a copy whose checkpoint is of that generation and whose chain
/// has no block past the known ones; where a slot is free, no valid
/// superblock, or an older checkpoint whose chain ends no newer): `false` when
/// one cannot be read or has changed, for instance because another table
/// of the device committed meanwhile, or a failed commit of this one
/// landed all the same. (A table loaded after this one folds before it
/// appends, see [`Slots::appendable`]: its commits change a superblock. The
/// live table this one was loaded beside appends to its own chains, even
/// one this table could not load and holds free.)
pub fn slots_unchanged(io: &mut impl MetaIo, layout: &SpareLayout, slots: &Slots, buf: &mut [u8]) -> bool {
    (0..2u8).all(|copy| {
        (0..2u8).all(|slot| {
            let sector = layout.region_start(copy).saturating_add(u64::from(slot) * META_BLOCK_SECTORS);
            if io.read_block(sector, buf).is_err() {
                return false;
            }
            let known = slots.slots[usize::from(copy)][usize::from(slot)];
            match (Superblock::decode(buf), known) {
                (Ok(sb), Slot::Holds { generation, footprint, base, chain }) => {
                    sb.generation == base && !chain_goes_on(io, layout, copy, &sb, &footprint, generation, chain, buf)
                }
                // A copy this table could not load (say an entry block
                // failed to read) may still be another table's, which may
                // have appended to it since: its chain must not go past the
                // newest generation this table knows (one generation is
                // one commit's, so a chain ending there is that commit).
                (Ok(sb), Slot::Free) => {
                    sb.generation < slots.newest() && {
                        let tail = read_tail(io, layout, copy, &sb, buf);
                        !tail.unread && tail.generation <= slots.newest()
                    }
                }
                (Err(_), Slot::Holds { .. }) => false,
                (Err(_), Slot::Free) => true,
            }
        })
    })
}

/// Whether the chain on the checkpoint `sb` in region `copy`, known to end
/// at block `chain` with generation `generation`, has a block past that
/// (or one that cannot be read).
#[allow(clippy::too_many_arguments)]
fn chain_goes_on(
    io: &mut impl MetaIo,
    layout: &SpareLayout,
    copy: u8,
    sb: &Superblock,
    footprint: &Footprint,
    generation: u64,
    chain: u32,
    buf: &mut [u8],
) -> bool {
    if u64::from(chain) >= footprint.journal_blocks {
        return false;
    }
    if io.read_block(journal_sector(layout, copy, footprint, u64::from(chain)), buf).is_err() {
        return true;
    }
    let place = ChainPlace { uuid: sb.uuid, copy, base: sb.generation, index: chain };
    chain_next(buf, &place, generation, sb.pool_blocks).is_ok()
}

/// How far above what it can read a commit goes when a superblock of the
/// layout cannot be read: that one may hold a failed commit's generation
/// that landed (see `engine::settle`), as high as the generations the
/// writer that made it tried since its last success. 2^32 failed commits
/// take years of retries; the generation space holds 2^31 such jumps.
pub const UNREAD_MARGIN: u64 = 1 << 32;

/// The generations of the superblocks on a spare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The highest generation of any superblock that decodes.
    pub highest: u64,
    /// Whether one of the layout's four superblocks, or a block of the
    /// journal chain on one, could not be read.
    pub unread: bool,
}

impl Seen {
    /// What a new commit or format must go above: `highest`, plus
    /// [`UNREAD_MARGIN`] (at most [`MAX_GENERATION`]) when a superblock
    /// could not be read.
    pub fn to_go_above(self) -> u64 {
        if self.unread {
            self.highest.saturating_add(UNREAD_MARGIN).min(MAX_GENERATION)
        } else {
            self.highest
        }
    }
}

/// What a table must go above once it loaded generation `loaded` and saw
/// `seen`, having tried generations up to `before` already (0: none).
/// `checked`: a preresume of that table succeeded before, so every
/// generation on the spare since is its own and counted in `before`; a
/// superblock it cannot read needs no margin then.
pub fn attempted_at_load(seen: Seen, loaded: u64, before: u64, checked: bool) -> u64 {
    let now = if checked { seen.highest } else { seen.to_go_above() };
    now.max(loaded).max(before)
}

/// The generations of the superblocks (and of the journal chains on them)
/// at the places `layout` gives, and of the superblocks wherever region B
/// could be.
pub fn seen_generations(io: &mut impl MetaIo, layout: &SpareLayout, spare_sectors: u64, buf: &mut [u8]) -> Seen {
    let mut seen = Seen { highest: survey(io, spare_sectors, &[layout.block_bytes], buf).highest, unread: false };
    for copy in 0..2u8 {
        for slot in 0..2u64 {
            let sector = layout.region_start(copy).saturating_add(slot * META_BLOCK_SECTORS);
            if io.read_block(sector, buf).is_err() {
                seen.unread = true;
            } else if let Ok(sb) = Superblock::decode(buf) {
                // A journal chain holds generations above its checkpoint's.
                let tail = read_tail(io, layout, copy, &sb, buf);
                seen.highest = seen.highest.max(sb.generation).max(tail.generation);
                seen.unread |= tail.unread;
            }
        }
    }
    seen
}

/// What a new commit or format must go above (see [`Seen::to_go_above`]).
pub fn highest_generation(io: &mut impl MetaIo, layout: &SpareLayout, spare_sectors: u64, buf: &mut [u8]) -> u64 {
    seen_generations(io, layout, spare_sectors, buf).to_go_above()
}

/// Decides what to do with a spare of `spare_sectors` sectors for the main
/// device `fp`. Reads (and fully checks) every copy; `force_format` turns
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
    if buf.len() != BLOCK {
        return Discovery::Refuse(Refusal::Unreadable);
    }
    let survey = survey(io, spare_sectors, &[fp.block_bytes], buf);
    let format = Discovery::Format { layout: now, highest: survey.highest };
    let refuse = |r| {
        if force_format {
            format
        } else {
            Discovery::Refuse(r)
        }
    };
    if survey.newer {
        return refuse(Refusal::NewerVersion);
    }
    let Some(found) = survey.best else {
        return match (survey.read_any, survey.ours, survey.foreign) {
            (false, _, _) => refuse(Refusal::Unreadable),
            // A superblock place that cannot be read may hold the
            // metadata: blank only when every place read as blank, and
            // damaged only when the superblocks read.
            _ if survey.read_failed => refuse(Refusal::Unreadable),
            (true, false, false) => format,
            (true, false, true) => refuse(Refusal::NotMetadata),
            (true, true, _) => refuse(Refusal::Damaged { states: [[CopyState::Missing; 2]; 2] }),
        };
    };
    let layout = match recorded_layout(&found, spare_sectors) {
        Some(Ok(l)) => l,
        Some(Err(sb)) => return refuse(Refusal::SpareShrank(sb)),
        None => return refuse(Refusal::Damaged { states: [[CopyState::Damaged(CopyFault::Misplaced); 2]; 2] }),
    };
    let copies = read_copies(io, &layout, buf);
    let states = copies.states;
    if states
        .iter()
        .flatten()
        .any(|s| matches!(s, CopyState::Damaged(CopyFault::Superblock(FormatError::UnsupportedVersion))))
    {
        return refuse(Refusal::NewerVersion);
    }
    for (copy, region) in (0u8..).zip(states.iter()) {
        if let Some(slot) = (0u8..).zip(region.iter()).find(|(_, s)| **s == CopyState::Foreign).map(|(s, _)| s) {
            return refuse(Refusal::Foreign { copy, slot });
        }
    }
    let Some((copy, slot)) = copies.newest() else {
        return refuse(Refusal::Damaged { states });
    };
    let CopyState::Valid(sb) = states[usize::from(copy)][usize::from(slot)] else {
        return Discovery::Refuse(Refusal::Unreadable);
    };
    if sb.block_bytes != fp.block_bytes {
        return refuse(Refusal::BlockSizeChanged(sb));
    }
    if sb.main_sectors != fp.main_sectors || sb.main_logical_block_size != fp.main_logical_block_size {
        return refuse(Refusal::ForeignMain(sb));
    }
    let slots = slots_of(&layout, &copies);
    let tail = copies.tails[usize::from(copy)][usize::from(slot)];
    Discovery::Load { copy, slot, sb, tail, layout, states, slots }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commit::tests::{crash, table, v1_image, Disk, Op};
    use crate::commit::{commit, format};
    use crate::extent::{Extent, ExtentState};
    use crate::format::{FORMAT_VERSION, NEWEST_LOADED};

    use crate::slots::superblock_sector;

    const SPARE: u64 = 16384;
    const FP: Fingerprint = Fingerprint { main_sectors: 1 << 20, main_logical_block_size: 512, block_bytes: 512 };

    fn sb(layout: &SpareLayout, generation: u64, spare_sectors: u64) -> Superblock {
        Superblock {
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
        }
    }

    /// An image of `SPARE` sectors whose first `spare_sectors` were
    /// formatted and then committed at `generation` with one extent.
    fn formatted(generation: u64, spare_sectors: u64) -> (Disk, SpareLayout) {
        let layout = SpareLayout::new(spare_sectors, 512).unwrap();
        let mut img = Disk::new(SPARE);
        let mut buf = vec![0u8; BLOCK];
        let (mut slots, done) = format(&mut img, &layout, &sb(&layout, generation - 1, spare_sectors), &[], &mut buf);
        assert_eq!(done.copies_written(), 2);
        let ext = [Extent { main: 9, spare: 0, len: 2, state: ExtentState::Ok }];
        let done = commit(&mut img, &layout, &mut slots, &sb(&layout, generation, spare_sectors), &ext, &mut buf);
        assert_eq!(done.copies_written(), 2);
        img.settle();
        (img, layout)
    }

    fn run(img: &mut Disk, fp: &Fingerprint, force: bool) -> Discovery {
        discover(img, SPARE, fp, force, &mut vec![0u8; BLOCK])
    }

    fn loads(d: &Discovery) -> Option<u64> {
        match d {
            Discovery::Load { sb, .. } => Some(sb.generation),
            _ => None,
        }
    }

    fn at(layout: &SpareLayout, copy: u8, slot: u8) -> usize {
        superblock_sector(layout, copy, slot) as usize * 512
    }

    /// Reads of a `Disk` that fail at some sectors.
    struct FailingReads<'a>(&'a mut Disk, Vec<u64>);

    impl MetaIo for FailingReads<'_> {
        fn read_block(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), crate::load::ReadFailed> {
            if self.1.contains(&sector) {
                return Err(crate::load::ReadFailed);
            }
            self.0.read_block(sector, buf)
        }
    }

    /// A superblock that cannot be read may hold a failed commit's
    /// generation, above every one that reads: a commit goes above it by
    /// `UNREAD_MARGIN`, while the newest copy that reads still loads.
    #[test]
    fn an_unreadable_superblock_raises_the_generation_to_go_above() {
        let (mut img, layout) = formatted(5, SPARE);
        assert_eq!(highest_generation(&mut img, &layout, SPARE, &mut vec![0u8; BLOCK]), 5);
        // Slot 0 holds generation 4, slot 1 the newest, 5.
        let bad = vec![superblock_sector(&layout, 1, 0)];
        let mut io = FailingReads(&mut img, bad);
        assert_eq!(highest_generation(&mut io, &layout, SPARE, &mut vec![0u8; BLOCK]), 5 + UNREAD_MARGIN);
        assert_eq!(loads(&discover(&mut io, SPARE, &FP, false, &mut vec![0u8; BLOCK])), Some(5));
        let mut top = formatted(5, SPARE).0;
        let sector = superblock_sector(&layout, 0, 0);
        let mut block = vec![0u8; BLOCK];
        top.read_block(sector, &mut block).unwrap();
        let sb = Superblock { generation: MAX_GENERATION - 1, ..Superblock::decode(&block).unwrap() };
        sb.encode(&mut block).unwrap();
        top.image[sector as usize * 512..][..BLOCK].copy_from_slice(&block);
        let mut io = FailingReads(&mut top, vec![superblock_sector(&layout, 1, 1)]);
        assert_eq!(highest_generation(&mut io, &layout, SPARE, &mut vec![0u8; BLOCK]), MAX_GENERATION);
    }

    /// A superblock write torn on a 512-byte-sector spare (power lost, or a
    /// request failed part-way) into a never-written slot: every sector but
    /// the first landed, so the block is zeros but for the checksum at its
    /// end. That is ours, damaged, not someone else's data: the spare still
    /// loads from the other slot.
    #[test]
    fn a_torn_superblock_over_a_blank_slot_is_damaged_not_foreign() {
        let layout = SpareLayout::new(SPARE, 512).unwrap();
        let mut img = Disk::new(SPARE);
        let mut buf = vec![0u8; BLOCK];
        let (_, done) = format(&mut img, &layout, &sb(&layout, 1, SPARE), &[], &mut buf);
        assert_eq!(done.copies_written(), 2);
        img.settle();
        let torn = Superblock { copy: 0, slot: 1, ..sb(&layout, 2, SPARE) };
        torn.encode(&mut buf).unwrap();
        let at = superblock_sector(&layout, 0, 1) as usize * 512;
        img.image[at + 512..at + BLOCK].copy_from_slice(&buf[512..]);
        assert_eq!(loads(&run(&mut img, &FP, false)), Some(1));
    }

    #[test]
    fn the_margin_applies_to_a_table_that_does_not_know_the_spare() {
        let read = Seen { highest: 7, unread: false };
        let unread = Seen { highest: 7, unread: true };
        assert_eq!(attempted_at_load(read, 7, 0, false), 7);
        assert_eq!(attempted_at_load(read, 7, 9, true), 9, "its own failed commits stay counted");
        assert_eq!(attempted_at_load(unread, 7, 0, false), 7 + UNREAD_MARGIN, "a new table");
        assert_eq!(attempted_at_load(unread, 7, 9, false), 7 + UNREAD_MARGIN, "a table never resumed");
        assert_eq!(attempted_at_load(unread, 7, 9, true), 9, "a table resumed before made all since");
        assert_eq!(attempted_at_load(unread, 7, 7 + UNREAD_MARGIN, true), 7 + UNREAD_MARGIN, "never lowered");
        let top = Seen { highest: MAX_GENERATION - 1, unread: true };
        assert_eq!(attempted_at_load(top, 3, 0, false), MAX_GENERATION);
    }

    /// A spare whose superblocks all fail to read (a spare failing for a
    /// while, or the sectors gone bad) while the other places region B
    /// could be read as zeros: that is not a blank spare. It must be
    /// refused (formatting it wipes the table), unless force_format.
    #[test]
    fn a_spare_whose_superblocks_cannot_be_read_is_never_formatted() {
        let (mut img, layout) = formatted(5, SPARE);
        let bad: Vec<u64> = (0..2u8)
            .flat_map(|c| (0..2u8).map(move |s| (c, s)))
            .map(|(c, s)| superblock_sector(&layout, c, s))
            .collect();
        let d = discover(&mut FailingReads(&mut img, bad.clone()), SPARE, &FP, false, &mut vec![0u8; BLOCK]);
        assert!(matches!(d, Discovery::Refuse(Refusal::Unreadable)), "{d:?}");
        let d = discover(&mut FailingReads(&mut img, bad), SPARE, &FP, true, &mut vec![0u8; BLOCK]);
        assert!(matches!(d, Discovery::Format { .. }), "force_format: {d:?}");
        assert_eq!(loads(&run(&mut img, &FP, false)), Some(5), "once they read again");
    }

    #[test]
    fn a_blank_spare_is_formatted() {
        let mut img = Disk::new(SPARE);
        assert!(matches!(run(&mut img, &FP, false), Discovery::Format { highest: 0, .. }));
    }

    #[test]
    fn a_good_spare_loads_the_newest_copy_and_a_damaged_one_needs_repair() {
        let (mut img, layout) = formatted(5, SPARE);
        let d = run(&mut img, &FP, false);
        assert_eq!(loads(&d), Some(5));
        assert!(!d.needs_repair());
        let a = at(&layout, 0, 1); // generation 5 went to slot 1 of each region
        img.image[a + 30] ^= 1;
        let d = run(&mut img, &FP, false);
        assert!(matches!(d, Discovery::Load { copy: 1, slot: 1, .. }), "{d:?}");
        assert!(d.needs_repair());
        // force_format never wipes metadata that loads.
        assert!(matches!(run(&mut img, &FP, true), Discovery::Load { .. }));
    }

    #[test]
    fn damage_in_every_copy_is_refused_unless_forced() {
        let (mut img, layout) = formatted(5, SPARE);
        for (c, s) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            img.image[at(&layout, c, s) + 30] ^= 1;
        }
        assert!(matches!(run(&mut img, &FP, false), Discovery::Refuse(Refusal::Damaged { .. })));
        assert!(matches!(run(&mut img, &FP, true), Discovery::Format { highest: 0, .. }));
    }

    #[test]
    fn data_that_is_not_metadata_is_refused_unless_forced() {
        let mut img = Disk::new(SPARE);
        img.image[100] = 1; // a used disk: copy A's block is not zero
        assert_eq!(run(&mut img, &FP, false), Discovery::Refuse(Refusal::NotMetadata));
        assert!(matches!(run(&mut img, &FP, true), Discovery::Format { .. }));
        let mut img = Disk::new(SPARE);
        let b = SpareLayout::new(SPARE, 512).unwrap().region_b_start as usize * 512;
        img.image[b + 7] = 1; // copy A zero, region B's place holds data
        assert_eq!(run(&mut img, &FP, false), Discovery::Refuse(Refusal::NotMetadata));
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
            let a = at(&layout, copy, 1);
            let mut sb = Superblock::decode(&img.image[a..a + BLOCK]).unwrap();
            sb.version = NEWEST_LOADED + 1;
            sb.encode(&mut img.image[a..a + BLOCK]).unwrap();
        }
        assert_eq!(run(&mut img, &FP, false), Discovery::Refuse(Refusal::NewerVersion));
    }

    #[test]
    fn a_grown_spare_keeps_its_recorded_layout_and_a_shrunk_one_is_refused() {
        let (mut img, layout) = formatted(5, SPARE - 2048);
        match run(&mut img, &FP, false) {
            Discovery::Load { layout: got, slots, .. } => {
                assert_eq!(got, layout);
                assert_eq!(slots.copies(), 2);
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
        let (mut img, layout) = formatted(5, SPARE / 2);
        assert_ne!(layout.region_b_start, SpareLayout::new(SPARE, 512).unwrap().region_b_start);
        img.image[at(&layout, 0, 1) + 100] ^= 0xff; // copy A's newest superblock damaged
        img.image[at(&layout, 0, 0) + 100] ^= 0xff;
        let d = run(&mut img, &FP, false);
        assert_eq!(loads(&d), Some(5), "damaged A: {d:?}");
        img.image[..layout.region_sectors as usize * 512].fill(0); // region A zeroed (discarded)
        let d = run(&mut img, &FP, false);
        assert_eq!(loads(&d), Some(5), "zeroed A: {d:?}");
        assert!(d.needs_repair());
        // And with region B's superblocks damaged too: refused, not formatted.
        for s in 0..2 {
            img.image[at(&layout, 1, s) + 100] ^= 0xff;
        }
        assert!(matches!(run(&mut img, &FP, false), Discovery::Refuse(Refusal::Damaged { .. })));
    }

    /// Issue 13 point 6: a former spare reused for a filesystem (its first
    /// blocks overwritten, copy B intact) holds someone's data in copy A's
    /// place: refused, never "repaired".
    #[test]
    fn foreign_data_in_a_copys_place_refuses_the_spare() {
        let (mut img, layout) = formatted(5, SPARE);
        for (i, b) in img.image[..4096].iter_mut().enumerate() {
            *b = (i % 251) as u8 + 1; // a filesystem's first block: no magic
        }
        let d = run(&mut img, &FP, false);
        assert!(
            matches!(d, Discovery::Refuse(Refusal::Foreign { copy: 0, slot: 0 })),
            "foreign data where copy A was: {d:?}"
        );
        // Data written over slot 1's superblock alone is foreign too.
        let (mut img, _) = formatted(5, SPARE);
        img.image[at(&layout, 1, 1)..at(&layout, 1, 1) + 4096].fill(0x33);
        assert!(matches!(run(&mut img, &FP, false), Discovery::Refuse(Refusal::Foreign { copy: 1, slot: 1 })));
    }

    #[test]
    fn a_version_1_spare_loads_whatever_lies_in_slot_1s_place() {
        let t = table(3, 0);
        let (mut img, layout) = v1_image(SPARE, 4, &t);
        let fp = Fingerprint { main_sectors: 1 << 20, ..FP };
        match discover(&mut img, SPARE, &fp, false, &mut vec![0u8; BLOCK]) {
            Discovery::Load { layout: got, sb, slots, .. } => {
                assert_eq!((got, sb.version, sb.generation, slots.copies()), (layout, FORMAT_VERSION_1, 4, 2));
            }
            d => panic!("{d:?}"),
        }
        // An empty version-1 table over old data: slot 1's place is not ours.
        let (mut img, _) = v1_image(SPARE, 4, &[]);
        img.image[4096..8192].fill(0x77);
        assert_eq!(loads(&discover(&mut img, SPARE, &fp, false, &mut vec![0u8; BLOCK])), Some(4));
        // A version-1 spare whose copy A is zeroed still loads copy B.
        img.image[..4096].fill(0);
        assert_eq!(loads(&discover(&mut img, SPARE, &fp, false, &mut vec![0u8; BLOCK])), Some(4));
    }

    #[test]
    fn a_crash_during_format_never_leaves_a_refused_spare() {
        let layout = SpareLayout::new(SPARE, 512).unwrap();
        let mut disk = Disk::new(SPARE);
        let mut buf = vec![0u8; BLOCK];
        format(&mut disk, &layout, &sb(&layout, 1, SPARE), &[], &mut buf);
        for at in 0..=disk.log.len() {
            let mut img = Disk::of(crash(&disk.image, &disk.log, at, |_| 0));
            let d = run(&mut img, &FP, false);
            assert!(matches!(d, Discovery::Format { .. } | Discovery::Load { .. }), "crash after {at}: {d:?}");
        }
    }

    /// A superblock is written with FUA, but a 4 KiB write to a
    /// 512-byte-sector spare can still be torn by a power cut: whichever of
    /// its sectors land, the spare loads the old or the new generation,
    /// never refused. Commits into blank slots and over older copies.
    #[test]
    fn a_torn_superblock_write_never_leaves_a_refused_spare() {
        let layout = SpareLayout::new(SPARE, 512).unwrap();
        let mut disk = Disk::new(SPARE);
        let mut buf = vec![0u8; BLOCK];
        let (mut slots, _) = format(&mut disk, &layout, &sb(&layout, 1, SPARE), &[], &mut buf);
        disk.settle();
        for generation in 2..5 {
            let base = disk.image.clone();
            let ext = table(generation * 100, 0);
            let next = Superblock { alloc_next: 1000, ..sb(&layout, generation, SPARE) };
            commit(&mut disk, &layout, &mut slots, &next, &ext, &mut buf);
            for (at, op) in disk.log.iter().enumerate() {
                let Op::Durable(sector, data) = op else { continue };
                // Every set of the 8 sectors but none and all.
                for landed in 1..255u32 {
                    let mut img = Disk::of(crash(&base, &disk.log, at, |_| 8));
                    for k in (0..8).filter(|k| landed & (1 << k) != 0) {
                        let at = (*sector as usize + k) * 512;
                        img.image[at..at + 512].copy_from_slice(&data[k * 512..(k + 1) * 512]);
                    }
                    let got = loads(&run(&mut img, &FP, false));
                    assert!(
                        got == Some(generation - 1) || got == Some(generation),
                        "generation {generation}, superblock at {sector} torn ({landed:#010b}): {got:?}"
                    );
                }
            }
            disk.settle();
        }
    }

    #[test]
    fn every_refusal_has_its_own_message() {
        let sb = Superblock::default();
        let all = [
            Refusal::Unreadable,
            Refusal::NotMetadata,
            Refusal::Foreign { copy: 0, slot: 0 },
            Refusal::Damaged { states: [[CopyState::Missing; 2]; 2] },
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
