// SPDX-License-Identifier: GPL-2.0
//! The `replay-log` command line over a synthetic log: what the VM test
//! parses (--list, --marks, --find, the count line) and --replay ranges.

use std::io::Write;
use std::process::{Command, Output};

use dm_remap_replay_log::format::{LogBuilder, FUA};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replay-log")).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "replay-log failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f
}

fn sample_log() -> tempfile::NamedTempFile {
    let mut b = LogBuilder::new(512);
    b.write(1, &[0xaa; 1024], 0).flush().mark("step-1").write(0, &[0xbb; 512], FUA).discard(1, 1).mark("step-2");
    temp(&b.build())
}

#[test]
fn list_prints_one_line_per_entry_then_the_counts() {
    let log = sample_log();
    let out = stdout(&run(&["--log", log.path().to_str().unwrap(), "--list"]));
    assert_eq!(
        out,
        "1 1 2 -\n2 0 0 FLUSH\n3 0 0 MARK step-1\n4 0 1 FUA\n5 1 1 DISCARD\n6 0 0 MARK step-2\n\
         entries 1-6, 6 entries: 2 writes, 1 discards, 1 flushes, 1 fua, 2 marks\n"
    );
}

#[test]
fn marks_and_find_give_entry_numbers() {
    let log = sample_log();
    let path = log.path().to_str().unwrap();
    assert_eq!(
        stdout(&run(&["--log", path, "--marks", "--start", "4"])),
        "6 step-2\nentries 4-6, 3 entries: 1 writes, 1 discards, 0 flushes, 1 fua, 1 marks\n"
    );
    assert_eq!(stdout(&run(&["--log", path, "--find", "--end-mark", "step-2"])), "6\n");
    let missing = run(&["--log", path, "--find", "--end-mark", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no mark 'nope'"));
}

#[test]
fn replay_to_a_mark_then_on_from_it_gives_each_state() {
    let log = sample_log();
    let path = log.path().to_str().unwrap();
    let target = temp(&[0u8; 2048]);
    let t = target.path().to_str().unwrap();
    let out = stdout(&run(&["--log", path, "--replay", t, "--end-mark", "step-1"]));
    assert_eq!(out, "entries 1-3, 3 entries: 1 writes, 0 discards, 1 flushes, 0 fua, 1 marks\n");
    let img = std::fs::read(t).unwrap();
    assert_eq!((&img[..512], &img[512..1536], &img[1536..]), (&[0u8; 512][..], &[0xaa; 1024][..], &[0u8; 512][..]));
    stdout(&run(&["--log", path, "--replay", t, "--start", "4", "--limit", "4"]));
    assert_eq!(std::fs::read(t).unwrap()[..512], [0xbb; 512]);
    stdout(&run(&["--log", path, "--replay", t, "--start", "5", "--end-mark", "step-2", "--discard", "punch"]));
    let img = std::fs::read(t).unwrap();
    assert_eq!(
        (&img[512..1024], &img[1024..1536]),
        (&[0u8; 512][..], &[0xaa; 512][..]),
        "the discard zeroed sector 1 only"
    );
}

#[test]
fn bad_command_lines_exit_2_with_the_usage() {
    let log = sample_log();
    let path = log.path().to_str().unwrap();
    for args in [
        &["--list"][..],
        &["--log", path][..],
        &["--log", path, "--list", "--marks"][..],
        &["--log", path, "--find"][..],
        &["--log", path, "--list", "--limit", "x"][..],
        &["--log", path, "--list", "--limit", "2", "--end-mark", "step-1"][..],
        &["--log", path, "--replay", "/dev/null", "--discard", "trim"][..],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("usage: replay-log"), "{args:?}");
    }
}
