// SPDX-License-Identifier: GPL-2.0
//! `check`: reports each metadata copy on a spare and whether it needs
//! repair (exit status 0 clean, 1 needs repair, 2 unusable).

use std::path::Path;

use dm_remap_core::load::CopyState;

use dm_remap_tool::dump::{check_table, main_blocks};

use super::{load, Outcome};

const NAMES: [&str; 2] = ["A", "B"];

fn describe(copy: u8, slot: u8, state: &CopyState) -> String {
    let name = format!("copy {} slot {slot}", NAMES[usize::from(copy)]);
    match state {
        CopyState::Valid(sb) => {
            format!("{name}: valid, generation {}, {} extents (format {})", sb.generation, sb.extent_count, sb.version)
        }
        CopyState::Missing | CopyState::Leftover => format!("{name}: empty"),
        CopyState::Damaged(f) => format!("{name}: damaged ({f:?})"),
        CopyState::Foreign => format!("{name}: someone else's data (not dm-remap metadata)"),
    }
}

pub fn run(path: &Path) -> anyhow::Result<Outcome> {
    let (_, copies) = load(path, false)?;
    let l = &copies.layout;
    println!(
        "layout: {}-byte blocks, metadata regions of {} sectors at sectors 0 and {}, {} pool blocks",
        l.block_bytes,
        l.region_sectors,
        l.region_b_start,
        l.usable_blocks()
    );
    for (c, region) in (0u8..).zip(&copies.copies) {
        for (s, copy) in (0u8..).zip(region) {
            println!("{}", describe(c, s, &copy.state));
        }
    }
    let Some((_, _, sb, extents)) = copies.newest() else {
        println!("no valid copy: the target would refuse this spare");
        return Ok(Outcome::Unusable);
    };
    if let Err(e) = check_table(extents, &copies.layout, sb.alloc_next, main_blocks(&sb, &copies.layout)) {
        println!("newest copy's table is inconsistent: {e}");
        return Ok(Outcome::Unusable);
    }
    if copies.copies.iter().flatten().any(|c| c.state == CopyState::Foreign) {
        println!("someone else's data where a copy belongs: the target refuses this spare");
        return Ok(Outcome::Unusable);
    }
    if copies.slots().copies() == 2 {
        println!("clean: generation {}, {} extents", sb.generation, sb.extent_count);
        Ok(Outcome::Clean)
    } else {
        println!("usable from generation {}; one region lacks it: repair rewrites it", sb.generation);
        Ok(Outcome::NeedsRepair)
    }
}
