// SPDX-License-Identifier: GPL-2.0
//! What each block of the target may hold, from the writes, flushes and
//! faults the workload made: every acknowledged write must read back until
//! a later one replaces it, and after a crash every write a completed flush
//! (or FUA) covered.
//!
//! Writes to one block may overlap in time; the model is linearizable
//! storage: a value stays possible until a write that started after its
//! write completed has completed. A block whose sector went bad (an
//! injected fault) may fail reads, or read zeros (a `remap` message
//! zero-fills what it cannot read), until a write to it succeeds.

/// One value a block may hold: what reads return (a write's tag, 0 for
/// zeros), the write that put it there, and when that write started and
/// completed.
#[derive(Clone, Copy, Debug)]
struct Val {
    tag: u64,
    write: u64,
    start: u64,
    end: Option<u64>,
}

#[derive(Clone, Debug)]
struct Block {
    /// Every value ever written, in order (what a read overlapping a write
    /// that is replaced before the read ends may still have seen).
    history: Vec<Val>,
    possible: Vec<Val>,
    durable: Vec<Val>,
    /// Reads must not fail (no fault since the last good write).
    guaranteed: bool,
    /// Faults injected so far, and when the last one was.
    faults: u64,
    fault_time: u64,
}

/// A read in progress.
#[derive(Clone, Debug)]
pub struct ReadTicket {
    start: u64,
    possible: Vec<Val>,
    eio_ok: bool,
    faults: u64,
}

/// A flush in progress.
pub struct FlushTicket {
    start: u64,
    possible: Vec<Vec<Val>>,
}

/// The model of every block.
pub struct Oracle {
    clock: u64,
    blocks: Vec<Block>,
    next_tag: u64,
}

impl Oracle {
    pub fn new(blocks: u64) -> Self {
        let zero = Val { tag: 0, write: 0, start: 0, end: Some(0) };
        let b = Block {
            history: vec![],
            possible: vec![zero],
            durable: vec![zero],
            guaranteed: true,
            faults: 0,
            fault_time: 0,
        };
        Self { clock: 1, blocks: vec![b; blocks as usize], next_tag: 1 }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// A new write tag (also the write's identity).
    pub fn tag(&mut self) -> u64 {
        self.next_tag += 1;
        self.next_tag
    }

    /// Write `write` of value `tag` (0 for zeros) to `block` starts.
    pub fn write_start(&mut self, block: u64, write: u64, tag: u64) {
        let t = self.tick();
        let b = &mut self.blocks[block as usize];
        let v = Val { tag, write, start: t, end: None };
        b.history.push(v);
        b.possible.push(v);
        b.durable.push(v);
    }

    /// A write completed, successfully (`ok`) or not; `fua` when it was
    /// durable once completed.
    pub fn write_end(&mut self, block: u64, write: u64, ok: bool, fua: bool) {
        let t = self.tick();
        let b = &mut self.blocks[block as usize];
        let mut start = 0;
        for v in b.possible.iter_mut().chain(b.durable.iter_mut()).filter(|v| v.write == write) {
            v.end = Some(t);
            start = v.start;
        }
        if !ok {
            return;
        }
        b.possible.retain(|v| v.write == write || v.end.is_none_or(|e| e >= start));
        // A write that started before the last fault may have landed
        // before it, on the sector that went bad.
        if start > b.fault_time {
            b.guaranteed = true;
        }
        if fua {
            // On the medium now: this write, or one that overlapped it, or
            // a later one. Not `possible`: a write that replaced an
            // overlapping one may still be only in the cache.
            b.durable.retain(|v| v.write == write || v.end.is_none_or(|e| e >= start));
        }
    }

    /// A fault was injected where `block` lives: it may fail reads or read
    /// zeros from now on.
    pub fn fault(&mut self, block: u64) {
        let t = self.tick();
        let b = &mut self.blocks[block as usize];
        let z = Val { tag: 0, write: 0, start: t, end: Some(t) };
        b.history.push(z);
        b.possible.push(z);
        b.durable.push(z);
        b.guaranteed = false;
        b.faults += 1;
        b.fault_time = t;
    }

    pub fn read_start(&mut self, block: u64) -> ReadTicket {
        let t = self.tick();
        let b = &self.blocks[block as usize];
        ReadTicket { start: t, possible: b.possible.clone(), eio_ok: !b.guaranteed, faults: b.faults }
    }

    /// Checks what a read returned: `Ok(tag)` or `Err(())` for an error.
    pub fn read_end(&mut self, block: u64, ticket: &ReadTicket, got: Result<u64, ()>) -> Result<(), String> {
        self.tick();
        let b = &self.blocks[block as usize];
        let later = b.history.iter().filter(|v| v.start > ticket.start);
        let mut allowed = ticket.possible.iter().chain(later).map(|v| v.tag);
        let eio_ok = ticket.eio_ok || b.faults != ticket.faults;
        match got {
            Ok(tag) if allowed.any(|a| a == tag) => Ok(()),
            Err(()) if eio_ok => Ok(()),
            _ => Err(format!(
                "block {block}: read {got:?}, want one of {:?}{}",
                ticket.possible.iter().map(|v| v.tag).collect::<Vec<_>>(),
                if eio_ok { " or an error" } else { "" }
            )),
        }
    }

    pub fn flush_start(&mut self) -> FlushTicket {
        let t = self.tick();
        FlushTicket { start: t, possible: self.blocks.iter().map(|b| b.possible.clone()).collect() }
    }

    /// A flush completed successfully: what it covered survives a crash.
    pub fn flush_end(&mut self, ticket: FlushTicket) {
        self.tick();
        for (b, snap) in self.blocks.iter_mut().zip(ticket.possible) {
            let later: Vec<Val> = b.durable.iter().filter(|v| v.start > ticket.start).copied().collect();
            b.durable = snap;
            b.durable.extend(later);
        }
    }

    /// What may be read from `block` after a crash now, as a checker.
    pub fn after_crash(&self) -> Vec<(Vec<u64>, bool)> {
        self.blocks.iter().map(|b| (b.durable.iter().map(|v| v.tag).collect(), !b.guaranteed)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acknowledged_write_replaces_what_completed_before_it_started() {
        let mut o = Oracle::new(1);
        let (a, b) = (o.tag(), o.tag());
        o.write_start(0, a, a);
        o.write_end(0, a, true, false);
        let r = o.read_start(0);
        assert!(o.read_end(0, &r, Ok(0)).is_err(), "the zeros were replaced");
        assert!(o.read_end(0, &r, Ok(a)).is_ok());
        // Overlapping writes: either may win.
        o.write_start(0, b, b);
        let c = o.tag();
        o.write_start(0, c, c);
        o.write_end(0, b, true, false);
        o.write_end(0, c, true, false);
        let r = o.read_start(0);
        assert!(o.read_end(0, &r, Ok(b)).is_ok() && o.read_end(0, &r, Ok(c)).is_ok());
        assert!(o.read_end(0, &r, Ok(a)).is_err());
        assert!(o.read_end(0, &r, Err(())).is_err(), "a good block never fails a read");
    }

    #[test]
    fn an_overlapping_fua_write_may_win_on_the_medium_over_a_later_fua_one() {
        // FUA writes a and b overlap: the device may apply b, then a. A
        // write of zeros after a replaces it, in the cache only; b ends.
        let mut o = Oracle::new(1);
        let (a, b, z) = (o.tag(), o.tag(), o.tag());
        o.write_start(0, a, a);
        o.write_start(0, b, b);
        o.write_end(0, a, true, true);
        o.write_start(0, z, 0);
        o.write_end(0, z, true, false);
        o.write_end(0, b, true, true);
        let after = &o.after_crash()[0].0;
        assert!(after.contains(&a) && after.contains(&b) && after.contains(&0), "{after:?}");
        // A FUA write that starts after both ended replaces them for good.
        let c = o.tag();
        o.write_start(0, c, c);
        o.write_end(0, c, true, true);
        assert_eq!(o.after_crash()[0].0, vec![c]);
    }

    #[test]
    fn only_flushed_writes_survive_a_crash() {
        let mut o = Oracle::new(1);
        let a = o.tag();
        o.write_start(0, a, a);
        o.write_end(0, a, true, false);
        assert_eq!(o.after_crash()[0].0, vec![0, a]);
        let f = o.flush_start();
        o.flush_end(f);
        assert_eq!(o.after_crash()[0].0, vec![a]);
    }
}
