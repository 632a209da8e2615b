// SPDX-License-Identifier: GPL-2.0
//! `dm-remap`: the boot-time tool, lean on purpose (no SQLite, HTTP server,
//! plotting or XML library; monitoring is `dm-remap-monitor`). `check`,
//! `dump`, `restore` and `repair` work offline on a spare device or an image
//! of one, in the spirit of thin_check, thin_dump, thin_restore and
//! thin_repair (exit status: 0 clean, 1 needs repair, 2 unusable or bad
//! input). `status`, `list`, `remap` and `badblocks` talk to live devices
//! (exit 2 on errors). `activate` and `deactivate` bring up the devices of a
//! config file (exit status: 0 all of them, 1 some lines failed, 2 no
//! config); `udev-check` and `lvm-filter`, which udev rules and lvm.conf
//! run at boot, keep other users off their main disks. This file is the command line; each command is a file of `cmd`.

mod cmd;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use dm_remap_tool::activate::DEFAULT_CONFIG;
use dm_remap_tool::status::Format;

#[derive(Parser)]
#[command(name = "dm-remap", version, about = "dm-remap metadata and management tool")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check both metadata copies on a spare device or image.
    Check {
        /// The spare device or image.
        target: Option<PathBuf>,
        /// Moved: `dm-remap-monitor nagios` is the Nagios plugin.
        #[arg(long, hide = true)]
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
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
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
        format: Format,
        /// Print only this status field (its name in the documentation's
        /// table, e.g. health, remaps, scan_state), as the target shows it.
        #[arg(long, conflicts_with = "format")]
        field: Option<String>,
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
    /// Import a badblocks(8) list as remaps, or export the remaps as one.
    Badblocks {
        #[command(subcommand)]
        action: BadblocksAction,
    },
    /// Remove the devices listed in a config file, last first.
    Deactivate {
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// For the udev rule: print DM_REMAP_MAIN=1 if DEVNODE (one of its udev
    /// LINKS, or its whole disk) is the main disk of a config line, with the
    /// links it keeps; always exits 0.
    UdevCheck {
        devnode: PathBuf,
        links: Vec<String>,
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Print the lvm.conf global_filter that keeps LVM off the main disks.
    LvmFilter {
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Any other word: a command that moved to dm-remap-monitor gets a
    /// hint, anything else clap's error.
    #[command(external_subcommand)]
    Other(Vec<OsString>),
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

/// `dm-remap <word>` for a word that is no command here: a one-line hint
/// for the monitoring commands, which are `dm-remap-monitor`'s, and exit
/// status 2 (usage) either way.
fn not_here(words: &[OsString]) -> ExitCode {
    let word = words.first().map(|w| w.to_string_lossy().into_owned()).unwrap_or_default();
    if cmd::MOVED_TO_MONITOR.contains(&word.as_str()) {
        eprintln!("dm-remap: '{word}' is a dm-remap-monitor command: run 'dm-remap-monitor {word}'");
        return ExitCode::from(2);
    }
    let mut cli = <Cli as clap::CommandFactory>::command();
    cli.error(clap::error::ErrorKind::InvalidSubcommand, format!("unrecognized subcommand '{word}'")).exit()
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`dm-remap status | head`), as Unix tools
    // do, instead of panicking on the failed write.
    // SAFETY: sets a signal disposition before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Check { nagios: true, .. } => {
            eprintln!("dm-remap: 'check --nagios' is a dm-remap-monitor command: run 'dm-remap-monitor nagios'");
            return ExitCode::from(2);
        }
        Command::Check { target: Some(spare), nagios: false } => cmd::check::run(spare),
        Command::Check { target: None, nagios: false } => Err(anyhow::anyhow!("check: name a spare device or image")),
        Command::Dump { spare } => cmd::dump::run(spare),
        Command::Restore { spare, input } => cmd::restore::run(spare, input),
        Command::Repair { spare } => cmd::repair::run(spare),
        Command::Activate { config, dry_run, wait } => cmd::activate::run(config, *dry_run, *wait),
        Command::Deactivate { config } => cmd::deactivate::run(config),
        Command::UdevCheck { devnode, links, config } => Ok(cmd::udev_check::run(devnode, links, config)),
        Command::LvmFilter { config } => cmd::lvm_filter::run(config),
        Command::Status { device, field: Some(f), .. } => cmd::status::field(device.as_deref(), f),
        Command::Status { device, format, field: None } => cmd::status::run(device.as_deref(), *format),
        Command::List { device } => cmd::list::run(device),
        Command::Remap { device, sector, count } => cmd::remap::run(device, *sector, *count),
        Command::Badblocks { action: BadblocksAction::Import { device, list, block_size } } => {
            cmd::badblocks::import(device, list, *block_size)
        }
        Command::Badblocks { action: BadblocksAction::Export { device, block_size } } => {
            cmd::badblocks::export(device, *block_size)
        }
        Command::Other(words) => return not_here(words),
    };
    dm_remap_tool::cli::finish("dm-remap", result)
}
