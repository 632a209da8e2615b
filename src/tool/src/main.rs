// SPDX-License-Identifier: GPL-2.0
//! `dm-remap`: dm-remap's userspace tool. `check`, `dump`, `restore` and
//! `repair` work offline on a spare device or an image of one, in the spirit
//! of thin_check, thin_dump, thin_restore and thin_repair (exit status: 0
//! clean, 1 needs repair, 2 unusable or bad input). `status`, `list`,
//! `remap`, `badblocks`, `health`, `zabbix-discovery` talk to live devices
//! (exit 2 on errors); `nagios` exits 0-3 as Nagios plugins do. `activate` and
//! `deactivate` bring up the devices of a config file (exit status: 0 all
//! of them, 1 some lines failed, 2 no config).

mod activate;
mod badblocks;
mod commands;
mod dmsetup;
mod dump;
mod main_disks;
mod monitor;
mod monitoring;
mod smart;
mod spare;
mod spare_file;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::Outcome;

#[derive(Parser)]
#[command(name = "dm-remap", version, about = "dm-remap metadata and management tool")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check both metadata copies on a spare device or image.
    /// With --nagios: a Nagios plugin check of live devices instead.
    Check {
        /// The spare device or image (with --nagios: a device name, or none
        /// for all devices).
        target: Option<PathBuf>,
        #[arg(long)]
        nagios: bool,
    },
    /// Print the newest valid metadata copy as JSON.
    Dump { spare: PathBuf },
    /// Write both metadata copies from a JSON dump.
    Restore {
        spare: PathBuf,
        /// The JSON file written by `dump`.
        #[arg(short, long)]
        input: PathBuf,
    },
    /// Rewrite a stale or damaged copy from the newest valid one.
    Repair { spare: PathBuf },
    /// Create the devices listed in a config file (skipping active ones).
    Activate {
        #[arg(short, long, default_value = activate::DEFAULT_CONFIG)]
        config: PathBuf,
        /// Check the file and print the tables, create nothing.
        #[arg(long)]
        dry_run: bool,
        /// Wait up to this many seconds in all for listed disks to appear.
        #[arg(long, default_value = "0")]
        wait: u64,
    },
    /// Show the status of one dm-remap device, or of all of them.
    Status {
        device: Option<String>,
        #[arg(short, long, value_enum, default_value = "table")]
        format: status::Format,
    },
    /// List a device's remaps (main_block spare_block length state).
    List { device: String },
    /// Remap COUNT sectors from SECTOR of a live device to its spare.
    Remap {
        device: String,
        sector: u64,
        #[arg(default_value = "1")]
        count: u64,
    },
    /// A device's state with the SMART data of the disks under it.
    Health {
        device: String,
        #[arg(short, long, value_enum, default_value = "table")]
        format: status::Format,
    },
    /// A live view: the status table, redrawn every INTERVAL seconds.
    Watch {
        device: Option<String>,
        #[arg(short, long, default_value = "2")]
        interval: u64,
        /// Stop after this many redraws (default: until interrupted).
        #[arg(short, long)]
        count: Option<u64>,
    },
    /// Nagios plugin (also `check --nagios`): one line, exit 0 OK,
    /// 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Nagios { device: Option<String> },
    /// Sample every device into a SQLite history and serve Prometheus
    /// metrics and a JSON REST API.
    Monitor {
        #[arg(long, default_value = "/var/lib/dm-remap/history.sqlite")]
        db: PathBuf,
        /// Seconds between samples.
        #[arg(short, long, default_value = "60")]
        interval: u64,
        /// Address to serve on; an empty string serves nothing.
        #[arg(short, long, default_value = "127.0.0.1:9377")]
        listen: String,
        /// Stop after this many samples (default: run until stopped).
        #[arg(long)]
        samples: Option<u64>,
    },
    /// Render the monitor's history as an HTML page with charts.
    Report {
        #[arg(long, default_value = "/var/lib/dm-remap/history.sqlite")]
        db: PathBuf,
        #[arg(short, long, default_value = "dm-remap-report.html")]
        out: PathBuf,
    },
    /// Zabbix low-level discovery JSON of every dm-remap device.
    ZabbixDiscovery,
    /// Import a badblocks(8) list as remaps, or export the remaps as one.
    Badblocks {
        #[command(subcommand)]
        action: BadblocksAction,
    },
    /// Remove the devices listed in a config file, last first.
    Deactivate {
        #[arg(short, long, default_value = activate::DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// For the udev rule: print DM_REMAP_MAIN=1 if DEVNODE (one of its udev
    /// LINKS, or its whole disk) is the main disk of a config line, with the
    /// links it keeps; always exits 0.
    UdevCheck {
        devnode: PathBuf,
        links: Vec<String>,
        #[arg(short, long, default_value = activate::DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Print the lvm.conf global_filter that keeps LVM off the main disks.
    LvmFilter {
        #[arg(short, long, default_value = activate::DEFAULT_CONFIG)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum BadblocksAction {
    /// Remap every block of a badblocks list (a file, or - for stdin).
    Import {
        device: String,
        list: PathBuf,
        /// Block size of the list, in bytes (badblocks -b; default 1024).
        #[arg(short, long, default_value = "1024")]
        block_size: u64,
    },
    /// Print the blocks that hold remapped sectors, as a badblocks list.
    Export {
        device: String,
        #[arg(short, long, default_value = "1024")]
        block_size: u64,
    },
}

fn badblocks_cmd(action: &BadblocksAction) -> Result<Outcome, String> {
    match action {
        BadblocksAction::Import { device, list, block_size } => {
            let text = if list.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).map_err(|e| format!("stdin: {e}"))?
            } else {
                std::fs::read_to_string(list).map_err(|e| format!("{}: {e}", list.display()))?
            };
            let runs = badblocks::parse_list(&text, *block_size)?;
            // One remap_list message per batch: one copy pass and one commit
            // each, where a remap per run cost a commit per run.
            let batches = badblocks::remap_list_batches(&runs);
            let (mut remapped, mut lost) = (0, 0);
            for words in &batches {
                let (r, l) = status::remap_list(device, words)?;
                remapped += r;
                lost += l;
            }
            println!(
                "imported {} run(s) of bad blocks in {} message(s): remapped {remapped} lost {lost}",
                runs.len(),
                batches.len()
            );
            Ok(Outcome::Clean)
        }
        BadblocksAction::Export { device, block_size } => {
            let dev = status::collect(Some(device))?;
            let remap_block = dev.first().map_or(512, |d| u64::from(d.block_bytes));
            for b in badblocks::export(&status::list(device)?, remap_block, *block_size)? {
                println!("{b}");
            }
            Ok(Outcome::Clean)
        }
    }
}

fn health_cmd(device: &str, format: status::Format) -> Result<Outcome, String> {
    let dev = status::collect(Some(device))?;
    let mut disks = vec![];
    for d in &dev {
        for majmin in [&d.main_dev, &d.spare_dev] {
            disks.extend(smart::leaf_disks(majmin, std::path::Path::new("/sys")));
        }
    }
    disks.sort();
    disks.dedup();
    let smart: Vec<_> = disks.iter().map(|d| smart::query(d)).collect::<Result<_, _>>()?;
    match format {
        status::Format::Json => {
            let v = serde_json::json!({ "status": dev, "smart": smart });
            println!("{}", serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?);
        }
        _ => {
            print!("{}", status::render(&dev, status::Format::Table)?);
            for s in &smart {
                let show = |v: Option<u64>| v.map_or("-".to_string(), |n| n.to_string());
                println!(
                    "{}: smart {} reallocated {} pending {} uncorrectable {} nvme_media_errors {}{}",
                    s.device,
                    s.passed.map_or("unknown", |p| if p { "passed" } else { "FAILED" }),
                    show(s.reallocated_sectors),
                    show(s.pending_sectors),
                    show(s.uncorrectable_sectors),
                    show(s.nvme_media_errors),
                    s.note.as_ref().map_or(String::new(), |n| format!(" ({n})")),
                );
            }
        }
    }
    Ok(Outcome::Clean)
}

fn watch_cmd(device: Option<&str>, interval: u64, count: Option<u64>) -> Result<Outcome, String> {
    let mut n = 0u64;
    loop {
        let table = status::collect(device).and_then(|d| status::render(&d, status::Format::Table))?;
        // Clear the screen and home the cursor (ANSI), then draw.
        print!("\x1b[2J\x1b[H{table}");
        n += 1;
        if count.is_some_and(|c| n >= c) {
            return Ok(Outcome::Clean);
        }
        std::thread::sleep(std::time::Duration::from_secs(interval.max(1)));
    }
}

fn nagios_cmd(device: Option<&str>) -> ExitCode {
    let (line, state) = match status::collect(device) {
        Ok(d) => monitoring::nagios(&d),
        Err(e) => (format!("DM-REMAP UNKNOWN - {e}"), monitoring::NagiosState::Unknown),
    };
    println!("{line}");
    ExitCode::from(state as u8)
}

fn print_clean(out: &str) -> Outcome {
    print!("{out}");
    if !out.is_empty() && !out.ends_with('\n') {
        println!();
    }
    Outcome::Clean
}

fn all_or_some(all: bool) -> Outcome {
    if all {
        Outcome::Clean
    } else {
        Outcome::NeedsRepair
    }
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`dm-remap status | head`), as Unix tools
    // do, instead of panicking on the failed write.
    // SAFETY: sets a signal disposition before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Check { target, nagios: true } => return nagios_cmd(target.as_ref().and_then(|p| p.to_str())),
        Command::Check { target: Some(spare), nagios: false } => commands::check(spare),
        Command::Check { target: None, nagios: false } => {
            Err("check: name a spare device or image (or use --nagios)".into())
        }
        Command::Dump { spare } => commands::dump(spare),
        Command::Restore { spare, input } => commands::restore(spare, input),
        Command::Repair { spare } => commands::repair(spare),
        Command::Activate { config, dry_run, wait } => activate::activate(config, *dry_run, *wait).map(all_or_some),
        Command::Deactivate { config } => activate::deactivate(config).map(all_or_some),
        Command::UdevCheck { devnode, links, config } => {
            // Never fails: udev goes on with the device as an ordinary one.
            if let Ok((entries, _)) = activate::read_config(config) {
                print!("{}", main_disks::udev_check(&entries, devnode, links));
            }
            return ExitCode::SUCCESS;
        }
        Command::LvmFilter { config } => {
            activate::read_config(config).map(|(entries, _)| print_clean(&main_disks::lvm_filter(config, &entries)))
        }
        Command::Status { device, format } => {
            status::collect(device.as_deref()).and_then(|d| status::render(&d, *format)).map(|out| print_clean(&out))
        }
        Command::List { device } => status::list(device).map(|out| print_clean(&out)),
        Command::Badblocks { action } => badblocks_cmd(action),
        Command::Health { device, format } => health_cmd(device, *format),
        Command::Watch { device, interval, count } => watch_cmd(device.as_deref(), *interval, *count),
        Command::Nagios { device } => return nagios_cmd(device.as_deref()),
        Command::Monitor { db, interval, listen, samples } => {
            monitor::run(db, *interval, listen, *samples).map(|()| Outcome::Clean)
        }
        Command::Report { db, out } => monitor::report::write(db, out).map(|()| {
            println!("report written to {}", out.display());
            Outcome::Clean
        }),
        Command::ZabbixDiscovery => status::collect(None).map(|d| print_clean(&monitoring::zabbix_discovery(&d))),
        Command::Remap { device, sector, count } => status::remap(device, *sector, *count).map(|out| print_clean(&out)),
    };
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::NeedsRepair) => ExitCode::from(1),
        Ok(Outcome::Unusable) => ExitCode::from(2),
        Err(e) => {
            eprintln!("dm-remap: {e}");
            ExitCode::from(2)
        }
    }
}
