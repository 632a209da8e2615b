// SPDX-License-Identifier: GPL-2.0
//! `activate` / `deactivate`: create (remove) the dm-remap devices listed in
//! a config file, in file order, as the boot-time unit does.
//!
//! The file, `/etc/dm-remap/devices.conf` by default, has one device per
//! line: `<name> <main_dev> <spare_dev> [<policy> <value>...]`; `#` starts a
//! comment. A bad line is reported with its number and skipped; the other
//! devices still come up.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use dm_remap_core::table_line::TableLine;

use crate::dmsetup;

/// Default config file.
pub const DEFAULT_CONFIG: &str = "/etc/dm-remap/devices.conf";

/// UUID prefix of devices `activate` creates (udev rules match on it).
pub const UUID_PREFIX: &str = "DMREMAP-";

/// One device of the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    pub name: String,
    pub main: PathBuf,
    pub spare: PathBuf,
    /// Optional table arguments, checked by the target's own parser.
    pub options: Vec<String>,
}

/// A config line that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 127
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c))
        && name != "."
        && name != ".."
}

/// Parses a config file's text into entries and line errors.
pub fn parse(text: &str) -> (Vec<Entry>, Vec<LineError>) {
    let mut entries: Vec<Entry> = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let words: Vec<&str> = raw.split('#').next().unwrap_or("").split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let mut err = |message: String| errors.push(LineError { line, message });
        let [name, main, spare, options @ ..] = words.as_slice() else {
            err("expected <name> <main_dev> <spare_dev> [<policy> <value>...]".into());
            continue;
        };
        if !valid_name(name) {
            err(format!("'{name}' is not a valid device name (letters, digits, _ . + -)"));
            continue;
        }
        if entries.iter().any(|e| e.name == *name) {
            err(format!("device '{name}' is listed twice"));
            continue;
        }
        let count = options.len().to_string();
        let mut table: Vec<&[u8]> = vec![main.as_bytes(), spare.as_bytes()];
        if !options.is_empty() {
            table.push(count.as_bytes());
            table.extend(options.iter().map(|o| o.as_bytes()));
        }
        if let Err(e) = TableLine::parse(&table) {
            err(format!("{}", e.message().to_string_lossy()));
            continue;
        }
        if options.contains(&"force_format") {
            err("force_format is not allowed in the config file (it would format the spare at every boot)".into());
            continue;
        }
        entries.push(Entry {
            line,
            name: name.to_string(),
            main: PathBuf::from(main),
            spare: PathBuf::from(spare),
            options: options.iter().map(|s| s.to_string()).collect(),
        });
    }
    (entries, errors)
}

fn exists(name: &str) -> bool {
    dmsetup::run(&["info", name]).is_ok()
}

/// Size in sectors of the block device at `path`.
fn block_sectors(path: &Path) -> Result<u64, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.file_type().is_block_device() {
        return Err(format!("{} is not a block device", path.display()));
    }
    let mut f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bytes = f.seek(SeekFrom::End(0)).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes / 512)
}

/// The table line for `e`.
pub fn table_line(e: &Entry, sectors: u64) -> String {
    let mut t = format!("0 {sectors} remap {} {}", e.main.display(), e.spare.display());
    if !e.options.is_empty() {
        t += &format!(" {} {}", e.options.len(), e.options.join(" "));
    }
    t
}

fn activate_one(e: &Entry, dry_run: bool) -> Result<String, String> {
    if exists(&e.name) {
        return Ok("already active".into());
    }
    block_sectors(&e.spare)?;
    let table = table_line(e, block_sectors(&e.main)?);
    if dry_run {
        return Ok(format!("would create with table '{table}'"));
    }
    let uuid = format!("{UUID_PREFIX}{}", e.name);
    dmsetup::run(&["create", &e.name, "--uuid", &uuid, "--table", &table])?;
    // Without udev (early boot, containers) make the node ourselves.
    let _ = dmsetup::run(&["mknodes", &e.name]);
    Ok("activated".into())
}

fn read_config(config: &Path) -> Result<(Vec<Entry>, Vec<LineError>), String> {
    let text = std::fs::read_to_string(config).map_err(|e| format!("{}: {e}", config.display()))?;
    Ok(parse(&text))
}

/// `activate`: returns whether every line worked.
pub fn activate(config: &Path, dry_run: bool) -> Result<bool, String> {
    let (entries, errors) = read_config(config)?;
    for e in &errors {
        eprintln!("{}:{}: {}", config.display(), e.line, e.message);
    }
    let mut ok = errors.is_empty();
    for e in &entries {
        match activate_one(e, dry_run) {
            Ok(what) => println!("{}: {what}", e.name),
            Err(why) => {
                eprintln!("{}:{}: {}: {why}", config.display(), e.line, e.name);
                ok = false;
            }
        }
    }
    Ok(ok)
}

/// `deactivate`: removes the listed devices, last first.
pub fn deactivate(config: &Path) -> Result<bool, String> {
    let (entries, _) = read_config(config)?;
    let mut ok = true;
    for e in entries.iter().rev() {
        if !exists(&e.name) {
            continue;
        }
        match dmsetup::run(&["remove", &e.name]) {
            Ok(_) => println!("{}: removed", e.name),
            Err(why) => {
                eprintln!("{}: {why}", e.name);
                ok = false;
            }
        }
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_and_bad_lines() {
        let text = "\
# name main spare options
data0 /dev/sdb /dev/sdc
data1 /dev/sdd /dev/sde auto_remap off read_retries 5   # trailing comment

oops /dev/sdf
data0 /dev/sdg /dev/sdh
bad/name /dev/a /dev/b
data2 /dev/a /dev/b colour blue
data3 /dev/a /dev/b read_retries
data4 /dev/a /dev/b force_format
";
        let (entries, errors) = parse(text);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["data0", "data1"]);
        assert_eq!(entries[1].options, ["auto_remap", "off", "read_retries", "5"]);
        assert_eq!(table_line(&entries[1], 100), "0 100 remap /dev/sdd /dev/sde 4 auto_remap off read_retries 5");
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [5, 6, 7, 8, 9, 10]);
        assert!(errors[0].message.contains("expected <name>"));
        assert!(errors[1].message.contains("listed twice"));
        assert!(errors[3].message.contains("Unknown optional argument"));
        assert!(errors[4].message.contains("Invalid optional argument value"));
        assert!(errors[5].message.contains("force_format"));
    }
}
