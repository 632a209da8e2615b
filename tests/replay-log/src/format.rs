// SPDX-License-Identifier: GPL-2.0
//! The dm-log-writes on-disk format, as the kernel writes it
//! (drivers/md/dm-log-writes.c; Documentation/admin-guide/device-mapper/
//! log-writes.rst). Everything is little-endian and counted in *log
//! sectors* of `sectorsize` bytes (the logged device's logical block size):
//!
//! ```text
//! log sector 0      super block: magic u64, version u64, nr_entries u64, sectorsize u32
//! then, per entry:  one header sector: sector u64, nr_sectors u64, flags u64, data_len u64
//!                                      (a mark's name follows in the same sector)
//!                   nr_sectors sectors of written data (none for discards and marks)
//! ```
//!
//! The super block counts the entries as of its last rewrite (after each FUA
//! or mark entry, and at the final `dm-log-writes-end` mark when the target
//! is removed); anything past `nr_entries` is not part of the log. A write's
//! `sector` and `nr_sectors` are in log sectors of the logged device.
//!
//! The encoder ([`Super::encode`], [`Header::encode`], [`LogBuilder`]) sits
//! beside the decoder so tests can build logs exactly as the kernel lays
//! them out.

use std::fmt;

pub const MAGIC: u64 = 0x6a736677736872; // WRITE_LOG_MAGIC
pub const VERSION: u64 = 1;

/// Entry flags (`LOG_*_FLAG` in dm-log-writes.c).
pub const FLUSH: u64 = 1 << 0;
pub const FUA: u64 = 1 << 1;
pub const DISCARD: u64 = 1 << 2;
pub const MARK: u64 = 1 << 3;
pub const METADATA: u64 = 1 << 4;
const KNOWN_FLAGS: u64 = FLUSH | FUA | DISCARD | MARK | METADATA;
const FLAG_NAMES: [(u64, &str); 5] =
    [(FLUSH, "FLUSH"), (FUA, "FUA"), (DISCARD, "DISCARD"), (MARK, "MARK"), (METADATA, "METADATA")];

/// Size of the fixed part of an entry header; a mark's name follows it.
pub const HEADER_BYTES: usize = 32;

/// Why a log cannot be read.
#[derive(Debug, PartialEq, Eq)]
pub enum FormatError {
    BadMagic(u64),
    BadVersion(u64),
    BadSectorSize(u32),
    UnknownFlags {
        entry: u64,
        flags: u64,
    },
    /// A mark must carry no sectors and a name that fits its header sector.
    BadMark {
        entry: u64,
    },
    /// Only marks carry inline data in the kernel's format.
    InlineData {
        entry: u64,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic(m) => write!(f, "not a dm-log-writes log (magic {m:#x})"),
            Self::BadVersion(v) => write!(f, "log format version {v} (only {VERSION} is known)"),
            Self::BadSectorSize(s) => write!(f, "log sector size {s} is not a power of two from 512 to 65536"),
            Self::UnknownFlags { entry, flags } => write!(f, "entry {entry}: unknown flags {flags:#x}"),
            Self::BadMark { entry } => write!(f, "entry {entry}: malformed mark"),
            Self::InlineData { entry } => write!(f, "entry {entry}: inline data on an entry that is not a mark"),
        }
    }
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// The log's super block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Super {
    pub nr_entries: u64,
    pub sectorsize: u32,
}

impl Super {
    /// Bytes the decoder needs (the super fits in the smallest sector).
    pub const BYTES: usize = 28;

    pub fn decode(b: &[u8]) -> Result<Self, FormatError> {
        let magic = u64_at(b, 0);
        if magic != MAGIC {
            return Err(FormatError::BadMagic(magic));
        }
        let version = u64_at(b, 8);
        if version != VERSION {
            return Err(FormatError::BadVersion(version));
        }
        let sectorsize = u32::from_le_bytes(b[24..28].try_into().expect("4 bytes"));
        if !sectorsize.is_power_of_two() || !(512..=65536).contains(&sectorsize) {
            return Err(FormatError::BadSectorSize(sectorsize));
        }
        Ok(Self { nr_entries: u64_at(b, 16), sectorsize })
    }

    /// The super's log sector, zero-padded.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0; self.sectorsize as usize];
        b[0..8].copy_from_slice(&MAGIC.to_le_bytes());
        b[8..16].copy_from_slice(&VERSION.to_le_bytes());
        b[16..24].copy_from_slice(&self.nr_entries.to_le_bytes());
        b[24..28].copy_from_slice(&self.sectorsize.to_le_bytes());
        b
    }
}

/// One entry's header sector, decoded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub sector: u64,
    pub nr_sectors: u64,
    pub flags: u64,
    /// The mark's name (marks only).
    pub mark: Option<String>,
}

impl Header {
    /// Decodes entry `entry`'s header sector `b` (`b.len()` is the sector size).
    pub fn decode(b: &[u8], entry: u64) -> Result<Self, FormatError> {
        let (sector, nr_sectors, flags, data_len) = (u64_at(b, 0), u64_at(b, 8), u64_at(b, 16), u64_at(b, 24));
        if flags & !KNOWN_FLAGS != 0 {
            return Err(FormatError::UnknownFlags { entry, flags });
        }
        let mark = if flags & MARK != 0 {
            let len = usize::try_from(data_len).ok().filter(|&l| l <= b.len() - HEADER_BYTES);
            match len {
                Some(len) if nr_sectors == 0 => {
                    Some(String::from_utf8_lossy(&b[HEADER_BYTES..HEADER_BYTES + len]).into_owned())
                }
                _ => return Err(FormatError::BadMark { entry }),
            }
        } else if data_len != 0 {
            return Err(FormatError::InlineData { entry });
        } else {
            None
        };
        Ok(Self { sector, nr_sectors, flags, mark })
    }

    /// The header sector of `sectorsize` bytes, zero-padded.
    pub fn encode(&self, sectorsize: u32) -> Vec<u8> {
        let mut b = vec![0; sectorsize as usize];
        let name = self.mark.as_deref().unwrap_or("").as_bytes();
        for (i, v) in [self.sector, self.nr_sectors, self.flags, name.len() as u64].into_iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        b[HEADER_BYTES..HEADER_BYTES + name.len()].copy_from_slice(name);
        b
    }

    /// Log sectors of data that follow the header: a discard's sectors are
    /// not in the log, and a mark has none.
    pub fn data_sectors(&self) -> u64 {
        if self.flags & DISCARD != 0 {
            0
        } else {
            self.nr_sectors
        }
    }

    /// Whether replaying the entry changes the device: a write with data or
    /// a discard (a flush or a mark changes nothing).
    pub fn changes_device(&self) -> bool {
        self.flags & MARK == 0 && self.nr_sectors > 0
    }
}

/// `flags` as `FLUSH|FUA`, or `-` for none.
pub fn flag_names(flags: u64) -> String {
    let names: Vec<&str> = FLAG_NAMES.iter().filter(|(f, _)| flags & f != 0).map(|&(_, n)| n).collect();
    if names.is_empty() {
        "-".into()
    } else {
        names.join("|")
    }
}

/// Builds a log in memory the way the kernel lays one out, for tests and
/// for anyone who needs a synthetic log.
pub struct LogBuilder {
    sectorsize: u32,
    entries: u64,
    body: Vec<u8>,
}

impl LogBuilder {
    pub fn new(sectorsize: u32) -> Self {
        Self { sectorsize, entries: 0, body: Vec::new() }
    }

    fn push(&mut self, header: Header, data: &[u8]) -> &mut Self {
        self.body.extend(header.encode(self.sectorsize));
        self.body.extend_from_slice(data);
        self.entries += 1;
        self
    }

    /// A write of `data` (whole log sectors) at log sector `sector`, with
    /// extra flags (`FUA`, `FLUSH`, `METADATA`).
    pub fn write(&mut self, sector: u64, data: &[u8], flags: u64) -> &mut Self {
        assert_eq!(data.len() % self.sectorsize as usize, 0, "writes are whole sectors");
        let nr_sectors = (data.len() / self.sectorsize as usize) as u64;
        self.push(Header { sector, nr_sectors, flags, mark: None }, data)
    }

    pub fn discard(&mut self, sector: u64, nr_sectors: u64) -> &mut Self {
        self.push(Header { sector, nr_sectors, flags: DISCARD, mark: None }, &[])
    }

    /// An empty flush, as logged after the writes it made durable.
    pub fn flush(&mut self) -> &mut Self {
        self.push(Header { sector: 0, nr_sectors: 0, flags: FLUSH, mark: None }, &[])
    }

    pub fn mark(&mut self, name: &str) -> &mut Self {
        self.push(Header { sector: 0, nr_sectors: 0, flags: MARK, mark: Some(name.into()) }, &[])
    }

    /// The log with a super block counting every entry.
    pub fn build(&self) -> Vec<u8> {
        self.build_counting(self.entries)
    }

    /// The log with a super block counting only `nr_entries` entries (as
    /// when the log was cut before the super was rewritten).
    pub fn build_counting(&self, nr_entries: u64) -> Vec<u8> {
        let mut log = Super { nr_entries, sectorsize: self.sectorsize }.encode();
        log.extend_from_slice(&self.body);
        log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn super_block_round_trips_and_sits_at_byte_zero() {
        let s = Super { nr_entries: 42, sectorsize: 4096 };
        let b = s.encode();
        assert_eq!(b.len(), 4096);
        assert_eq!(u64_at(&b, 0), 0x6a736677736872, "the kernel's WRITE_LOG_MAGIC");
        assert_eq!(Super::decode(&b), Ok(s));
    }

    #[test]
    fn super_block_refuses_foreign_magic_versions_and_sector_sizes() {
        let good = Super { nr_entries: 1, sectorsize: 512 }.encode();
        let mut b = good.clone();
        b[0] ^= 1;
        assert!(matches!(Super::decode(&b), Err(FormatError::BadMagic(_))));
        let mut b = good.clone();
        b[8] = 2;
        assert_eq!(Super::decode(&b), Err(FormatError::BadVersion(2)));
        for size in [0u32, 256, 1000, 1 << 17] {
            let mut b = good.clone();
            b[24..28].copy_from_slice(&size.to_le_bytes());
            assert_eq!(Super::decode(&b), Err(FormatError::BadSectorSize(size)), "sector size {size}");
        }
    }

    #[test]
    fn headers_round_trip_with_mark_names_in_the_header_sector() {
        for h in [
            Header { sector: 7, nr_sectors: 8, flags: FUA | METADATA, mark: None },
            Header { sector: 0, nr_sectors: 0, flags: FLUSH, mark: None },
            Header { sector: 0, nr_sectors: 0, flags: MARK, mark: Some("after-remap-3".into()) },
            Header { sector: 100, nr_sectors: 16, flags: DISCARD, mark: None },
        ] {
            let b = h.encode(512);
            assert_eq!(b.len(), 512);
            assert_eq!(Header::decode(&b, 1), Ok(h));
        }
        let b = Header { sector: 0, nr_sectors: 0, flags: MARK, mark: Some("m".into()) }.encode(512);
        assert_eq!((u64_at(&b, 24), b[32]), (1, b'm'), "data_len counts the name, which follows the 32-byte header");
    }

    #[test]
    fn malformed_headers_are_refused_with_their_entry_number() {
        let mut b = Header { sector: 0, nr_sectors: 1, flags: 1 << 9, mark: None }.encode(512);
        assert_eq!(Header::decode(&b, 5), Err(FormatError::UnknownFlags { entry: 5, flags: 1 << 9 }));
        b = Header { sector: 0, nr_sectors: 0, flags: MARK, mark: None }.encode(512);
        b[24..32].copy_from_slice(&481u64.to_le_bytes()); // past the sector's end
        assert_eq!(Header::decode(&b, 6), Err(FormatError::BadMark { entry: 6 }));
        b = Header { sector: 0, nr_sectors: 2, flags: MARK, mark: Some("x".into()) }.encode(512);
        assert_eq!(Header::decode(&b, 7), Err(FormatError::BadMark { entry: 7 }));
        b = Header { sector: 0, nr_sectors: 1, flags: 0, mark: None }.encode(512);
        b[24] = 3;
        assert_eq!(Header::decode(&b, 8), Err(FormatError::InlineData { entry: 8 }));
    }

    #[test]
    fn discards_and_marks_carry_no_data_and_only_writes_and_discards_change_the_device() {
        let h = |nr_sectors, flags| Header { sector: 0, nr_sectors, flags, mark: None };
        assert_eq!((h(8, 0).data_sectors(), h(8, 0).changes_device()), (8, true));
        assert_eq!((h(8, DISCARD).data_sectors(), h(8, DISCARD).changes_device()), (0, true));
        assert_eq!((h(0, FLUSH).data_sectors(), h(0, FLUSH).changes_device()), (0, false));
        assert_eq!((h(4, FLUSH).data_sectors(), h(4, FLUSH).changes_device()), (4, true), "a flush with data");
        assert_eq!(flag_names(FLUSH | FUA), "FLUSH|FUA");
        assert_eq!(flag_names(0), "-");
    }
}
