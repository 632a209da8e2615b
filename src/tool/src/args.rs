// SPDX-License-Identifier: GPL-2.0
//! `dm-remap`'s command line, as clap reads it. The binary parses with it;
//! `examples/gen-docs.rs` writes the shell completions and man pages from it
//! (at install time, so that the binary links neither clap_complete nor
//! clap_mangen). Both include this file by path: it is not in the library,
//! which dm-remap-monitor shares.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::{Parser, Subcommand};

use dm_remap_core::policy::Policy;
use dm_remap_tool::activate::DEFAULT_CONFIG;
use dm_remap_tool::status::{Format, RecordFormat};

#[derive(Parser)]
#[command(
    name = "dm-remap",
    version,
    disable_version_flag = true,
    arg_required_else_help = true,
    about = "dm-remap metadata and management tool"
)]
pub struct Cli {
    /// Print the tool's version and the loaded module's.
    #[arg(short = 'V', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
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
    List {
        device: String,
        #[arg(short, long, value_enum, default_value = "table")]
        format: RecordFormat,
    },
    /// Start, stop or show the background scan (patrol read) of a device.
    Scan {
        #[command(subcommand)]
        action: ScanAction,
    },
    /// Change an error-handling policy of a live device (until its table
    /// is reloaded: put it in the config's table line to keep it).
    Set {
        device: String,
        #[arg(value_parser = PossibleValuesParser::new(Policy::NAMES))]
        policy: String,
        value: String,
    },
    /// Show a device's I/O counters and metadata commit latencies.
    Stats {
        device: String,
        #[arg(short, long, value_enum, default_value = "table")]
        format: RecordFormat,
    },
    /// Wait for device-mapper events and report every health change of a
    /// dm-remap device: run CMD, or log to stderr with a journald priority.
    Events {
        /// Only these devices (default: every dm-remap device).
        devices: Vec<String>,
        /// Run this shell command on each change, with DM_REMAP_DEVICE,
        /// DM_REMAP_OLD_HEALTH, DM_REMAP_NEW_HEALTH, DM_REMAP_MAIN and
        /// DM_REMAP_SPARE in its environment.
        #[arg(long, value_name = "CMD")]
        exec: Option<String>,
        /// Stop after this many changes (for tests; default: never).
        #[arg(long, hide = true)]
        count: Option<u64>,
    },
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
pub enum BadblocksAction {
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

#[derive(Subcommand)]
pub enum ScanAction {
    /// Start a scan of DEVICE, or of every dm-remap device not scanning.
    Start {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        device: Option<String>,
        /// Every dm-remap device (what dm-remap-scrub.service runs).
        #[arg(long)]
        all: bool,
        /// Read rate in MiB/s (default: the target's, 32).
        #[arg(long)]
        rate: Option<u32>,
    },
    /// Stop a running scan.
    Stop { device: String },
    /// Show `<state> <percent> <position> <found>`.
    Status { device: String },
}
