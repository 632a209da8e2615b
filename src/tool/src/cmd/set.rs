// SPDX-License-Identifier: GPL-2.0
//! `set <device> <policy> <value>`: changes a policy of a live device by
//! message, after checking the value as the target will.

use anyhow::{bail, Context};

use dm_remap_core::policy::{Policy, PolicyError};
use dm_remap_tool::status;

use super::{print_clean, Lift, Outcome};

/// What `policy` accepts, for the error message.
fn allowed(policy: &str) -> &'static str {
    match policy {
        "auto_remap" => "on or off",
        "read_retries" => "0 to 16",
        _ => "1 to 100",
    }
}

pub fn run(device: &str, policy: &str, value: &str) -> anyhow::Result<Outcome> {
    match Policy::parse(policy.as_bytes(), value.as_bytes()) {
        Ok(_) => {}
        Err(PolicyError::Unknown) => bail!("set: no policy '{policy}'; the policies are: {}", Policy::NAMES.join(" ")),
        Err(PolicyError::BadValue) => bail!("set: {policy} takes {}, not '{value}'", allowed(policy)),
    }
    status::message(device, &["set", policy, value]).lift().with_context(|| format!("set {policy} {value}"))?;
    Ok(print_clean(""))
}
