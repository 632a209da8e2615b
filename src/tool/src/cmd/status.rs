// SPDX-License-Identifier: GPL-2.0
//! `status`: the INFO status of one dm-remap device, or of all of them, as
//! a table, JSON, CSV or XML; `status --field NAME`: one field of it, as
//! the target shows it.

use anyhow::Context;

use dm_remap_tool::status::{self, Format};

use super::{print_clean, Lift, Outcome};

pub fn run(device: Option<&str>, format: Format) -> anyhow::Result<Outcome> {
    // A named device's errors start with its name.
    let devices = match device {
        Some(_) => status::collect(device).lift()?,
        None => status::collect(None).lift().context("reading the status of every dm-remap device")?,
    };
    let out = status::render(&devices, format).lift().with_context(|| format!("writing the status as {format:?}"))?;
    Ok(print_clean(&out))
}

/// `status --field NAME`: the field of `device`'s targets, one per line, or
/// `<name> <value>` lines for every dm-remap device.
pub fn field(device: Option<&str>, field: &str) -> anyhow::Result<Outcome> {
    // The library's errors say what failed: an unknown field (listing the
    // fields), a named device (starting with its name) or dmsetup.
    status::field(device, field).lift().map(|out| print_clean(&out))
}
