// SPDX-License-Identifier: GPL-2.0
//! The monitor's metrics and REST endpoints and the HTML report, on
//! loopback, over a history written by the monitor's own code path.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn get(addr: &str, path: &str, method: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let code = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (code, body)
}

/// Writes a history with the tool's schema (through sqlite3-free SQL via
/// the tool itself is not possible, so the test uses the library copy).
fn seed(db: &std::path::Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(
        "CREATE TABLE samples (time INTEGER NOT NULL, name TEXT NOT NULL, health TEXT NOT NULL,
         remaps INTEGER NOT NULL, pending INTEGER NOT NULL, spare_used INTEGER NOT NULL,
         spare_total INTEGER NOT NULL, errors INTEGER NOT NULL, unrecovered_errors INTEGER NOT NULL,
         auto_remaps INTEGER NOT NULL);
         INSERT INTO samples VALUES (0, 'data0', 'ok', 100, 0, 100, 1000, 0, 0, 10);
         INSERT INTO samples VALUES (86400, 'data0', 'degraded', 110, 2, 110, 1000, 4, 1, 20);
         INSERT INTO samples VALUES (172800, 'data0', 'degraded', 120, 1, 120, 1000, 8, 1, 30);",
    )
    .unwrap();
}

struct Monitor(Child);

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn metrics_rest_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.sqlite");
    seed(&db);
    let addr = format!("127.0.0.1:{}", free_port());
    // Without dmsetup devices the monitor's own samples fail (and are
    // logged); the HTTP side serves the seeded history.
    let child = Command::new(env!("CARGO_BIN_EXE_dm-remap-monitor"))
        .args(["monitor", "--db", db.to_str().unwrap(), "--interval", "3600", "--listen", &addr])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Monitor(child);
    let mut up = false;
    for _ in 0..100 {
        if TcpStream::connect(&addr).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up, "monitor did not listen on {addr}");

    let (code, metrics) = get(&addr, "/metrics", "GET");
    assert_eq!(code, 200);
    assert!(metrics.contains("dm_remap_remapped_blocks{device=\"data0\"} 120"), "{metrics}");
    assert!(metrics.contains("dm_remap_health{device=\"data0\"} 1"), "{metrics}");

    let (code, body) = get(&addr, "/api/v1/devices", "GET");
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["name"], "data0");

    let (code, body) = get(&addr, "/api/v1/devices/data0", "GET");
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["trend"]["errors_per_day"], 4.0);
    assert_eq!(v["trend"]["spare_runway_days"], 88.0);

    let (code, body) = get(&addr, "/api/v1/devices/data0/history?since=86400", "GET");
    assert_eq!(code, 200);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap().as_array().unwrap().len(), 2);
    assert_eq!(get(&addr, "/api/v1/devices/data0/history?since=x", "GET").0, 400);
    assert_eq!(get(&addr, "/api/v1/devices/nosuch", "GET").0, 404);
    assert_eq!(get(&addr, "/nowhere", "GET").0, 404);
    assert_eq!(get(&addr, "/api/v1/devices", "POST").0, 405);
    let (code, spec) = get(&addr, "/openapi.yaml", "GET");
    assert!(code == 200 && spec.starts_with("# The read-only REST API"));

    let html = dir.path().join("r.html");
    let out = Command::new(env!("CARGO_BIN_EXE_dm-remap-monitor"))
        .args(["report", "--db", db.to_str().unwrap(), "--out", html.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2>data0</h2>") && page.matches("<svg").count() == 2, "report");
    assert!(page.contains("88 days"));
}
