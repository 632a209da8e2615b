// SPDX-License-Identifier: GPL-2.0
//! `replay-log`: lists a dm-log-writes log or replays a range of it onto a
//! device or image. Exit status 0, 1 on errors, 2 on a bad command line.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::ExitCode;

use dm_remap_replay_log::log::Log;
use dm_remap_replay_log::replay::{self, Discard};
use dm_remap_replay_log::{format, Result};

const USAGE: &str = "\
usage: replay-log --log <log> ACTION [--start N] [--limit N | --end-mark NAME] [--discard zero|punch]
actions:
  --list             one line per entry: <number> <sector> <nr_sectors> <flags> [<mark name>]
  --marks            one line per mark: <number> <name>
  --find             print the number of the mark named by --end-mark
  --replay <target>  apply the entries to a device or image (writes its data,
                     discards zero their range, or punch it with --discard punch)
Entries are numbered from 1 (entry 0 is the super block). The range is
--start (default 1) to --limit N, or to the first mark named by --end-mark
(included), or to the end of the log; --limit N alone is the first N entries.
Sectors are the log's (the logged device's logical block size). --list,
--marks and --replay end with a line counting the entries of the range.";

enum Action {
    List,
    Marks,
    Find,
    Replay(PathBuf),
}

struct Args {
    log: PathBuf,
    action: Action,
    start: u64,
    limit: Option<u64>,
    end_mark: Option<String>,
    discard: Discard,
}

fn parse(mut argv: impl Iterator<Item = String>) -> std::result::Result<Args, String> {
    let (mut log, mut action, mut start, mut limit, mut end_mark, mut discard) =
        (None, None, 1, None, None, Discard::Zero);
    let number = |v: String, flag: &str| v.parse::<u64>().map_err(|_| format!("{flag}: '{v}' is not a number"));
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{flag} needs a value"));
        let mut set = |a: Action| if action.replace(a).is_some() { Err("give one action".to_string()) } else { Ok(()) };
        match flag.as_str() {
            "--log" => log = Some(PathBuf::from(value()?)),
            "--list" => set(Action::List)?,
            "--marks" => set(Action::Marks)?,
            "--find" => set(Action::Find)?,
            "--replay" => {
                let target = value()?;
                set(Action::Replay(target.into()))?
            }
            "--start" => start = number(value()?, "--start")?,
            "--limit" => limit = Some(number(value()?, "--limit")?),
            "--end-mark" => end_mark = Some(value()?),
            "--discard" => {
                discard = match value()?.as_str() {
                    "zero" => Discard::Zero,
                    "punch" => Discard::Punch,
                    v => return Err(format!("--discard: '{v}' is not zero or punch")),
                }
            }
            "-h" | "--help" => return Err(String::new()),
            _ => return Err(format!("unknown argument '{flag}'")),
        }
    }
    let log = log.ok_or("--log is required")?;
    let action = action.ok_or("give an action")?;
    if limit.is_some() && end_mark.is_some() {
        return Err("--limit and --end-mark both end the range: give one".into());
    }
    if matches!(action, Action::Find) && end_mark.is_none() {
        return Err("--find needs --end-mark NAME".into());
    }
    Ok(Args { log, action, start, limit, end_mark, discard })
}

fn run(args: Args) -> Result<()> {
    let log = Log::open(&args.log)?;
    let last = match (&args.end_mark, args.limit) {
        (Some(name), _) => log.find_mark(name)?,
        (None, Some(n)) => n,
        (None, None) => log.sup.nr_entries,
    };
    let counts = match args.action {
        Action::Find => {
            println!("{last}");
            return Ok(());
        }
        Action::List => replay::for_each(&log, args.start, last, |e| {
            let h = &e.header;
            let mark = h.mark.as_deref().map(|m| format!(" {m}")).unwrap_or_default();
            println!("{} {} {} {}{mark}", e.number, h.sector, h.nr_sectors, format::flag_names(h.flags));
            Ok(())
        })?,
        Action::Marks => replay::for_each(&log, args.start, last, |e| {
            if let Some(m) = &e.header.mark {
                println!("{} {m}", e.number);
            }
            Ok(())
        })?,
        Action::Replay(path) => {
            let target = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(dm_remap_replay_log::io_err(format!("{}: open", path.display())))?;
            replay::replay(&log, &target, args.start, last, args.discard)?
        }
    };
    println!("entries {}-{last}, {counts}", args.start);
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("replay-log: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replay-log: {e}");
            ExitCode::FAILURE
        }
    }
}
