// SPDX-License-Identifier: GPL-2.0
//! `dm-remap`: dm-remap's userspace tool. These commands work offline on a
//! spare device or an image of one, in the spirit of thin_check, thin_dump,
//! thin_restore and thin_repair. Exit status: 0 clean, 1 needs repair,
//! 2 unusable or bad input.

mod commands;
mod dump;
mod spare;

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
    Check { spare: PathBuf },
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Check { spare } => commands::check(spare),
        Command::Dump { spare } => commands::dump(spare),
        Command::Restore { spare, input } => commands::restore(spare, input),
        Command::Repair { spare } => commands::repair(spare),
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
