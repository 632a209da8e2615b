// SPDX-License-Identifier: GPL-2.0
//! `status`, `list` and `remap`: the live devices, through dmsetup. The
//! INFO status line is read with the core's `StatusLine`, its one
//! definition (Documentation/dm-remap.rst lists the fields).

use serde::Serialize;

use dm_remap_core::status_line::{field_index, StatusLine, FIELDS};

use crate::dmsetup;

/// The INFO status of one dm-remap target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceStatus {
    pub name: String,
    pub start: u64,
    pub length: u64,
    pub main_dev: String,
    pub spare_dev: String,
    /// `main_dev` and `spare_dev` as `/dev` paths (see `devnames`); the
    /// numbers until [`collect`] resolves them.
    pub main: String,
    pub spare: String,
    pub block_bytes: u32,
    pub remaps: u64,
    pub spare_total: u64,
    pub spare_used: u64,
    pub reads: u64,
    pub writes: u64,
    pub remapped_reads: u64,
    pub remapped_writes: u64,
    pub errors: u64,
    pub health: String,
    pub generation: u64,
    pub uuid: String,
    pub metadata_copies: u8,
    pub pending: u64,
    pub auto_remaps: u64,
    pub soft_read_errors: u64,
    pub unrecovered_errors: u64,
    pub auto_remap: String,
    pub read_retries: u32,
    pub error_threshold: u32,
    pub spare_warn: u32,
    pub spare_crit: u32,
    pub scan_state: String,
    pub scan_percent: u32,
    pub scan_position: u64,
    pub scan_found: u64,
}

impl DeviceStatus {
    /// Target `name` at `start`, `length` sectors, with status `s`.
    fn new(name: String, start: u64, length: u64, s: &StatusLine) -> Self {
        let p = &s.policies;
        Self {
            name,
            start,
            length,
            main_dev: s.main_dev.into(),
            spare_dev: s.spare_dev.into(),
            main: s.main_dev.into(),
            spare: s.spare_dev.into(),
            block_bytes: s.block_bytes,
            remaps: s.remaps,
            spare_total: s.spare_total,
            spare_used: s.spare_used,
            reads: s.reads,
            writes: s.writes,
            remapped_reads: s.remapped_reads,
            remapped_writes: s.remapped_writes,
            errors: s.errors,
            health: s.health.to_string(),
            generation: s.generation,
            uuid: field_text(s, "uuid"),
            metadata_copies: s.metadata_copies,
            pending: s.pending,
            auto_remaps: s.auto_remaps,
            soft_read_errors: s.soft_read_errors,
            unrecovered_errors: s.unrecovered,
            auto_remap: field_text(s, "auto_remap"),
            read_retries: p.read_retries,
            error_threshold: p.error_threshold,
            spare_warn: p.spare_warn,
            spare_crit: p.spare_crit,
            scan_state: s.scan.state.to_string(),
            scan_percent: s.scan.percent,
            scan_position: s.scan.position,
            scan_found: s.scan.found,
        }
    }
}

/// Field `name` of `s` as the status line shows it.
fn field_text(s: &StatusLine, name: &str) -> String {
    let mut out = String::new();
    if let Some(i) = field_index(name) {
        let _ = s.emit_field(i, &mut out);
    }
    out
}

fn num(field: &str, what: &str) -> Result<u64, String> {
    field.parse().map_err(|_| format!("{what} is not a number: '{field}'"))
}

/// One line of `dmsetup status --target remap`, split:
/// `<name>: <start> <length> remap <fields>` (or, for one named device, the
/// same without `<name>:`, given as `name`).
struct Line<'a> {
    name: String,
    start: u64,
    length: u64,
    status: StatusLine<'a>,
}

fn split_line<'a>(line: &'a str, name: Option<&str>) -> Result<Line<'a>, String> {
    let (name, rest) = match name {
        Some(n) => (n.to_string(), line),
        None => {
            let (n, r) = line.split_once(": ").ok_or_else(|| format!("malformed status line: '{line}'"))?;
            (n.to_string(), r)
        }
    };
    let mut w = rest.trim_start().splitn(4, char::is_whitespace);
    let (Some(start), Some(length), Some(target)) = (w.next(), w.next(), w.next()) else {
        return Err(format!("malformed status line: '{line}'"));
    };
    if target != "remap" {
        return Err(format!("{name}: not a remap target ('{target}')"));
    }
    let status = StatusLine::parse(w.next().unwrap_or("")).map_err(|e| format!("{name}: {e}"))?;
    Ok(Line { start: num(start, "start")?, length: num(length, "length")?, name, status })
}

/// Parses one line of `dmsetup status --target remap` (see [`split_line`]).
pub fn parse_line(line: &str, name: Option<&str>) -> Result<DeviceStatus, String> {
    let l = split_line(line, name)?;
    Ok(DeviceStatus::new(l.name, l.start, l.length, &l.status))
}

/// Output formats of `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    Xml,
}

/// Output formats of `list` and `stats`: the target's text, JSON or CSV.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordFormat {
    Table,
    Json,
    Csv,
}

/// CSV of `records` (a header from the first one's field names).
pub fn csv<T: Serialize>(records: &[T]) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(vec![]);
    for r in records {
        w.serialize(r).map_err(|e| e.to_string())?;
    }
    String::from_utf8(w.into_inner().map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}

/// Renders `devices` in `format`.
pub fn render(devices: &[DeviceStatus], format: Format) -> Result<String, String> {
    match format {
        Format::Json => {
            #[derive(Serialize)]
            struct Body<'a> {
                devices: &'a [DeviceStatus],
            }
            crate::json::render(Body { devices })
        }
        Format::Csv => csv(devices),
        Format::Xml => crate::xml::render("dm-remap", "device", devices),
        Format::Table => {
            let mut out = format!(
                "{:<16} {:<15} {:>10} {:>8} {:>8} {:>6} {:>8} {:>10} {:<14} {}\n",
                "NAME", "HEALTH", "REMAPS", "PENDING", "SPARE%", "COPIES", "ERRORS", "GENERATION", "MAIN", "SPARE"
            );
            for d in devices {
                let pct = if d.spare_total > 0 { d.spare_used as f64 * 100.0 / d.spare_total as f64 } else { 0.0 };
                out += &format!(
                    "{:<16} {:<15} {:>10} {:>8} {:>7.1}% {:>6} {:>8} {:>10} {:<14} {}\n",
                    d.name,
                    d.health,
                    d.remaps,
                    d.pending,
                    pct,
                    d.metadata_copies,
                    d.errors,
                    d.generation,
                    d.main,
                    d.spare
                );
            }
            Ok(out)
        }
    }
}

/// The status lines of `device` (without `<name>:`), or of every dm-remap
/// device, with the name to give to [`split_line`].
fn status_lines(device: Option<&str>) -> Result<Vec<(String, Option<&str>)>, String> {
    match device {
        Some(d) => {
            let text = dmsetup::run(&["status", "--target", "remap", d]).map_err(|e| format!("{d}: {e}"))?;
            let lines: Vec<_> =
                text.lines().filter(|l| !l.trim().is_empty()).map(|l| (l.to_string(), Some(d))).collect();
            if lines.is_empty() {
                return Err(format!("{d}: not a dm-remap device"));
            }
            Ok(lines)
        }
        None => {
            let text = dmsetup::run(&["status", "--target", "remap"])?;
            Ok(text
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with("No devices found"))
                .map(|l| (l.to_string(), None))
                .collect())
        }
    }
}

/// The status of `device`, or of every dm-remap device, with the main and
/// spare devices' `/dev` paths.
pub fn collect(device: Option<&str>) -> Result<Vec<DeviceStatus>, String> {
    let mut devices: Vec<DeviceStatus> =
        status_lines(device)?.iter().map(|(l, name)| parse_line(l, *name)).collect::<Result<_, _>>()?;
    for d in &mut devices {
        d.main = crate::devnames::path(&d.main_dev);
        d.spare = crate::devnames::path(&d.spare_dev);
    }
    Ok(devices)
}

/// `status --field NAME`: that status field (a name of
/// Documentation/dm-remap.rst's table) of each target of `device`, one per
/// line; of every dm-remap device as `<name> <value>` lines.
pub fn field(device: Option<&str>, field: &str) -> Result<String, String> {
    let index =
        field_index(field).ok_or_else(|| format!("no status field '{field}'; the fields are: {}", FIELDS.join(" ")))?;
    let mut out = String::new();
    for (line, name) in status_lines(device)? {
        let l = split_line(&line, name)?;
        if device.is_none() {
            out += &l.name;
            out.push(' ');
        }
        l.status.emit_field(index, &mut out).map_err(|e| e.to_string())?;
        out.push('\n');
    }
    Ok(out)
}

/// Sends message `words` to dm-remap device `device` (refusing any other
/// device): the target's answer.
pub fn message(device: &str, words: &[&str]) -> Result<String, String> {
    collect(Some(device))?;
    let args: Vec<&str> = ["message", device, "0"].iter().chain(words).copied().collect();
    dmsetup::run(&args).map_err(|e| format!("{device}: {e}"))
}

/// `list`: the device's remap list, as the target prints it.
pub fn list(device: &str) -> Result<String, String> {
    message(device, &["list_remaps"])
}

/// `remap`: remaps `count` sectors from `sector` by message.
pub fn remap(device: &str, sector: u64, count: u64) -> Result<String, String> {
    message(device, &["remap", &sector.to_string(), &count.to_string()])
}

/// `remap_list`: remaps every range of `words` (`<sector>[+<count>]`) in one
/// message; returns `(remapped, lost)` blocks as the target reports them.
pub fn remap_list(device: &str, words: &[String]) -> Result<(u64, u64), String> {
    let mut args = vec!["message", device, "0", "remap_list"];
    args.extend(words.iter().map(String::as_str));
    let out = dmsetup::run(&args).map_err(|e| format!("{device}: {e}"))?;
    match out.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["remapped", r, "lost", l, ..] => match (r.parse(), l.parse()) {
            (Ok(r), Ok(l)) => Ok((r, l)),
            _ => Err(format!("{device}: unexpected remap_list result '{}'", out.trim())),
        },
        _ => Err(format!("{device}: unexpected remap_list result '{}'", out.trim())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDED: &str = "data0: 0 131072 remap 3 7:0 7:1 512 8 30784 8 17 76 0 2 1 degraded 6 \
        0c6e7e32a1f04f2f8a4bd3a3d3b6ef01 1 1 5 2 1 on 3 3 80 95 done 100 131072 1";

    #[test]
    fn a_recorded_line_parses() {
        let d = parse_line(RECORDED, None).unwrap();
        assert_eq!(d.name, "data0");
        assert_eq!((d.length, d.remaps, d.spare_total, d.spare_used), (131072, 8, 30784, 8));
        assert_eq!((d.health.as_str(), d.generation, d.metadata_copies), ("degraded", 6, 1));
        assert_eq!((d.pending, d.auto_remaps, d.soft_read_errors, d.unrecovered_errors), (1, 5, 2, 1));
        assert_eq!((d.auto_remap.as_str(), d.read_retries, d.spare_crit), ("on", 3, 95));
        assert_eq!((d.scan_state.as_str(), d.scan_percent, d.scan_found), ("done", 100, 1));
        let one = parse_line(RECORDED.split_once(": ").unwrap().1, Some("x")).unwrap();
        assert_eq!(one.name, "x");
        assert_eq!(one.uuid, "0c6e7e32a1f04f2f8a4bd3a3d3b6ef01");
    }

    #[test]
    fn fields_a_newer_module_appends_are_ignored() {
        let d = parse_line(&format!("{RECORDED} 42 new"), None).unwrap();
        assert_eq!(d, parse_line(RECORDED, None).unwrap());
    }

    #[test]
    fn malformed_lines_get_clear_errors() {
        for (line, want) in [
            ("garbage", "malformed"),
            ("d: 0 10 linear 7:0 0", "not a remap target"),
            ("d: 0 10 remap 2 7:0 7:1 512", "d: status format 2 is older than format 3"),
            ("d: 0 10 remap 3 7:0 7:1 512", "d: status line has 4 fields, ends before field remaps"),
            (&RECORDED.replace(" 30784 ", " lots "), "status field spare_total has a value it cannot have"),
            (&RECORDED.replace(" 131072 remap", " x remap"), "length is not a number"),
        ] {
            let e = parse_line(line, None).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    #[test]
    fn every_format_renders() {
        let d = vec![parse_line(RECORDED, None).unwrap()];
        let json: serde_json::Value = serde_json::from_str(&render(&d, Format::Json).unwrap()).unwrap();
        assert_eq!(json["devices"][0]["health"], "degraded");
        assert_eq!(json["devices"][0]["main"], "7:0", "parse_line leaves the number; collect resolves it");
        let csv = render(&d, Format::Csv).unwrap();
        assert!(csv.starts_with("name,start,length,main_dev"));
        assert!(csv.lines().nth(1).unwrap().starts_with("data0,0,131072,7:0"));
        let xml = render(&d, Format::Xml).unwrap();
        assert!(xml.starts_with("<dm-remap><device><name>data0</name>"), "{xml}");
        let table = render(&d, Format::Table).unwrap();
        assert!(table.lines().nth(1).unwrap().starts_with("data0"));
    }
}
