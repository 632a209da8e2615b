// SPDX-License-Identifier: GPL-2.0
//! The sample history, in SQLite.

use std::path::Path;

use rusqlite::{params, Connection};
use serde::Serialize;

use dm_remap_tool::status::DeviceStatus;

/// A numeric field of a sample.
pub type Field<T> = fn(&Sample) -> T;

/// One sample of one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sample {
    pub time: i64,
    pub name: String,
    pub health: String,
    pub remaps: u64,
    pub pending: u64,
    pub spare_used: u64,
    pub spare_total: u64,
    pub errors: u64,
    pub unrecovered_errors: u64,
    pub auto_remaps: u64,
}

/// A history database.
pub struct History {
    conn: Connection,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS samples (
    time INTEGER NOT NULL, name TEXT NOT NULL, health TEXT NOT NULL,
    remaps INTEGER NOT NULL, pending INTEGER NOT NULL, spare_used INTEGER NOT NULL,
    spare_total INTEGER NOT NULL, errors INTEGER NOT NULL, unrecovered_errors INTEGER NOT NULL,
    auto_remaps INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS samples_by_device ON samples (name, time);";

fn db_err(e: rusqlite::Error) -> String {
    format!("history database: {e}")
}

impl History {
    /// Opens (creating if need be) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, String> {
        let conn = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        Ok(Self { conn })
    }

    /// An in-memory database (tests).
    #[cfg(test)]
    pub fn in_memory() -> Result<Self, String> {
        let conn = Connection::open_in_memory().map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        Ok(Self { conn })
    }

    /// Records one sample of each device at `time`.
    pub fn record(&self, time: i64, devices: &[DeviceStatus]) -> Result<(), String> {
        for d in devices {
            self.insert(&Sample {
                time,
                name: d.name.clone(),
                health: d.health.clone(),
                remaps: d.remaps,
                pending: d.pending,
                spare_used: d.spare_used,
                spare_total: d.spare_total,
                errors: d.errors,
                unrecovered_errors: d.unrecovered_errors,
                auto_remaps: d.auto_remaps,
            })?;
        }
        Ok(())
    }

    /// Inserts one sample.
    pub fn insert(&self, s: &Sample) -> Result<(), String> {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.conn
            .execute(
                "INSERT INTO samples VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    s.time,
                    s.name,
                    s.health,
                    n(s.remaps),
                    n(s.pending),
                    n(s.spare_used),
                    n(s.spare_total),
                    n(s.errors),
                    n(s.unrecovered_errors),
                    n(s.auto_remaps)
                ],
            )
            .map_err(db_err)?;
        Ok(())
    }

    /// The devices sampled, by name.
    pub fn devices(&self) -> Result<Vec<String>, String> {
        let mut st = self.conn.prepare("SELECT DISTINCT name FROM samples ORDER BY name").map_err(db_err)?;
        let rows = st.query_map([], |r| r.get(0)).map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    /// Samples of `name` since `since`, oldest first.
    pub fn samples(&self, name: &str, since: i64) -> Result<Vec<Sample>, String> {
        let mut st = self
            .conn
            .prepare(
                "SELECT time, name, health, remaps, pending, spare_used, spare_total, errors,
                        unrecovered_errors, auto_remaps
                 FROM samples WHERE name = ?1 AND time >= ?2 ORDER BY time",
            )
            .map_err(db_err)?;
        let u = |v: i64| u64::try_from(v).unwrap_or(0);
        let rows = st
            .query_map(params![name, since], |r| {
                Ok(Sample {
                    time: r.get(0)?,
                    name: r.get(1)?,
                    health: r.get(2)?,
                    remaps: u(r.get(3)?),
                    pending: u(r.get(4)?),
                    spare_used: u(r.get(5)?),
                    spare_total: u(r.get(6)?),
                    errors: u(r.get(7)?),
                    unrecovered_errors: u(r.get(8)?),
                    auto_remaps: u(r.get(9)?),
                })
            })
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    /// The latest sample of `name`.
    pub fn latest(&self, name: &str) -> Result<Option<Sample>, String> {
        Ok(self.samples(name, i64::MIN)?.pop())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dm_remap_tool::status::parse_line;

    #[test]
    fn samples_round_trip() {
        let h = History::in_memory().unwrap();
        let line = "d: 0 8 remap 3 7:0 7:1 512 2 100 2 0 0 0 0 5 degraded 3 00112233445566778899aabbccddeeff 1 1 2 0 1 on 3 3 80 95 idle 0 0 0";
        let dev = parse_line(line, None).unwrap();
        h.record(10, std::slice::from_ref(&dev)).unwrap();
        h.record(20, &[dev]).unwrap();
        assert_eq!(h.devices().unwrap(), ["d"]);
        let s = h.samples("d", 15).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].time, s[0].remaps, s[0].errors, s[0].health.as_str()), (20, 2, 5, "degraded"));
        assert_eq!(h.latest("nosuch").unwrap(), None);
    }
}
