// SPDX-License-Identifier: GPL-2.0
//! `watch`: a live view, the status table redrawn every INTERVAL seconds.

use dm_remap_tool::status::{self, Format};

use super::{Lift, Outcome};

pub fn run(device: Option<&str>, interval: u64, count: Option<u64>) -> anyhow::Result<Outcome> {
    let mut n = 0u64;
    loop {
        let table = status::collect(device).and_then(|d| status::render(&d, Format::Table)).lift()?;
        // Clear the screen and home the cursor (ANSI), then draw.
        print!("\x1b[2J\x1b[H{table}");
        n += 1;
        if count.is_some_and(|c| n >= c) {
            return Ok(Outcome::Clean);
        }
        std::thread::sleep(std::time::Duration::from_secs(interval.max(1)));
    }
}
