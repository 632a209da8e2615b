// SPDX-License-Identifier: GPL-2.0
//! Feeds arbitrary bytes to the metadata decoder, as a whole spare image and
//! as single blocks: decoding must never panic, whatever the spare holds.
//! Journal blocks are decoded too, and a valid copy's chain read.
//! Whatever extents a copy yields, made disjoint, also go through the lookup
//! index the kernel builds over a loaded table, which must agree with a
//! plain binary search.
#![no_main]

use dm_remap_core::discover::{discover, find_layout, read_copies, slots_of, Fingerprint};
use dm_remap_core::extent::{self, Extent};
use dm_remap_core::extent_index::{self, IndexShape};
use dm_remap_core::format::{decode_entries, Superblock, BLOCK};
use dm_remap_core::journal::{decode_journal_block, records, ChainPlace};
use dm_remap_core::load::{read_journal, read_slot, CopyState, MetaIo, ReadFailed};
use libfuzzer_sys::fuzz_target;

struct Image<'a>(&'a [u8]);

impl MetaIo for Image<'_> {
    fn read_block(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), ReadFailed> {
        let at = usize::try_from(sector.checked_mul(512).ok_or(ReadFailed)?).map_err(|_| ReadFailed)?;
        let src = self.0.get(at..at.checked_add(BLOCK).ok_or(ReadFailed)?).ok_or(ReadFailed)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = Superblock::decode(data.get(..BLOCK).unwrap_or(data));
    let _ = decode_entries(data.get(..BLOCK).unwrap_or(data), 1, 0, |_| ());
    let place = ChainPlace { uuid: [0; 16], copy: 0, base: 1, index: 0 };
    let _ = decode_journal_block(data.get(..BLOCK).unwrap_or(data), &place);
    let sectors = (data.len() / 512) as u64;
    let mut buf = vec![0u8; BLOCK];
    if let Ok(layout) = find_layout(&mut Image(data), sectors, &mut buf) {
        for copy in 0..2 {
            for slot in 0..2 {
                let mut found = Vec::new();
                let state = read_slot(&mut Image(data), &layout, copy, slot, &mut buf, |e| found.push(e));
                check_index(found);
                if let CopyState::Valid(sb) = state {
                    let mut changed = Vec::new();
                    read_journal(&mut Image(data), &layout, copy, &sb, &mut buf, |h, b| {
                        changed.extend(records(b, h));
                        true
                    });
                    check_index(changed);
                }
            }
        }
        let found = read_copies(&mut Image(data), &layout, &mut buf);
        let _ = found.newest();
        let _ = slots_of(&layout, &found).copies();
    }
    for block_bytes in [512u32, 4096] {
        let fp = Fingerprint { main_sectors: 1 << 20, main_logical_block_size: 512, block_bytes };
        let _ = discover(&mut Image(data), sectors, &fp, false, &mut buf);
    }
});

/// Builds the index over `found` (sorted, overlaps dropped) and compares its
/// answers with the binary search around every extent edge.
fn check_index(mut found: Vec<Extent>) {
    found.sort_by_key(|e| e.main);
    let mut table: Vec<Extent> = Vec::new();
    for e in found {
        if table.last().map_or(true, |l| l.main_end() <= e.main) {
            table.push(e);
        }
    }
    let shape = IndexShape::of(&table);
    let mut starts = vec![0u32; shape.slots()];
    if extent_index::build(&table, &shape, &mut starts).is_err() {
        return;
    }
    for e in &table {
        for block in [e.main.saturating_sub(1), e.main, e.main_end().saturating_sub(1), e.main_end()] {
            assert_eq!(
                extent_index::first_ending_after(&table, &shape, &starts, block),
                extent::first_ending_after(&table, block)
            );
        }
    }
}
