#!/usr/bin/env bash
# Fails when a Rust file of the repository (module, core, tool, tests) is not
# laid out as rustfmt.toml says; prints the differences. Fix with
#   git ls-files '*.rs' | xargs rustfmt --edition 2021
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
git ls-files -z '*.rs' | xargs -0 rustfmt --edition 2021 --check
