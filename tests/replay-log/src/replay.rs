// SPDX-License-Identifier: GPL-2.0
//! Applying a range of a log's entries to a device or image: writes put
//! their logged data back at their sector, discards zero (or punch) their
//! range, flushes and marks change nothing. Entries are applied in log
//! order, which is the order in which they reached stable storage.

use std::fmt;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use crate::format::{Header, DISCARD, FLUSH, FUA, MARK};
use crate::log::{Entry, Log};
use crate::{io_err, Error, Result};

/// What a replayed discard leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    /// Zeros written over the range.
    Zero,
    /// `fallocate(PUNCH_HOLE)`: a hole in a file, zeroed sectors on a block device.
    Punch,
}

/// What a range of entries holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub entries: u64,
    pub writes: u64,
    pub discards: u64,
    pub flushes: u64,
    pub fua: u64,
    pub marks: u64,
}

impl Counts {
    pub fn add(&mut self, h: &Header) {
        let has = |flag| u64::from(h.flags & flag != 0);
        self.entries += 1;
        self.writes += u64::from(h.flags & (DISCARD | MARK) == 0 && h.nr_sectors > 0);
        self.discards += has(DISCARD);
        self.flushes += has(FLUSH);
        self.fua += has(FUA);
        self.marks += has(MARK);
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} entries: {} writes, {} discards, {} flushes, {} fua, {} marks",
            self.entries, self.writes, self.discards, self.flushes, self.fua, self.marks
        )
    }
}

/// The inclusive entry range `first..=last` of `log`; `last == first - 1`
/// is the empty range (an incremental replay that has nothing new).
pub fn check_range(log: &Log, first: u64, last: u64) -> Result<()> {
    let n = log.sup.nr_entries;
    if first == 0 || last > n || last + 1 < first {
        return Err(Error::Range(format!("entries {first} to {last}: the log holds entries 1 to {n}")));
    }
    Ok(())
}

/// Calls `f` on each entry of `first..=last`, in log order.
pub fn for_each(log: &Log, first: u64, last: u64, mut f: impl FnMut(&Entry) -> Result<()>) -> Result<Counts> {
    check_range(log, first, last)?;
    let mut counts = Counts::default();
    for e in log.entries().take(last as usize) {
        let e = e?;
        if e.number >= first {
            f(&e)?;
            counts.add(&e.header);
        }
    }
    Ok(counts)
}

const CHUNK: usize = 1 << 20;

/// Applies entries `first..=last` of `log` to `target`, then syncs it.
pub fn replay(log: &Log, target: &File, first: u64, last: u64, discard: Discard) -> Result<Counts> {
    let target_len = (&*target).seek(SeekFrom::End(0)).map_err(io_err("replay target: size"))?;
    let ss = u64::from(log.sup.sectorsize);
    let mut buf = vec![0u8; CHUNK];
    let counts = for_each(log, first, last, |e| {
        let h = &e.header;
        if !h.changes_device() {
            return Ok(());
        }
        let start = h.sector.checked_mul(ss);
        let len = h.nr_sectors.checked_mul(ss);
        let (start, len) = match (start, len) {
            (Some(s), Some(l)) if s.checked_add(l).is_some_and(|end| end <= target_len) => (s, l),
            _ => return Err(Error::PastEnd { entry: e.number }),
        };
        let at = |what| io_err(format!("replay target: {what} of entry {}", e.number));
        if h.flags & DISCARD != 0 && discard == Discard::Punch {
            return punch(target, start, len).map_err(at("punch"));
        }
        let mut done = 0;
        while done < len {
            let n = (len - done).min(CHUNK as u64) as usize;
            if h.flags & DISCARD != 0 {
                buf[..n].fill(0);
            } else {
                log.read_data(e, done, &mut buf[..n])?;
            }
            target.write_all_at(&buf[..n], start + done).map_err(at("write"))?;
            done += n as u64;
        }
        Ok(())
    })?;
    target.sync_all().map_err(io_err("replay target: sync"))?;
    Ok(counts)
}

fn punch(target: &File, start: u64, len: u64) -> std::io::Result<()> {
    let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
    let (Ok(off), Ok(len)) = (libc::off_t::try_from(start), libc::off_t::try_from(len)) else {
        return Err(std::io::Error::from_raw_os_error(libc::EOVERFLOW));
    };
    // SAFETY: fallocate only reads its integer arguments; the descriptor is
    // open for as long as `target` is borrowed.
    if unsafe { libc::fallocate(target.as_raw_fd(), mode, off, len) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{LogBuilder, FUA, METADATA};
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;

    fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    fn sector(fill: u8, n: usize) -> Vec<u8> {
        vec![fill; 512 * n]
    }

    /// A log of overlapping writes, discards, flushes and marks, and the
    /// device image after each entry (computed by applying them to a Vec).
    fn mixed_log() -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut b = LogBuilder::new(512);
        b.write(0, &sector(1, 4), 0)
            .write(2, &sector(2, 4), METADATA)
            .flush()
            .mark("one")
            .discard(1, 2)
            .write(7, &sector(3, 1), FUA)
            .write(3, &sector(4, 2), FLUSH)
            .mark("two")
            .discard(0, 8)
            .write(5, &sector(5, 3), 0)
            .flush();
        let ops: [(u64, &[u8]); 11] = [
            (0, &sector(1, 4)),
            (2, &sector(2, 4)),
            (0, &[]),
            (0, &[]),
            (1, &sector(0, 2)),
            (7, &sector(3, 1)),
            (3, &sector(4, 2)),
            (0, &[]),
            (0, &sector(0, 8)),
            (5, &sector(5, 3)),
            (0, &[]),
        ];
        let mut image = vec![0xee; 512 * 8];
        let mut states = vec![image.clone()];
        for (s, data) in ops {
            image[s as usize * 512..s as usize * 512 + data.len()].copy_from_slice(data);
            states.push(image.clone());
        }
        (b.build(), states)
    }

    #[test]
    fn replaying_the_first_n_entries_gives_the_image_after_entry_n() {
        let (log_bytes, states) = mixed_log();
        let lf = file_with(&log_bytes);
        let log = Log::open(lf.path()).unwrap();
        for n in 0..=11 {
            let t = file_with(&states[0]);
            let counts = replay(&log, t.as_file(), 1, n, Discard::Zero).unwrap();
            assert_eq!(counts.entries, n);
            assert_eq!(std::fs::read(t.path()).unwrap(), states[n as usize], "after entry {n}");
        }
    }

    #[test]
    fn incremental_replay_in_pieces_equals_one_replay() {
        let (log_bytes, states) = mixed_log();
        let lf = file_with(&log_bytes);
        let log = Log::open(lf.path()).unwrap();
        let t = file_with(&states[0]);
        let mut applied = 0;
        for upto in [1, 1, 4, 5, 9, 11] {
            replay(&log, t.as_file(), applied + 1, upto, Discard::Zero).unwrap();
            applied = upto;
            assert_eq!(std::fs::read(t.path()).unwrap(), states[upto as usize], "after entry {upto}");
        }
    }

    #[test]
    fn counts_tell_writes_discards_flushes_fua_and_marks_apart() {
        let (log_bytes, _) = mixed_log();
        let lf = file_with(&log_bytes);
        let log = Log::open(lf.path()).unwrap();
        let all = for_each(&log, 1, 11, |_| Ok(())).unwrap();
        let want = Counts { entries: 11, writes: 5, discards: 2, flushes: 3, fua: 1, marks: 2 };
        assert_eq!(all, want);
        assert_eq!(all.to_string(), "11 entries: 5 writes, 2 discards, 3 flushes, 1 fua, 2 marks");
        assert_eq!(for_each(&log, 5, 4, |_| Ok(())).unwrap(), Counts::default(), "the empty range");
    }

    #[test]
    fn ranges_outside_the_log_are_refused() {
        let (log_bytes, states) = mixed_log();
        let lf = file_with(&log_bytes);
        let log = Log::open(lf.path()).unwrap();
        let t = file_with(&states[0]);
        for (first, last) in [(0, 3), (1, 12), (5, 3)] {
            assert!(
                matches!(replay(&log, t.as_file(), first, last, Discard::Zero), Err(Error::Range(_))),
                "{first}..={last}"
            );
        }
        assert_eq!(std::fs::read(t.path()).unwrap(), states[0], "a refused range writes nothing");
    }

    #[test]
    fn punched_discards_read_back_as_zeros_and_free_the_file_blocks() {
        let mut b = LogBuilder::new(512);
        b.write(0, &vec![7; 1 << 20], 0).discard(0, 2048);
        let lf = file_with(&b.build());
        let log = Log::open(lf.path()).unwrap();
        let t = file_with(&[]);
        t.as_file().set_len(1 << 20).unwrap();
        replay(&log, t.as_file(), 1, 1, Discard::Punch).unwrap();
        let full = t.as_file().metadata().unwrap().blocks();
        replay(&log, t.as_file(), 2, 2, Discard::Punch).unwrap();
        assert!(std::fs::read(t.path()).unwrap().iter().all(|&b| b == 0));
        let after = t.as_file().metadata().unwrap().blocks();
        assert!(after < full, "punching 1 MiB freed nothing ({full} -> {after} blocks)");
    }

    #[test]
    fn a_write_past_the_end_of_the_target_is_refused_with_its_entry() {
        let mut b = LogBuilder::new(512);
        b.write(0, &sector(1, 1), 0).write(7, &sector(2, 2), 0);
        let lf = file_with(&b.build());
        let log = Log::open(lf.path()).unwrap();
        let t = file_with(&sector(0, 8));
        assert!(matches!(replay(&log, t.as_file(), 1, 2, Discard::Zero), Err(Error::PastEnd { entry: 2 })));
        assert_eq!(std::fs::metadata(t.path()).unwrap().len(), 4096, "the target did not grow");
    }

    #[test]
    fn four_k_sectors_are_placed_at_sector_times_4096() {
        let mut b = LogBuilder::new(4096);
        b.write(2, &vec![6; 4096], 0);
        let lf = file_with(&b.build());
        let log = Log::open(lf.path()).unwrap();
        let t = file_with(&vec![0; 4 * 4096]);
        replay(&log, t.as_file(), 1, 1, Discard::Zero).unwrap();
        let img = std::fs::read(t.path()).unwrap();
        assert!(img[..8192].iter().all(|&b| b == 0) && img[8192..12288].iter().all(|&b| b == 6));
    }
}
