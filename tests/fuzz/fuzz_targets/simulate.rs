// SPDX-License-Identifier: GPL-2.0
//! Runs the engine simulation (tests/sim) for seeds and run shapes chosen by
//! the fuzzer, beyond the bounded seeds `cargo test` runs: the first 8 bytes
//! are the seed, the next ones shape the run. A violated invariant is a
//! crash, reported with the seed (replay it with `SIM_SEED=<seed> cargo
//! test -p dm-remap-sim --test seeds replay -- --nocapture`; the shape
//! bytes matter too: `Config::for_seed` covers only the shapes tests use).
#![no_main]

use dm_remap_sim::{run_seed, Config};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut seed = [0u8; 8];
    let n = data.len().min(8);
    seed[..n].copy_from_slice(&data[..n]);
    let seed = u64::from_le_bytes(seed);
    let shape = |i: usize, lo: u64, hi: u64| data.get(8 + i).map_or(lo, |&b| lo + u64::from(b) % (hi - lo + 1));
    let cfg = Config {
        main_blocks: shape(0, 4, 64),
        spare_sectors: if shape(1, 0, 1) == 0 { 512 } else { 1024 },
        submitters: shape(2, 1, 3) as usize,
        ops: shape(3, 4, 48) as usize,
        controls: shape(4, 0, 24) as usize,
        crash: shape(5, 0, 1) == 1,
    };
    if let Err(e) = run_seed(seed, cfg) {
        panic!("seed {seed} with {cfg:?}: {e}");
    }
});
