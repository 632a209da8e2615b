// SPDX-License-Identifier: GPL-2.0
//! The sample history, in SQLite.

use std::path::Path;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
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
#[derive(Debug)]
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

/// How long an operation waits for a lock another connection holds (the
/// monitor writes while `report`, `nagios` and the HTTP side read).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

const COLUMNS: &str =
    "time, name, health, remaps, pending, spare_used, spare_total, errors, unrecovered_errors, auto_remaps";

fn row(r: &rusqlite::Row) -> rusqlite::Result<Sample> {
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
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
}

impl History {
    /// Opens for writing (the monitor) the database at `path`, creating it
    /// and its directory if need be, in WAL mode so that readers never
    /// block the monitor's writes nor see half of them.
    pub fn open(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        let conn = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        Ok(Self { conn })
    }

    /// Opens for reading (`report`, `nagios`, the HTTP side) the database
    /// at `path`: never creates it, never writes it.
    pub fn open_read_only(path: &Path) -> Result<Self, String> {
        if !path.exists() {
            return Err(format!("{}: no history (dm-remap-monitor monitor writes it)", path.display()));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| format!("{}: {e}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
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

    /// The devices sampled, by name: a skip scan of the index (one lookup
    /// per device), not a scan of every sample.
    pub fn devices(&self) -> Result<Vec<String>, String> {
        let mut st = self
            .conn
            .prepare_cached(
                "WITH RECURSIVE d(name) AS (
                    SELECT MIN(name) FROM samples
                    UNION ALL SELECT (SELECT MIN(name) FROM samples WHERE name > d.name) FROM d WHERE d.name IS NOT NULL)
                 SELECT name FROM d WHERE name IS NOT NULL",
            )
            .map_err(db_err)?;
        let rows = st.query_map([], |r| r.get(0)).map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    /// Samples of `name` since `since`, oldest first.
    pub fn samples(&self, name: &str, since: i64) -> Result<Vec<Sample>, String> {
        let sql = format!("SELECT {COLUMNS} FROM samples WHERE name = ?1 AND time >= ?2 ORDER BY time");
        let mut st = self.conn.prepare_cached(&sql).map_err(db_err)?;
        let rows = st.query_map(params![name, since], row).map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    /// The latest sample of `name` taken at or before `time`: one index
    /// lookup.
    pub fn at_or_before(&self, name: &str, time: i64) -> Result<Option<Sample>, String> {
        let sql = format!("SELECT {COLUMNS} FROM samples WHERE name = ?1 AND time <= ?2 ORDER BY time DESC LIMIT 1");
        let mut st = self.conn.prepare_cached(&sql).map_err(db_err)?;
        st.query_row(params![name, time], row).optional().map_err(db_err)
    }

    /// The latest sample of `name`.
    pub fn latest(&self, name: &str) -> Result<Option<Sample>, String> {
        self.at_or_before(name, i64::MAX)
    }

    /// The latest sample of every device, by name.
    pub fn latest_all(&self) -> Result<Vec<Sample>, String> {
        let mut out = vec![];
        for d in self.devices()? {
            out.extend(self.latest(&d)?);
        }
        Ok(out)
    }

    /// Deletes the samples older than `before`; the number deleted.
    pub fn prune(&self, before: i64) -> Result<usize, String> {
        self.conn.execute("DELETE FROM samples WHERE time < ?1", params![before]).map_err(db_err)
    }

    /// SQLite's plan for `sql` (tests).
    #[cfg(test)]
    fn plan(&self, sql: &str) -> String {
        let mut st = self.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = st.query_map([], |r| r.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
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

    fn sample(time: i64, name: &str) -> Sample {
        Sample {
            time,
            name: name.into(),
            health: "ok".into(),
            remaps: time as u64,
            pending: 0,
            spare_used: 0,
            spare_total: 10,
            errors: 0,
            unrecovered_errors: 0,
            auto_remaps: 0,
        }
    }

    #[test]
    fn latest_and_devices_are_index_lookups() {
        let h = History::in_memory().unwrap();
        for t in 0..50 {
            for n in ["b", "a", "c"] {
                h.insert(&sample(t, n)).unwrap();
            }
        }
        assert_eq!(h.devices().unwrap(), ["a", "b", "c"]);
        assert_eq!(h.latest("b").unwrap().unwrap().time, 49);
        assert_eq!(h.at_or_before("b", 10).unwrap().unwrap().time, 10);
        assert_eq!(h.latest_all().unwrap().iter().map(|s| s.time).collect::<Vec<_>>(), [49, 49, 49]);
        // No full scan of the table: every step searches the (name, time) index.
        let q = format!("SELECT {COLUMNS} FROM samples WHERE name = 'b' AND time <= 99 ORDER BY time DESC LIMIT 1");
        let plan = h.plan(&q);
        assert!(plan.contains("SEARCH samples USING INDEX samples_by_device"), "latest: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "latest sorts: {plan}");
        let plan = h.plan("WITH RECURSIVE d(name) AS (SELECT MIN(name) FROM samples UNION ALL SELECT (SELECT MIN(name) FROM samples WHERE name > d.name) FROM d WHERE d.name IS NOT NULL) SELECT name FROM d WHERE name IS NOT NULL");
        assert!(!plan.contains("SCAN samples"), "devices: {plan}");
        assert_eq!(h.prune(40).unwrap(), 120);
        assert_eq!(h.samples("a", 0).unwrap().len(), 10);
    }

    #[test]
    fn readers_never_create_the_database_and_the_writer_makes_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state/sub/h.sqlite");
        assert!(History::open_read_only(&db).unwrap_err().contains("no history"));
        assert!(!db.exists() && !db.parent().unwrap().exists());
        let w = History::open(&db).unwrap();
        w.insert(&sample(1, "a")).unwrap();
        let mode: String = w.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let r = History::open_read_only(&db).unwrap();
        assert_eq!(r.latest("a").unwrap().unwrap().time, 1);
        assert!(r.insert(&sample(2, "a")).unwrap_err().contains("readonly"));
    }

    /// A device-year of one-minute samples: `latest` is an index lookup,
    /// reading the whole history was the old way (1.3 s measured). Run
    /// with `cargo test --release -p dm-remap-monitor -- --ignored
    /// device_year --nocapture`.
    #[test]
    #[ignore]
    fn latest_of_a_device_year() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::open(&dir.path().join("h.sqlite")).unwrap();
        h.conn.execute_batch("BEGIN").unwrap();
        for t in 0..525_600 {
            h.insert(&sample(t * 60, "data0")).unwrap();
        }
        h.conn.execute_batch("COMMIT").unwrap();
        let t = std::time::Instant::now();
        let whole = h.samples("data0", i64::MIN).unwrap().pop().unwrap();
        let old = t.elapsed();
        let t = std::time::Instant::now();
        let latest = h.latest_all().unwrap();
        let first = t.elapsed();
        let t = std::time::Instant::now();
        let latest2 = h.latest_all().unwrap();
        let new = t.elapsed();
        let t = std::time::Instant::now();
        h.latest("data0").unwrap();
        eprintln!("first latest_all {first:?}, latest alone {:?}", t.elapsed());
        let t = std::time::Instant::now();
        let r = History::open_read_only(&dir.path().join("h.sqlite")).unwrap();
        assert_eq!(r.latest_all().unwrap(), latest);
        eprintln!("read-only open and latest_all, as a REST request does: {:?}", t.elapsed());
        assert_eq!(latest, latest2);
        assert_eq!(latest, [whole]);
        eprintln!("latest of 525600 samples: whole history {old:?}, index lookup (devices + latest) {new:?}");
        assert!(new < old / 10, "{new:?} vs {old:?}");
    }
}
