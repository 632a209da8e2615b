// SPDX-License-Identifier: GPL-2.0
//! Runs the simulation for a bounded number of seeds (`SIM_SEEDS`, default
//! 1000, from `SIM_FIRST`, default 0); `SIM_SEED=<n>` replays one seed.

use dm_remap_sim::{run_seed, Config};

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn seeds_keep_every_invariant() {
    if env("SIM_SEED").is_some() {
        return;
    }
    let first = env("SIM_FIRST").unwrap_or(0);
    let n = env("SIM_SEEDS").unwrap_or(1000);
    let started = std::time::Instant::now();
    let mut failed = vec![];
    let (mut bios, mut ios, mut crashes) = (0, 0, 0);
    for seed in first..first + n {
        match run_seed(seed, Config::for_seed(seed)) {
            Ok(s) => {
                bios += s.bios;
                ios += s.device_ios;
                crashes += u64::from(s.crashed);
            }
            Err(e) => {
                eprintln!("seed {seed}: {e}");
                failed.push((seed, e));
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{n} seeds in {secs:.1} s ({:.0} seeds/s, {:.0} device I/Os/s): {bios} bios, {ios} device I/Os, {crashes} crashes checked",
        n as f64 / secs,
        ios as f64 / secs
    );
    for (seed, e) in &failed {
        eprintln!("FAILED seed {seed}: {e}");
    }
    assert!(failed.is_empty(), "{} failing seeds (replay with SIM_SEED=<n>)", failed.len());
}

#[test]
fn replay() {
    if let Some(seed) = env("SIM_SEED") {
        match run_seed(seed, Config::for_seed(seed)) {
            Ok(s) => eprintln!("seed {seed} passes: {s:?}"),
            Err(e) => {
                let trace = dm_remap_sim::TRACE.lock().unwrap();
                let keep = env("SIM_TRACE_LINES").unwrap_or(200) as usize;
                for line in trace.iter().rev().take(keep).rev() {
                    eprintln!("  {line}");
                }
                eprintln!("seed {seed}: {e}");
                panic!("seed {seed}: {e}")
            }
        }
    }
}
