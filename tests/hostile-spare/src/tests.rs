// SPDX-License-Identifier: GPL-2.0
use super::*;
use dm_remap_core::commit::{commit_change, format, MetaWrite};
use dm_remap_core::extent::ExtentState;
use dm_remap_core::format::{Superblock, FORMAT_VERSION};
use std::collections::BTreeMap;

const MAIN_SECTORS: u64 = 16384;

struct Vecw<'a>(&'a mut Vec<u8>);

impl MetaWrite for Vecw<'_> {
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

/// A 2 MiB spare as the module leaves it: formatted, then `extents` runs of
/// 2 blocks committed one commit at a time, each appended as a journal
/// block where a region can take one (format version 3), else folded.
fn base(extents: u64) -> Vec<u8> {
    base_on(extents, 2 << 20)
}

/// The same, on an image of `bytes` (more than 2 MiB: a grown spare).
fn base_on(extents: u64, bytes: usize) -> Vec<u8> {
    let mut img = vec![0u8; bytes];
    let layout = SpareLayout::new(4096, 512).unwrap();
    let mut sb = Superblock {
        version: FORMAT_VERSION,
        generation: 1,
        uuid: *b"hostile-spare-ut",
        main_sectors: MAIN_SECTORS,
        main_logical_block_size: 512,
        block_bytes: 512,
        spare_sectors: 4096,
        region_sectors: layout.region_sectors,
        pool_start: layout.pool_start,
        pool_blocks: layout.pool_blocks,
        region_b_start: layout.region_b_start,
        ..Default::default()
    };
    let mut buf = vec![0u8; BLOCK];
    let (mut slots, _) = format(&mut Vecw(&mut img), &layout, &sb, &[], &mut buf);
    let mut table = vec![];
    for i in 0..extents {
        let state = if i % 7 == 3 { ExtentState::Lost } else { ExtentState::Ok };
        let run = Extent { main: 10 + i * 5, spare: (2 * i) as u32, len: 2, state };
        table.push(run);
        sb.generation += 1;
        sb.alloc_next = 2 * (i + 1);
        let change = [run];
        commit_change(&mut Vecw(&mut img), &layout, &mut slots, &sb, FORMAT_VERSION, &table, Some(&change), &mut buf);
    }
    img
}

#[test]
fn bases_load_and_checksums_are_stable() {
    for n in [0, 3, 300] {
        let b = base(n);
        let mut fixed = b.clone();
        fix_checksums(&mut fixed);
        assert!(fixed == b, "recomputing good checksums changes nothing");
        match predict(&b, MAIN_SECTORS) {
            Outcome::Loaded { formatted: false, extents, .. } => assert_eq!(extents.len() as u64, n),
            other => panic!("base of {n} extents: {other:?}"),
        }
        assert_eq!(
            predict(&b, MAIN_SECTORS - 8),
            Outcome::Refused("Spare metadata belongs to another main device (its size or block size differs)".into())
        );
        let t = targets(&b).unwrap();
        // Version 3: one-change commits append to slot 0's chain; a full
        // chain folds into slot 1. Either way one copy per region at least.
        assert!(t.copies.len() >= 2, "base of {n} extents: {} copies", t.copies.len());
    }
}

#[test]
fn mutants_are_deterministic_and_reach_the_checks_past_the_checksum() {
    let b = base(300);
    let t = targets(&b).unwrap();
    // [recrc][loaded?] and reasons of the recomputed half.
    let mut counts = [[0u32; 2]; 2];
    let mut reasons: BTreeMap<String, u32> = BTreeMap::new();
    for seed in 0..3000u64 {
        let m = mutate(&b, &t, seed, MAIN_SECTORS);
        assert_eq!(m.recrc, seed % 2 == 1);
        assert!(!m.ops.is_empty());
        if seed < 50 {
            assert!(mutate(&b, &t, seed, MAIN_SECTORS).image == m.image, "seed {seed} is not deterministic");
        }
        let outcome = predict(&m.image, MAIN_SECTORS);
        let loaded = matches!(outcome, Outcome::Loaded { .. });
        counts[usize::from(m.recrc)][usize::from(loaded)] += 1;
        if let (true, Outcome::Refused(r)) = (m.recrc, &outcome) {
            *reasons.entry(r.clone()).or_default() += 1;
        }
    }
    eprintln!("raw: {:?}, recomputed: {:?}, reasons: {reasons:#?}", counts[0], counts[1]);
    for half in counts {
        assert!(half[0] > 100 && half[1] > 100, "both halves have loads and refusals: {counts:?}");
    }
    for want in [
        "inconsistent remap table",
        "damaged in every copy",
        "another main device",
        "someone else's data",
        "newer dm-remap",
    ] {
        assert!(reasons.keys().any(|r| r.contains(want)), "no recomputed mutant refused with '{want}': {reasons:?}");
    }
}

/// The module appends one journal block per region for a one-change
/// commit: the reference must load the chain, as the kernel does (the VM
/// run on 579d84d: "loaded 25 remapped blocks, the shared code 17").
#[test]
fn bases_have_journal_chains_and_predict_applies_them() {
    let b = base(3);
    let t = targets(&b).unwrap();
    assert_eq!(t.journals.len(), 6, "3 appends per region");
    assert_eq!(t.newest, 4);
    let Outcome::Loaded { extents, .. } = predict(&b, MAIN_SECTORS) else { panic!() };
    assert_eq!(extents.len(), 3);
    // A journal block damaged in region A: region B's chain still loads.
    let mut m = b.clone();
    m[t.journals[2] + 70] ^= 1;
    let Outcome::Loaded { extents, .. } = predict(&m, MAIN_SECTORS) else { panic!() };
    assert_eq!(extents.len(), 3);
}

#[test]
fn routes_follow_the_table() {
    let b = base(3);
    let Outcome::Loaded { extents, layout, .. } = predict(&b, MAIN_SECTORS) else { panic!() };
    assert_eq!(route(&extents, &layout, 9), None);
    assert_eq!(route(&extents, &layout, 16), Some((layout.pool_start + 3) * 512));
    assert_eq!(Outcome::Loaded { formatted: false, extents, layout }.remapped_blocks(), 6);
}

#[test]
fn mutants_of_a_grown_spare() {
    let b = base_on(5, 3 << 20);
    let t = targets(&b).unwrap();
    assert!(matches!(predict(&b, MAIN_SECTORS), Outcome::Loaded { formatted: false, .. }));
    let loaded = (0..1000u64)
        .filter(|&s| matches!(predict(&mutate(&b, &t, s, MAIN_SECTORS).image, MAIN_SECTORS), Outcome::Loaded { .. }))
        .count();
    assert!((100..900).contains(&loaded), "{loaded} of 1000 loaded");
}

/// A journal block's allocator cursor is bounded by the pool as a
/// superblock's is (`Superblock::decode`), since a chain's records are
/// checked only against that cursor. Without it (review of journal-v3,
/// fails without `read_chain`'s `cursor_max`), a well-checksummed block
/// with `alloc_next` past the pool loads a table whose extents map main
/// blocks past the pool's end (here past the spare's end; on a version-1
/// layout, onto region B's metadata right after the pool). Version 2 could
/// not load such a table: every extent ended below a superblock's cursor,
/// itself at most `pool_blocks`.
#[test]
fn a_journal_cursor_past_the_pool_ends_the_chain() {
    let mut img = base(3);
    let layout = SpareLayout::new(4096, 512).unwrap();
    let t = targets(&img).unwrap();
    let mut buf = vec![0u8; BLOCK];
    let found = read_copies(&mut Image(&img), &layout, &mut buf);
    let (c, s) = found.newest().unwrap();
    let CopyState::Valid(sb) = found.states[usize::from(c)][usize::from(s)] else { panic!() };
    let chain = read_journal(&mut Image(&img), &layout, c, &sb, &mut buf, |_, _| true);
    let fp = footprint_of(&layout, &sb).unwrap();
    // The next block of that chain, as a writer would encode it, but with a
    // run on pool block `pool_blocks` and the cursor just past it.
    let past = layout.pool_blocks;
    let run = Extent { main: 900, spare: past as u32, len: 1, state: ExtentState::Ok };
    let place = dm_remap_core::journal::ChainPlace { uuid: sb.uuid, copy: c, base: sb.generation, index: chain.blocks };
    let mut block = vec![0u8; BLOCK];
    dm_remap_core::journal::encode_journal_block(&mut block, &place, chain.generation + 1, past + 1, &[run]).unwrap();
    let at = (journal_sector(&layout, c, &fp, u64::from(chain.blocks)) * 512) as usize;
    img[at..at + BLOCK].copy_from_slice(&block);
    let _ = t;
    match predict(&img, MAIN_SECTORS) {
        Outcome::Loaded { formatted: false, extents, layout } => {
            let off = route(&extents, &layout, 900);
            let pool_end = (layout.pool_start + layout.pool_blocks * layout.block_sectors()) * 512;
            assert!(
                off.is_none_or(|o| o < pool_end),
                "main block 900 routes to spare byte {off:?}, past the pool's end {pool_end} (image {} bytes)",
                img.len()
            );
        }
        Outcome::Refused(_) => {}
        other => panic!("{other:?}"),
    }
}
