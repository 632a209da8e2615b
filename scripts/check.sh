#!/usr/bin/env bash
# The README's test command: host unit and property tests of the pure code,
# a warning-free module build, then every VM test (or those named).
# Usage: check.sh [<vm test name>...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
"$here/install-deps.sh"
echo "== host tests"
(cd "$repo" && cargo test --workspace --quiet)
(cd "$repo" && cargo clippy --workspace --all-targets --quiet -- -D warnings)
echo "== module build"
kdir=$("$here/build-module.sh" | tail -n 1)
echo "== VM tests"
python3 "$here/vm/run.py" --kernel-dir "$kdir" --module "$repo/dm-remap.ko" "$@"
