// SPDX-License-Identifier: GPL-2.0
//! The monitor's HTTP side: Prometheus metrics and a read-only JSON REST
//! API over the history (endpoints in Documentation/dm-remap-api.yaml).

use std::path::{Path, PathBuf};
use std::thread;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde_json::json;
use tiny_http::{Header, Method, Response};

use dm_remap_core::health::Health;

use crate::history::{Field, History, Sample};
use crate::trend::trend;

/// The OpenAPI description of the REST API.
pub const OPENAPI: &str = include_str!("../../../Documentation/dm-remap-api.yaml");

/// A running server.
pub struct Server {
    addr: String,
}

impl Server {
    /// Listens on `listen` (`host:port`; port 0 picks one) and answers from
    /// the history at `db`, on a thread of its own.
    pub fn start(listen: &str, db: &Path) -> Result<Self, String> {
        let server = tiny_http::Server::http(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = server.server_addr().to_ip().map_or_else(|| listen.to_string(), |a| a.to_string());
        let db: PathBuf = db.to_path_buf();
        thread::spawn(move || {
            for request in server.incoming_requests() {
                let (code, ctype, body) = match History::open(&db) {
                    Ok(h) => answer(&h, request.method(), request.url()),
                    Err(e) => (500, "application/json", json!({ "error": e }).to_string()),
                };
                let header = Header::from_bytes("Content-Type", ctype).expect("static header");
                let _ = request.respond(Response::from_string(body).with_status_code(code).with_header(header));
            }
        });
        Ok(Self { addr })
    }

    /// The address it listens on.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabel {
    device: String,
}

/// 0 ok, 1 degraded, 2 spare_exhausted, 3 failing (worse is higher), -1 unknown.
fn health_value(h: &str) -> i64 {
    h.parse::<Health>().map_or(-1, |h| h as i64)
}

/// Prometheus text exposition of the latest sample of every device.
pub fn metrics(latest: &[Sample]) -> String {
    let mut registry = Registry::default();
    let gauges: [(&str, &str, Field<i64>); 9] = [
        ("dm_remap_remapped_blocks", "Blocks remapped to the spare", |s| s.remaps as i64),
        ("dm_remap_pending_blocks", "Blocks that failed every read retry", |s| s.pending as i64),
        ("dm_remap_spare_used_blocks", "Spare pool blocks in use", |s| s.spare_used as i64),
        ("dm_remap_spare_total_blocks", "Spare pool blocks", |s| s.spare_total as i64),
        ("dm_remap_errors", "Failed completions seen", |s| s.errors as i64),
        ("dm_remap_unrecovered_errors", "Failed I/O returned to the caller", |s| s.unrecovered_errors as i64),
        ("dm_remap_auto_remaps", "Blocks remapped automatically", |s| s.auto_remaps as i64),
        ("dm_remap_health", "0 ok, 1 degraded, 2 spare_exhausted, 3 failing", |s| health_value(&s.health)),
        ("dm_remap_sample_time_seconds", "When the sample was taken", |s| s.time),
    ];
    for (name, help, get) in gauges {
        let family = Family::<DeviceLabel, Gauge>::default();
        for s in latest {
            family.get_or_create(&DeviceLabel { device: s.name.clone() }).set(get(s));
        }
        registry.register(name, help, family);
    }
    let mut out = String::new();
    let _ = encode(&mut out, &registry);
    out
}

fn not_found(what: &str) -> (u16, &'static str, String) {
    (404, "application/json", json!({ "error": format!("{what} not found") }).to_string())
}

/// The response to `method url`.
pub fn answer(h: &History, method: &Method, url: &str) -> (u16, &'static str, String) {
    if *method != Method::Get {
        return (405, "application/json", json!({ "error": "read-only API: GET only" }).to_string());
    }
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let since = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("since="))
        .map(|v| v.parse::<i64>().map_err(|_| format!("since: '{v}' is not a number")));
    let latest = |h: &History| -> Result<Vec<Sample>, String> {
        Ok(h.devices()?.iter().filter_map(|d| h.latest(d).ok().flatten()).collect())
    };
    let json_or_500 = |r: Result<serde_json::Value, String>| match r {
        Ok(v) => (200, "application/json", v.to_string()),
        Err(e) => (500, "application/json", json!({ "error": e }).to_string()),
    };
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        ["", "metrics"] => match latest(h) {
            Ok(l) => (200, "text/plain; version=0.0.4", metrics(&l)),
            Err(e) => (500, "text/plain", e),
        },
        ["", "openapi.yaml"] => (200, "application/yaml", OPENAPI.to_string()),
        ["", "api", "v1", "devices"] => json_or_500(latest(h).map(|l| json!(l))),
        ["", "api", "v1", "devices", name] => match h.latest(name) {
            Ok(Some(s)) => {
                let t = trend(name, &h.samples(name, s.time - 7 * 86_400).unwrap_or_default());
                (200, "application/json", json!({ "latest": s, "trend": t }).to_string())
            }
            Ok(None) => not_found(&format!("device '{name}'")),
            Err(e) => (500, "application/json", json!({ "error": e }).to_string()),
        },
        ["", "api", "v1", "devices", name, "history"] => match since.transpose() {
            Err(e) => (400, "application/json", json!({ "error": e }).to_string()),
            Ok(since) => match h.samples(name, since.unwrap_or(i64::MIN)) {
                Ok(s) if s.is_empty() && h.latest(name).ok().flatten().is_none() => {
                    not_found(&format!("device '{name}'"))
                }
                r => json_or_500(r.map(|s| json!(s))),
            },
        },
        _ => not_found(&format!("'{path}'")),
    }
}
