// SPDX-License-Identifier: GPL-2.0
//! Reading and replaying dm-log-writes logs: [`format`] is the on-disk
//! layout, [`log`] walks a log's entries, [`replay`] applies a range of them
//! to a device or image. The `replay-log` binary is the command line over
//! these.

pub mod format;
pub mod log;
pub mod replay;

use std::fmt;
use std::io;

/// Why a log cannot be listed or replayed.
#[derive(Debug)]
pub enum Error {
    Io {
        what: String,
        err: io::Error,
    },
    Format(format::FormatError),
    /// The log ends inside entry `entry` (its header or data).
    Truncated {
        entry: u64,
    },
    MarkNotFound(String),
    /// Entry `entry` writes past the end of the replay target.
    PastEnd {
        entry: u64,
    },
    /// An entry range the log does not hold.
    Range(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { what, err } => write!(f, "{what}: {err}"),
            Self::Format(e) => e.fmt(f),
            Self::Truncated { entry } => write!(f, "the log ends inside entry {entry}"),
            Self::MarkNotFound(name) => write!(f, "no mark '{name}' in the log"),
            Self::PastEnd { entry } => write!(f, "entry {entry} reaches past the end of the replay target"),
            Self::Range(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {}

impl From<format::FormatError> for Error {
    fn from(e: format::FormatError) -> Self {
        Self::Format(e)
    }
}

/// `err` said of `what` (a path and an action).
pub fn io_err(what: impl fmt::Display) -> impl FnOnce(io::Error) -> Error {
    move |err| Error::Io { what: what.to_string(), err }
}

pub type Result<T> = std::result::Result<T, Error>;
