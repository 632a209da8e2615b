// SPDX-License-Identifier: GPL-2.0
//! The offline metadata commands: check, dump, restore, repair.

use std::path::Path;

use dm_remap_core::format::{next_generation, Superblock, FORMAT_VERSION};
use dm_remap_core::geometry::SpareLayout;
use dm_remap_core::load::CopyState;

use crate::dump::{check_table, main_blocks, Dump};
use crate::spare::{Copies, Spare};

/// How a command ended: exit status 0, 1 or 2, and what to say.
pub enum Outcome {
    /// Both regions hold the newest generation.
    Clean,
    /// Usable, but a region lacks the newest generation: `repair` fixes it.
    NeedsRepair,
    /// No valid copy, or bad input: nothing to load.
    Unusable,
}

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

fn load(path: &Path, write: bool) -> Result<(Spare, Copies), String> {
    let mut spare = Spare::open(path, write)?;
    let layout = spare.find_layout().map_err(|e| format!("{}: {e}", path.display()))?;
    let copies = spare.read_copies(&layout);
    Ok((spare, copies))
}

/// `check`: reports each copy and whether the metadata needs repair.
pub fn check(path: &Path) -> Result<Outcome, String> {
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

/// `dump`: the newest valid copy as JSON on stdout.
pub fn dump(path: &Path) -> Result<Outcome, String> {
    let (_, copies) = load(path, false)?;
    let (_, _, sb, extents) =
        copies.newest().ok_or_else(|| format!("{}: no valid metadata copy to dump", path.display()))?;
    let json = serde_json::to_string_pretty(&Dump::new(&sb, extents)).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(Outcome::Clean)
}

/// `restore`: writes the table of a JSON dump as a new generation, above
/// any on the spare and the dump's (generations never go back), in the
/// kernel's commit order. A spare without metadata is laid out anew.
pub fn restore(path: &Path, input: &Path) -> Result<Outcome, String> {
    let text = std::fs::read_to_string(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let dump: Dump = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", input.display()))?;
    let mut spare = Spare::open(path, true)?;
    let (layout, slots, highest) = match spare.find_layout() {
        Ok(layout) => {
            let copies = spare.read_copies(&layout);
            if copies.copies.iter().flatten().any(|c| c.state == CopyState::Foreign) {
                return Err(format!(
                    "{}: someone else's data where a copy belongs; not overwriting it",
                    path.display()
                ));
            }
            let highest = copies.highest_generation().max(spare.highest_generation(&layout));
            (layout, Some(copies.slots()), highest)
        }
        Err(_) => {
            let layout = SpareLayout::new(spare.sectors, dump.block_bytes).ok_or_else(|| {
                format!("spare of {} sectors cannot hold metadata for {}-byte blocks", spare.sectors, dump.block_bytes)
            })?;
            let highest = spare.highest_generation(&layout);
            (layout, None, highest)
        }
    };
    let generation = next_generation(highest.max(dump.generation))
        .ok_or_else(|| format!("{}: generation {} cannot go higher", path.display(), highest.max(dump.generation)))?;
    let (sb, extents) = dump.to_superblock(&layout, generation)?;
    let n = match slots {
        Some(mut slots) => spare.commit(&layout, &mut slots, &sb, &extents)?,
        None => spare.format(&layout, &sb, &extents)?,
    };
    println!("restored {} extents as generation {generation} ({n} of 2 copies)", dump.extents.len());
    Ok(if n == 2 { Outcome::Clean } else { Outcome::NeedsRepair })
}

/// `repair`: commits the newest valid table again, as the next generation,
/// so that both regions hold it.
pub fn repair(path: &Path) -> Result<Outcome, String> {
    let (mut spare, copies) = load(path, true)?;
    let (_, _, sb, extents) =
        copies.newest().ok_or_else(|| format!("{}: no valid copy to repair from", path.display()))?;
    check_table(extents, &copies.layout, sb.alloc_next, main_blocks(&sb, &copies.layout))?;
    if copies.copies.iter().flatten().any(|c| c.state == CopyState::Foreign) {
        return Err(format!("{}: someone else's data where a copy belongs; not overwriting it", path.display()));
    }
    let mut slots = copies.slots();
    if slots.copies() == 2 {
        println!("nothing to repair: both regions hold generation {}", sb.generation);
        return Ok(Outcome::Clean);
    }
    let extents = extents.to_vec();
    let highest = copies.highest_generation().max(spare.highest_generation(&copies.layout));
    let generation =
        next_generation(highest).ok_or_else(|| format!("{}: generation {highest} cannot go higher", path.display()))?;
    let next = Superblock { generation, version: FORMAT_VERSION, ..sb };
    let n = spare.commit(&copies.layout, &mut slots, &next, &extents)?;
    println!("rewrote generation {} as generation {generation} ({n} of 2 copies)", sb.generation);
    Ok(if n == 2 { Outcome::Clean } else { Outcome::NeedsRepair })
}
