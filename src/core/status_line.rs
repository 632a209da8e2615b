// SPDX-License-Identifier: GPL-2.0
//! The INFO status line (`dmsetup status`, after `<start> <len> remap`):
//! its one definition. The kernel writes it with [`StatusLine::emit`]; the
//! tool and the tests read it with [`StatusLine::parse`] and name its fields
//! with [`FIELDS`]. Documentation/dm-remap.rst lists the fields.
//!
//! The line is append-only: a newer module may add fields at the end (and
//! raise [`STATUS_FORMAT_VERSION`]), never move or drop one, so a reader
//! takes the fields it knows and ignores any after them.

use core::fmt::{self, Write};
use core::str::FromStr;

use super::health::Health;
use super::name::UnknownName;
use super::number::{parse_u32, parse_u64};
use super::policy::{Policies, Policy};

/// Version of the INFO status line layout (field 1).
pub const STATUS_FORMAT_VERSION: u32 = 3;

/// The oldest layout version whose fields [`StatusLine::parse`] reads:
/// every later one only appends.
pub const OLDEST_READABLE_VERSION: u32 = 3;

/// The fields' names, in order (field `i + 1` of the documentation is
/// `FIELDS[i]`).
pub const FIELDS: [&str; 29] = [
    "format_version",
    "main_dev",
    "spare_dev",
    "block_bytes",
    "remaps",
    "spare_total",
    "spare_used",
    "reads",
    "writes",
    "remapped_reads",
    "remapped_writes",
    "errors",
    "health",
    "generation",
    "uuid",
    "metadata_copies",
    "pending",
    "auto_remaps",
    "soft_read_errors",
    "unrecovered",
    "auto_remap",
    "read_retries",
    "error_threshold",
    "spare_warn",
    "spare_crit",
    "scan_state",
    "scan_percent",
    "scan_position",
    "scan_found",
];

/// The 0-based position of the field called `name`.
pub fn field_index(name: &str) -> Option<usize> {
    FIELDS.iter().position(|f| *f == name)
}

/// State of the patrol read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScanState {
    /// Never started.
    #[default]
    Idle,
    Running,
    Done,
    /// Stopped by a message, a suspend or a remove.
    Stopped,
}

impl ScanState {
    /// The word status shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Running => "running",
            Self::Done => "done",
            Self::Stopped => "stopped",
        }
    }
}

impl fmt::Display for ScanState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ScanState {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        [Self::Idle, Self::Running, Self::Done, Self::Stopped].into_iter().find(|v| v.as_str() == s).ok_or(UnknownName)
    }
}

/// Patrol-read progress (fields 26 to 29, also `scan status`'s answer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanProgress {
    pub state: ScanState,
    /// 0 to 100.
    pub percent: u32,
    /// Next block the patrol read reads.
    pub position: u64,
    /// Unreadable blocks found.
    pub found: u64,
}

impl ScanProgress {
    /// Progress at `position` of a target of `total_blocks` blocks.
    pub fn at(state: ScanState, position: u64, total_blocks: u64, found: u64) -> Self {
        let total = total_blocks.max(1);
        let percent = position.min(total).saturating_mul(100).checked_div(total).unwrap_or(0);
        Self { state, percent: u32::try_from(percent).unwrap_or(100), position, found }
    }

    /// Writes `<state> <percent> <position> <found>`.
    pub fn emit(&self, out: &mut impl Write) -> fmt::Result {
        write!(out, "{} {} {} {}", self.state, self.percent, self.position, self.found)
    }
}

/// One INFO status line. Device names borrow from the caller (the kernel's
/// devices, or the text parsed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusLine<'a> {
    /// [`STATUS_FORMAT_VERSION`] when written; what the line says when read.
    pub format_version: u32,
    /// `major:minor` of the main and spare devices.
    pub main_dev: &'a str,
    pub spare_dev: &'a str,
    /// Remap block size in bytes.
    pub block_bytes: u32,
    /// Blocks currently remapped.
    pub remaps: u64,
    /// Blocks in the spare pool, and in use.
    pub spare_total: u64,
    pub spare_used: u64,
    /// Read and write bios mapped, those sent to the spare, and failed
    /// completions.
    pub reads: u64,
    pub writes: u64,
    pub remapped_reads: u64,
    pub remapped_writes: u64,
    pub errors: u64,
    pub health: Health,
    /// Generation of the last metadata commit.
    pub generation: u64,
    /// The spare's identity.
    pub uuid: [u8; 16],
    /// Metadata copies the last commit wrote.
    pub metadata_copies: u8,
    /// Blocks that failed every read retry.
    pub pending: u64,
    pub auto_remaps: u64,
    pub soft_read_errors: u64,
    /// Failed I/O returned to the caller.
    pub unrecovered: u64,
    pub policies: Policies,
    pub scan: ScanProgress,
}

impl Default for StatusLine<'_> {
    fn default() -> Self {
        Self {
            format_version: STATUS_FORMAT_VERSION,
            main_dev: "",
            spare_dev: "",
            block_bytes: 0,
            remaps: 0,
            spare_total: 0,
            spare_used: 0,
            reads: 0,
            writes: 0,
            remapped_reads: 0,
            remapped_writes: 0,
            errors: 0,
            health: Health::Ok,
            generation: 0,
            uuid: [0; 16],
            metadata_copies: 0,
            pending: 0,
            auto_remaps: 0,
            soft_read_errors: 0,
            unrecovered: 0,
            policies: Policies::default(),
            scan: ScanProgress::default(),
        }
    }
}

/// Why a status line was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusError {
    /// The line ends before this field (the first one missing); `found`
    /// fields were there.
    Missing { field: &'static str, found: usize },
    /// This field's word is not a value it can have.
    Bad { field: &'static str },
    /// The line is in an older layout than this reader knows.
    OldFormat(u32),
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { field, found } => write!(
                f,
                "status line has {found} fields, ends before field {field} (format {STATUS_FORMAT_VERSION} has {})",
                FIELDS.len()
            ),
            Self::Bad { field } => write!(f, "status field {field} has a value it cannot have"),
            Self::OldFormat(v) => {
                write!(f, "status format {v} is older than format {OLDEST_READABLE_VERSION}, the oldest this reads")
            }
        }
    }
}

/// The UUID as 32 hex digits.
struct Hex<'a>(&'a [u8; 16]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

fn parse_hex16(word: &[u8]) -> Option<[u8; 16]> {
    if word.len() != 32 {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = [0u8; 16];
    for (byte, pair) in out.iter_mut().zip(word.chunks_exact(2)) {
        let (hi, lo) = (pair.first().copied()?, pair.get(1).copied()?);
        *byte = digit(hi)? << 4 | digit(lo)?;
    }
    Some(out)
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

impl<'a> StatusLine<'a> {
    /// Writes field `index` (0-based, see [`FIELDS`]); nothing for an index
    /// past the last.
    pub fn emit_field(&self, index: usize, out: &mut impl Write) -> fmt::Result {
        let p = &self.policies;
        match index {
            0 => write!(out, "{}", self.format_version),
            1 => out.write_str(self.main_dev),
            2 => out.write_str(self.spare_dev),
            3 => write!(out, "{}", self.block_bytes),
            4 => write!(out, "{}", self.remaps),
            5 => write!(out, "{}", self.spare_total),
            6 => write!(out, "{}", self.spare_used),
            7 => write!(out, "{}", self.reads),
            8 => write!(out, "{}", self.writes),
            9 => write!(out, "{}", self.remapped_reads),
            10 => write!(out, "{}", self.remapped_writes),
            11 => write!(out, "{}", self.errors),
            12 => out.write_str(self.health.name()),
            13 => write!(out, "{}", self.generation),
            14 => write!(out, "{}", Hex(&self.uuid)),
            15 => write!(out, "{}", self.metadata_copies),
            16 => write!(out, "{}", self.pending),
            17 => write!(out, "{}", self.auto_remaps),
            18 => write!(out, "{}", self.soft_read_errors),
            19 => write!(out, "{}", self.unrecovered),
            20 => out.write_str(on_off(p.auto_remap)),
            21 => write!(out, "{}", p.read_retries),
            22 => write!(out, "{}", p.error_threshold),
            23 => write!(out, "{}", p.spare_warn),
            24 => write!(out, "{}", p.spare_crit),
            25 => out.write_str(self.scan.state.as_str()),
            26 => write!(out, "{}", self.scan.percent),
            27 => write!(out, "{}", self.scan.position),
            28 => write!(out, "{}", self.scan.found),
            _ => Ok(()),
        }
    }

    /// Reads `word` into field `index`; `None` when it is not a value the
    /// field can have.
    fn parse_field(&mut self, index: usize, word: &'a str) -> Option<()> {
        let w = word.as_bytes();
        let policy = |name: &str| Policy::parse(name.as_bytes(), w).ok();
        let p = &mut self.policies;
        match index {
            0 => self.format_version = parse_u32(w)?,
            1 => self.main_dev = word,
            2 => self.spare_dev = word,
            3 => self.block_bytes = parse_u32(w)?,
            4 => self.remaps = parse_u64(w)?,
            5 => self.spare_total = parse_u64(w)?,
            6 => self.spare_used = parse_u64(w)?,
            7 => self.reads = parse_u64(w)?,
            8 => self.writes = parse_u64(w)?,
            9 => self.remapped_reads = parse_u64(w)?,
            10 => self.remapped_writes = parse_u64(w)?,
            11 => self.errors = parse_u64(w)?,
            12 => self.health = word.parse().ok()?,
            13 => self.generation = parse_u64(w)?,
            14 => self.uuid = parse_hex16(w)?,
            15 => self.metadata_copies = parse_u32(w).and_then(|v| u8::try_from(v).ok())?,
            16 => self.pending = parse_u64(w)?,
            17 => self.auto_remaps = parse_u64(w)?,
            18 => self.soft_read_errors = parse_u64(w)?,
            19 => self.unrecovered = parse_u64(w)?,
            20..=24 => p.apply(policy(FIELDS.get(index)?)?),
            25 => self.scan.state = word.parse().ok()?,
            26 => self.scan.percent = parse_u32(w).filter(|v| *v <= 100)?,
            27 => self.scan.position = parse_u64(w)?,
            28 => self.scan.found = parse_u64(w)?,
            _ => {}
        }
        Some(())
    }

    /// Writes the whole line: the fields, one space apart.
    pub fn emit(&self, out: &mut impl Write) -> fmt::Result {
        for i in 0..FIELDS.len() {
            if i > 0 {
                out.write_char(' ')?;
            }
            self.emit_field(i, out)?;
        }
        Ok(())
    }

    /// Reads the fields of a line (what follows `<start> <len> remap`).
    /// Fields past the known ones, which a newer module appends, are
    /// ignored; a line without all the known ones is refused.
    pub fn parse(line: &'a str) -> Result<Self, StatusError> {
        let mut s = Self::default();
        let mut words = line.split_ascii_whitespace();
        for (i, field) in FIELDS.iter().enumerate() {
            let word = words.next().ok_or(StatusError::Missing { field, found: i })?;
            s.parse_field(i, word).ok_or(StatusError::Bad { field })?;
            if i == 0 && s.format_version < OLDEST_READABLE_VERSION {
                return Err(StatusError::OldFormat(s.format_version));
            }
        }
        Ok(s)
    }
}

impl fmt::Display for StatusLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.emit(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A line the kernel wrote (format 3).
    const RECORDED: &str = "3 7:0 7:1 512 8 30784 8 17 76 0 2 1 degraded 6 \
        0c6e7e32a1f04f2f8a4bd3a3d3b6ef01 1 1 5 2 1 on 3 3 80 95 done 100 131072 1";

    #[test]
    fn a_recorded_line_parses_and_writes_back_the_same() {
        let s = StatusLine::parse(RECORDED).unwrap();
        assert_eq!((s.main_dev, s.spare_dev, s.block_bytes), ("7:0", "7:1", 512));
        assert_eq!((s.remaps, s.spare_total, s.spare_used), (8, 30784, 8));
        assert_eq!((s.health, s.generation, s.metadata_copies), (Health::Degraded, 6, 1));
        assert_eq!((s.pending, s.auto_remaps, s.soft_read_errors, s.unrecovered), (1, 5, 2, 1));
        assert_eq!(s.policies, Policies::default());
        assert_eq!(s.scan, ScanProgress { state: ScanState::Done, percent: 100, position: 131072, found: 1 });
        assert_eq!(s.to_string(), RECORDED);
    }

    #[test]
    fn fields_appended_by_a_newer_module_are_ignored() {
        let newer = RECORDED.replacen('3', "4", 1) + " 77 something";
        let s = StatusLine::parse(&newer).unwrap();
        assert_eq!(s.format_version, 4);
        assert_eq!(s.scan.found, 1);
    }

    #[test]
    fn a_short_line_names_the_first_missing_field() {
        let short: String = RECORDED.split(' ').take(20).collect::<Vec<_>>().join(" ");
        assert_eq!(StatusLine::parse(&short), Err(StatusError::Missing { field: "auto_remap", found: 20 }));
        assert_eq!(StatusLine::parse(""), Err(StatusError::Missing { field: "format_version", found: 0 }));
        let e = StatusLine::parse(&short).unwrap_err().to_string();
        assert!(e.contains("20 fields") && e.contains("auto_remap"), "{e}");
    }

    #[test]
    fn bad_words_and_old_formats_are_refused() {
        assert_eq!(
            StatusLine::parse(&RECORDED.replace(" 30784 ", " lots ")),
            Err(StatusError::Bad { field: "spare_total" })
        );
        assert_eq!(StatusLine::parse(&RECORDED.replace("degraded", "sad")), Err(StatusError::Bad { field: "health" }));
        assert_eq!(
            StatusLine::parse(&RECORDED.replace(" on ", " yes ")),
            Err(StatusError::Bad { field: "auto_remap" })
        );
        assert_eq!(StatusLine::parse(&RECORDED.replace("ef01", "ef0")), Err(StatusError::Bad { field: "uuid" }));
        assert_eq!(StatusLine::parse("2 7:0 7:1 512"), Err(StatusError::OldFormat(2)));
    }

    #[test]
    fn every_field_has_a_unique_name_and_an_emitter() {
        let s = StatusLine::parse(RECORDED).unwrap();
        for (i, name) in FIELDS.iter().enumerate() {
            assert_eq!(field_index(name), Some(i), "{name}");
            let mut one = String::new();
            s.emit_field(i, &mut one).unwrap();
            assert_eq!(Some(one.as_str()), RECORDED.split(' ').nth(i), "{name}");
        }
        assert_eq!(field_index("nosuch"), None);
    }

    #[test]
    fn scan_progress_percent() {
        assert_eq!(ScanProgress::at(ScanState::Running, 50, 200, 0).percent, 25);
        assert_eq!(ScanProgress::at(ScanState::Done, 300, 200, 0).percent, 100);
        assert_eq!(ScanProgress::at(ScanState::Idle, 0, 0, 0).percent, 0);
    }

    fn health() -> impl Strategy<Value = Health> {
        prop_oneof![Just(Health::Ok), Just(Health::Degraded), Just(Health::SpareExhausted), Just(Health::Failing)]
    }

    fn scan_state() -> impl Strategy<Value = ScanState> {
        prop_oneof![Just(ScanState::Idle), Just(ScanState::Running), Just(ScanState::Done), Just(ScanState::Stopped)]
    }

    proptest! {
        #[test]
        fn every_line_round_trips(
            main in "[0-9]{1,3}:[0-9]{1,4}", spare in "[0-9]{1,3}:[0-9]{1,4}",
            block_bytes: u32, counts in proptest::array::uniform16(any::<u64>()),
            health in health(), uuid: [u8; 16], copies: u8,
            auto in any::<bool>(), rr in 0u32..=16, et in 1u32..=100, w in 1u32..=100, c in 1u32..=100,
            state in scan_state(), percent in 0u32..=100, extra in proptest::collection::vec("[a-z0-9]{1,5}", 0..3),
        ) {
            let s = StatusLine {
                format_version: STATUS_FORMAT_VERSION,
                main_dev: &main,
                spare_dev: &spare,
                block_bytes,
                remaps: counts[0],
                spare_total: counts[1],
                spare_used: counts[2],
                reads: counts[3],
                writes: counts[4],
                remapped_reads: counts[5],
                remapped_writes: counts[6],
                errors: counts[7],
                health,
                generation: counts[8],
                uuid,
                metadata_copies: copies,
                pending: counts[9],
                auto_remaps: counts[10],
                soft_read_errors: counts[11],
                unrecovered: counts[12],
                policies: Policies { auto_remap: auto, read_retries: rr, error_threshold: et, spare_warn: w, spare_crit: c },
                scan: ScanProgress { state, percent, position: counts[13], found: counts[14] },
            };
            let text = s.to_string();
            prop_assert_eq!(text.split(' ').count(), FIELDS.len());
            prop_assert_eq!(StatusLine::parse(&text), Ok(s));
            // A newer module's appended fields change nothing.
            let longer = extra.iter().fold(text.clone(), |t, e| t + " " + e);
            prop_assert_eq!(StatusLine::parse(&longer), Ok(s));
        }

        #[test]
        fn parse_never_panics(line in "\\PC*") {
            let _ = StatusLine::parse(&line);
        }
    }
}
