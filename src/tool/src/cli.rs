// SPDX-License-Identifier: GPL-2.0
//! What the commands of both binaries share: how a command ends (its exit
//! status) and lifting the library's text errors into `anyhow` ones.

use std::process::ExitCode;

/// How a command ended: exit status 0, 1 or 2.
pub enum Outcome {
    /// Done; for the offline commands: both regions hold the newest
    /// generation; for `activate`: every line worked.
    Clean,
    /// Usable, but a region lacks the newest generation (`repair` fixes
    /// it); for `activate`/`deactivate`: some lines failed.
    NeedsRepair,
    /// No valid copy, or bad input: nothing to load.
    Unusable,
}

impl Outcome {
    /// For commands over a list of devices: `Clean` when `all` of them
    /// worked, else `NeedsRepair` (exit status 1).
    pub fn all_or_some(all: bool) -> Self {
        if all {
            Self::Clean
        } else {
            Self::NeedsRepair
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Clean => ExitCode::SUCCESS,
            Outcome::NeedsRepair => ExitCode::from(1),
            Outcome::Unusable => ExitCode::from(2),
        }
    }
}

/// The library reports errors as text; this makes them `anyhow` errors so
/// that a command can say what it was doing.
pub trait Lift<T> {
    fn lift(self) -> anyhow::Result<T>;
}

impl<T> Lift<T> for Result<T, String> {
    fn lift(self) -> anyhow::Result<T> {
        self.map_err(anyhow::Error::msg)
    }
}

/// Prints `out` (ending it with a newline) and ends cleanly.
pub fn print_clean(out: &str) -> Outcome {
    print!("{out}");
    if !out.is_empty() && !out.ends_with('\n') {
        println!();
    }
    Outcome::Clean
}

/// The exit status of a command's `result`; an error is printed as
/// `<program>: <context>: <cause>...` and is exit status 2.
pub fn finish(program: &str, result: anyhow::Result<Outcome>) -> ExitCode {
    match result {
        Ok(outcome) => outcome.into(),
        Err(e) => {
            // `{:#}`: the context, then each cause, separated by ": ".
            eprintln!("{program}: {e:#}");
            ExitCode::from(2)
        }
    }
}
