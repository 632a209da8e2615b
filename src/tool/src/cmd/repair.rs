// SPDX-License-Identifier: GPL-2.0
//! `repair`: commits the newest valid table again, as the next generation,
//! so that both regions hold it.

use std::path::Path;

use anyhow::{bail, Context};

use dm_remap_core::format::{next_generation, Superblock, FORMAT_VERSION};
use dm_remap_core::load::CopyState;

use dm_remap_tool::dump::{check_table, main_blocks};

use super::{load, Lift, Outcome};

pub fn run(path: &Path) -> anyhow::Result<Outcome> {
    let (mut spare, copies) = load(path, true)?;
    let (_, _, sb, extents) =
        copies.newest().with_context(|| format!("{}: no valid copy to repair from", path.display()))?;
    check_table(extents, &copies.layout, sb.alloc_next, main_blocks(&sb, &copies.layout))
        .lift()
        .with_context(|| format!("{}: the newest copy's table", path.display()))?;
    if copies.copies.iter().flatten().any(|c| c.state == CopyState::Foreign) {
        bail!("{}: someone else's data where a copy belongs; not overwriting it", path.display());
    }
    let mut slots = copies.slots();
    if slots.copies() == 2 {
        println!("nothing to repair: both regions hold generation {}", sb.generation);
        return Ok(Outcome::Clean);
    }
    let extents = extents.to_vec();
    let highest = copies.highest_generation().max(spare.highest_generation(&copies.layout));
    let generation = next_generation(highest)
        .with_context(|| format!("{}: generation {highest} cannot go higher", path.display()))?;
    let next = Superblock { generation, version: FORMAT_VERSION, ..sb };
    let n = spare
        .commit(&copies.layout, &mut slots, &next, &extents)
        .lift()
        .with_context(|| format!("writing metadata to spare {}", path.display()))?;
    println!("rewrote generation {} as generation {generation} ({n} of 2 copies)", sb.generation);
    Ok(if n == 2 { Outcome::Clean } else { Outcome::NeedsRepair })
}
