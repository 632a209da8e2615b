#!/usr/bin/env bash
# The README's test command: host unit and property tests of the pure code
# (and the engine simulation), fuzzing, a warning-free module build with no
# panic reachable from the I/O path and packaging checks (against the base
# kernel; then the installed units booted under systemd on the systemd
# flavour), the VM harness self-test, then every VM test on the checked kernel
# (lockdep, PROVE_RCU, DEBUG_ATOMIC_SLEEP, DEBUG_OBJECTS, kmemleak, KFENCE).
# Any failed test or kernel report fails the run. (The suite on both kernels
# does not fit CI's 90 minutes on 2 cores: see Documentation/testing.rst.)
# Usage: check.sh [--debug] [<vm test name>...]
#   --debug   the VM tests on the debug kernel only (checked + KASAN; a manual run)
#   names     run only these VM tests (tests/vm/cases/<name>.sh), no self-test
# DM_REMAP_VM_KERNELS: the kernels the VM tests run on, in order (default
# "checked"; "base" for a quicker local run, "checked base" for both).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
kernels=${DM_REMAP_VM_KERNELS-checked}
if [ "${1:-}" = --debug ]; then kernels=debug; shift; fi
"$here/install-deps.sh"

echo "== Rust layout (rustfmt.toml)"
"$here/check-format.sh"
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

echo "== module build (base kernel)"
kdir=$("$here/build-module.sh" | tail -n 1)
echo "== no panic reachable from map/end_io"
python3 "$here/check-io-path.py" "$repo/dm-remap.ko"
echo "== packaging (DKMS build, make install, make install-tools; the units under systemd as PID 1)"
skdir=$("$here/build-kernel.sh" --systemd | tail -n 1)
"$here/test-packaging.sh" "$kdir" "$skdir"

for flavour in $kernels; do
  echo "== VM tests on the $flavour kernel"
  case "$flavour" in
    base) args=() ;;
    checked) args=(--checked) ;;
    # KASAN makes the VM about four times slower than base: crash_point_replay
    # alone passes 600 s there.
    debug) args=(--debug); export DM_REMAP_TEST_TIMEOUT=${DM_REMAP_TEST_TIMEOUT:-1800} ;;
    *) echo "check.sh: unknown kernel flavour '$flavour'" >&2; exit 2 ;;
  esac
  started=$SECONDS
  kdir=$("$here/build-module.sh" "${args[@]}" | tail -n 1)
  vm=(--kernel-dir "$kdir" --module "$repo/dm-remap.ko")
  if [ "$#" -eq 0 ]; then
    python3 "$here/vm/selftest.py" "${vm[@]}"
  fi
  python3 "$here/vm/run.py" "${vm[@]}" "$@"
  echo "== VM tests on the $flavour kernel: $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
done
