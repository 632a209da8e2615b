// SPDX-License-Identifier: GPL-2.0
//! `--version`: the tool's version and the loaded module's. Both come from
//! the workspace's Cargo.toml (Kbuild passes it to the module's
//! MODULE_VERSION; dkms.conf repeats it, and tests/version.rs checks that
//! the three agree).

use std::path::Path;

use super::{print_clean, Outcome};

/// The module's line: its version from sysfs, or why there is none.
pub fn module_line(sys_module: &Path) -> String {
    if !sys_module.exists() {
        return "module dm_remap: not loaded".into();
    }
    match std::fs::read_to_string(sys_module.join("version")) {
        Ok(v) if v.trim() == env!("CARGO_PKG_VERSION") => format!("module dm_remap {}", v.trim()),
        Ok(v) => format!("module dm_remap {} (differs from the tool's)", v.trim()),
        Err(_) => "module dm_remap: loaded, without a version (older than 0.3.0)".into(),
    }
}

pub fn run(_version: bool) -> anyhow::Result<Outcome> {
    let out = format!("dm-remap {}\n{}\n", env!("CARGO_PKG_VERSION"), module_line(Path::new("/sys/module/dm_remap")));
    Ok(print_clean(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_line_says_loaded_version_or_why_not() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(module_line(&dir.path().join("none")), "module dm_remap: not loaded");
        assert!(module_line(dir.path()).contains("without a version"));
        std::fs::write(dir.path().join("version"), format!("{}\n", env!("CARGO_PKG_VERSION"))).unwrap();
        assert_eq!(module_line(dir.path()), concat!("module dm_remap ", env!("CARGO_PKG_VERSION")));
        std::fs::write(dir.path().join("version"), "0.0.1\n").unwrap();
        assert_eq!(module_line(dir.path()), "module dm_remap 0.0.1 (differs from the tool's)");
    }
}
