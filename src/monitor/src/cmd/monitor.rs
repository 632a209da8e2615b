// SPDX-License-Identifier: GPL-2.0
//! `monitor`: samples every dm-remap device periodically into a SQLite
//! history, computes trends (errors per day, spare runway in days), and
//! serves Prometheus metrics and a read-only JSON REST API
//! (Documentation/dm-remap-api.yaml). `report` renders the history as HTML.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use dm_remap_tool::status;

use super::{Lift, Outcome};
use crate::{history, http};

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Runs the monitor: samples every `interval` seconds into `db`, serving
/// HTTP on `listen` (unless empty); with `samples`, stops after that many.
pub fn run(db: &Path, interval: u64, listen: &str, samples: Option<u64>) -> anyhow::Result<Outcome> {
    let store = history::History::open(db).lift().with_context(|| format!("opening history {}", db.display()))?;
    let server = if listen.is_empty() { None } else { Some(http::Server::start(listen, db).lift()?) };
    if let Some(s) = &server {
        eprintln!("dm-remap-monitor: serving http://{}/metrics and /api/v1/devices", s.addr());
    }
    let mut n = 0u64;
    loop {
        match status::collect(None) {
            Ok(devices) => {
                store.record(now(), &devices).lift().with_context(|| format!("writing history {}", db.display()))?
            }
            Err(e) => eprintln!("dm-remap-monitor: {e}"),
        }
        n += 1;
        if samples.is_some_and(|s| n >= s) {
            return Ok(Outcome::Clean);
        }
        std::thread::sleep(Duration::from_secs(interval.max(1)));
    }
}
