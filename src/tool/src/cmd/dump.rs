// SPDX-License-Identifier: GPL-2.0
//! `dump`: the newest valid metadata copy of a spare, as JSON on stdout.

use std::path::Path;

use anyhow::Context;

use dm_remap_tool::dump::Dump;

use super::{load, Outcome};

pub fn run(path: &Path) -> anyhow::Result<Outcome> {
    let (_, copies) = load(path, false)?;
    let (_, _, sb, extents) =
        copies.newest().with_context(|| format!("{}: no valid metadata copy to dump", path.display()))?;
    let json = serde_json::to_string_pretty(&Dump::new(&sb, extents)).context("encoding the dump as JSON")?;
    println!("{json}");
    Ok(Outcome::Clean)
}
