// SPDX-License-Identifier: GPL-2.0
//! `metrics`: the Prometheus exposition of the devices as they are now,
//! printed once: what `monitor` serves on /metrics, for node_exporter's
//! textfile collector or a look by hand.

use std::path::Path;

use super::Outcome;
use crate::cmd::monitor::sample;
use crate::metrics::metrics;

pub fn run(sys: &Path) -> anyhow::Result<Outcome> {
    let snap = sample(sys);
    print!("{}", metrics(&snap));
    Ok(if snap.ok { Outcome::Clean } else { Outcome::Unusable })
}
