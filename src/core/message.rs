// SPDX-License-Identifier: GPL-2.0
//! Parsing of `dmsetup message <dev> 0 <command> <args>...`.

use core::ffi::CStr;

use super::number::{parse_u32, parse_u64};
use super::policy::{Policy, PolicyError};

/// A message the target understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// `remap <sector> [<count>]`: remap the blocks covering the range.
    Remap { sector: u64, sectors: u64 },
    /// `list_remaps [<start_block> <count>]`: list extents from a main block.
    ListRemaps { start_block: u64, max: Option<u64> },
    /// `set <policy> <value>`.
    Set(Policy),
    /// `scan start [<MiB/s>]`: start a background scan (patrol read).
    ScanStart { mib_per_s: u32 },
    /// `scan stop`.
    ScanStop,
    /// `scan status`.
    ScanStatus,
    /// `stats`: I/O counters and metadata commit latencies.
    Stats,
    /// `clear_stats`: zero them.
    ClearStats,
}

/// Default scan rate, MiB/s.
pub const DEFAULT_SCAN_RATE: u32 = 32;
/// Highest scan rate accepted, MiB/s.
pub const MAX_SCAN_RATE: u32 = 100_000;

/// Why a message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageError {
    /// No command word.
    Empty,
    /// A command this version does not know.
    UnknownCommand,
    /// Wrong number of arguments for the command.
    ArgumentCount,
    /// An argument is not an unsigned decimal number.
    NotANumber,
    /// A count of zero.
    ZeroCount,
    /// `set` of a policy this version does not have.
    UnknownPolicy,
    /// A policy value out of range.
    BadPolicyValue,
}

impl MessageError {
    /// Text for the kernel log.
    pub fn message(self) -> &'static CStr {
        match self {
            Self::Empty => c"empty message",
            Self::UnknownCommand => c"unrecognised message",
            Self::ArgumentCount => c"wrong number of arguments",
            Self::NotANumber => c"argument is not an unsigned decimal number",
            Self::ZeroCount => c"count must be at least 1",
            Self::UnknownPolicy => c"unknown policy",
            Self::BadPolicyValue => c"invalid policy value",
        }
    }
}

fn number(word: &[u8]) -> Result<u64, MessageError> {
    parse_u64(word).ok_or(MessageError::NotANumber)
}

fn count(word: &[u8]) -> Result<u64, MessageError> {
    match number(word)? {
        0 => Err(MessageError::ZeroCount),
        n => Ok(n),
    }
}

impl Message {
    /// Parses the message words (command first).
    pub fn parse(words: &[&[u8]]) -> Result<Self, MessageError> {
        let (command, args) = words.split_first().ok_or(MessageError::Empty)?;
        match (*command, args) {
            (b"remap", [sector]) => Ok(Self::Remap { sector: number(sector)?, sectors: 1 }),
            (b"remap", [sector, n]) => Ok(Self::Remap { sector: number(sector)?, sectors: count(n)? }),
            (b"remap", _) => Err(MessageError::ArgumentCount),
            (b"list_remaps", []) => Ok(Self::ListRemaps { start_block: 0, max: None }),
            (b"list_remaps", [start, n]) => Ok(Self::ListRemaps { start_block: number(start)?, max: Some(count(n)?) }),
            (b"list_remaps", _) => Err(MessageError::ArgumentCount),
            (b"set", [name, v]) => Policy::parse(name, v).map(Self::Set).map_err(|e| match e {
                PolicyError::Unknown => MessageError::UnknownPolicy,
                PolicyError::BadValue => MessageError::BadPolicyValue,
            }),
            (b"scan", [b"start"]) => Ok(Self::ScanStart { mib_per_s: DEFAULT_SCAN_RATE }),
            (b"scan", [b"start", rate]) => parse_u32(rate)
                .filter(|r| (1..=MAX_SCAN_RATE).contains(r))
                .map(|mib_per_s| Self::ScanStart { mib_per_s })
                .ok_or(MessageError::BadPolicyValue),
            (b"scan", [b"stop"]) => Ok(Self::ScanStop),
            (b"scan", [b"status"]) => Ok(Self::ScanStatus),
            (b"scan", _) => Err(MessageError::ArgumentCount),
            (b"stats", []) => Ok(Self::Stats),
            (b"clear_stats", []) => Ok(Self::ClearStats),
            (b"stats" | b"clear_stats", _) => Err(MessageError::ArgumentCount),
            (b"set", _) => Err(MessageError::ArgumentCount),
            _ => Err(MessageError::UnknownCommand),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(line: &str) -> Result<Message, MessageError> {
        let words: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
        Message::parse(&words)
    }

    #[test]
    fn remap_forms() {
        assert_eq!(parse("remap 8"), Ok(Message::Remap { sector: 8, sectors: 1 }));
        assert_eq!(parse("remap 8 16"), Ok(Message::Remap { sector: 8, sectors: 16 }));
    }

    #[test]
    fn list_forms() {
        assert_eq!(parse("list_remaps"), Ok(Message::ListRemaps { start_block: 0, max: None }));
        assert_eq!(parse("list_remaps 5 10"), Ok(Message::ListRemaps { start_block: 5, max: Some(10) }));
    }

    #[test]
    fn bad_messages_are_refused_with_reasons() {
        assert_eq!(parse(""), Err(MessageError::Empty));
        assert_eq!(parse("frobnicate"), Err(MessageError::UnknownCommand));
        assert_eq!(parse("remap"), Err(MessageError::ArgumentCount));
        assert_eq!(parse("remap 1 2 3"), Err(MessageError::ArgumentCount));
        assert_eq!(parse("remap x"), Err(MessageError::NotANumber));
        assert_eq!(parse("remap -1"), Err(MessageError::NotANumber));
        assert_eq!(parse("remap 1 0"), Err(MessageError::ZeroCount));
        assert_eq!(parse("list_remaps 5"), Err(MessageError::ArgumentCount));
        assert_eq!(parse("list_remaps 5 0"), Err(MessageError::ZeroCount));
        assert_eq!(parse("set auto_remap"), Err(MessageError::ArgumentCount));
        assert_eq!(parse("set auto_remap yes"), Err(MessageError::BadPolicyValue));
        assert_eq!(parse("set read_retries 17"), Err(MessageError::BadPolicyValue));
        assert_eq!(parse("set colour blue"), Err(MessageError::UnknownPolicy));
    }

    #[test]
    fn scan_forms() {
        assert_eq!(parse("scan start"), Ok(Message::ScanStart { mib_per_s: DEFAULT_SCAN_RATE }));
        assert_eq!(parse("scan start 5"), Ok(Message::ScanStart { mib_per_s: 5 }));
        assert_eq!(parse("scan start 0"), Err(MessageError::BadPolicyValue));
        assert_eq!(parse("scan stop"), Ok(Message::ScanStop));
        assert_eq!(parse("scan status"), Ok(Message::ScanStatus));
        assert_eq!(parse("scan"), Err(MessageError::ArgumentCount));
        assert_eq!(parse("scan go"), Err(MessageError::ArgumentCount));
    }

    #[test]
    fn policy_forms() {
        assert_eq!(parse("set auto_remap off"), Ok(Message::Set(Policy::AutoRemap(false))));
        assert_eq!(parse("set read_retries 0"), Ok(Message::Set(Policy::ReadRetries(0))));
        assert_eq!(parse("set spare_crit 90"), Ok(Message::Set(Policy::SpareCrit(90))));
    }

    proptest! {
        #[test]
        fn parse_never_panics(line in "[a-z_0-9 -]{0,40}") {
            let _ = parse(&line);
        }
    }
}
