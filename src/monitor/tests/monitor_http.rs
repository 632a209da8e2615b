// SPDX-License-Identifier: GPL-2.0
//! The monitor daemon on loopback, its devices from a fake dmsetup and a
//! fake sysfs: the Prometheus exposition (checked by promtool), the REST
//! API over a seeded history, the HTML report, and the daemon's limits.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{fake_dmsetup, monitor, STATUS};

fn get_raw(addr: &str, path: &str, method: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The raw response to `GET path`, `None` if the server closed first.
fn try_get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn get(addr: &str, path: &str, method: &str) -> (u16, String) {
    let out = get_raw(addr, path, method);
    let code = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (code, body)
}

/// A history as the monitor writes it: "data 0" over the last three days
/// (recent: the monitor prunes what is older than --retain days).
fn seed(db: &Path) -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let t0 = now - 3 * 86_400;
    let conn = rusqlite::Connection::open(db).unwrap();
    let sql = format!(
        "CREATE TABLE samples (time INTEGER NOT NULL, name TEXT NOT NULL, health TEXT NOT NULL,
         remaps INTEGER NOT NULL, pending INTEGER NOT NULL, spare_used INTEGER NOT NULL,
         spare_total INTEGER NOT NULL, errors INTEGER NOT NULL, unrecovered_errors INTEGER NOT NULL,
         auto_remaps INTEGER NOT NULL);
         INSERT INTO samples VALUES ({t0}, 'data 0', 'ok', 100, 0, 100, 1000, 0, 0, 10);
         INSERT INTO samples VALUES ({t1}, 'data 0', 'degraded', 110, 2, 110, 1000, 4, 1, 20);
         INSERT INTO samples VALUES ({t2}, 'data 0', 'degraded', 120, 1, 120, 1000, 8, 1, 30);
         INSERT INTO samples VALUES (0, 'old', 'ok', 0, 0, 0, 1000, 0, 0, 0);",
        t1 = t0 + 86_400,
        t2 = t0 + 2 * 86_400
    );
    conn.execute_batch(&sql).unwrap();
    t0
}

/// A sysfs with data0's attributes.
fn sysfs(dir: &Path) -> std::path::PathBuf {
    let sys = dir.join("sys");
    let d = sys.join("kernel/dm_remap/data0");
    std::fs::create_dir_all(&d).unwrap();
    let mut main: Vec<String> = vec!["0".into(); 32];
    main[3] = "10".into(); // 10 bios in [4, 8) us
    main[10] = "2".into(); // 2 in [512, 1024) us
    let spare = vec!["0"; 32].join(" ");
    std::fs::write(
        d.join("latency_histogram"),
        format!("latency_us_log2 main {}\nlatency_us_log2 spare {spare}\n", main.join(" ")),
    )
    .unwrap();
    std::fs::write(d.join("commit_p50_us"), "1500\n").unwrap();
    std::fs::write(d.join("commit_p99_us"), "9000\n").unwrap();
    std::fs::write(d.join("last_commit_time"), "1764000000\n").unwrap();
    sys
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

/// Starts the monitor with `dir`'s fake dmsetup, serving on a free port.
fn start(dir: &Path, db: &Path, extra: &[&str]) -> (Monitor, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let sys = sysfs(dir);
    let mut args = vec!["monitor", "--db", db.to_str().unwrap(), "--listen", &addr, "--sysfs", sys.to_str().unwrap()];
    args.extend(extra);
    let child = monitor(dir, &args).stderr(Stdio::null()).spawn().unwrap();
    let guard = Monitor(child);
    for _ in 0..100 {
        if TcpStream::connect(&addr).is_ok() {
            return (guard, addr);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("monitor did not listen on {addr}");
}

/// Waits until /metrics satisfies `ok`.
fn metrics_until(addr: &str, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let (_, m) = get(addr, "/metrics", "GET");
        if ok(&m) || start.elapsed() > Duration::from_secs(15) {
            return m;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `promtool check metrics` of `text`; skipped (with a note) only where
/// promtool is missing and the test does not run under CI.
fn promtool_check(text: &str) {
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && std::env::var_os("CI").is_none() => {
            eprintln!(
                "SKIPPED promtool check: promtool not found (Debian package prometheus; scripts/install-deps.sh)"
            );
            return;
        }
        Err(e) => panic!("promtool: {e} (scripts/install-deps.sh installs the prometheus package)"),
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics:\n{said}\n{text}");
}

#[test]
fn metrics_follow_the_prometheus_conventions() {
    let dir = tempfile::tempdir().unwrap();
    fake_dmsetup(dir.path(), STATUS);
    let db = dir.path().join("state/h.sqlite");
    let (_m, addr) = start(dir.path(), &db, &["--interval", "1"]);
    let m = metrics_until(&addr, |m| m.contains("device=\"data0\""));
    let raw = get_raw(&addr, "/metrics", "GET");
    assert!(raw.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), "{raw}");
    for want in [
        "# TYPE dm_remap_reads_total counter",
        "dm_remap_reads_total{device=\"data0\"} 17",
        "dm_remap_unrecovered_errors_total{device=\"data1\"} 0",
        "dm_remap_remapped_blocks{device=\"data0\"} 8",
        "dm_remap_health{device=\"data0\",state=\"degraded\"} 1",
        "dm_remap_health{device=\"data0\",state=\"ok\"} 0",
        "dm_remap_health{device=\"data1\",state=\"ok\"} 1",
        "dm_remap_info{device=\"data0\",main=\"7:0\",spare=\"7:1\",uuid=\"0c6e7e32a1f04f2f8a4bd3a3d3b6ef01\",block_bytes=\"512\"} 1",
        "dm_remap_last_scrape_success 1",
        "# TYPE dm_remap_io_latency_seconds histogram",
        "dm_remap_io_latency_seconds_bucket{device=\"data0\",path=\"main\",le=\"0.000004\"} 0",
        "dm_remap_io_latency_seconds_bucket{device=\"data0\",path=\"main\",le=\"0.000008\"} 10",
        "dm_remap_io_latency_seconds_bucket{device=\"data0\",path=\"main\",le=\"+Inf\"} 12",
        "dm_remap_io_latency_seconds_count{device=\"data0\",path=\"main\"} 12",
        "dm_remap_commit_latency_p99_seconds{device=\"data0\"} 0.009",
    ] {
        assert!(m.contains(want), "no '{want}' in\n{m}");
    }
    promtool_check(&m);
    // The history was made, with its directory.
    assert!(db.exists());

    // A device that goes away leaves the exposition at the next sample.
    fake_dmsetup(dir.path(), STATUS.lines().nth(1).unwrap());
    let m = metrics_until(&addr, |m| !m.contains("device=\"data0\""));
    assert!(!m.contains("device=\"data0\"") && m.contains("device=\"data1\""), "{m}");
    // dmsetup failing: the scrape-success gauge says so.
    common::fake(dir.path(), "dmsetup", "exit 1");
    let m = metrics_until(&addr, |m| m.contains("dm_remap_last_scrape_success 0"));
    assert!(m.contains("dm_remap_last_scrape_success 0"), "{m}");
}

#[test]
fn the_metrics_command_prints_what_the_monitor_serves() {
    let dir = tempfile::tempdir().unwrap();
    fake_dmsetup(dir.path(), STATUS);
    let sys = sysfs(dir.path());
    let out = monitor(dir.path(), &["metrics", "--sysfs", sys.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let m = String::from_utf8(out.stdout).unwrap();
    assert!(m.contains("dm_remap_io_latency_seconds_count{device=\"data0\",path=\"main\"} 12"), "{m}");
    promtool_check(&m);
    common::fake(dir.path(), "dmsetup", "exit 1");
    let out = monitor(dir.path(), &["metrics"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "devices that cannot be read");
    assert!(String::from_utf8_lossy(&out.stdout).contains("dm_remap_last_scrape_success 0"));
}

#[test]
fn rest_api_and_report_over_the_history() {
    let dir = tempfile::tempdir().unwrap();
    fake_dmsetup(dir.path(), "");
    let db = dir.path().join("h.sqlite");
    let t0 = seed(&db);
    let (_m, addr) = start(dir.path(), &db, &["--interval", "3600", "--retain", "30"]);

    // The 1970 sample of "old" is past --retain: pruned at the start.
    let start = Instant::now();
    let v = loop {
        let (code, body) = get(&addr, "/api/v1/devices", "GET");
        assert_eq!(code, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v.as_array().unwrap().len() == 1 || start.elapsed() > Duration::from_secs(10) {
            break v;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(v.as_array().unwrap().len(), 1, "not pruned: {v}");
    assert_eq!(v[0]["name"], "data 0");

    // Paths are percent-decoded.
    let (code, body) = get(&addr, "/api/v1/devices/data%200", "GET");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["trend"]["errors_per_day"], 4.0);
    assert_eq!(v["trend"]["spare_runway_days"], 88.0);
    assert_eq!(get(&addr, "/api/v1/devices/data%zz", "GET").0, 400);

    let (code, body) = get(&addr, &format!("/api/v1/devices/data%200/history?since={}", t0 + 86_400), "GET");
    assert_eq!(code, 200);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap().as_array().unwrap().len(), 2);
    assert_eq!(get(&addr, "/api/v1/devices/data%200/history?since=x", "GET").0, 400);
    assert_eq!(get(&addr, "/api/v1/devices/nosuch", "GET").0, 404);
    assert_eq!(get(&addr, "/nowhere", "GET").0, 404);
    assert_eq!(get(&addr, "/api/v1/devices", "POST").0, 405);
    let (code, spec) = get(&addr, "/openapi.yaml", "GET");
    assert!(code == 200 && spec.starts_with("# The read-only REST API"));

    let html = dir.path().join("r.html");
    let out = monitor(dir.path(), &["report", "--db", db.to_str().unwrap(), "--out", html.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2>data 0</h2>") && page.matches("<svg").count() == 2, "report");
    assert!(page.contains("88 days"));
    // Readers never create a history.
    let none = dir.path().join("none.sqlite");
    let out = monitor(dir.path(), &["report", "--db", none.to_str().unwrap(), "--out", html.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!none.exists(), "report created the history");
}

#[test]
fn a_database_error_does_not_stop_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    fake_dmsetup(dir.path(), STATUS);
    // The history's directory cannot be made: a file is in the way.
    std::fs::write(dir.path().join("blocked"), "").unwrap();
    let db = dir.path().join("blocked/h.sqlite");
    let (mut m, addr) = start(dir.path(), &db, &["--interval", "1"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(m.0.try_wait().unwrap().is_none(), "the monitor died on a database error");
    assert!(metrics_until(&addr, |m| m.contains("data0")).contains("dm_remap_reads_total{device=\"data0\"} 17"));
    assert_eq!(get(&addr, "/api/v1/devices", "GET").0, 503);
    // Once the directory can be made, the history is written.
    std::fs::remove_file(dir.path().join("blocked")).unwrap();
    let start = Instant::now();
    while get(&addr, "/api/v1/devices", "GET").0 != 200 {
        assert!(start.elapsed() < Duration::from_secs(15), "the monitor did not retry the history");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn connections_are_capped_and_timed_out() {
    let dir = tempfile::tempdir().unwrap();
    fake_dmsetup(dir.path(), STATUS);
    let db = dir.path().join("h.sqlite");
    let (_m, addr) = start(dir.path(), &db, &["--interval", "3600", "--max-connections", "1", "--http-timeout", "2"]);
    // An idle client holds the one slot (once start's probe left it)...
    std::thread::sleep(Duration::from_millis(300));
    let mut idle = TcpStream::connect(&addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(get(&addr, "/metrics", "GET").0, 503);
    // ...until its timeout, which answers it 408 and frees the slot.
    idle.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t = Instant::now();
    let mut out = String::new();
    idle.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    assert!(t.elapsed() < Duration::from_secs(5), "the timeout took {:?}", t.elapsed());
    // (The slot is given back just after the close: retry for a moment.)
    let t = Instant::now();
    loop {
        if try_get(&addr, "/metrics").is_some_and(|out| out.starts_with("HTTP/1.1 200")) {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(3), "the slot was not given back");
        std::thread::sleep(Duration::from_millis(100));
    }
}
