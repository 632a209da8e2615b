// SPDX-License-Identifier: GPL-2.0
//! dm-remap: a device-mapper target that keeps a disk with growing bad
//! sectors usable by redirecting I/O for bad blocks to a spare device.
//!
//! Layers, each depending only on the ones below it:
//! - [`remap`]: the `remap` target itself, in safe Rust;
//! - [`dm_remap_core`]: pure `no_std` logic (table line, spare geometry,
//!   metadata format, the engine), the crate `dm-remap-core` in `src/core`,
//!   shared with the userspace tool and tested on the host; built into the
//!   module as a module of the same name, so that a path reads the same in
//!   the kernel (`crate::dm_remap_core::...`) and in userspace;
//! - [`dm`]: the safe device-mapper abstraction over generated bindings and
//!   C helpers, where every `unsafe` block lives.

use kernel::prelude::*;

mod dm;
#[path = "core/mod.rs"]
mod dm_remap_core;
mod remap;

module! {
    type: DmRemapModule,
    name: "dm_remap",
    author: "dm-remap developers",
    description: "device-mapper target that remaps bad sectors to a spare device",
    license: "GPL",
}

struct DmRemapModule {
    _target: dm::Registration<remap::RemapTarget>,
}

impl kernel::Module for DmRemapModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        dm::sysfs::init()?;
        let target = dm::Registration::new(module).inspect_err(|_| dm::sysfs::exit())?;
        pr_info!("target 'remap' registered\n");
        Ok(Self { _target: target })
    }
}

impl Drop for DmRemapModule {
    fn drop(&mut self) {
        // No target is left (DM refuses unload while devices use the type).
        dm::sysfs::exit();
    }
}
