// SPDX-License-Identifier: GPL-2.0
//! A dm-log-writes log on a device or in a file: its super block and its
//! entries, numbered from 1 (entry 0 is the super block), read on demand.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::format::{Header, Super};
use crate::{io_err, Error, Result};

pub struct Log {
    file: File,
    name: String,
    len: u64,
    pub sup: Super,
}

/// One entry of the log and where its data lies in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1 for the first entry after the super block.
    pub number: u64,
    pub header: Header,
    /// Byte offset of the entry's data in the log.
    pub data_offset: u64,
}

impl Log {
    pub fn open(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let mut file = File::open(path).map_err(io_err(format!("{name}: open")))?;
        let len = file.seek(SeekFrom::End(0)).map_err(io_err(format!("{name}: size")))?;
        let mut b = [0u8; Super::BYTES];
        if len < Super::BYTES as u64 {
            return Err(Error::Truncated { entry: 0 });
        }
        file.read_exact_at(&mut b, 0).map_err(io_err(format!("{name}: read super block")))?;
        let sup = Super::decode(&b)?;
        Ok(Self { file, name, len, sup })
    }

    /// The entries `1..=nr_entries` in log order; the first error ends them.
    pub fn entries(&self) -> impl Iterator<Item = Result<Entry>> + '_ {
        let ss = u64::from(self.sup.sectorsize);
        let mut offset = ss;
        let mut failed = false;
        (1..=self.sup.nr_entries).map_while(move |number| {
            if failed {
                return None;
            }
            let entry = self.entry_at(number, offset);
            match &entry {
                Ok(e) => offset = e.data_offset + e.header.data_sectors() * ss,
                Err(_) => failed = true,
            }
            Some(entry)
        })
    }

    fn entry_at(&self, number: u64, offset: u64) -> Result<Entry> {
        let ss = u64::from(self.sup.sectorsize);
        if offset.checked_add(ss).is_none_or(|end| end > self.len) {
            return Err(Error::Truncated { entry: number });
        }
        let mut b = vec![0u8; ss as usize];
        self.file.read_exact_at(&mut b, offset).map_err(io_err(format!("{}: read entry {number}", self.name)))?;
        let header = Header::decode(&b, number)?;
        let data_offset = offset + ss;
        let data_end = header.data_sectors().checked_mul(ss).and_then(|n| n.checked_add(data_offset));
        if data_end.is_none_or(|end| end > self.len) {
            return Err(Error::Truncated { entry: number });
        }
        Ok(Entry { number, header, data_offset })
    }

    /// Reads `buf.len()` bytes of `e`'s data from byte `at` of it.
    pub fn read_data(&self, e: &Entry, at: u64, buf: &mut [u8]) -> Result<()> {
        self.file
            .read_exact_at(buf, e.data_offset + at)
            .map_err(io_err(format!("{}: read data of entry {}", self.name, e.number)))
    }

    /// The number of the first mark named `name`.
    pub fn find_mark(&self, name: &str) -> Result<u64> {
        for e in self.entries() {
            let e = e?;
            if e.header.mark.as_deref() == Some(name) {
                return Ok(e.number);
            }
        }
        Err(Error::MarkNotFound(name.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{LogBuilder, FLUSH, FUA, MARK};
    use std::io::Write;

    pub(crate) fn log_file(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn entries_are_numbered_from_one_after_the_super_block() {
        let mut b = LogBuilder::new(512);
        b.write(10, &[1; 1024], 0).flush().mark("m1").write(3, &[2; 512], FUA).discard(40, 8).write(0, &[3; 512], 0);
        let f = log_file(&b.build());
        let log = Log::open(f.path()).unwrap();
        assert_eq!(log.sup, Super { nr_entries: 6, sectorsize: 512 });
        let got: Vec<Entry> = log.entries().map(Result::unwrap).collect();
        let summary: Vec<(u64, u64, u64, u64)> =
            got.iter().map(|e| (e.number, e.header.sector, e.header.nr_sectors, e.header.flags)).collect();
        assert_eq!(
            summary,
            [(1, 10, 2, 0), (2, 0, 0, FLUSH), (3, 0, 0, MARK), (4, 3, 1, FUA), (5, 40, 8, 4), (6, 0, 1, 0)]
        );
        assert_eq!(got[2].header.mark.as_deref(), Some("m1"));
        // Super, header 1, 2 data sectors, flush, mark, header 4 + 1 sector, discard (no data), header 6.
        let offsets: Vec<u64> = got.iter().map(|e| e.data_offset / 512).collect();
        assert_eq!(offsets, [2, 5, 6, 7, 9, 10]);
        let mut buf = [0u8; 512];
        log.read_data(&got[5], 0, &mut buf).unwrap();
        assert_eq!(buf, [3; 512]);
    }

    #[test]
    fn entries_past_the_super_blocks_count_are_not_part_of_the_log() {
        let mut b = LogBuilder::new(512);
        b.write(0, &[1; 512], 0).mark("kept").write(1, &[2; 512], 0).mark("not-yet-counted");
        let f = log_file(&b.build_counting(2));
        let log = Log::open(f.path()).unwrap();
        assert_eq!(log.entries().count(), 2);
        assert_eq!(log.find_mark("kept").unwrap(), 2);
        assert!(matches!(log.find_mark("not-yet-counted"), Err(Error::MarkNotFound(_))));
    }

    #[test]
    fn a_log_cut_inside_an_entry_says_which() {
        let mut b = LogBuilder::new(512);
        b.write(0, &[1; 512], 0).write(1, &[2; 2048], 0);
        let bytes = b.build();
        for (cut, entry) in [(512 * 2 + 100, 1), (512 * 3 + 10, 2), (bytes.len() - 1, 2)] {
            let f = log_file(&bytes[..cut]);
            let log = Log::open(f.path()).unwrap();
            let last = log.entries().last().unwrap();
            assert!(matches!(last, Err(Error::Truncated { entry: e }) if e == entry), "cut at {cut}: {last:?}");
        }
        let f = log_file(&bytes[..10]);
        assert!(matches!(Log::open(f.path()), Err(Error::Truncated { entry: 0 })));
    }

    #[test]
    fn four_k_logs_count_in_four_k_sectors() {
        let mut b = LogBuilder::new(4096);
        b.write(5, &[9; 8192], 0).mark("x");
        let f = log_file(&b.build());
        let log = Log::open(f.path()).unwrap();
        let got: Vec<Entry> = log.entries().map(Result::unwrap).collect();
        assert_eq!((got[0].header.sector, got[0].header.nr_sectors, got[0].data_offset), (5, 2, 8192));
        assert_eq!(got[1].data_offset, 4096 * 5);
    }

    #[test]
    fn a_foreign_file_is_not_a_log() {
        let f = log_file(&[0u8; 4096]);
        assert!(matches!(Log::open(f.path()), Err(Error::Format(crate::format::FormatError::BadMagic(0)))));
    }
}
