// SPDX-License-Identifier: GPL-2.0
//! Fake programs on PATH for the monitor's tests: `dmsetup` (the device
//! source every command reads) and `smartctl`.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Two devices' status lines: `data0` degraded, `data1` ok.
pub const STATUS: &str = "data0: 0 131072 remap 3 7:0 7:1 512 8 100 50 17 76 0 2 1 degraded 6 \
0c6e7e32a1f04f2f8a4bd3a3d3b6ef01 1 1 5 2 1 on 3 3 80 95 done 100 131072 1
data1: 0 65536 remap 3 7:2 7:3 4096 0 100 0 5 6 0 0 0 ok 2 00112233445566778899aabbccddeeff 2 0 0 0 0 on 3 3 80 95 idle 0 0 0
";

/// Writes an executable `name` into `dir` running `script` (sh).
pub fn fake(dir: &Path, name: &str, script: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A fake `dmsetup` in `dir` whose `status --target remap [<dev>]` prints
/// `status` (filtered to `<dev>`, without its `<name>: `, for one device).
pub fn fake_dmsetup(dir: &Path, status: &str) {
    std::fs::write(dir.join("status.txt"), status).unwrap();
    let script = format!(
        r#"[ "$1" = status ] || {{ echo "fake dmsetup: $*" >&2; exit 1; }}
f='{}'
if [ $# -ge 4 ]; then
  grep "^$4: " "$f" | sed "s/^$4: //" | grep . || {{ echo "Device $4 not found" >&2; exit 1; }}
else
  cat "$f"
fi"#,
        dir.join("status.txt").display()
    );
    fake(dir, "dmsetup", &script);
}

/// `dm-remap-monitor <args>` with `dir` first on PATH.
pub fn monitor(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dm-remap-monitor"));
    c.args(args).env("PATH", format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default()));
    c
}
