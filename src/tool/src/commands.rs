// SPDX-License-Identifier: GPL-2.0
//! The offline metadata commands: check, dump, restore, repair.

use std::path::Path;

use dm_remap_core::extent::Extent;
use dm_remap_core::format::Superblock;
use dm_remap_core::geometry::SpareLayout;
use dm_remap_core::load::{newest, CopyState};

use crate::dump::{check_table, main_blocks, Dump};
use crate::spare::{Copy, Spare};

/// How a command ended: exit status 0, 1 or 2, and what to say.
pub enum Outcome {
    /// Both copies valid and current.
    Clean,
    /// Usable, but a copy is stale or damaged: `repair` fixes it.
    NeedsRepair,
    /// No valid copy, or bad input: nothing to load.
    Unusable,
}

fn describe(name: &str, state: &CopyState) -> String {
    match state {
        CopyState::Valid(sb) => format!("copy {name}: valid, generation {}, {} extents", sb.generation, sb.extent_count),
        CopyState::Missing => format!("copy {name}: missing (no dm-remap superblock)"),
        CopyState::Damaged(f) => format!("copy {name}: damaged ({f:?})"),
    }
}

struct Loaded {
    spare: Spare,
    layout: SpareLayout,
    copies: [Copy; 2],
}

fn load(path: &Path, write: bool) -> Result<Loaded, String> {
    let mut spare = Spare::open(path, write)?;
    let block_bytes = spare
        .find_block_size()
        .ok_or_else(|| format!("{}: no readable dm-remap superblock in either region", path.display()))?;
    let layout = spare.layout(block_bytes)?;
    let copies = [spare.read_copy(&layout, 0), spare.read_copy(&layout, 1)];
    Ok(Loaded { spare, layout, copies })
}

fn best(l: &Loaded) -> Option<(usize, Superblock, &[Extent])> {
    let i = usize::from(newest(&l.copies[0].state, &l.copies[1].state)?);
    match l.copies[i].state {
        CopyState::Valid(sb) => Some((i, sb, &l.copies[i].extents)),
        _ => None,
    }
}

/// `check`: reports each copy and whether the metadata needs repair.
pub fn check(path: &Path) -> Result<Outcome, String> {
    let l = load(path, false)?;
    println!("{}", describe("A", &l.copies[0].state));
    println!("{}", describe("B", &l.copies[1].state));
    let Some((_, sb, extents)) = best(&l) else {
        println!("no valid copy: the target would refuse this spare");
        return Ok(Outcome::Unusable);
    };
    if let Err(e) = check_table(extents, sb.alloc_next, main_blocks(&sb)) {
        println!("newest copy's table is inconsistent: {e}");
        return Ok(Outcome::Unusable);
    }
    match (&l.copies[0].state, &l.copies[1].state) {
        (CopyState::Valid(a), CopyState::Valid(b)) if a.generation == b.generation => {
            println!("clean: generation {}, {} extents", sb.generation, sb.extent_count);
            Ok(Outcome::Clean)
        }
        _ => {
            println!("usable from generation {}; the other copy needs repair", sb.generation);
            Ok(Outcome::NeedsRepair)
        }
    }
}

/// `dump`: the newest valid copy as JSON on stdout.
pub fn dump(path: &Path) -> Result<Outcome, String> {
    let l = load(path, false)?;
    let (_, sb, extents) = best(&l).ok_or_else(|| format!("{}: no valid metadata copy to dump", path.display()))?;
    let json = serde_json::to_string_pretty(&Dump::new(&sb, extents)).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(Outcome::Clean)
}

/// `restore`: writes the table of a JSON dump as both copies, with a
/// generation above any on the spare (generations never go back).
pub fn restore(path: &Path, input: &Path) -> Result<Outcome, String> {
    let text = std::fs::read_to_string(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let dump: Dump = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", input.display()))?;
    let mut spare = Spare::open(path, true)?;
    let layout = spare.layout(dump.block_bytes)?;
    let highest = [spare.read_copy(&layout, 0), spare.read_copy(&layout, 1)]
        .iter()
        .filter_map(|c| match c.state {
            CopyState::Valid(sb) => Some(sb.generation),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let generation = highest.max(dump.generation) + 1;
    for copy in [0u8, 1] {
        let (sb, extents) = dump.to_copy(&layout, generation, copy)?;
        spare.write_copy(&layout, &sb, &extents)?;
    }
    println!("restored {} extents as generation {generation}", dump.extents.len());
    Ok(Outcome::Clean)
}

/// `repair`: rewrites a stale or damaged copy from the newest valid one.
pub fn repair(path: &Path) -> Result<Outcome, String> {
    let mut l = load(path, true)?;
    let (from, sb, extents) = best(&l).ok_or_else(|| format!("{}: no valid copy to repair from", path.display()))?;
    check_table(extents, sb.alloc_next, main_blocks(&sb))?;
    let extents = extents.to_vec();
    let to = 1 - from;
    let in_step = matches!(l.copies[to].state, CopyState::Valid(o) if o.generation == sb.generation);
    if in_step {
        println!("nothing to repair: both copies hold generation {}", sb.generation);
        return Ok(Outcome::Clean);
    }
    let target = Superblock { copy: to as u8, ..sb };
    l.spare.write_copy(&l.layout, &target, &extents)?;
    println!("rewrote copy {} from copy {} (generation {})", ["A", "B"][to], ["A", "B"][from], sb.generation);
    Ok(Outcome::Clean)
}
