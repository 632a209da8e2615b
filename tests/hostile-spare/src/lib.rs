// SPDX-License-Identifier: GPL-2.0
//! Hostile spares: deterministic mutants of a valid dm-remap spare image,
//! and what the shared load code decides for each.
//!
//! [`mutate`] takes a base image (a spare written by the real module) and a
//! seed and returns the mutated image: bit flips, byte overwrites, and
//! mutations that know the format (superblock fields, entry-block headers,
//! entries made to overlap, share spare blocks, reach past the allocator or
//! the main device; generations, whole blocks zeroed, copied or filled,
//! region B moved). Odd seeds recompute every checksum afterwards, so that
//! the checks past the checksum are reached; even seeds leave them as the
//! mutation made them. [`predict`] runs the decision the kernel's
//! constructor makes (discovery, reading the chosen copy, the table check)
//! on an image, so the VM test can compare the kernel's outcome with it.

use dm_remap_core::crc32c::{crc32c, update};
use dm_remap_core::discover::{discover, find_layout, read_copies, Discovery, Fingerprint};
use dm_remap_core::extent::Extent;
use dm_remap_core::format::{entry_blocks, BLOCK, ENTRY_MAGIC, SUPER_MAGIC};
use dm_remap_core::geometry::{region_b_candidates, SpareLayout, META_BLOCK_SECTORS};
use dm_remap_core::journal::{JOURNAL_MAGIC, RECORDS_PER_BLOCK};
use dm_remap_core::load::{apply_journal, read_journal, read_slot, ApplyError, CopyState, MetaIo, ReadFailed};
use dm_remap_core::slots::{entry_sector, footprint_of, journal_sector, superblock_sector};
use dm_remap_core::table_check::{bitmap_words, check_table, prefer_bitmap, Scratch};

/// A spare image as a [`MetaIo`].
pub struct Image<'a>(pub &'a [u8]);

impl MetaIo for Image<'_> {
    fn read_block(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), ReadFailed> {
        let at = usize::try_from(sector.checked_mul(512).ok_or(ReadFailed)?).map_err(|_| ReadFailed)?;
        let src = self.0.get(at..at.checked_add(buf.len()).ok_or(ReadFailed)?).ok_or(ReadFailed)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// splitmix64: small, fast, and the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x6a09_e667_f3bc_c908)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// An index into a slice of `n` elements (`n` > 0).
    pub fn pick(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

fn get(img: &[u8], at: usize, size: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(src) = img.get(at..at + size) {
        v[..size].copy_from_slice(src);
    }
    u64::from_le_bytes(v)
}

fn put(img: &mut [u8], at: usize, size: usize, value: u64) {
    if let Some(dst) = img.get_mut(at..at + size) {
        dst.copy_from_slice(&value.to_le_bytes()[..size]);
    }
}

fn mask(size: usize) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (size * 8)) - 1
    }
}

/// Where the metadata of a base image lies: what mutations aim at.
#[derive(Clone, Debug)]
pub struct Targets {
    pub layout: SpareLayout,
    /// Byte offsets of the four superblock places, `[A0, A1, B0, B1]`.
    pub superblocks: Vec<usize>,
    /// Byte offsets of the superblocks of valid copies, with their entry
    /// blocks' byte offsets and generation.
    pub copies: Vec<(usize, Vec<usize>, u64)>,
    /// Byte offsets of the journal blocks in the chains of valid copies.
    pub journals: Vec<usize>,
    /// Byte offsets of every metadata block of both regions.
    pub region_blocks: Vec<usize>,
    /// Byte offsets of every other place region B could start at (powers
    /// of two below the size).
    pub b_places: Vec<usize>,
    /// The newest generation on the base.
    pub newest: u64,
}

/// Finds the metadata of a valid base image; `None` if it has none.
pub fn targets(base: &[u8]) -> Option<Targets> {
    let sectors = (base.len() / 512) as u64;
    let mut buf = vec![0u8; BLOCK];
    let layout = find_layout(&mut Image(base), sectors, &mut buf).ok()?;
    let states = read_copies(&mut Image(base), &layout, &mut buf).states;
    let mut superblocks = vec![];
    let mut copies = vec![];
    let mut newest = 0;
    let mut journals = vec![];
    for copy in 0..2u8 {
        for slot in 0..2u8 {
            let sb_at = (superblock_sector(&layout, copy, slot) * 512) as usize;
            superblocks.push(sb_at);
            if let CopyState::Valid(sb) = states[usize::from(copy)][usize::from(slot)] {
                let fp = footprint_of(&layout, &sb)?;
                let entries = (0..entry_blocks(sb.extent_count))
                    .map(|i| (entry_sector(&layout, copy, &fp, i) * 512) as usize)
                    .collect();
                let chain = read_journal(&mut Image(base), &layout, copy, &sb, &mut buf, |_, _| true);
                journals.extend(
                    (0..u64::from(chain.blocks)).map(|i| (journal_sector(&layout, copy, &fp, i) * 512) as usize),
                );
                copies.push((sb_at, entries, sb.generation));
                newest = newest.max(chain.generation);
            }
        }
    }
    if copies.is_empty() {
        return None;
    }
    let mut region_blocks = vec![];
    for copy in 0..2u8 {
        let start = layout.region_start(copy);
        for b in 0..layout.region_meta_blocks() {
            region_blocks.push(((start + b * META_BLOCK_SECTORS) * 512) as usize);
        }
    }
    let b_places = region_b_candidates(sectors)
        .filter(|&p| p != layout.region_b_start && p >= 8 && (p + layout.region_sectors) <= sectors)
        .map(|p| (p * 512) as usize)
        .collect();
    Some(Targets { layout, superblocks, copies, journals, region_blocks, b_places, newest })
}

/// Superblock fields: name, byte offset, size.
const SB_FIELDS: &[(&str, usize, usize)] = &[
    ("magic", 0, 8),
    ("version", 8, 4),
    ("flags", 12, 4),
    ("generation", 16, 8),
    ("uuid", 24, 8),
    ("main_sectors", 40, 8),
    ("main_lbs", 48, 4),
    ("block_bytes", 52, 4),
    ("spare_sectors", 56, 8),
    ("region_sectors", 64, 8),
    ("pool_start", 72, 8),
    ("pool_blocks", 80, 8),
    ("region_b_start", 88, 8),
    ("extent_count", 96, 8),
    ("alloc_next", 104, 8),
    ("copy", 112, 1),
    ("slot", 113, 1),
    ("reserved", 114, 1),
    ("reserved_end", 4091, 1),
    ("crc", 4092, 4),
];

/// Entry-block header fields.
const ENTRY_HEADER_FIELDS: &[(&str, usize, usize)] =
    &[("magic", 0, 8), ("generation", 8, 8), ("index", 16, 4), ("count", 20, 4), ("reserved", 24, 4), ("crc", 60, 4)];

/// Entry fields, relative to the entry.
const ENTRY_FIELDS: &[(&str, usize, usize)] =
    &[("main", 0, 8), ("spare", 8, 4), ("len", 12, 2), ("state", 14, 1), ("pad", 15, 1)];

/// An interesting value for a field of `size` bytes holding `old`;
/// `related` are values of other fields and of the geometry.
fn interesting(rng: &mut Rng, old: u64, size: usize, related: &[u64]) -> u64 {
    let m = mask(size);
    let bits = (size * 8) as u64;
    let v = match rng.below(13) {
        0 => 0,
        1 => 1,
        2 => old.wrapping_add(1),
        3 => old.wrapping_sub(1),
        4 => old.wrapping_mul(2),
        5 => old / 2,
        6 => m,
        7 => 1u64 << rng.below(bits),
        8 => rng.next_u64(),
        9 => old ^ (1u64 << rng.below(bits)),
        10 | 11 if !related.is_empty() => related[rng.pick(related.len())],
        12 if !related.is_empty() => related[rng.pick(related.len())].wrapping_add(rng.below(3)).wrapping_sub(1),
        _ => m >> 1,
    };
    v & m
}

/// One mutated image.
pub struct Mutant {
    pub image: Vec<u8>,
    /// Whether every checksum was recomputed after mutating.
    pub recrc: bool,
    /// What was done, for the log.
    pub ops: Vec<String>,
}

struct Ctx<'a> {
    rng: Rng,
    t: &'a Targets,
    img: Vec<u8>,
    ops: Vec<String>,
    main_blocks: u64,
}

impl Ctx<'_> {
    fn any_block(&mut self) -> usize {
        match self.rng.below(10) {
            0..=3 => self.t.superblocks[self.rng.pick(4)],
            4..=6 => match self.entry_block() {
                Some(b) => b,
                None => self.t.superblocks[self.rng.pick(4)],
            },
            7 if !self.t.journals.is_empty() => self.t.journals[self.rng.pick(self.t.journals.len())],
            _ => self.t.region_blocks[self.rng.pick(self.t.region_blocks.len())],
        }
    }

    fn entry_block(&mut self) -> Option<usize> {
        let all: Vec<usize> = self.t.copies.iter().flat_map(|c| c.1.iter().copied()).collect();
        (!all.is_empty()).then(|| all[self.rng.pick(all.len())])
    }

    /// A superblock that holds a valid copy on the base (mostly) or any place.
    fn superblock(&mut self) -> usize {
        if self.rng.chance(80) {
            self.t.copies[self.rng.pick(self.t.copies.len())].0
        } else {
            self.t.superblocks[self.rng.pick(4)]
        }
    }

    fn sb_related(&self, sb: usize) -> Vec<u64> {
        let mut r: Vec<u64> =
            [40, 56, 64, 72, 80, 88, 96, 104, 16].iter().map(|&o| get(&self.img, sb + o, 8)).collect();
        r.extend([(self.img.len() / 512) as u64, self.main_blocks, self.t.newest, self.t.newest + 1, 4096, 512, 2]);
        r
    }

    fn entry_related(&self, block: usize) -> Vec<u64> {
        let count = get(&self.img, block + 20, 4).min(252) as usize;
        let mut r = vec![];
        for i in 0..count {
            let e = block + 64 + 16 * i;
            let (main, spare, len) = (get(&self.img, e, 8), get(&self.img, e + 8, 4), get(&self.img, e + 12, 2));
            r.extend([
                main,
                main.wrapping_add(len),
                main.wrapping_add(len).wrapping_sub(1),
                spare,
                spare + len,
                (spare + len).wrapping_sub(1),
            ]);
        }
        let l = &self.t.layout;
        r.extend([self.main_blocks, self.main_blocks - 1, l.pool_blocks, l.pool_blocks - 1, u64::MAX, u64::MAX - 1]);
        if let Some((first, n)) = l.gap() {
            r.extend([first, first + n - 1, first.saturating_sub(1)]);
        }
        r
    }

    fn bit_flip(&mut self) {
        let b = self.any_block();
        let byte = if self.rng.chance(70) { self.rng.pick(128) } else { self.rng.pick(BLOCK) };
        let bit = self.rng.below(8);
        self.img[b + byte] ^= 1 << bit;
        self.ops.push(format!("flip@{}+{}.{}", b / 512, byte, bit));
    }

    fn set_byte(&mut self) {
        let b = self.any_block();
        let byte = if self.rng.chance(70) { self.rng.pick(128) } else { self.rng.pick(BLOCK) };
        let v = [0u8, 0xff, 0x7f, 0x80, 1, self.rng.next_u64() as u8][self.rng.pick(6)];
        self.img[b + byte] = v;
        self.ops.push(format!("byte@{}+{}={:#x}", b / 512, byte, v));
    }

    fn sb_field(&mut self) {
        let (name, off, size) = SB_FIELDS[self.rng.pick(SB_FIELDS.len())];
        let all = self.rng.chance(50);
        let sbs: Vec<usize> = if all { self.t.superblocks.clone() } else { vec![self.superblock()] };
        let related = self.sb_related(sbs[0]);
        let v = interesting(&mut self.rng, get(&self.img, sbs[0] + off, size), size, &related);
        for &sb in &sbs {
            put(&mut self.img, sb + off, size, v);
        }
        let whom = if all { "all".to_string() } else { (sbs[0] / 512).to_string() };
        self.ops.push(format!("sb[{whom}].{name}={v:#x}"));
    }

    /// The entry blocks that hold the same extents as `block` in other
    /// copies of the newest generation (so a change can be made to all).
    fn same_blocks(&self, block: usize) -> Vec<usize> {
        let Some((i, idx)) =
            self.t.copies.iter().enumerate().find_map(|(i, c)| c.1.iter().position(|&b| b == block).map(|p| (i, p)))
        else {
            return vec![block];
        };
        let generation = self.t.copies[i].2;
        self.t.copies.iter().filter(|c| c.2 == generation).filter_map(|c| c.1.get(idx).copied()).collect()
    }

    fn entry_header(&mut self) {
        let Some(b) = self.entry_block() else { return self.sb_field() };
        let (name, off, size) = ENTRY_HEADER_FIELDS[self.rng.pick(ENTRY_HEADER_FIELDS.len())];
        let mut related = self.entry_related(b);
        related.extend([self.t.newest, self.t.newest + 1, 252, 253]);
        let v = interesting(&mut self.rng, get(&self.img, b + off, size), size, &related);
        let blocks = if self.rng.chance(50) { self.same_blocks(b) } else { vec![b] };
        for &blk in &blocks {
            put(&mut self.img, blk + off, size, v);
        }
        self.ops.push(format!("entries@{}x{}.{name}={v:#x}", b / 512, blocks.len()));
    }

    fn entry_field(&mut self) {
        let Some(b) = self.entry_block() else { return self.sb_field() };
        let count = get(&self.img, b + 20, 4).min(252);
        let i = if self.rng.chance(90) { self.rng.below(count) } else { (count + self.rng.below(2)).min(251) };
        let (name, off, size) = ENTRY_FIELDS[self.rng.pick(ENTRY_FIELDS.len())];
        let at = 64 + 16 * i as usize + off;
        let related = self.entry_related(b);
        let v = match name {
            "state" if self.rng.chance(50) => 1,
            _ => interesting(&mut self.rng, get(&self.img, b + at, size), size, &related),
        };
        let blocks = if self.rng.chance(50) { self.same_blocks(b) } else { vec![b] };
        for &blk in &blocks {
            put(&mut self.img, blk + at, size, v);
        }
        self.ops.push(format!("entries@{}x{}[{i}].{name}={v:#x}", b / 512, blocks.len()));
    }

    fn swap_entries(&mut self) {
        let Some(b) = self.entry_block() else { return self.bit_flip() };
        let count = get(&self.img, b + 20, 4).min(252);
        if count < 2 {
            return self.entry_field();
        }
        let i = self.rng.below(count - 1) as usize;
        let j = if self.rng.chance(50) { i + 1 } else { self.rng.below(count) as usize };
        let blocks = if self.rng.chance(50) { self.same_blocks(b) } else { vec![b] };
        for &blk in &blocks {
            for k in 0..16 {
                self.img.swap(blk + 64 + 16 * i + k, blk + 64 + 16 * j + k);
            }
        }
        self.ops.push(format!("entries@{}x{}.swap({i},{j})", b / 512, blocks.len()));
    }

    fn zero_block(&mut self) {
        let b = self.any_block();
        self.img[b..b + BLOCK].fill(0);
        self.ops.push(format!("zero@{}", b / 512));
    }

    fn fill_block(&mut self) {
        let b = self.any_block();
        let keep_magic = self.rng.chance(50);
        let from = if keep_magic { 8 } else { 0 };
        for x in &mut self.img[b + from..b + BLOCK] {
            *x = self.rng.next_u64() as u8;
        }
        self.ops.push(format!("fill@{}{}", b / 512, if keep_magic { "(magic kept)" } else { "" }));
    }

    fn copy_block(&mut self) {
        let from = self.any_block();
        let to = if self.rng.chance(20) && !self.t.b_places.is_empty() {
            self.t.b_places[self.rng.pick(self.t.b_places.len())]
        } else {
            self.any_block()
        };
        let src = self.img[from..from + BLOCK].to_vec();
        self.img[to..to + BLOCK].copy_from_slice(&src);
        self.ops.push(format!("copy@{}->{}", from / 512, to / 512));
    }

    /// Drops the last extent of a copy coherently (its count in the last
    /// entry block and the superblock's extent_count): a smaller, valid table.
    fn drop_extent(&mut self) {
        let c = self.t.copies[self.rng.pick(self.t.copies.len())].clone();
        let Some(&last) = c.1.last() else { return self.sb_field() };
        let count = get(&self.img, last + 20, 4);
        if count == 0 || count > 252 {
            return self.sb_field();
        }
        put(&mut self.img, last + 20, 4, count - 1);
        let e = last + 64 + 16 * (count as usize - 1);
        self.img[e..e + 16].fill(0);
        let n = get(&self.img, c.0 + 96, 8);
        put(&mut self.img, c.0 + 96, 8, n.wrapping_sub(1));
        self.ops.push(format!("drop_last@{}", c.0 / 512));
    }

    /// Gives a copy another generation, in its superblock and every entry
    /// block (coherent, so with checksums recomputed it is a valid copy).
    fn regenerate(&mut self) {
        let c = self.t.copies[self.rng.pick(self.t.copies.len())].clone();
        let v = match self.rng.below(5) {
            0 => self.t.newest + 1,
            1 => u64::MAX,
            2 => 0,
            3 => c.2.wrapping_sub(1),
            _ => self.rng.next_u64(),
        };
        put(&mut self.img, c.0 + 16, 8, v);
        for &b in &c.1 {
            put(&mut self.img, b + 8, 8, v);
        }
        self.ops.push(format!("generation@{}={v:#x}", c.0 / 512));
    }

    /// Moves region B to another power of two and records it there in every
    /// superblock (a coherent layout change).
    fn move_region_b(&mut self) {
        if self.t.b_places.is_empty() {
            return self.sb_field();
        }
        let to = self.t.b_places[self.rng.pick(self.t.b_places.len())];
        let from = (self.t.layout.region_b_start * 512) as usize;
        let len = (self.t.layout.region_sectors * 512) as usize;
        let region = self.img[from..from + len].to_vec();
        if self.rng.chance(50) {
            self.img[from..from + len].fill(0);
        }
        self.img[to..to + len].copy_from_slice(&region);
        let start = (to / 512) as u64;
        for sb in [0, BLOCK, to, to + BLOCK] {
            if self.img[sb..sb + 8] == SUPER_MAGIC {
                put(&mut self.img, sb + 88, 8, start);
            }
        }
        self.ops.push(format!("move_b->{start}"));
    }

    /// The same byte of every superblock, or of the same entry block of
    /// every copy, set to one value: with checksums recomputed, a field
    /// every copy agrees on; without, damage in every copy.
    fn every_copy_byte(&mut self) {
        let entries = self.rng.chance(40);
        let (blocks, byte) = match self.entry_block() {
            Some(b) if entries => (self.same_blocks(b), 8 + self.rng.pick(64 + 16 * 8)),
            _ => (self.t.superblocks.clone(), self.rng.pick(120)),
        };
        let v = [0u8, 0xff, 1, 2, 0x80, self.rng.next_u64() as u8][self.rng.pick(6)];
        for &b in &blocks {
            self.img[b + byte] = v;
        }
        self.ops.push(format!("every_copy@{}x{}+{byte}={v:#x}", blocks[0] / 512, blocks.len()));
    }

    fn zero_region_a(&mut self) {
        let len = (self.t.layout.region_sectors * 512) as usize;
        self.img[..len].fill(0);
        self.ops.push("zero_region_a".into());
    }
}

/// Recomputes the checksum of every 4 KiB block that starts with a
/// superblock, entry-block or journal-block magic (the last two share the
/// checksum's place and extent).
pub fn fix_checksums(img: &mut [u8]) {
    for b in img.chunks_exact_mut(BLOCK) {
        if b[..8] == SUPER_MAGIC {
            let crc = crc32c(&b[..BLOCK - 4]);
            b[BLOCK - 4..].copy_from_slice(&crc.to_le_bytes());
        } else if b[..8] == ENTRY_MAGIC || b[..8] == JOURNAL_MAGIC {
            let crc = !update(update(!0, &b[..60]), &b[64..]);
            b[60..64].copy_from_slice(&crc.to_le_bytes());
        }
    }
}

/// The mutant of `base` for `seed`, for a main device of `main_blocks`
/// blocks. Odd seeds get their checksums recomputed.
pub fn mutate(base: &[u8], t: &Targets, seed: u64, main_blocks: u64) -> Mutant {
    let recrc = seed % 2 == 1;
    let mut cx = Ctx { rng: Rng::new(seed), t, img: base.to_vec(), ops: vec![], main_blocks };
    let spread = if cx.rng.chance(70) { 1 } else { 3 };
    let n = 1 + cx.rng.below(spread);
    for _ in 0..n {
        // Raw mutants: mostly bytes and whole blocks (a field change
        // without its checksum is refused like a bit flip);
        // recomputed ones: mostly fields.
        let w: &[u64] = if recrc {
            &[6, 6, 22, 10, 22, 6, 4, 3, 5, 4, 5, 4, 3, 12]
        } else {
            &[20, 15, 8, 4, 8, 3, 10, 8, 12, 2, 3, 4, 3, 12]
        };
        let mut r = cx.rng.below(w.iter().sum());
        let mut op = 0;
        while r >= w[op] {
            r -= w[op];
            op += 1;
        }
        match op {
            0 => cx.bit_flip(),
            1 => cx.set_byte(),
            2 => cx.sb_field(),
            3 => cx.entry_header(),
            4 => cx.entry_field(),
            5 => cx.swap_entries(),
            6 => cx.zero_block(),
            7 => cx.fill_block(),
            8 => cx.copy_block(),
            9 => cx.drop_extent(),
            10 => cx.regenerate(),
            11 => cx.move_region_b(),
            12 => cx.zero_region_a(),
            _ => cx.every_copy_byte(),
        }
    }
    if recrc {
        fix_checksums(&mut cx.img);
    }
    Mutant { image: cx.img, recrc, ops: cx.ops }
}

/// What the constructor does with a spare image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Loaded (`formatted`: a blank spare was formatted) with this table.
    Loaded { formatted: bool, extents: Vec<Extent>, layout: SpareLayout },
    /// Refused with this `ti->error` message.
    Refused(String),
}

impl Outcome {
    /// Blocks the loaded table remaps (the status line's `remaps`).
    pub fn remapped_blocks(&self) -> u64 {
        match self {
            Self::Loaded { extents, .. } => extents.iter().map(|e| u64::from(e.len)).sum(),
            Self::Refused(_) => 0,
        }
    }
}

/// The kernel constructor's decision (see `Metadata::open` in
/// src/remap/metadata.rs) for `img` as the spare of a main device of
/// `main_sectors` sectors with 512-byte blocks.
pub fn predict(img: &[u8], main_sectors: u64) -> Outcome {
    let fp = Fingerprint { main_sectors, main_logical_block_size: 512, block_bytes: 512 };
    let mut buf = vec![0u8; BLOCK];
    let sectors = (img.len() / 512) as u64;
    match discover(&mut Image(img), sectors, &fp, false, &mut buf) {
        Discovery::Refuse(r) => Outcome::Refused(r.message().to_string_lossy().into_owned()),
        Discovery::Format { layout, .. } => Outcome::Loaded { formatted: true, extents: vec![], layout },
        Discovery::Load { copy, slot, sb, tail, layout, .. } => {
            let mut extents = vec![];
            let state = read_slot(&mut Image(img), &layout, copy, slot, &mut buf, |e| extents.push(e));
            if state != CopyState::Valid(sb) {
                return Outcome::Refused("Spare metadata changed while it was being loaded".into());
            }
            // The copy's journal chain, applied as the kernel's load does
            // (format version 3: a commit of one change appends a block).
            let mut runs = vec![Extent::default(); RECORDS_PER_BLOCK];
            let (chain, table) = apply_journal::<Vec<Extent>>(
                &mut Image(img),
                &layout,
                copy,
                &sb,
                &extents,
                tail.blocks,
                &mut runs,
                &mut buf,
            );
            match table {
                Ok(_) if chain.generation != tail.generation || chain.blocks != tail.blocks => {
                    return Outcome::Refused("Spare metadata changed while it was being loaded".into());
                }
                Ok(Some(t)) => extents = t,
                Ok(None) => {}
                Err(ApplyError::NoMemory) => return Outcome::Refused("Cannot allocate the loaded remap table".into()),
                Err(ApplyError::BadRecords) => {
                    return Outcome::Refused("Spare metadata journal holds invalid records".into())
                }
            }
            let sb = dm_remap_core::format::Superblock {
                generation: chain.generation,
                alloc_next: chain.alloc_next.unwrap_or(sb.alloc_next),
                extent_count: extents.len() as u64,
                ..sb
            };
            // As the kernel chooses its scratch.
            let (mut copy, mut bits) = (extents.clone(), vec![]);
            let scratch = if prefer_bitmap(sb.extent_count, sb.alloc_next) {
                bits.resize(bitmap_words(sb.alloc_next) as usize, 0u64);
                Scratch::Bitmap(&mut bits)
            } else {
                Scratch::Sorted(&mut copy)
            };
            if check_table(&extents, scratch, layout.gap(), sb.alloc_next, main_sectors).is_err() {
                return Outcome::Refused("Spare metadata holds an inconsistent remap table".into());
            }
            Outcome::Loaded { formatted: false, extents, layout }
        }
    }
}

/// Where main block `block` of a loaded table reads from: `Some(spare
/// byte offset)` when remapped, `None` when on the main device.
pub fn route(extents: &[Extent], layout: &SpareLayout, block: u64) -> Option<u64> {
    let e = extents.iter().find(|e| e.main <= block && block < e.main_end())?;
    let pool_block = u64::from(e.spare) + (block - e.main);
    Some((layout.pool_start + pool_block * layout.block_sectors()) * 512)
}

#[cfg(test)]
mod tests;
