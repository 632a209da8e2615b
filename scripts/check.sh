#!/usr/bin/env bash
# The README's test command: host unit and property tests of the pure code,
# a warning-free module build with no panic reachable from the I/O path,
# packaging checks, the VM harness self-test, then every VM test.
# Usage: check.sh [--debug] [<vm test name>...]
#   --debug   run against the debug kernel (KASAN, lockdep, kmemleak, ...)
#   names     run only these VM tests (tests/vm/cases/<name>.sh), no self-test
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
flavour=()
if [ "${1:-}" = --debug ]; then flavour=(--debug); shift; fi
"$here/install-deps.sh"

echo "== host tests"
(cd "$repo" && cargo test --workspace --quiet)
(cd "$repo" && cargo clippy --workspace --all-targets --quiet -- -D warnings)
echo "== fuzzing the metadata decoder for ${DM_REMAP_FUZZ_SECONDS:-60}s"
(cd "$repo" && RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir tests/fuzz decode_metadata -- \
  -max_total_time="${DM_REMAP_FUZZ_SECONDS:-60}" -max_len=65536 -print_final_stats=1 2>&1 \
  | grep -E "^(Done|stat::number_of_executed_units)|SUMMARY|panicked|ERROR" )
echo "== fuzzing the engine simulation for ${DM_REMAP_SIM_FUZZ_SECONDS:-30}s"
(cd "$repo" && RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir tests/fuzz simulate -- \
  -max_total_time="${DM_REMAP_SIM_FUZZ_SECONDS:-30}" -max_len=64 -print_final_stats=1 2>&1 \
  | grep -E "^(Done|stat::number_of_executed_units)|SUMMARY|panicked|ERROR" )

echo "== module build"
kdir=$("$here/build-module.sh" "${flavour[@]}" | tail -n 1)
vm=(--kernel-dir "$kdir" --module "$repo/dm-remap.ko")
echo "== no panic reachable from map/end_io"
python3 "$here/check-io-path.py" "$repo/dm-remap.ko"
echo "== packaging (DKMS build, make install, make install-tools)"
"$here/test-packaging.sh" "$kdir"

if [ "$#" -eq 0 ]; then
  echo "== VM harness self-test"
  python3 "$here/vm/selftest.py" "${vm[@]}"
fi
echo "== VM tests"
python3 "$here/vm/run.py" "${vm[@]}" "$@"
