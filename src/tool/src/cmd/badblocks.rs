// SPDX-License-Identifier: GPL-2.0
//! `badblocks import|export`: a badblocks(8) list in as remaps, or the
//! remaps out as one.

use std::path::Path;

use anyhow::Context;

use dm_remap_tool::{badblocks, status};

use super::{Lift, Outcome};

/// Remaps every block of the list at `list` (a file, or `-` for stdin).
pub fn import(device: &str, list: &Path, block_size: u64) -> anyhow::Result<Outcome> {
    let (text, name) = if list.as_os_str() == "-" {
        (std::io::read_to_string(std::io::stdin()), "stdin".to_string())
    } else {
        (std::fs::read_to_string(list), list.display().to_string())
    };
    let text = text.with_context(|| format!("reading bad block list {name}"))?;
    let runs = badblocks::parse_list(&text, block_size).lift().with_context(|| format!("bad block list {name}"))?;
    // One remap_list message per batch: one copy pass and one commit each,
    // where a remap per run cost a commit per run.
    let batches = badblocks::remap_list_batches(&runs);
    let (mut remapped, mut lost) = (0, 0);
    for (i, words) in batches.iter().enumerate() {
        let (r, l) = status::remap_list(device, words).lift().with_context(|| {
            format!("remapping batch {} of {} ({} ranges) of {device}", i + 1, batches.len(), words.len())
        })?;
        remapped += r;
        lost += l;
    }
    println!(
        "imported {} run(s) of bad blocks in {} message(s): remapped {remapped} lost {lost}",
        runs.len(),
        batches.len()
    );
    Ok(Outcome::Clean)
}

/// Prints the blocks that hold remapped sectors, as a badblocks list.
pub fn export(device: &str, block_size: u64) -> anyhow::Result<Outcome> {
    let dev = status::collect(Some(device)).lift()?;
    let remap_block = dev.first().map_or(512, |d| u64::from(d.block_bytes));
    let list = status::list(device).lift()?;
    for b in badblocks::export(&list, remap_block, block_size).lift().with_context(|| format!("{device}'s remaps"))? {
        println!("{b}");
    }
    Ok(Outcome::Clean)
}
