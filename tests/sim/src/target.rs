// SPDX-License-Identifier: GPL-2.0
//! The simulated target: the engine's [`Platform`] over two simulated
//! devices, with the kernel glue's steps mirrored one for one (map's
//! read-side section, the held and pending lists, end_io's take-over, the
//! per-CPU in-flight counts, RCU publication and grace periods). Every
//! shared access goes through shuttle's primitives, so the scheduler can
//! interleave threads at each of them.

use std::sync::Arc;

use shuttle::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use shuttle::sync::{Mutex, MutexGuard};
use shuttle::thread;

use crate::disk::{class, status};
use dm_remap_core::commit::{commit, format, MetaWrite};
use dm_remap_core::engine::drain::{drain, EpochCounts};
use dm_remap_core::engine::route::{self, decide, decide_held, recoverable, Decision, Published};
use dm_remap_core::engine::{
    BioInfo, ChangeFailed, Completion, Counter, Event, IoBuf, IoFailed, List, NoMem, Op, Platform, WorkBio, Writer,
    IO_BYTES,
};
use dm_remap_core::extent::{self, Extent, Route};
use dm_remap_core::format::{Superblock, BLOCK, FORMAT_VERSION};
use dm_remap_core::geometry::SpareLayout;
use dm_remap_core::load::{MetaIo, ReadFailed};
use dm_remap_core::policy::Policies;
use dm_remap_core::slots::Slots;
use dm_remap_core::spare_alloc::SpareAllocator;
use dm_remap_core::table_check::{check_table, Scratch};

use crate::disk::Disk;

/// Bytes in a remap block (one sector keeps the simulation small).
pub const BS: usize = 512;
/// CPUs bios are mapped and completed on.
pub const CPUS: usize = 2;
/// Yields a waiter may spend before the run is declared hung.
pub const PATIENCE: u32 = 200_000;

/// A list for the engine.
#[derive(Debug)]
pub struct SimList<T>(pub Vec<T>);

impl<T> Default for SimList<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> std::ops::Deref for SimList<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> std::ops::DerefMut for SimList<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<T> IntoIterator for SimList<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<T> List<T> for SimList<T> {
    fn try_push(&mut self, v: T) -> Result<(), NoMem> {
        self.0.push(v);
        Ok(())
    }
}

/// An I/O buffer.
pub struct SimBuf(Vec<u8>);

impl Default for SimBuf {
    fn default() -> Self {
        Self(vec![0; IO_BYTES])
    }
}

impl IoBuf for SimBuf {
    fn bytes(&mut self, len: usize) -> &mut [u8] {
        &mut self.0[..len.min(IO_BYTES)]
    }
}

/// The sector image of a data block holding `tag`: the tag and the block
/// number (so misplaced data is told apart), or zeros for tag 0.
pub fn encode(block: u64, tag: u64, out: &mut [u8]) {
    out.fill(0);
    if tag != 0 {
        out[..8].copy_from_slice(&tag.to_le_bytes());
        out[8..16].copy_from_slice(&block.to_le_bytes());
    }
}

/// The tag a block's sector image holds; misplaced or garbage data gives
/// a tag no write ever had.
pub fn decode(block: u64, data: &[u8]) -> u64 {
    let tag = u64::from_le_bytes(data[..8].try_into().unwrap());
    let at = u64::from_le_bytes(data[8..16].try_into().unwrap());
    if tag == 0 && data.iter().all(|&b| b == 0) {
        0
    } else if tag == 0 || at != block {
        u64::MAX ^ tag
    } else {
        tag
    }
}

/// Completion of a bio, which its submitter waits for.
#[derive(Default)]
pub struct Done(Mutex<Option<(u8, Vec<u64>)>>);

impl Done {
    /// Waits for the completion: status and data (read tags).
    pub fn wait(&self, what: &str) -> (u8, Vec<u64>) {
        for _ in 0..PATIENCE {
            if let Some(r) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
                return r;
            }
            thread::yield_now();
        }
        panic!("hang: {what} never completed");
    }
}

/// A clone of a bio, as the target sees it.
pub struct Bio {
    pub op: Op,
    pub block: u64,
    pub blocks: u64,
    pub fua: bool,
    /// Tags written (writes) or read (reads).
    pub data: Vec<u64>,
    pub done: Arc<Done>,
    // What the kernel keeps in the per-bio data.
    counted: Option<usize>,
    to_spare: bool,
    deferred: bool,
    status: u8,
    /// Set while the worker owns the bio: the count of bios it has taken
    /// and not yet completed or given back.
    worker: Option<Arc<AtomicU64>>,
}

impl Bio {
    pub fn new(op: Op, block: u64, blocks: u64, fua: bool, data: Vec<u64>) -> Self {
        Self {
            op,
            block,
            blocks,
            fua,
            data,
            done: Arc::default(),
            counted: None,
            to_spare: false,
            deferred: false,
            status: 0,
            worker: None,
        }
    }

    fn complete(mut self, st: u8) {
        self.leave_worker();
        *self.done.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((st, self.data));
    }

    /// The status the worker's verdict `how` completes this bio with.
    fn status_for(&self, how: Completion) -> u8 {
        match how {
            Completion::Ok => status::OK,
            Completion::AsFailed => self.status,
            Completion::IoError => status::IOERR,
        }
    }

    fn leave_worker(&mut self) {
        if let Some(n) = self.worker.take() {
            n.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// `dm_accept_partial_bio`: keeps the first `blocks` blocks; the rest
    /// becomes a new clone for DM to map.
    fn split(&mut self, blocks: u64) -> Option<Bio> {
        if blocks >= self.blocks {
            return None;
        }
        let rest_data = if self.data.is_empty() { vec![] } else { self.data.split_off(blocks as usize) };
        let rest = Bio::new(self.op, self.block + blocks, self.blocks - blocks, self.fua, rest_data);
        self.blocks = blocks;
        Some(rest)
    }
}

/// A bio the engine owns; dropping it fails it (never a false success).
pub struct Owned(Option<Bio>);

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(b) = self.0.take() {
            b.complete(status::IOERR);
        }
    }
}

impl WorkBio for Owned {
    fn info(&mut self) -> BioInfo {
        let b = self.0.as_ref().unwrap();
        BioInfo { op: b.op, block: b.block, blocks: b.blocks, class: class(b.status), on_spare: b.to_spare }
    }
    fn copy_out(&mut self, at: usize, buf: &mut [u8]) -> Result<(), IoFailed> {
        let b = self.0.as_ref().unwrap();
        let k = at / BS;
        let tag = if b.op == Op::WriteZeroes { 0 } else { *b.data.get(k).ok_or(IoFailed)? };
        encode(b.block + k as u64, tag, &mut buf[..BS]);
        Ok(())
    }
    fn copy_in(&mut self, at: usize, buf: &[u8]) -> Result<(), IoFailed> {
        let b = self.0.as_mut().unwrap();
        let k = at / BS;
        let block = b.block + k as u64;
        *b.data.get_mut(k).ok_or(IoFailed)? = decode(block, &buf[..BS]);
        Ok(())
    }
}

/// An RCU model: read-side sections, and grace periods that wait for the
/// sections that began before them.
#[derive(Default)]
pub struct Rcu {
    gen: AtomicU64,
    next: AtomicU64,
    active: Mutex<Vec<(u64, u64)>>,
}

impl Rcu {
    pub fn enter(&self) -> u64 {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let mut a = self.active.lock().unwrap_or_else(|e| e.into_inner());
        a.push((id, self.gen.load(Ordering::SeqCst)));
        id
    }
    pub fn exit(&self, id: u64) {
        self.active.lock().unwrap_or_else(|e| e.into_inner()).retain(|x| x.0 != id);
    }
    pub fn synchronize(&self) {
        let target = self.gen.fetch_add(1, Ordering::SeqCst) + 1;
        for _ in 0..PATIENCE {
            if !self.active.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|x| x.1 < target) {
                return;
            }
            thread::yield_now();
        }
        panic!("hang: a grace period never ended");
    }
}

/// An RCU-published value.
pub struct Rcud<T>(Mutex<Arc<T>>);

impl<T> Rcud<T> {
    fn new(v: T) -> Self {
        Self(Mutex::new(Arc::new(v)))
    }
    pub fn read(&self) -> Arc<T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// Publishes `v`, then waits for a grace period (as `RcuBox::update`).
    fn update(&self, rcu: &Rcu, v: T) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(v);
        rcu.synchronize();
    }
}

/// Per-CPU in-flight counts in two epochs.
pub struct InFlight<'a> {
    epoch: AtomicUsize,
    counts: [[AtomicI64; 2]; CPUS],
    rcu: &'a Rcu,
}

impl<'a> InFlight<'a> {
    pub fn new(rcu: &'a Rcu) -> Self {
        Self { epoch: AtomicUsize::new(0), counts: Default::default(), rcu }
    }
    /// Counts a bio in the current epoch on `cpu` (inside a read section).
    pub fn enter(&self, cpu: usize) -> usize {
        let e = self.epoch.load(Ordering::SeqCst) & 1;
        self.counts[cpu][e].fetch_add(1, Ordering::SeqCst);
        e
    }
    /// The bio counted in epoch `e` completes, on `cpu`.
    pub fn exit(&self, cpu: usize, e: usize) {
        self.counts[cpu][e].fetch_sub(1, Ordering::SeqCst);
    }
}

impl EpochCounts for InFlight<'_> {
    fn flip(&self) -> usize {
        self.epoch.fetch_add(1, Ordering::SeqCst) & 1
    }
    fn sum(&self, epoch: usize) -> i64 {
        // One CPU after the other, as the kernel sums per-CPU counters:
        // each load is a point where other threads may run.
        self.counts.iter().map(|c| c[epoch].load(Ordering::SeqCst)).sum()
    }
    fn synchronize(&self) {
        self.rcu.synchronize();
    }
    fn pause(&self) {
        thread::yield_now();
    }
}

/// What the writer's commits need.
pub struct SimMeta {
    pub layout: SpareLayout,
    pub slots: Slots,
    pub sb: Superblock,
    pub attempted: u64,
    /// Whether this table caught up with the spare (the kernel's
    /// `in_step`: false from a reload's construction to its preresume).
    pub in_step: bool,
}

/// Where a device I/O goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dev {
    Main,
    Spare,
}

/// An I/O queued at a device.
pub enum DevIo {
    Data { bio: Bio, dev: Dev, sector: u64 },
    Flush { bio: Bio, dev: Dev },
}

/// Things that happened, for the report of a failing run.
#[derive(Default)]
pub struct Trace(pub Mutex<Vec<String>>);

impl Trace {
    pub fn note(&self, s: String) {
        let mut t = crate::TRACE.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() < 4000 {
            t.push(s);
        }
    }
}

/// A crash: what the devices held, what the workload may read back, and
/// the newest generation acknowledged before it.
pub struct Crash {
    pub main: Disk,
    pub spare: Disk,
    pub after: Vec<(Vec<u64>, bool)>,
    pub acked_generation: u64,
}

/// The simulated target.
pub struct Target<'a> {
    pub layout: SpareLayout,
    pub main_blocks: u64,
    pub main: Mutex<Disk>,
    pub spare: Mutex<Disk>,
    pub rcu: &'a Rcu,
    pub table: Rcud<Vec<Extent>>,
    pub moving: Rcud<Vec<Extent>>,
    pub pending: Rcud<Vec<u64>>,
    /// No run moving and no block pending, kept as the kernel's `Mapping`
    /// keeps it: cleared before a change to either publishes, set after
    /// one that left both empty, under `changes`; `map` reads it first.
    pub quiet: AtomicBool,
    pub changes: Mutex<()>,
    pub held: Mutex<Vec<Bio>>,
    pub pending_writes: Mutex<Vec<Bio>>,
    pub failed: Mutex<Vec<Bio>>,
    pub inflight: InFlight<'a>,
    pub writer: Mutex<Writer<SimMeta, SimBuf>>,
    pub policies: Mutex<Policies>,
    pub work: AtomicBool,
    pub queue: Mutex<Vec<DevIo>>,
    pub trace: Trace,
    /// The newest generation a commit acknowledged.
    pub acked_generation: AtomicU64,
    /// Device writes left before the crash (0: no crash planned).
    pub crash_in: AtomicU64,
    pub crash: Mutex<Option<Crash>>,
    pub oracle: &'a Mutex<crate::oracle::Oracle>,
    /// Whether a write may legitimately fail in this run.
    pub excused: AtomicBool,
    /// Bios the worker has taken and not yet completed or resubmitted: a
    /// suspend waits for them, and for nothing else the worker does.
    pub worker_bios: Arc<AtomicU64>,
    pub worker_thread: Mutex<Option<thread::ThreadId>>,
    /// Milliseconds the engine asked this target to sleep (retry
    /// backoffs): for the scenarios that bound how long one change holds
    /// the writer lock. Per target, as tests run side by side.
    pub slept_ms: std::sync::atomic::AtomicU64,
    /// Whether fencing a change's blocks fails for want of memory.
    pub fence_nomem: AtomicBool,
}

struct View<'v> {
    quiet: bool,
    moving: &'v [Extent],
    pending: &'v [u64],
    table: &'v [Extent],
}

impl Published for View<'_> {
    fn quiet(&self) -> bool {
        self.quiet
    }
    fn moving(&self, block: u64, blocks: u64) -> Option<Route> {
        route::through_moving(self.moving, block, blocks)
    }
    fn first_pending_in(&self, block: u64, blocks: u64) -> Option<u64> {
        let i = self.pending.partition_point(|&b| b < block);
        self.pending.get(i).copied().filter(|&b| b < block.saturating_add(blocks))
    }
    fn route(&self, block: u64, blocks: u64) -> Route {
        extent::route(self.table, block, blocks)
    }
}

fn rand_cpu() -> usize {
    use shuttle::rand::Rng;
    shuttle::rand::thread_rng().gen_range(0..CPUS)
}

impl<'a> Target<'a> {
    /// A change to `moving` or `pending`, with `quiet` kept as the kernel
    /// keeps it (`Mapping::change`).
    fn change(&self, f: impl FnOnce()) {
        let _changes = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        self.quiet.store(false, Ordering::SeqCst);
        f();
        if self.moving.read().is_empty() && self.pending.read().is_empty() {
            self.quiet.store(true, Ordering::SeqCst);
        }
    }

    /// A target over a blank main device of `main_blocks` blocks and a
    /// blank spare of `spare_sectors`, formatted as the kernel formats.
    pub fn new(
        main_blocks: u64,
        spare_sectors: u64,
        rcu: &'a Rcu,
        oracle: &'a Mutex<crate::oracle::Oracle>,
        policies: Policies,
    ) -> Self {
        let layout = SpareLayout::new(spare_sectors, BS as u32).expect("spare size");
        // The spare's pool held someone's data before: garbage, not zeros.
        let mut spare = Disk::new(spare_sectors, 0xee);
        let zero = vec![0u8; 512];
        for r in [0, layout.region_b_start] {
            for s in r..r + layout.region_sectors {
                spare.write(s, &zero, true).unwrap();
            }
        }
        let sb = Superblock {
            version: FORMAT_VERSION,
            generation: 1,
            main_sectors: main_blocks,
            main_logical_block_size: 512,
            block_bytes: BS as u32,
            spare_sectors,
            region_sectors: layout.region_sectors,
            pool_start: layout.pool_start,
            pool_blocks: layout.pool_blocks,
            region_b_start: layout.region_b_start,
            uuid: *b"simulated-target",
            ..Default::default()
        };
        let mut buf = vec![0u8; BLOCK];
        let (slots, done) = format(&mut DirectSpare(&mut spare), &layout, &sb, &[], &mut buf);
        assert_eq!(done.copies_written(), 2, "format");
        let meta = SimMeta { layout, slots, sb, attempted: 1, in_step: true };
        let alloc = SpareAllocator::for_layout(&layout, 0);
        Self::with(main_blocks, Disk::new(main_blocks, 0), spare, layout, vec![], meta, alloc, rcu, oracle, policies)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn with(
        main_blocks: u64,
        main: Disk,
        spare: Disk,
        layout: SpareLayout,
        table: Vec<Extent>,
        meta: SimMeta,
        alloc: SpareAllocator,
        rcu: &'a Rcu,
        oracle: &'a Mutex<crate::oracle::Oracle>,
        policies: Policies,
    ) -> Self {
        let generation = meta.sb.generation;
        Self {
            layout,
            main_blocks,
            main: Mutex::new(main),
            spare: Mutex::new(spare),
            rcu,
            table: Rcud::new(table),
            moving: Rcud::new(vec![]),
            pending: Rcud::new(vec![]),
            quiet: AtomicBool::new(true),
            changes: Mutex::default(),
            held: Mutex::default(),
            pending_writes: Mutex::default(),
            failed: Mutex::default(),
            inflight: InFlight::new(rcu),
            writer: Mutex::new(Writer {
                alloc,
                meta,
                buf: SimBuf::default(),
                scratch: SimBuf::default(),
                unsettled: false,
            }),
            policies: Mutex::new(policies),
            work: AtomicBool::new(false),
            queue: Mutex::default(),
            trace: Trace::default(),
            acked_generation: AtomicU64::new(generation),
            crash_in: AtomicU64::new(0),
            crash: Mutex::new(None),
            oracle,
            excused: AtomicBool::new(false),
            worker_bios: Arc::default(),
            worker_thread: Mutex::new(None),
            slept_ms: Default::default(),
            fence_nomem: AtomicBool::new(false),
        }
    }

    fn queue_work(&self) {
        self.work.store(true, Ordering::SeqCst);
    }

    fn dev(&self, dev: Dev) -> &Mutex<Disk> {
        match dev {
            Dev::Main => &self.main,
            Dev::Spare => &self.spare,
        }
    }

    fn spare_sector(&self, pool_block: u64) -> u64 {
        self.layout.pool_start + pool_block * (BS as u64 / 512)
    }

    /// Takes the crash image now if the countdown says so (before a device
    /// write is applied).
    fn maybe_crash(&self) {
        let left = self.crash_in.load(Ordering::SeqCst);
        if left == 0 {
            return;
        }
        if self.crash_in.fetch_sub(1, Ordering::SeqCst) != 1 {
            return;
        }
        use shuttle::rand::Rng;
        let mut rng = shuttle::rand::thread_rng();
        // One instant for everything: the acknowledged generation first
        // (its writes are on the devices already), then the oracle and
        // both devices held at once (the only place that holds two).
        let acked_generation = self.acked_generation.load(Ordering::SeqCst);
        let oracle = self.oracle.lock().unwrap_or_else(|e| e.into_inner());
        let main = self.main.lock().unwrap_or_else(|e| e.into_inner());
        let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        let crash = Crash {
            main: main.crash_image(|| rng.gen_bool(0.5)),
            spare: spare.crash_image(|| rng.gen_bool(0.5)),
            after: oracle.after_crash(),
            acked_generation,
        };
        drop((spare, main, oracle));
        self.trace.note("crash".into());
        *self.crash.lock().unwrap_or_else(|e| e.into_inner()) = Some(crash);
    }

    /// Synchronous I/O of the engine and the metadata, in whole blocks.
    fn sync_io(&self, dev: Dev, sector: u64, buf: &mut [u8], write: bool, fua: bool) -> Result<(), u8> {
        if write {
            self.maybe_crash();
            if dev == Dev::Spare && std::env::var_os("SIM_IO").is_some() {
                self.trace.note(format!("  spare write {sector}+{}", buf.len() / 512));
            }
        }
        let mut d = self.dev(dev).lock().unwrap_or_else(|e| e.into_inner());
        if write {
            d.write(sector, buf, fua)
        } else {
            d.read(sector, buf)
        }
    }

    // ----- The kernel glue, mirrored -----

    /// DM submits a bio to the target: maps it (and the clones its splits
    /// leave) and waits for every clone. Returns the status and, for a
    /// read, the tags read.
    pub fn submit(&self, op: Op, block: u64, blocks: u64, fua: bool, data: Vec<u64>) -> (u8, Vec<u64>) {
        if op == Op::Other {
            return self.flush();
        }
        let mut pending = Some(Bio::new(op, block, blocks, fua, data));
        let mut dones = vec![];
        while let Some(bio) = pending.take() {
            dones.push(bio.done.clone());
            pending = self.map(bio);
        }
        let mut st = 0;
        let mut out = vec![];
        for d in dones {
            let (s, data) = d.wait("a bio");
            if st == 0 {
                st = s;
            }
            out.extend(data);
        }
        (st, out)
    }

    /// An empty flush: one copy to each device (`num_flush_bios` = 2).
    fn flush(&self) -> (u8, Vec<u64>) {
        let mut dones = vec![];
        for dev in [Dev::Main, Dev::Spare] {
            let bio = Bio::new(Op::Other, 0, 0, false, vec![]);
            dones.push(bio.done.clone());
            self.queue.lock().unwrap_or_else(|e| e.into_inner()).push(DevIo::Flush { bio, dev });
        }
        let st = dones.iter().map(|d| d.wait("a flush").0).find(|&s| s != 0).unwrap_or(0);
        (st, vec![])
    }

    /// `map`: returns what DM must map next after a split.
    fn map(&self, mut bio: Bio) -> Option<Bio> {
        let cpu = rand_cpu();
        let section = self.rcu.enter();
        let quiet = self.quiet.load(Ordering::SeqCst);
        let (moving, pending, table) = (self.moving.read(), self.pending.read(), self.table.read());
        let view = View { quiet, moving: &moving, pending: &pending, table: &table };
        match decide(&view, bio.op, bio.block, bio.blocks) {
            Decision::Hold { blocks } => {
                let rest = bio.split(blocks);
                // Inside the section that saw the moving run: the remap
                // that clears the run waits for this section before it
                // releases the held bios.
                self.held.lock().unwrap_or_else(|e| e.into_inner()).push(bio);
                self.rcu.exit(section);
                rest
            }
            Decision::Pending => {
                let rest = bio.split(1);
                self.pending_writes.lock().unwrap_or_else(|e| e.into_inner()).push(bio);
                self.rcu.exit(section);
                self.queue_work();
                rest
            }
            Decision::Send { spare, blocks } => {
                let rest = bio.split(blocks);
                if bio.op != Op::Read {
                    bio.counted = Some(self.inflight.enter(cpu));
                }
                self.rcu.exit(section);
                self.send(bio, spare);
                rest
            }
        }
    }

    fn send(&self, mut bio: Bio, spare: Option<u64>) {
        bio.to_spare = spare.is_some();
        let (dev, sector) = match spare {
            Some(p) => (Dev::Spare, self.spare_sector(p)),
            None => (Dev::Main, bio.block),
        };
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).push(DevIo::Data { bio, dev, sector });
    }

    /// The device side: completes one queued I/O, picked at random.
    /// Returns false when none is queued.
    pub fn complete_one(&self) -> bool {
        use shuttle::rand::Rng;
        let io = {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            if q.is_empty() {
                return false;
            }
            let i = shuttle::rand::thread_rng().gen_range(0..q.len());
            q.swap_remove(i)
        };
        match io {
            DevIo::Flush { bio, dev } => {
                let st = self.dev(dev).lock().unwrap_or_else(|e| e.into_inner()).flush().err().unwrap_or(0);
                self.end_io(bio, st);
            }
            DevIo::Data { mut bio, dev, sector } => {
                let n = bio.blocks as usize;
                let mut buf = vec![0u8; n * BS];
                let st = match bio.op {
                    Op::Read => {
                        let r = self.dev(dev).lock().unwrap_or_else(|e| e.into_inner()).read(sector, &mut buf);
                        if r.is_ok() {
                            bio.data =
                                (0..n).map(|k| decode(bio.block + k as u64, &buf[k * BS..(k + 1) * BS])).collect();
                        }
                        r.err().unwrap_or(0)
                    }
                    _ => {
                        for k in 0..n {
                            let tag = if bio.op == Op::WriteZeroes { 0 } else { bio.data[k] };
                            encode(bio.block + k as u64, tag, &mut buf[k * BS..(k + 1) * BS]);
                        }
                        self.maybe_crash();
                        self.dev(dev)
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .write(sector, &buf, bio.fua)
                            .err()
                            .unwrap_or(0)
                    }
                };
                self.end_io(bio, st);
            }
        }
        true
    }

    /// `end_io`.
    fn end_io(&self, mut bio: Bio, st: u8) {
        if let Some(e) = bio.counted.take() {
            self.inflight.exit(rand_cpu(), e);
        }
        if st == 0 || bio.deferred {
            bio.complete(st);
            return;
        }
        if !class(st).is_some_and(|c| recoverable(bio.op, bio.blocks > 0, c)) {
            bio.complete(st);
            self.queue_work();
            return;
        }
        bio.deferred = true;
        bio.status = st;
        self.failed.lock().unwrap_or_else(|e| e.into_inner()).push(bio);
        self.queue_work();
    }

    /// The worker: recovers everything queued, round after round, until
    /// told to stop with nothing left.
    pub fn worker(&self, stop: &AtomicBool) {
        *self.worker_thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(thread::current().id());
        loop {
            if !self.work.swap(false, Ordering::SeqCst) {
                if stop.load(Ordering::SeqCst)
                    && self.failed.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
                    && self.pending_writes.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
                {
                    return;
                }
                thread::yield_now();
                continue;
            }
            self.recover_all();
        }
    }

    pub fn recover_all(&self) {
        loop {
            let mut failed: Vec<Bio> = std::mem::take(&mut *self.failed.lock().unwrap_or_else(|e| e.into_inner()));
            let mut writes: Vec<Bio> =
                std::mem::take(&mut *self.pending_writes.lock().unwrap_or_else(|e| e.into_inner()));
            if failed.is_empty() && writes.is_empty() {
                return;
            }
            for b in failed.iter_mut().chain(writes.iter_mut()) {
                self.worker_bios.fetch_add(1, Ordering::SeqCst);
                b.worker = Some(self.worker_bios.clone());
            }
            dm_remap_core::engine::recovery::recover_round(
                self,
                failed.into_iter().map(|b| Owned(Some(b))),
                writes.into_iter().map(|b| Owned(Some(b))),
            );
        }
    }

    /// A `remap` message.
    pub fn remap(&self, first: u64, blocks: u64) -> Result<u64, ChangeFailed> {
        let r = dm_remap_core::engine::moves::remap_range(self, first, blocks)?;
        Ok(r.lost_blocks)
    }

    /// A `remap_list` message over block ranges `(first, blocks)`: the
    /// extents it added.
    pub fn remap_list(&self, ranges: &[(u64, u64)]) -> Result<Vec<Extent>, ChangeFailed> {
        let mut ranges = ranges.to_vec();
        let r = dm_remap_core::engine::moves::remap_ranges(self, &mut ranges)?;
        Ok(r.extents.into_iter().collect())
    }

    /// The writer state, for scenarios that set it up.
    pub fn lock_writer_for_test(&self) -> shuttle::sync::MutexGuard<'_, Writer<SimMeta, SimBuf>> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn table_now(&self) -> Arc<Vec<Extent>> {
        self.table.read()
    }

    pub fn pending_now(&self) -> Arc<Vec<u64>> {
        self.pending.read()
    }
}

/// Metadata I/O straight on a device (formatting before the run, and
/// loading after a crash).
pub struct DirectSpare<'d>(pub &'d mut Disk);

impl MetaIo for DirectSpare<'_> {
    fn read_block(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), ReadFailed> {
        self.0.read(sector, buf).map_err(|_| ReadFailed)
    }
}

impl MetaWrite for DirectSpare<'_> {
    type Error = u8;
    fn write_block(&mut self, sector: u64, block: &[u8]) -> Result<(), u8> {
        self.0.write(sector, block, false)
    }
    fn flush(&mut self) -> Result<(), u8> {
        self.0.flush()
    }
    fn write_durable(&mut self, sector: u64, block: &[u8]) -> Result<(), u8> {
        self.0.write(sector, block, true)
    }
}

/// Metadata I/O of the live target (each block a scheduling point).
struct LiveSpare<'t, 'a>(&'t Target<'a>);

impl MetaWrite for LiveSpare<'_, '_> {
    type Error = u8;
    fn write_block(&mut self, sector: u64, block: &[u8]) -> Result<(), u8> {
        let mut b = block.to_vec();
        let r = self.0.sync_io(Dev::Spare, sector, &mut b, true, false);
        self.0.trace.note(format!("  meta write {sector}: {r:?}"));
        r
    }
    fn flush(&mut self) -> Result<(), u8> {
        let r = self.0.spare.lock().unwrap_or_else(|e| e.into_inner()).flush();
        self.0.trace.note(format!("  meta flush: {r:?}"));
        r
    }
    fn write_durable(&mut self, sector: u64, block: &[u8]) -> Result<(), u8> {
        let mut b = block.to_vec();
        let r = self.0.sync_io(Dev::Spare, sector, &mut b, true, true);
        self.0.trace.note(format!("  meta fua {sector}: {r:?}"));
        r
    }
}

impl Platform for Target<'_> {
    type Buf = SimBuf;
    type List<T> = SimList<T>;
    type Failed = Owned;
    type Held = Owned;
    type Meta = SimMeta;
    type Fence = Vec<u64>;
    type WriterGuard<'g>
        = MutexGuard<'g, Writer<SimMeta, SimBuf>>
    where
        Self: 'g;

    fn lock_writer(&self) -> Self::WriterGuard<'_> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn in_step(&self, writer: &Writer<SimMeta, SimBuf>) -> bool {
        writer.meta.in_step
    }
    fn block_bytes(&self) -> usize {
        BS
    }
    fn main_blocks(&self) -> u64 {
        self.main_blocks
    }
    fn policies(&self) -> Policies {
        *self.policies.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read_main(&self, block: u64, buf: &mut SimBuf, len: usize) -> Result<(), IoFailed> {
        self.sync_io(Dev::Main, block, buf.bytes(len), false, false).map_err(|_| IoFailed)
    }
    fn write_main_durable(&self, block: u64, buf: &mut SimBuf, len: usize) -> Result<(), IoFailed> {
        self.sync_io(Dev::Main, block, buf.bytes(len), true, true).map_err(|_| IoFailed)
    }
    fn read_spare(&self, pool_block: u64, buf: &mut SimBuf, len: usize) -> Result<(), IoFailed> {
        self.sync_io(Dev::Spare, self.spare_sector(pool_block), buf.bytes(len), false, false).map_err(|_| IoFailed)
    }
    fn write_spare(&self, pool_block: u64, buf: &mut SimBuf, len: usize) -> Result<(), IoFailed> {
        self.sync_io(Dev::Spare, self.spare_sector(pool_block), buf.bytes(len), true, false).map_err(|_| IoFailed)
    }
    fn write_spare_durable(&self, pool_block: u64, buf: &mut SimBuf, len: usize) -> Result<(), IoFailed> {
        self.sync_io(Dev::Spare, self.spare_sector(pool_block), buf.bytes(len), true, true).map_err(|_| IoFailed)
    }
    fn sleep_ms(&self, ms: u32) {
        self.slept_ms.fetch_add(u64::from(ms), std::sync::atomic::Ordering::Relaxed);
        thread::yield_now();
    }

    fn spare_block_of(&self, block: u64) -> Option<u64> {
        let s = self.rcu.enter();
        let r = extent::route(&self.table.read(), block, 1).spare;
        self.rcu.exit(s);
        r
    }
    fn for_each_unmapped(&self, first: u64, blocks: u64, f: &mut dyn FnMut(u64, u64)) {
        extent::for_each_unmapped(&self.table.read(), first, blocks, f);
    }
    fn is_pending(&self, block: u64) -> bool {
        self.pending.read().binary_search(&block).is_ok()
    }
    fn mark_pending(&self, block: u64) -> Result<(), NoMem> {
        self.change(|| {
            let mut v = (*self.pending.read()).clone();
            if let Err(i) = v.binary_search(&block) {
                v.insert(i, block);
            }
            self.pending.update(self.rcu, v);
        });
        Ok(())
    }
    fn unmark_pending(&self, runs: &[Extent]) -> Result<(), NoMem> {
        self.change(|| {
            let v: Vec<u64> = self
                .pending
                .read()
                .iter()
                .copied()
                .filter(|&b| !runs.iter().any(|e| e.main <= b && b < e.main_end()))
                .collect();
            self.pending.update(self.rcu, v);
        });
        Ok(())
    }
    fn prepare_fence(&self, runs: &[Extent]) -> Result<Vec<u64>, NoMem> {
        if self.fence_nomem.load(Ordering::SeqCst) {
            self.trace.note(format!("fence {runs:?}: no memory"));
            return Err(NoMem);
        }
        let mut v = (*self.pending.read()).clone();
        v.extend(runs.iter().flat_map(|e| e.main..e.main_end()));
        v.sort_unstable();
        v.dedup();
        Ok(v)
    }
    fn fence(&self, fence: Vec<u64>) {
        self.trace.note(format!("fence: pending {fence:?}"));
        self.change(|| self.pending.update(self.rcu, fence));
    }
    fn unfence(&self) {
        self.trace.note("unfence".into());
        let table = self.table.read();
        self.change(|| {
            let v: Vec<u64> =
                self.pending.read().iter().copied().filter(|&b| extent::route(&table, b, 1).spare.is_none()).collect();
            self.pending.update(self.rcu, v);
        });
    }
    fn publish_moving(&self, runs: &[Extent]) -> Result<(), NoMem> {
        self.change(|| self.moving.update(self.rcu, runs.to_vec()));
        Ok(())
    }
    fn clear_moving(&self) {
        self.change(|| self.moving.update(self.rcu, vec![]));
    }
    fn drain_writes(&self) {
        drain(&self.inflight);
    }
    fn release_held(&self, fail_writes: bool) {
        let held: Vec<Bio> = std::mem::take(&mut *self.held.lock().unwrap_or_else(|e| e.into_inner()));
        for b in held {
            if fail_writes && b.op != Op::Read {
                self.trace.note(format!("held {:?} {}+{} fails (fenced)", b.op, b.block, b.blocks));
                self.complete_held(Owned(Some(b)), Completion::IoError);
            } else {
                self.resubmit(Owned(Some(b)));
            }
        }
    }
    fn resubmit(&self, mut kept: Owned) {
        let Some(mut bio) = kept.0.take() else { return };
        bio.leave_worker();
        let cpu = rand_cpu();
        let section = self.rcu.enter();
        let quiet = self.quiet.load(Ordering::SeqCst);
        let (moving, pending, table) = (self.moving.read(), self.pending.read(), self.table.read());
        let view = View { quiet, moving: &moving, pending: &pending, table: &table };
        match decide_held(&view, bio.op, bio.block, bio.blocks) {
            Decision::Hold { blocks } | Decision::Send { blocks, .. } if blocks < bio.blocks => {
                // map splits held bios at run edges and each run moves or
                // stays whole: the kernel fails such a bio (HeldAcrossEdge),
                // which would be a write lost for no fault.
                self.rcu.exit(section);
                panic!(
                    "invariant: a held bio at block {} over {} blocks spans a run edge when released",
                    bio.block, bio.blocks
                );
            }
            Decision::Hold { .. } | Decision::Pending => {
                self.held.lock().unwrap_or_else(|e| e.into_inner()).push(bio);
                self.rcu.exit(section);
            }
            Decision::Send { spare, .. } => {
                if bio.op != Op::Read {
                    bio.counted = Some(self.inflight.enter(cpu));
                }
                self.rcu.exit(section);
                self.send(bio, spare);
            }
        }
    }
    fn complete(&self, mut bio: Owned, how: Completion) {
        if let Some(b) = bio.0.take() {
            let st = b.status_for(how);
            b.complete(st);
        }
    }
    fn complete_held(&self, mut bio: Owned, how: Completion) {
        if let Some(b) = bio.0.take() {
            let st = b.status_for(how);
            b.complete(st);
        }
    }
    fn commit_and_publish(
        &self,
        writer: &mut Writer<SimMeta, SimBuf>,
        alloc: SpareAllocator,
        moved: &[u64],
        new: &[Extent],
    ) -> Result<(), ChangeFailed> {
        let table = self.table.read();
        let mut carved = vec![Extent::default(); table.len() + moved.len()];
        let n = extent::carve(&table, moved, &mut carved).map_err(|_| ChangeFailed::NoMem)?;
        carved.truncate(n);
        let mut next = vec![Extent::default(); carved.len() + new.len()];
        let n = extent::merge(&carved, new, &mut next).map_err(|_| ChangeFailed::NoMem)?;
        next.truncate(n);
        if let Err(f) =
            check_table(&next, Scratch::Sorted(&mut next.clone()), self.layout.gap(), alloc.cursor(), self.main_blocks)
        {
            panic!("invariant: the next table is inconsistent ({f:?}): {next:?}");
        }
        let on_worker = *self.worker_thread.lock().unwrap_or_else(|e| e.into_inner()) == Some(thread::current().id());
        if on_worker && self.worker_bios.load(Ordering::SeqCst) == 0 {
            // DM's suspend waits for bios, not for the worker: with every
            // bio of the round completed, the device may be suspended and
            // a reloaded table, which loaded the spare before this commit,
            // resumed behind it.
            panic!("invariant: the worker commits with no bio of its round left uncompleted (a suspend and reload could pass it)");
        }
        if !writer.meta.in_step {
            return Err(ChangeFailed::Commit);
        }
        let meta = &mut writer.meta;
        meta.attempted += 1;
        let sb = Superblock {
            generation: meta.attempted,
            alloc_next: alloc.cursor(),
            extent_count: next.len() as u64,
            ..meta.sb
        };
        let mut buf = vec![0u8; BLOCK];
        let layout = meta.layout;
        let done = commit(&mut LiveSpare(self), &layout, &mut meta.slots, &sb, &next, &mut buf);
        self.trace.note(format!("commit {} -> {} copies: {:?}", sb.generation, done.copies_written(), next));
        if done.copies_written() == 0 {
            // A copy may have reached the disk in part: the blocks this
            // commit named are never handed out again (as the kernel does).
            writer.alloc = alloc;
            return Err(ChangeFailed::Commit);
        }
        meta.sb = sb;
        let before = self.acked_generation.swap(sb.generation, Ordering::SeqCst);
        assert!(sb.generation > before, "invariant: generation {} after {before}", sb.generation);
        self.table.update(self.rcu, next);
        writer.alloc = alloc;
        Ok(())
    }
    fn count(&self, _counter: Counter, _n: u64) {}
    fn log(&self, event: Event) {
        self.trace.note(format!("{event:?}"));
    }
}
