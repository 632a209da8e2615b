// SPDX-License-Identifier: GPL-2.0
//! Feeds arbitrary bytes to the metadata decoder, as a whole spare image and
//! as single blocks: decoding must never panic, whatever the spare holds.
#![no_main]

use dm_remap_core::format::{decode_entries, Superblock, BLOCK};
use dm_remap_core::geometry::SpareLayout;
use dm_remap_core::load::{newest, read_copy, MetaIo, ReadFailed};
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
    let sectors = (data.len() / 512) as u64;
    for block_bytes in [512u32, 4096] {
        if let Some(layout) = SpareLayout::new(sectors, block_bytes) {
            let mut buf = vec![0u8; BLOCK];
            let a = read_copy(&mut Image(data), &layout, 0, &mut buf, |_| ());
            let b = read_copy(&mut Image(data), &layout, 1, &mut buf, |_| ());
            let _ = newest(&a, &b);
        }
    }
});
