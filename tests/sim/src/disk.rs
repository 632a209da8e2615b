// SPDX-License-Identifier: GPL-2.0
//! A simulated block device: 512-byte sectors, a volatile write cache
//! (writes since the last flush may be lost, torn or kept at a crash), and
//! injected faults (media errors, transient errors, a dead device).

use std::collections::{BTreeMap, BTreeSet};

use dm_remap_core::error_class::ErrorClass;

/// The simulated block layer's completion statuses (named, and numbered,
/// after the kernel's `BLK_STS_*` that the faults stand for); 0 is success.
pub mod status {
    pub const OK: u8 = 0;
    pub const TRANSPORT: u8 = 4;
    pub const IOERR: u8 = 10;
    pub const AGAIN: u8 = 12;
}

/// The class of a failed status, as the kernel glue classifies the
/// `BLK_STS_*` it stands for; `None` for success.
pub fn class(st: u8) -> Option<ErrorClass> {
    match st {
        status::OK => None,
        status::IOERR => Some(ErrorClass::Media),
        status::AGAIN => Some(ErrorClass::Transient),
        _ => Some(ErrorClass::Device),
    }
}

/// One sector's bytes.
pub type Sector = Box<[u8; 512]>;

/// What goes wrong on a device.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Sectors whose reads fail (a successful write clears them, as a drive
    /// reallocating a sector does), unless they also fail writes.
    pub bad_read: BTreeSet<u64>,
    /// Sectors whose writes fail.
    pub bad_write: BTreeSet<u64>,
    /// Sectors whose next I/Os fail with a transient error, and how many.
    pub transient: BTreeMap<u64, u32>,
    /// Sectors whose writes reach the medium and then report an error (a
    /// timeout after the drive took the data): the writer cannot tell them
    /// from writes that never landed.
    pub lying_write: BTreeSet<u64>,
    /// How many writes to `lying_write` sectors still land before the rest
    /// fail without landing (`None`: all of them land).
    pub lies_left: Option<u32>,
    /// How many writes to `lying_write` sectors succeed (report success
    /// and land) before they start lying.
    pub honest_left: u32,
    /// Sectors that fail every write (as `bad_write`) once `lies_left`
    /// reaches 0.
    pub fail_after_lies: Vec<u64>,
    /// Every I/O fails.
    pub dead: bool,
}

/// A device.
#[derive(Clone, Debug)]
pub struct Disk {
    pub sectors: u64,
    durable: BTreeMap<u64, Sector>,
    cache: Vec<(u64, Sector)>,
    pub faults: Faults,
    /// What a never-written sector reads as (zeros, or garbage for a
    /// spare whose pool held data before).
    fill: u8,
}

fn zero() -> Sector {
    Box::new([0u8; 512])
}

impl Disk {
    pub fn new(sectors: u64, fill: u8) -> Self {
        Self { sectors, durable: BTreeMap::new(), cache: vec![], faults: Faults::default(), fill }
    }

    /// The status an I/O of `n` sectors from `sector` fails with, if any.
    fn fault(&mut self, sector: u64, n: u64, write: bool) -> Option<u8> {
        if self.faults.dead {
            return Some(status::TRANSPORT);
        }
        if sector.checked_add(n).is_none_or(|end| end > self.sectors) {
            return Some(status::IOERR);
        }
        let mut transient = false;
        for s in sector..sector + n {
            if let Some(c) = self.faults.transient.get_mut(&s) {
                if *c > 0 {
                    *c -= 1;
                    transient = true;
                }
            }
        }
        if transient {
            return Some(status::AGAIN);
        }
        let bad = |s: &u64| if write { self.faults.bad_write.contains(s) } else { self.faults.bad_read.contains(s) };
        (sector..sector + n).any(|s| bad(&s)).then_some(status::IOERR)
    }

    fn current(&self, s: u64) -> Option<&[u8; 512]> {
        self.cache.iter().rev().find(|(x, _)| *x == s).map(|(_, d)| &**d).or_else(|| self.durable.get(&s).map(|d| &**d))
    }

    /// Reads `buf.len() / 512` sectors from `sector`.
    pub fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), u8> {
        let n = (buf.len() / 512) as u64;
        if let Some(st) = self.fault(sector, n, false) {
            return Err(st);
        }
        let fill = self.fill;
        for (i, chunk) in buf.chunks_mut(512).enumerate() {
            match self.current(sector + i as u64) {
                Some(d) => chunk.copy_from_slice(d),
                None => chunk.fill(fill),
            }
        }
        Ok(())
    }

    /// Writes `data` at `sector`: to the cache, or durably with `fua`.
    pub fn write(&mut self, sector: u64, data: &[u8], fua: bool) -> Result<(), u8> {
        let n = (data.len() / 512) as u64;
        if let Some(st) = self.fault(sector, n, true) {
            return Err(st);
        }
        let mut lies = (sector..sector + n).any(|s| self.faults.lying_write.contains(&s));
        if lies && self.faults.honest_left > 0 {
            self.faults.honest_left -= 1;
            lies = false;
        }
        if lies {
            match &mut self.faults.lies_left {
                Some(0) => return Err(status::IOERR),
                Some(left) => {
                    *left -= 1;
                    if *left == 0 {
                        let sectors = std::mem::take(&mut self.faults.fail_after_lies);
                        self.faults.bad_write.extend(sectors);
                    }
                }
                None => {}
            }
        }
        for (i, chunk) in data.chunks(512).enumerate() {
            let s = sector + i as u64;
            let mut d = zero();
            d.copy_from_slice(chunk);
            self.faults.bad_read.remove(&s);
            if fua {
                // Durable now; older cached copies of it are superseded.
                self.cache.retain(|(x, _)| *x != s);
                self.durable.insert(s, d);
            } else {
                self.cache.push((s, d));
            }
        }
        if lies {
            return Err(status::IOERR);
        }
        Ok(())
    }

    /// Whether both devices hold the same bytes (durable and cached).
    pub fn same_contents(&self, other: &Disk) -> bool {
        self.durable == other.durable && self.cache == other.cache
    }

    /// The sectors with cached writes, in order.
    pub fn cached(&self) -> Vec<u64> {
        self.cache.iter().map(|(s, _)| *s).collect()
    }

    /// Makes every cached write durable.
    pub fn flush(&mut self) -> Result<(), u8> {
        if self.faults.dead {
            return Err(status::TRANSPORT);
        }
        for (s, d) in self.cache.drain(..) {
            self.durable.insert(s, d);
        }
        Ok(())
    }

    /// What the device holds after power is lost now: the durable sectors
    /// and, of the cached writes in order, those `keep` says reached the
    /// medium (per sector, so multi-sector writes can tear).
    pub fn crash_image(&self, mut keep: impl FnMut() -> bool) -> Disk {
        let mut durable = self.durable.clone();
        for (s, d) in &self.cache {
            if keep() {
                durable.insert(*s, d.clone());
            }
        }
        Disk { sectors: self.sectors, durable, cache: vec![], faults: Faults::default(), fill: self.fill }
    }
}
