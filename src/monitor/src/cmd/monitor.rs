// SPDX-License-Identifier: GPL-2.0
//! `monitor`: samples every dm-remap device periodically into a SQLite
//! history, computes trends (errors per day, spare runway in days), and
//! serves Prometheus metrics and a read-only JSON REST API
//! (Documentation/dm-remap-api.yaml). `report` renders the history as HTML.
//!
//! It runs until stopped whatever happens to the history: a database that
//! cannot be opened or written is logged and retried at the next sample
//! (the REST API answers 503 meanwhile), and `/metrics` still shows the
//! live devices.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dm_remap_tool::status;

use super::{Lift, Outcome};
use crate::history::History;
use crate::http::{self, Limits};
use crate::live::{read_extra, Live, Snapshot};

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// How often old samples are pruned.
const PRUNE_EVERY: i64 = 3600;

/// The monitor's settings.
pub struct Settings {
    pub db: PathBuf,
    pub interval: u64,
    pub listen: String,
    pub samples: Option<u64>,
    /// Days of history kept (0: all).
    pub retain_days: u64,
    pub limits: Limits,
    pub sysfs: PathBuf,
}

/// The history, reopened after an error.
struct Store<'a> {
    db: &'a Path,
    open: Option<History>,
}

impl Store<'_> {
    fn with<T>(&mut self, what: &str, f: impl FnOnce(&History) -> Result<T, String>) -> Option<T> {
        if self.open.is_none() {
            match History::open(self.db) {
                Ok(h) => self.open = Some(h),
                Err(e) => {
                    eprintln!(
                        "dm-remap-monitor: opening history {}: {e} (retrying at the next sample)",
                        self.db.display()
                    );
                    return None;
                }
            }
        }
        let r = f(self.open.as_ref()?);
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("dm-remap-monitor: {what} {}: {e} (reopening at the next sample)", self.db.display());
                self.open = None;
                None
            }
        }
    }
}

/// Reads every device: its status line and sysfs attributes.
pub fn sample(sys: &Path) -> Snapshot {
    match status::collect(None) {
        Ok(devices) => Snapshot {
            time: now(),
            ok: true,
            devices: devices
                .into_iter()
                .map(|d| {
                    let extra = read_extra(sys, &d.name);
                    Live { status: d, extra }
                })
                .collect(),
        },
        Err(e) => {
            eprintln!("dm-remap-monitor: reading the devices: {e}");
            Snapshot { time: now(), ok: false, devices: vec![] }
        }
    }
}

/// Runs the monitor: samples every `interval` seconds into `db`, serving
/// HTTP on `listen` (unless empty); with `samples`, stops after that many.
pub fn run(s: &Settings) -> anyhow::Result<Outcome> {
    let live = Arc::new(Mutex::new(Snapshot::default()));
    let server = if s.listen.is_empty() {
        None
    } else {
        Some(http::Server::start(&s.listen, &s.db, live.clone(), s.limits).lift()?)
    };
    if let Some(srv) = &server {
        eprintln!("dm-remap-monitor: serving http://{}/metrics and /api/v1/devices", srv.addr());
    }
    let mut store = Store { db: &s.db, open: None };
    let mut pruned: Option<i64> = None;
    let mut n = 0u64;
    loop {
        let snap = sample(&s.sysfs);
        if snap.ok {
            let devices: Vec<_> = snap.devices.iter().map(|l| l.status.clone()).collect();
            store.with("writing history", |h| h.record(snap.time, &devices));
        } else {
            // Keep the devices last seen; the scrape-success gauge says
            // they are stale.
            let mut old = live.lock().unwrap_or_else(|e| e.into_inner());
            old.ok = false;
            old.time = snap.time;
        }
        let t = snap.time;
        if snap.ok {
            *live.lock().unwrap_or_else(|e| e.into_inner()) = snap;
        }
        if s.retain_days > 0 && pruned.is_none_or(|p| t.saturating_sub(p) >= PRUNE_EVERY) {
            let before = t - i64::try_from(s.retain_days.saturating_mul(86_400)).unwrap_or(i64::MAX);
            if store.with("pruning history", |h| h.prune(before)).is_some() {
                pruned = Some(t);
            }
        }
        n += 1;
        if s.samples.is_some_and(|max| n >= max) {
            return Ok(Outcome::Clean);
        }
        std::thread::sleep(Duration::from_secs(s.interval.max(1)));
    }
}
