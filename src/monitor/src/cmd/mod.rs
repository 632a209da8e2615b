// SPDX-License-Identifier: GPL-2.0
//! The monitoring commands, one file each.

pub mod health;
pub mod metrics;
pub mod monitor;
pub mod nagios;
pub mod report;
pub mod value;
pub mod watch;
pub mod zabbix_discovery;

pub use dm_remap_tool::cli::{Lift, Outcome};
