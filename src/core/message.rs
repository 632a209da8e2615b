// SPDX-License-Identifier: GPL-2.0
//! Parsing of `dmsetup message <dev> 0 <command> <args>...`.

use core::ffi::CStr;

use super::number::{parse_u32, parse_u64};
use super::policy::{Policy, PolicyError};

/// A message the target understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// `remap <sector> [<count>]`: remap the blocks covering the range.
    Remap { sector: u64, sectors: u64 },
    /// `remap_list <sector>[+<count>]...`: remap the blocks covering every
    /// range as one change (one copy pass, one commit).
    RemapList(RangeList<'a>),
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

/// The most ranges one `remap_list` message takes. A message is one ioctl
/// buffer (dm-ioctl takes up to `DM_MAX_TARGETS * DM_MAX_TARGET_PARAMS`,
/// 1 GiB, but splits it into an argument array of at most
/// `KMALLOC_MAX_SIZE`, some 500000 words), and a bulk remap holds the
/// writer lock (and I/O to its blocks) for its whole copy: 16384 ranges
/// keep both small (the tool sends longer lists in batches).
pub const MAX_REMAP_LIST: usize = 16384;

/// The ranges of a `remap_list` message, checked by [`Message::parse`]:
/// each word is `<sector>` or `<sector>+<count>`, count at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeList<'a>(&'a [&'a [u8]]);

impl<'a> RangeList<'a> {
    /// How many ranges.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never, once parsed).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ranges, `(sector, sectors)`, in message order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + 'a {
        self.0.iter().filter_map(|w| range(w).ok())
    }

    /// The words, as sent (to recognise the same message sent again).
    pub fn words(&self) -> &'a [&'a [u8]] {
        self.0
    }
}

/// One `remap_list` word: `<sector>` or `<sector>+<count>`.
pub fn range(word: &[u8]) -> Result<(u64, u64), MessageError> {
    match word.iter().position(|&c| c == b'+') {
        None => Ok((number(word)?, 1)),
        Some(i) => Ok((number(word.get(..i).unwrap_or_default())?, count(word.get(i + 1..).unwrap_or_default())?)),
    }
}

/// Encodes one `remap_list` word (the inverse of [`range`]).
pub fn encode_range(sector: u64, sectors: u64, out: &mut impl core::fmt::Write) -> core::fmt::Result {
    if sectors == 1 {
        write!(out, "{sector}")
    } else {
        write!(out, "{sector}+{sectors}")
    }
}

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
    /// A `remap_list` of more than [`MAX_REMAP_LIST`] ranges.
    TooManyRanges,
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
            Self::TooManyRanges => c"too many ranges (at most 16384 per remap_list)",
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

impl<'a> Message<'a> {
    /// Parses the message words (command first).
    pub fn parse(words: &'a [&'a [u8]]) -> Result<Self, MessageError> {
        let (command, args) = words.split_first().ok_or(MessageError::Empty)?;
        match (*command, args) {
            (b"remap", [sector]) => Ok(Self::Remap { sector: number(sector)?, sectors: 1 }),
            (b"remap", [sector, n]) => Ok(Self::Remap { sector: number(sector)?, sectors: count(n)? }),
            (b"remap", _) => Err(MessageError::ArgumentCount),
            (b"remap_list", []) => Err(MessageError::ArgumentCount),
            (b"remap_list", _) if args.len() > MAX_REMAP_LIST => Err(MessageError::TooManyRanges),
            (b"remap_list", _) => {
                for w in args {
                    range(w)?;
                }
                Ok(Self::RemapList(RangeList(args)))
            }
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

    fn parse(line: &str) -> Result<Message<'static>, MessageError> {
        // Leaked: a parsed message borrows its words (a test's few bytes).
        let line: &'static str = Box::leak(line.to_owned().into_boxed_str());
        let words: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
        Message::parse(Vec::leak(words))
    }

    fn ranges(line: &str) -> Result<Vec<(u64, u64)>, MessageError> {
        match parse(line)? {
            Message::RemapList(list) => Ok(list.iter().collect()),
            m => panic!("'{line}' parsed as {m:?}, not remap_list"),
        }
    }

    #[test]
    fn remap_list_forms() {
        assert_eq!(ranges("remap_list 8"), Ok(vec![(8, 1)]));
        assert_eq!(ranges("remap_list 8+16 0 100+1"), Ok(vec![(8, 16), (0, 1), (100, 1)]));
        assert_eq!(parse("remap_list"), Err(MessageError::ArgumentCount));
        assert_eq!(parse("remap_list 8+0"), Err(MessageError::ZeroCount));
        assert_eq!(parse("remap_list 8+"), Err(MessageError::NotANumber));
        assert_eq!(parse("remap_list +8"), Err(MessageError::NotANumber));
        assert_eq!(parse("remap_list 8+1+1"), Err(MessageError::NotANumber));
        assert_eq!(parse("remap_list 1 x"), Err(MessageError::NotANumber));
        assert_eq!(parse("remap_list 1 -1"), Err(MessageError::NotANumber));
        let most = format!("remap_list{}", " 1".repeat(MAX_REMAP_LIST));
        assert_eq!(parse(&most).map(|m| matches!(m, Message::RemapList(l) if l.len() == MAX_REMAP_LIST)), Ok(true));
        let over = format!("remap_list{}", " 1".repeat(MAX_REMAP_LIST + 1));
        assert_eq!(parse(&over), Err(MessageError::TooManyRanges));
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
        fn parse_never_panics(line in "[a-z_0-9 +-]{0,40}") {
            let _ = parse(&line);
        }

        #[test]
        fn remap_list_words_round_trip(sector in any::<u64>(), sectors in 1u64..) {
            let mut word = String::new();
            encode_range(sector, sectors, &mut word).unwrap();
            prop_assert_eq!(range(word.as_bytes()), Ok((sector, sectors)));
        }
    }
}
