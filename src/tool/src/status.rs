// SPDX-License-Identifier: GPL-2.0
//! `status`, `list` and `remap`: the live devices, through dmsetup. The
//! INFO status line layout is Documentation/dm-remap.rst's (format 3).

use serde::Serialize;

use crate::dmsetup;

/// The INFO status of one dm-remap target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceStatus {
    pub name: String,
    pub start: u64,
    pub length: u64,
    pub main_dev: String,
    pub spare_dev: String,
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

/// The INFO layout version this tool reads.
const FORMAT: &str = "3";
const FIELDS: usize = 29;

fn num<T: std::str::FromStr>(field: &str, what: &str) -> Result<T, String> {
    field.parse().map_err(|_| format!("field {what} is not a number: '{field}'"))
}

/// Parses one line of `dmsetup status --target remap`:
/// `<name>: <start> <length> remap <29 fields>` (or, for one named device,
/// the same without `<name>:`, given as `name`).
pub fn parse_line(line: &str, name: Option<&str>) -> Result<DeviceStatus, String> {
    let (name, rest) = match name {
        Some(n) => (n.to_string(), line),
        None => {
            let (n, r) = line.split_once(": ").ok_or_else(|| format!("malformed status line: '{line}'"))?;
            (n.to_string(), r)
        }
    };
    let w: Vec<&str> = rest.split_whitespace().collect();
    let [start, length, target, f @ ..] = w.as_slice() else {
        return Err(format!("malformed status line: '{line}'"));
    };
    if *target != "remap" {
        return Err(format!("{name}: not a remap target ('{target}')"));
    }
    if f.first() != Some(&FORMAT) || f.len() != FIELDS {
        return Err(format!(
            "{name}: status format {} with {} fields; this tool reads format {FORMAT} with {FIELDS}",
            f.first().unwrap_or(&"?"),
            f.len()
        ));
    }
    Ok(DeviceStatus {
        name,
        start: num(start, "start")?,
        length: num(length, "length")?,
        main_dev: f[1].into(),
        spare_dev: f[2].into(),
        block_bytes: num(f[3], "block_bytes")?,
        remaps: num(f[4], "remaps")?,
        spare_total: num(f[5], "spare_total")?,
        spare_used: num(f[6], "spare_used")?,
        reads: num(f[7], "reads")?,
        writes: num(f[8], "writes")?,
        remapped_reads: num(f[9], "remapped_reads")?,
        remapped_writes: num(f[10], "remapped_writes")?,
        errors: num(f[11], "errors")?,
        health: f[12].into(),
        generation: num(f[13], "generation")?,
        uuid: f[14].into(),
        metadata_copies: num(f[15], "metadata_copies")?,
        pending: num(f[16], "pending")?,
        auto_remaps: num(f[17], "auto_remaps")?,
        soft_read_errors: num(f[18], "soft_read_errors")?,
        unrecovered_errors: num(f[19], "unrecovered_errors")?,
        auto_remap: f[20].into(),
        read_retries: num(f[21], "read_retries")?,
        error_threshold: num(f[22], "error_threshold")?,
        spare_warn: num(f[23], "spare_warn")?,
        spare_crit: num(f[24], "spare_crit")?,
        scan_state: f[25].into(),
        scan_percent: num(f[26], "scan_percent")?,
        scan_position: num(f[27], "scan_position")?,
        scan_found: num(f[28], "scan_found")?,
    })
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    Xml,
}

/// Renders `devices` in `format`.
pub fn render(devices: &[DeviceStatus], format: Format) -> Result<String, String> {
    match format {
        Format::Json => serde_json::to_string_pretty(devices).map_err(|e| e.to_string()),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(vec![]);
            for d in devices {
                w.serialize(d).map_err(|e| e.to_string())?;
            }
            String::from_utf8(w.into_inner().map_err(|e| e.to_string())?).map_err(|e| e.to_string())
        }
        Format::Xml => {
            #[derive(Serialize)]
            #[serde(rename = "dm-remap")]
            struct Doc<'a> {
                device: &'a [DeviceStatus],
            }
            quick_xml::se::to_string(&Doc { device: devices }).map_err(|e| e.to_string())
        }
        Format::Table => {
            let mut out = format!(
                "{:<16} {:<15} {:>10} {:>8} {:>8} {:>6} {:>8} {:>10}\n",
                "NAME", "HEALTH", "REMAPS", "PENDING", "SPARE%", "COPIES", "ERRORS", "GENERATION"
            );
            for d in devices {
                let pct = if d.spare_total > 0 { d.spare_used as f64 * 100.0 / d.spare_total as f64 } else { 0.0 };
                out += &format!(
                    "{:<16} {:<15} {:>10} {:>8} {:>7.1}% {:>6} {:>8} {:>10}\n",
                    d.name, d.health, d.remaps, d.pending, pct, d.metadata_copies, d.errors, d.generation
                );
            }
            Ok(out)
        }
    }
}

/// The status of `device`, or of every dm-remap device.
pub fn collect(device: Option<&str>) -> Result<Vec<DeviceStatus>, String> {
    match device {
        Some(d) => {
            let text = dmsetup::run(&["status", "--target", "remap", d]).map_err(|e| format!("{d}: {e}"))?;
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            if lines.is_empty() {
                return Err(format!("{d}: not a dm-remap device"));
            }
            lines.iter().map(|l| parse_line(l, Some(d))).collect()
        }
        None => {
            let text = dmsetup::run(&["status", "--target", "remap"])?;
            text.lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with("No devices found"))
                .map(|l| parse_line(l, None))
                .collect()
        }
    }
}

/// `list`: the device's remap list, as the target prints it.
pub fn list(device: &str) -> Result<String, String> {
    collect(Some(device))?;
    dmsetup::run(&["message", device, "0", "list_remaps"]).map_err(|e| format!("{device}: {e}"))
}

/// `remap`: remaps `count` sectors from `sector` by message.
pub fn remap(device: &str, sector: u64, count: u64) -> Result<String, String> {
    collect(Some(device))?;
    dmsetup::run(&["message", device, "0", "remap", &sector.to_string(), &count.to_string()])
        .map_err(|e| format!("{device}: {e}"))
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
    }

    #[test]
    fn malformed_lines_get_clear_errors() {
        for (line, want) in [
            ("garbage", "malformed"),
            ("d: 0 10 linear 7:0 0", "not a remap target"),
            ("d: 0 10 remap 2 7:0 7:1 512", "status format 2 with 4 fields"),
            (&RECORDED.replace(" 30784 ", " lots "), "spare_total is not a number"),
        ] {
            let e = parse_line(line, None).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    #[test]
    fn every_format_renders() {
        let d = vec![parse_line(RECORDED, None).unwrap()];
        let json: serde_json::Value = serde_json::from_str(&render(&d, Format::Json).unwrap()).unwrap();
        assert_eq!(json[0]["health"], "degraded");
        let csv = render(&d, Format::Csv).unwrap();
        assert!(csv.starts_with("name,start,length,main_dev"));
        assert!(csv.lines().nth(1).unwrap().starts_with("data0,0,131072,7:0"));
        let xml = render(&d, Format::Xml).unwrap();
        assert!(xml.starts_with("<dm-remap><device><name>data0</name>"), "{xml}");
        let table = render(&d, Format::Table).unwrap();
        assert!(table.lines().nth(1).unwrap().starts_with("data0"));
    }
}
