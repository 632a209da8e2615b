// SPDX-License-Identifier: GPL-2.0
//! Writes `dm-remap`'s shell completions (bash, zsh, fish) and man pages
//! (dm-remap.8 and one dm-remap-<command>.8 per command) from its clap
//! definition, into the directory given: `make install-tools` runs it
//! (`cargo run --example gen-docs -- DIR`). An example, not part of the
//! binary, so that the boot tool links neither clap_complete nor
//! clap_mangen.

#[allow(dead_code)]
#[path = "../src/args.rs"]
mod args;

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

/// The page of `cmd` (built: a subcommand's display name is
/// `dm-remap-<command>`), then its subcommands' pages.
fn man_pages(cmd: &clap::Command, dir: &Path) -> std::io::Result<()> {
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name()).to_string();
    let mut out = vec![];
    clap_mangen::Man::new(cmd.clone()).title(name.clone()).section("8").manual("dm-remap").render(&mut out)?;
    std::fs::write(dir.join(format!("{name}.8")), out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        man_pages(sub, dir)?;
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args_os().nth(1).unwrap_or_else(|| "target/gen-docs".into()));
    let mut cmd = args::Cli::command();
    cmd.build();
    let completions = dir.join("completions");
    let man = dir.join("man");
    std::fs::create_dir_all(&completions)?;
    std::fs::create_dir_all(&man)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd, "dm-remap", &completions)?;
    }
    man_pages(&cmd, &man)?;
    Ok(())
}
