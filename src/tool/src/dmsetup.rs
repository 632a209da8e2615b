// SPDX-License-Identifier: GPL-2.0
//! Running dmsetup, the one way the tool talks to live devices.

use std::process::Command;

/// Runs `dmsetup <args>`: its stdout, or its stderr as the error.
pub fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new("dmsetup").args(args).output().map_err(|e| format!("cannot run dmsetup: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}
