// SPDX-License-Identifier: GPL-2.0
//! `dm-remap-monitor`: dm-remap's monitoring side, apart from the lean boot
//! tool `dm-remap` so that the binary the boot unit runs links no SQLite,
//! HTTP server or plotting library. `monitor` keeps a SQLite history and
//! serves Prometheus metrics and a REST API, `report` renders the history
//! as HTML, `nagios` is a Nagios plugin (exit 0-3 as Nagios plugins do),
//! `zabbix-discovery`, `watch` and `health` (SMART) read live devices (exit
//! 2 on errors). This file is the command line; each command is a file of
//! `cmd`.

mod cmd;
mod history;
mod http;
mod live;
mod metrics;
mod smart;
mod trend;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use dm_remap_tool::status::Format;

/// The monitor's history: its systemd unit's `StateDirectory=`.
const DEFAULT_DB: &str = "/var/lib/dm-remap-monitor/history.sqlite";

#[derive(Parser)]
#[command(name = "dm-remap-monitor", version, about = "dm-remap monitoring: history, metrics, reports, plugins")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sample every device into a SQLite history and serve Prometheus
    /// metrics and a JSON REST API.
    Monitor {
        #[arg(long, default_value = DEFAULT_DB)]
        db: PathBuf,
        /// Seconds between samples.
        #[arg(short, long, default_value = "60")]
        interval: u64,
        /// Address to serve on; an empty string serves nothing.
        #[arg(short, long, default_value = "127.0.0.1:9377")]
        listen: String,
        /// Stop after this many samples (default: run until stopped).
        #[arg(long)]
        samples: Option<u64>,
        /// Days of history to keep (older samples are pruned hourly; 0
        /// keeps everything).
        #[arg(long, default_value = "400")]
        retain: u64,
        /// Most HTTP connections served at once (more are answered 503).
        #[arg(long, default_value = "16")]
        max_connections: usize,
        /// Seconds a client may take to send its request or read the answer.
        #[arg(long, default_value = "10")]
        http_timeout: u64,
        /// Where sysfs is (tests).
        #[arg(long, default_value = "/sys", hide = true)]
        sysfs: PathBuf,
    },
    /// Print the Prometheus exposition of the devices as they are now
    /// (what `monitor` serves on /metrics), once; exit 2 if they cannot be
    /// read.
    Metrics {
        /// Where sysfs is (tests).
        #[arg(long, default_value = "/sys", hide = true)]
        sysfs: PathBuf,
    },
    /// Render the monitor's history as an HTML page with charts.
    Report {
        #[arg(long, default_value = DEFAULT_DB)]
        db: PathBuf,
        #[arg(short, long, default_value = "dm-remap-report.html")]
        out: PathBuf,
    },
    /// Nagios plugin: one line, exit 0 OK, 1 WARNING, 2 CRITICAL,
    /// 3 UNKNOWN (and usage errors).
    Nagios {
        device: Option<String>,
        /// Spare use, percent, from which the state is WARNING (default:
        /// the device's spare_warn policy).
        #[arg(short, long, value_parser = clap::value_parser!(u8).range(0..=100))]
        warning: Option<u8>,
        /// Spare use, percent, from which the state is CRITICAL (default:
        /// the device's spare_crit policy).
        #[arg(short, long, value_parser = clap::value_parser!(u8).range(0..=100))]
        critical: Option<u8>,
        /// The monitor's history, to tell new unrecovered errors from old
        /// ones (without it, they are only counted in the perfdata).
        #[arg(long, default_value = DEFAULT_DB)]
        db: PathBuf,
        /// Hours within which unrecovered errors make a WARNING.
        #[arg(long, default_value = "24")]
        window: u64,
    },
    /// Zabbix low-level discovery JSON of every dm-remap device.
    ZabbixDiscovery,
    /// One field of one device, bare (a name of `dm-remap status --format
    /// json`, or spare_used_percent): the Zabbix item dm-remap.value.
    Value { device: String, field: String },
    /// A live view: the status table, redrawn every INTERVAL seconds.
    Watch {
        device: Option<String>,
        #[arg(short, long, default_value = "2")]
        interval: u64,
        /// Stop after this many redraws (default: until interrupted).
        #[arg(short, long)]
        count: Option<u64>,
    },
    /// A device's state with the SMART data of the disks under it.
    Health {
        device: String,
        #[arg(short, long, value_enum, default_value = "table")]
        format: Format,
        /// Seconds smartctl may take on one disk before it is killed.
        #[arg(long, default_value = "30")]
        smart_timeout: u64,
        /// Where sysfs is (tests).
        #[arg(long, default_value = "/sys", hide = true)]
        sysfs: PathBuf,
    },
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`dm-remap-monitor watch | head`), as
    // Unix tools do, instead of panicking on the failed write.
    // SAFETY: sets a signal disposition before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // A Nagios plugin's usage error is UNKNOWN (3), not the
            // CRITICAL that clap's exit status 2 would read as.
            let nagios = std::env::args().nth(1).as_deref() == Some("nagios");
            let code = if nagios && e.use_stderr() { 3 } else { e.exit_code() };
            let _ = e.print();
            return ExitCode::from(u8::try_from(code).unwrap_or(2));
        }
    };
    let result = match &cli.command {
        Command::Monitor { db, interval, listen, samples, retain, max_connections, http_timeout, sysfs } => {
            cmd::monitor::run(&cmd::monitor::Settings {
                db: db.clone(),
                interval: *interval,
                listen: listen.clone(),
                samples: *samples,
                retain_days: *retain,
                limits: http::Limits {
                    connections: (*max_connections).max(1),
                    timeout: std::time::Duration::from_secs((*http_timeout).max(1)),
                },
                sysfs: sysfs.clone(),
            })
        }
        Command::Report { db, out } => cmd::report::run(db, out),
        Command::Metrics { sysfs } => cmd::metrics::run(sysfs),
        Command::Nagios { device, warning, critical, db, window } => {
            let t = cmd::nagios::Thresholds { warn: *warning, crit: *critical };
            return cmd::nagios::run(device.as_deref(), t, db, *window);
        }
        Command::ZabbixDiscovery => cmd::zabbix_discovery::run(),
        Command::Value { device, field } => cmd::value::run(device, field),
        Command::Watch { device, interval, count } => cmd::watch::run(device.as_deref(), *interval, *count),
        Command::Health { device, format, smart_timeout, sysfs } => {
            cmd::health::run(device, *format, sysfs, std::time::Duration::from_secs(*smart_timeout))
        }
    };
    dm_remap_tool::cli::finish("dm-remap-monitor", result)
}
