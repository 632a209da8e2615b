// SPDX-License-Identifier: GPL-2.0
//! `restore`: writes the table of a JSON dump as a new generation, above
//! any on the spare and the dump's (generations never go back), in the
//! kernel's commit order. A spare without metadata is laid out anew.

use std::path::Path;

use anyhow::{bail, Context};

use dm_remap_core::format::next_generation;
use dm_remap_core::geometry::SpareLayout;
use dm_remap_core::load::CopyState;

use dm_remap_tool::dump::Dump;
use dm_remap_tool::spare::Spare;

use super::{Lift, Outcome};

pub fn run(path: &Path, input: &Path) -> anyhow::Result<Outcome> {
    let text = std::fs::read_to_string(input).with_context(|| format!("reading dump {}", input.display()))?;
    let dump: Dump = serde_json::from_str(&text).with_context(|| format!("parsing dump {}", input.display()))?;
    let mut spare = Spare::open(path, true).lift().with_context(|| format!("opening spare {}", path.display()))?;
    let (layout, slots, highest) = match spare.find_layout() {
        Ok(layout) => {
            let copies = spare.read_copies(&layout);
            if copies.copies.iter().flatten().any(|c| c.state == CopyState::Foreign) {
                bail!("{}: someone else's data where a copy belongs; not overwriting it", path.display());
            }
            let highest = copies.highest_generation().max(spare.highest_generation(&layout));
            (layout, Some(copies.slots()), highest)
        }
        Err(_) => {
            let layout = SpareLayout::new(spare.sectors, dump.block_bytes).with_context(|| {
                format!("spare of {} sectors cannot hold metadata for {}-byte blocks", spare.sectors, dump.block_bytes)
            })?;
            let highest = spare.highest_generation(&layout);
            (layout, None, highest)
        }
    };
    let generation = next_generation(highest.max(dump.generation))
        .with_context(|| format!("{}: generation {} cannot go higher", path.display(), highest.max(dump.generation)))?;
    let (sb, extents) = dump
        .to_superblock(&layout, generation)
        .lift()
        .with_context(|| format!("checking dump {} against spare {}", input.display(), path.display()))?;
    let n = match slots {
        Some(mut slots) => spare.commit(&layout, &mut slots, &sb, &extents),
        None => spare.format(&layout, &sb, &extents),
    }
    .lift()
    .with_context(|| format!("writing metadata to spare {}", path.display()))?;
    println!("restored {} extents as generation {generation} ({n} of 2 copies)", dump.extents.len());
    Ok(if n == 2 { Outcome::Clean } else { Outcome::NeedsRepair })
}
