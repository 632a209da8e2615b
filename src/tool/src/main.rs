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
//! run at boot, keep other users off their main disks. This file runs the
//! command line (`args.rs`); each command is a file of `cmd`.

mod args;
mod cmd;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use args::{BadblocksAction, Cli, Command, ScanAction};

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
    let Some(command) = &cli.command else {
        // `arg_required_else_help`: no command means `--version` was given.
        return dm_remap_tool::cli::finish("dm-remap", cmd::version::run(cli.version));
    };
    if cli.version {
        return dm_remap_tool::cli::finish("dm-remap", cmd::version::run(true));
    }
    let result = match command {
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
        Command::List { device, format } => cmd::list::run(device, *format),
        Command::Scan { action: ScanAction::Start { device, all: _, rate } } => {
            cmd::scan::start(device.as_deref(), *rate)
        }
        Command::Scan { action: ScanAction::Stop { device } } => cmd::scan::stop(device),
        Command::Scan { action: ScanAction::Status { device } } => cmd::scan::status(device),
        Command::Set { device, policy, value } => cmd::set::run(device, policy, value),
        Command::Stats { device, format } => cmd::stats::run(device, *format),
        Command::Events { devices, exec, count } => cmd::events::run(devices, exec.as_deref(), *count),
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
