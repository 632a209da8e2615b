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
use std::time::{Duration, Instant};

use dm_remap_core::table_line::TableLine;

use crate::dmsetup;

/// Default config file.
pub const DEFAULT_CONFIG: &str = "/etc/dm-remap/devices.conf";

/// UUID prefix of devices `activate` creates (udev rules match on it).
pub const UUID_PREFIX: &str = "DMREMAP-";

/// Longest device-mapper name and uuid (DM_NAME_LEN and DM_UUID_LEN of
/// `linux/dm-ioctl.h`, less their terminating NUL).
const DM_NAME_MAX: usize = 127;
const DM_UUID_MAX: usize = 128;

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

/// Why `name` cannot name a device, if it cannot: it must be a valid
/// device-mapper name that dmsetup does not take for an option, and
/// `DMREMAP-<name>` must fit in a device-mapper uuid.
fn name_error(name: &str) -> Option<String> {
    let longest = DM_NAME_MAX.min(DM_UUID_MAX - UUID_PREFIX.len());
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c)) || name == "." || name == ".." {
        Some(format!("'{name}' is not a valid device name (letters, digits, _ . + -)"))
    } else if name.starts_with('-') {
        Some(format!("device name '{name}' starts with '-' (dmsetup would take it for an option)"))
    } else if name.len() > longest {
        Some(format!(
            "device name '{name}' is {} characters long; at most {longest} fit in its uuid {UUID_PREFIX}<name>",
            name.len()
        ))
    } else {
        None
    }
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
        if let Some(why) = name_error(name) {
            err(why);
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

/// What holds a config entry's device-mapper name.
#[derive(Debug, PartialEq, Eq)]
enum Holder {
    /// No device has the name.
    Nobody,
    /// The device `activate` made for the entry (uuid `DMREMAP-<name>`).
    Ours,
    /// Another device with this name and the given uuid: never counted as
    /// active, never removed.
    Foreign(String),
}

/// Classifies the uuid (`None`: no such device) of the device named `name`.
fn holder(name: &str, uuid: Option<&str>) -> Holder {
    match uuid {
        None => Holder::Nobody,
        Some(u) if u.strip_prefix(UUID_PREFIX) == Some(name) => Holder::Ours,
        Some(u) => Holder::Foreign(u.to_string()),
    }
}

fn holder_of(name: &str) -> Result<Holder, String> {
    match dmsetup::run(&["info", "-c", "--noheadings", "-o", "uuid", name]) {
        Ok(out) => Ok(holder(name, Some(out.trim()))),
        Err(e) if e.contains("does not exist") => Ok(Holder::Nobody),
        Err(e) => Err(e),
    }
}

fn foreign(uuid: &str) -> String {
    format!("a device of that name exists that activate did not create (uuid '{uuid}', not '{UUID_PREFIX}<name>')")
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

/// Waits until `path` exists or `deadline` passes (at boot, udev may not
/// have made a disk's /dev/disk/by-id link yet).
fn wait_for(path: &Path, deadline: Instant) {
    while !path.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn activate_one(e: &Entry, dry_run: bool, deadline: Instant) -> Result<String, String> {
    match holder_of(&e.name)? {
        Holder::Ours => return Ok("already active".into()),
        Holder::Foreign(uuid) => return Err(foreign(&uuid)),
        Holder::Nobody => {}
    }
    wait_for(&e.main, deadline);
    wait_for(&e.spare, deadline);
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

pub fn read_config(config: &Path) -> Result<(Vec<Entry>, Vec<LineError>), String> {
    let text = std::fs::read_to_string(config).map_err(|e| format!("{}: {e}", config.display()))?;
    Ok(parse(&text))
}

/// `activate`: returns whether every line worked. Waits up to `wait`
/// seconds in all for listed disks that are not there yet.
pub fn activate(config: &Path, dry_run: bool, wait: u64) -> Result<bool, String> {
    let deadline = Instant::now() + Duration::from_secs(wait);
    let (entries, errors) = read_config(config)?;
    for e in &errors {
        eprintln!("{}:{}: {}", config.display(), e.line, e.message);
    }
    let mut ok = errors.is_empty();
    for e in &entries {
        match activate_one(e, dry_run, deadline) {
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
        match holder_of(&e.name) {
            Ok(Holder::Ours) => {}
            Ok(Holder::Nobody) => continue,
            Ok(Holder::Foreign(uuid)) => {
                eprintln!("{}: left alone: {}", e.name, foreign(&uuid));
                ok = false;
                continue;
            }
            Err(why) => {
                eprintln!("{}: {why}", e.name);
                ok = false;
                continue;
            }
        }
        // --retry: udev's probes may hold the device open for a moment.
        match dmsetup::run(&["remove", "--retry", &e.name]) {
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

    #[test]
    fn names_dmsetup_would_misread_or_that_overflow_the_uuid_are_refused() {
        let longest = "n".repeat(120);
        let text = format!("-data /dev/a /dev/b\n{longest} /dev/a /dev/b\n{longest}x /dev/a /dev/b\n");
        let (entries, errors) = parse(&text);
        assert_eq!(entries.len(), 1, "a 120-character name fits DMREMAP-<name> in 128 bytes");
        assert_eq!(entries[0].name, longest);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 3]);
        assert!(errors[0].message.contains("starts with '-'"), "{}", errors[0].message);
        assert!(errors[1].message.contains("at most 120 fit in its uuid"), "{}", errors[1].message);
    }

    #[test]
    fn only_a_device_with_our_uuid_counts_as_ours() {
        assert_eq!(holder("data0", None), Holder::Nobody);
        assert_eq!(holder("data0", Some("DMREMAP-data0")), Holder::Ours);
        assert_eq!(holder("data0", Some("")), Holder::Foreign(String::new()));
        assert_eq!(holder("data0", Some("DMREMAP-data1")), Holder::Foreign("DMREMAP-data1".into()));
        assert_eq!(holder("data0", Some("LVM-abc")), Holder::Foreign("LVM-abc".into()));
    }
}
