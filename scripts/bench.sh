#!/usr/bin/env bash
# The benchmark (not part of the tests; it never fails on speed): one VM
# boot runs fio over null_blk and brd through dm-linear and dm-remap (0
# remaps, 100k remaps not hit, 10% and all hits, the spare directly),
# interleaved over BENCH_ROUNDS rounds (default 3) of BENCH_RUNTIME seconds
# (default 4), and measures metadata commit latency. The report goes to
# out/bench/bench-<time>/bench.{md,json}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/install-deps.sh"
kdir=$("$here/build-module.sh" | tail -n 1)
exec python3 "$here/vm/run.py" --mode bench --kernel-dir "$kdir" --module "$(dirname "$here")/dm-remap.ko" \
    --out "$(dirname "$here")/out/bench" --test-timeout 3600
