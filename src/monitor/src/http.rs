// SPDX-License-Identifier: GPL-2.0
//! The monitor's HTTP side: Prometheus metrics of the last sample and a
//! read-only JSON REST API over the history (endpoints in
//! Documentation/dm-remap-api.yaml). A small HTTP/1.1 server of its own, so
//! that it can cap its connections and time out slow clients: one thread
//! per connection, at most [`Limits::connections`] at a time (more are
//! answered 503 at once), each read and write bounded by
//! [`Limits::timeout`], one request per connection.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::json;

use crate::cmd::health::SCHEMA_VERSION;
use crate::history::History;
use crate::live::Snapshot;
use crate::metrics::{metrics, CONTENT_TYPE};
use crate::trend::trend;

/// The OpenAPI description of the REST API.
pub const OPENAPI: &str = include_str!("../../../Documentation/dm-remap-api.yaml");

/// The longest request head (request line and headers) read.
const MAX_HEAD: usize = 8192;

/// Bounds on the clients.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub connections: usize,
    pub timeout: Duration,
}

/// A running server.
pub struct Server {
    addr: String,
}

/// A response: status, content type, body.
pub type Reply = (u16, &'static str, String);

/// Counts a connection while it lives.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Server {
    /// Listens on `listen` (`host:port`; port 0 picks one) and answers
    /// `/metrics` from `live` and the REST API from the history at `db`, on
    /// threads of its own.
    pub fn start(listen: &str, db: &Path, live: Arc<Mutex<Snapshot>>, limits: Limits) -> Result<Self, String> {
        let listener = TcpListener::bind(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_or_else(|_| listen.to_string(), |a| a.to_string());
        let db: PathBuf = db.to_path_buf();
        let active = Arc::new(AtomicUsize::new(0));
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(limits.timeout));
                let _ = stream.set_write_timeout(Some(limits.timeout));
                if active.fetch_add(1, Ordering::SeqCst) >= limits.connections {
                    active.fetch_sub(1, Ordering::SeqCst);
                    reject(stream);
                    continue;
                }
                let slot = Slot(active.clone());
                let (db, live) = (db.clone(), live.clone());
                let spawned = thread::Builder::new().name("http".into()).spawn(move || {
                    let _slot = slot;
                    serve(stream, &db, &live);
                });
                if let Err(e) = spawned {
                    eprintln!("dm-remap-monitor: http: cannot start a thread: {e}");
                }
            }
        });
        Ok(Self { addr })
    }

    /// The address it listens on.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

/// Answers 503 to a connection over the cap, on the accepting thread: its
/// request is read first (for at most 100 ms), or closing the socket with
/// it unread would reset the connection before the client reads the 503.
fn reject(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let _ = read_head(&mut stream);
    let _ = respond(&mut stream, error(503, "too many connections"));
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

fn respond(stream: &mut TcpStream, (code, ctype, body): Reply) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(code),
        body.len()
    );
    stream.write_all((head + &body).as_bytes())
}

/// Reads the request head: `Ok(None)` when the client sent nothing.
fn read_head(stream: &mut TcpStream) -> Result<Option<String>, Reply> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        if head.len() > MAX_HEAD {
            return Err((431, "application/json", json!({"error": "request head too large"}).to_string()));
        }
        match stream.read(&mut buf) {
            Ok(0) if head.is_empty() => return Ok(None),
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err((408, "application/json", json!({"error": "request timed out"}).to_string()))
            }
            Err(_) => return Ok(None),
        }
    }
    Ok(Some(String::from_utf8_lossy(&head).into_owned()))
}

fn serve(mut stream: TcpStream, db: &Path, live: &Mutex<Snapshot>) {
    let reply = match read_head(&mut stream) {
        Ok(None) => return,
        Err(r) => r,
        Ok(Some(head)) => {
            let mut w = head.lines().next().unwrap_or("").split_whitespace();
            match (w.next(), w.next()) {
                (Some(method), Some(target)) => answer(db, live, method, target),
                _ => (400, "application/json", json!({"error": "malformed request line"}).to_string()),
            }
        }
    };
    let _ = respond(&mut stream, reply);
}

fn error(code: u16, e: impl std::fmt::Display) -> Reply {
    (code, "application/json", json!({ "error": e.to_string() }).to_string())
}

fn not_found(what: &str) -> Reply {
    error(404, format!("{what} not found"))
}

/// `%XX`-decodes one path segment; `None` if it is not valid UTF-8 or a
/// `%` is not followed by two hex digits.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The response to `method target`: `/metrics` from `live`, the REST API
/// from the history at `db` (opened read-only per request; 503 while it
/// cannot be opened, 500 when a query fails).
pub fn answer(db: &Path, live: &Mutex<Snapshot>, method: &str, target: &str) -> Reply {
    if method != "GET" {
        return error(405, "read-only API: GET only");
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let Some(parts) = path.trim_end_matches('/').split('/').map(percent_decode).collect::<Option<Vec<String>>>() else {
        return error(400, format!("bad percent-encoding in '{path}'"));
    };
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    match parts.as_slice() {
        ["", "metrics"] => {
            let snap = live.lock().unwrap_or_else(|e| e.into_inner()).clone();
            return (200, CONTENT_TYPE, metrics(&snap));
        }
        ["", "openapi.yaml"] => return (200, "application/yaml", OPENAPI.to_string()),
        ["", "api", "v1", "devices", ..] => {}
        _ => return not_found(&format!("'{path}'")),
    }
    let h = match History::open_read_only(db) {
        Ok(h) => h,
        Err(e) => return error(503, e),
    };
    let since = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("since="))
        .map(|v| v.parse::<i64>().map_err(|_| format!("since: '{v}' is not a number")));
    let json_or_500 = |r: Result<serde_json::Value, String>| match r {
        Ok(v) => (200, "application/json", v.to_string()),
        Err(e) => error(500, e),
    };
    match parts.as_slice() {
        ["", "api", "v1", "devices"] => json_or_500(h.latest_all().map(|l| json!(l))),
        ["", "api", "v1", "devices", name] => match h.latest(name) {
            Ok(Some(s)) => json_or_500(
                h.samples(name, s.time - 7 * 86_400)
                    .map(|w| json!({ "schema_version": SCHEMA_VERSION, "latest": s, "trend": trend(name, &w) })),
            ),
            Ok(None) => not_found(&format!("device '{name}'")),
            Err(e) => error(500, e),
        },
        ["", "api", "v1", "devices", name, "history"] => match since.transpose() {
            Err(e) => error(400, e),
            Ok(since) => match h.latest(name) {
                Ok(None) => not_found(&format!("device '{name}'")),
                Ok(Some(_)) => json_or_500(h.samples(name, since.unwrap_or(i64::MIN)).map(|s| json!(s))),
                Err(e) => error(500, e),
            },
        },
        _ => not_found(&format!("'{path}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_percent_decoded() {
        assert_eq!(percent_decode("data%2D0").as_deref(), Some("data-0"));
        assert_eq!(percent_decode("a%20b%2Fc").as_deref(), Some("a b/c"));
        assert_eq!(percent_decode("x%2"), None);
        assert_eq!(percent_decode("x%zz"), None);
        assert_eq!(percent_decode("%ff"), None, "not UTF-8");
    }
}
