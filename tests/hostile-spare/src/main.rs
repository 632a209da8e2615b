// SPDX-License-Identifier: GPL-2.0
//! `hostile-spare`: loads mutated spares in the kernel (the VM test
//! `hostile_spares`) and makes single mutants for reproducing one.
//!
//!   hostile-spare run --main <dev> --main-file <img> --spare <dev>:<img>:<base> ...
//!                     [--first N] [--count N] [--seconds N] [--log <file>]
//!   hostile-spare mutate <base> <seed> <main-sectors> <out>
//!   hostile-spare predict <image> <main-sectors>
//!
//! `run` gives seed s the base of spare s % (number of spares): it writes
//! the mutant over that spare's image (a loop device's backing file),
//! creates a dm-remap device over the main device and that spare (the
//! ioctls of `dmsetup create`), and checks:
//!
//! * loaded: the shared load code loads the image too, with as many
//!   remapped blocks as the status says, and reads of remapped and other
//!   blocks return the mutant's or the main device's bytes;
//! * refused: the kernel logged a `remap: <reason>` line, the reason is
//!   the one the shared code gives, and the spare is byte-for-byte the
//!   mutant (nothing was written to it);
//! * always: no kernel splat (Oops, BUG, WARNING, panic...) in the log, no
//!   step takes longer than 60 s (a hang), the main device never changes.
//!
//! It ends with counts of loaded and refused mutants, by reason, for the
//! raw and the recomputed-checksum halves. Exit status 1 on any failure.

mod dm;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dm_remap_hostile_spare::{mutate, predict, route, targets, Mutant, Outcome, Targets};

const NAME: &str = "hostile";
const HANG_SECONDS: u64 = 60;

struct Spare {
    dev: String,
    file: String,
    base: Vec<u8>,
    targets: Targets,
}

struct Args {
    main: String,
    main_file: String,
    spares: Vec<Spare>,
    first: u64,
    count: u64,
    seconds: u64,
    log: Option<String>,
}

fn die(msg: &str) -> ! {
    eprintln!("hostile-spare: {msg}");
    std::process::exit(2)
}

fn read_file(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| die(&format!("{path}: {e}")))
}

fn parse_run(args: &[String]) -> Args {
    let mut a = Args {
        main: String::new(),
        main_file: String::new(),
        spares: vec![],
        first: 0,
        count: 100,
        seconds: u64::MAX,
        log: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| die(&format!("{flag} needs a value")));
        let num = || value.parse::<u64>().unwrap_or_else(|_| die(&format!("{flag}: not a number")));
        match flag.as_str() {
            "--main" => a.main = value.clone(),
            "--main-file" => a.main_file = value.clone(),
            "--spare" => {
                let parts: Vec<&str> = value.split(':').collect();
                let [dev, file, base] = parts[..] else { die("--spare <dev>:<image>:<base>") };
                let base = read_file(base);
                let targets =
                    targets(&base).unwrap_or_else(|| die(&format!("{dev}: the base image has no valid metadata")));
                a.spares.push(Spare { dev: dev.into(), file: file.into(), base, targets });
            }
            "--first" => a.first = num(),
            "--count" => a.count = num(),
            "--seconds" => a.seconds = num(),
            "--log" => a.log = Some(value.clone()),
            _ => die(&format!("unknown option {flag}")),
        }
    }
    if a.main.is_empty() || a.main_file.is_empty() || a.spares.is_empty() {
        die("run needs --main, --main-file and at least one --spare");
    }
    a
}

/// The kernel log from /dev/kmsg, read as it grows.
struct Kmsg(File);

impl Kmsg {
    fn open() -> Self {
        let f = File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .unwrap_or_else(|e| die(&format!("/dev/kmsg: {e}")));
        // SAFETY: lseek on a file we own.
        unsafe { libc::lseek(std::os::fd::AsRawFd::as_raw_fd(&f), 0, libc::SEEK_END) };
        Self(f)
    }

    /// The messages logged since the last call.
    fn drain(&mut self) -> Vec<String> {
        let mut out = vec![];
        let mut buf = vec![0u8; 8192];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let rec = String::from_utf8_lossy(&buf[..n]);
                    let first = rec.lines().next().unwrap_or("");
                    out.push(first.split_once(';').map_or(first, |(_, m)| m).to_string());
                }
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        out
    }
}

const SPLATS: &[&str] = &[
    "BUG:",
    "WARNING:",
    "Oops",
    "Call Trace",
    "general protection",
    "KASAN",
    "UBSAN",
    "panicked",
    "kernel BUG",
    "blocked for more than",
    "rcu_sched",
    "self-detected stall",
    "Unable to handle",
];

/// Memory aligned for O_DIRECT.
struct Aligned(Vec<u8>, usize);

impl Aligned {
    fn new(len: usize) -> Self {
        let v = vec![0u8; len + 4096];
        let off = v.as_ptr().align_offset(4096);
        Self(v, off)
    }
    fn buf(&mut self, len: usize) -> &mut [u8] {
        &mut self.0[self.1..self.1 + len]
    }
}

/// A watchdog: if a step runs longer than HANG_SECONDS, says which and
/// exits (the device-mapper call in the other thread may never return).
struct Watchdog {
    started: Arc<AtomicU64>,
    seed: Arc<AtomicU64>,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Watchdog {
    fn start() -> Self {
        let started = Arc::new(AtomicU64::new(0));
        let seed = Arc::new(AtomicU64::new(0));
        let (s, d) = (started.clone(), seed.clone());
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            let t = s.load(Ordering::SeqCst);
            if t != 0 && now_secs().saturating_sub(t) > HANG_SECONDS {
                println!(
                    "FAIL: seed {}: a device-mapper step has not returned in {HANG_SECONDS} s (hang)",
                    d.load(Ordering::SeqCst)
                );
                let _ = std::io::stdout().flush();
                std::process::exit(1);
            }
        });
        Self { started, seed }
    }
    fn arm(&self, seed: u64) {
        self.seed.store(seed, Ordering::SeqCst);
        self.started.store(now_secs(), Ordering::SeqCst);
    }
    fn disarm(&self) {
        self.started.store(0, Ordering::SeqCst);
    }
}

/// The reason of a refused load: the text after `remap: ` in the line
/// device-mapper logs for a constructor's error.
fn reason_of(lines: &[String]) -> Option<String> {
    lines.iter().find_map(|l| {
        let (_, rest) = l.split_once(": remap: ")?;
        let end = rest.rfind(" (-").unwrap_or(rest.len());
        Some(rest[..end].to_string())
    })
}

fn read_at(dev: &File, buf: &mut Aligned, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let b = buf.buf(len);
    dev.read_exact_at(b, offset)?;
    Ok(b.to_vec())
}

struct Run {
    args: Args,
    ctl: dm::Control,
    kmsg: Kmsg,
    dog: Watchdog,
    main_sectors: u64,
    main_bytes: Vec<u8>,
    aligned: Aligned,
    failures: Vec<String>,
    /// (recomputed checksums, outcome) -> count.
    tally: BTreeMap<(bool, String), u64>,
    log: Option<File>,
}

impl Run {
    fn fail(&mut self, seed: u64, m: &Mutant, what: String) {
        println!("FAIL: seed {seed} (recrc {}, ops {}): {what}", u8::from(m.recrc), m.ops.join(" "));
        self.failures.push(format!("seed {seed}: {what}"));
    }

    fn splats(&mut self, seed: u64, m: &Mutant, lines: &[String]) -> bool {
        let bad: Vec<&String> = lines.iter().filter(|l| SPLATS.iter().any(|s| l.contains(s))).collect();
        if bad.is_empty() {
            return false;
        }
        let what = format!("kernel splat: {}", bad.iter().take(3).map(|s| s.as_str()).collect::<Vec<_>>().join(" | "));
        self.fail(seed, m, what);
        for l in lines.iter().take(60) {
            println!("  kernel: {l}");
        }
        true
    }

    /// Checks a loaded mutant against the prediction: remap count and reads.
    fn check_loaded(&mut self, seed: u64, m: &Mutant, minor: u32, predicted: &Outcome) -> Result<(), String> {
        let Outcome::Loaded { extents, layout, .. } = predicted else {
            return Err(format!("loaded, but the shared code refuses it: {predicted:?}"));
        };
        let status = self.ctl.status(NAME).map_err(|e| format!("status: {e}"))?;
        let remaps: u64 =
            status.split_whitespace().nth(4).and_then(|s| s.parse().ok()).ok_or(format!("status '{status}'"))?;
        if remaps != predicted.remapped_blocks() {
            return Err(format!(
                "loaded {remaps} remapped blocks, the shared code {} (status '{status}')",
                predicted.remapped_blocks()
            ));
        }
        let path = format!("/dev/dm-{minor}");
        let dev =
            File::options().read(true).custom_flags(libc::O_DIRECT).open(&path).map_err(|e| format!("{path}: {e}"))?;
        // Blocks to read: the first of up to 3 runs, and block 0 and the
        // last block (wherever they go).
        let mut blocks = vec![0, self.main_sectors - 1];
        let mut rng = dm_remap_hostile_spare::Rng::new(seed);
        for _ in 0..3.min(extents.len()) {
            let e = extents[rng.pick(extents.len())];
            blocks.push(e.main + rng.below(u64::from(e.len)));
        }
        for b in blocks {
            let got = read_at(&dev, &mut self.aligned, b * 512, 512).map_err(|e| format!("read of block {b}: {e}"))?;
            let (want, from) = match route(extents, layout, b) {
                Some(at) => (&m.image[at as usize..at as usize + 512], "the mutant spare"),
                None => (&self.main_bytes[b as usize * 512..b as usize * 512 + 512], "main"),
            };
            if got != want {
                return Err(format!("block {b} does not read back as {from}"));
            }
        }
        Ok(())
    }

    fn one(&mut self, seed: u64) -> bool {
        let k = (seed % self.args.spares.len() as u64) as usize;
        let sp = &self.args.spares[k];
        let m = mutate(&sp.base, &sp.targets, seed, self.main_sectors);
        let (spare_dev, spare_file) = (sp.dev.clone(), sp.file.clone());
        let f = File::options().write(true).open(&spare_file).unwrap_or_else(|e| die(&format!("{spare_file}: {e}")));
        f.write_all_at(&m.image, 0).unwrap_or_else(|e| die(&format!("{spare_file}: {e}")));
        drop(f);
        let predicted = predict(&m.image, self.main_sectors);
        let _ = self.kmsg.drain();

        self.dog.arm(seed);
        let params = format!("{} {}", self.args.main, spare_dev);
        let minor = match self.ctl.create(NAME) {
            Ok(minor) => minor,
            Err(e) => die(&format!("seed {seed}: create {NAME}: {e}")),
        };
        let loaded = self.ctl.load(NAME, self.main_sectors, "remap", &params).and_then(|()| self.ctl.resume(NAME));
        self.dog.disarm();
        let lines = self.kmsg.drain();
        if self.splats(seed, &m, &lines) {
            return false;
        }
        let outcome = match &loaded {
            Ok(()) => {
                self.dog.arm(seed);
                let checked = self.check_loaded(seed, &m, minor, &predicted);
                self.dog.disarm();
                if let Err(what) = checked {
                    self.fail(seed, &m, what);
                }
                match &predicted {
                    Outcome::Loaded { formatted: true, .. } => "loaded (formatted)".to_string(),
                    _ => "loaded".to_string(),
                }
            }
            Err(e) => {
                let reason = reason_of(&lines);
                match (&reason, &predicted) {
                    (None, _) => self.fail(
                        seed,
                        &m,
                        format!("create failed ({e}) without a 'remap: ' reason in the kernel log: {lines:?}"),
                    ),
                    (Some(r), Outcome::Refused(want)) if r != want => {
                        self.fail(seed, &m, format!("refused with '{r}', the shared code says '{want}'"))
                    }
                    (Some(r), Outcome::Loaded { .. }) => {
                        self.fail(seed, &m, format!("refused with '{r}', the shared code loads it"))
                    }
                    _ => {}
                }
                let now = std::fs::read(&spare_file).unwrap_or_default();
                if now != m.image {
                    let at = now.iter().zip(&m.image).position(|(a, b)| a != b).unwrap_or(0);
                    self.fail(
                        seed,
                        &m,
                        format!("refused spare was written to: first changed byte {at} (sector {})", at / 512),
                    );
                }
                format!("refused: {}", reason.unwrap_or_else(|| "(no reason)".into()))
            }
        };
        self.dog.arm(seed);
        if let Err(e) = self.ctl.remove(NAME) {
            self.fail(seed, &m, format!("remove: {e}"));
            return false;
        }
        self.dog.disarm();
        let lines = self.kmsg.drain();
        if self.splats(seed, &m, &lines) {
            return false;
        }
        if let Some(log) = &mut self.log {
            let _ = writeln!(log, "{seed} base{k} recrc={} {outcome} | {}", u8::from(m.recrc), m.ops.join(" "));
        }
        *self.tally.entry((m.recrc, outcome)).or_default() += 1;
        true
    }

    fn main_unchanged(&mut self) -> bool {
        let now = read_file(&self.args.main_file);
        if now != self.main_bytes {
            println!("FAIL: the main device changed");
            self.failures.push("main device changed".into());
            return false;
        }
        true
    }
}

fn run(args: Args) -> ExitCode {
    let main_bytes = read_file(&args.main_file);
    let main_sectors = (main_bytes.len() / 512) as u64;
    let log = args.log.as_ref().map(|p| File::create(p).unwrap_or_else(|e| die(&format!("{p}: {e}"))));
    let mut r = Run {
        ctl: dm::Control::open().unwrap_or_else(|e| die(&format!("/dev/mapper/control: {e}"))),
        kmsg: Kmsg::open(),
        dog: Watchdog::start(),
        main_sectors,
        main_bytes,
        aligned: Aligned::new(4096),
        failures: vec![],
        tally: BTreeMap::new(),
        log,
        args,
    };
    let started = Instant::now();
    let (first, count, seconds) = (r.args.first, r.args.count, r.args.seconds);
    let mut done = 0;
    for seed in first..first + count {
        if started.elapsed().as_secs() >= seconds {
            println!("time limit of {seconds} s reached after {done} mutants");
            break;
        }
        let go_on = r.one(seed);
        done += 1;
        if !go_on || r.failures.len() >= 20 || (done % 250 == 0 && !r.main_unchanged()) {
            break;
        }
    }
    r.main_unchanged();
    let secs = started.elapsed().as_secs_f64();
    println!("mutants: {done} in {secs:.0} s ({:.0} ms each)", secs * 1000.0 / done.max(1) as f64);
    for recrc in [false, true] {
        let half: Vec<(&String, &u64)> =
            r.tally.iter().filter(|((c, _), _)| *c == recrc).map(|((_, o), n)| (o, n)).collect();
        let loaded: u64 = half.iter().filter(|(o, _)| o.starts_with("loaded")).map(|(_, n)| **n).sum();
        let refused: u64 = half.iter().filter(|(o, _)| o.starts_with("refused")).map(|(_, n)| **n).sum();
        let name = if recrc { "checksums recomputed" } else { "raw" };
        println!("{name}: {loaded} loaded, {refused} refused");
        let mut sorted = half.clone();
        sorted.sort_by(|a, b| b.1.cmp(a.1));
        for (o, n) in sorted {
            println!("  {n:5} {o}");
        }
        // The mutants must reach both outcomes, and past the checksums
        // several different refusals: otherwise they test little.
        let reasons = half.iter().filter(|(o, _)| o.starts_with("refused")).count();
        if done >= 200 && (loaded == 0 || refused == 0 || (recrc && reasons < 3)) {
            println!("FAIL: {name}: too few kinds of outcome ({reasons} refusal reasons)");
            r.failures.push(format!("{name}: too few kinds of outcome"));
        }
    }
    if r.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("{} failure(s)", r.failures.len());
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") => run(parse_run(&args[1..])),
        Some("mutate") if args.len() == 5 => {
            let base = read_file(&args[1]);
            let seed = args[2].parse().unwrap_or_else(|_| die("seed: not a number"));
            let main_sectors = args[3].parse().unwrap_or_else(|_| die("main sectors: not a number"));
            let t = targets(&base).unwrap_or_else(|| die("the base image has no valid metadata"));
            let m = mutate(&base, &t, seed, main_sectors);
            std::fs::write(&args[4], &m.image).unwrap_or_else(|e| die(&format!("{}: {e}", args[4])));
            println!("recrc={} {}", u8::from(m.recrc), m.ops.join(" "));
            println!("{:?}", predict(&m.image, main_sectors));
            ExitCode::SUCCESS
        }
        Some("predict") if args.len() == 3 => {
            let img = read_file(&args[1]);
            let main_sectors = args[2].parse().unwrap_or_else(|_| die("main sectors: not a number"));
            println!("{:?}", predict(&img, main_sectors));
            ExitCode::SUCCESS
        }
        _ => die(
            "usage: hostile-spare run ... | mutate <base> <seed> <main-sectors> <out> | predict <image> <main-sectors>",
        ),
    }
}
