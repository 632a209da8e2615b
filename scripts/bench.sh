#!/usr/bin/env bash
# The benchmark (not part of the tests; it never fails on speed): one VM
# boot runs fio through dm-linear and dm-remap (0 remaps, 1M remaps not hit,
# 10% and all hits, the spare directly) over null_blk (the CPU path), a
# null_blk with a 20 us completion (a typical fast device) and brd,
# interleaved over BENCH_ROUNDS rounds (default 3) of BENCH_RUNTIME seconds
# (default 4), and measures metadata commit latency and the load time of a
# 1M-extent table. The report, starting with the issue's targets met or not,
# goes to out/bench/bench-<time>/bench.{md,json}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/install-deps.sh"
kdir=$("$here/build-module.sh" | tail -n 1)
exec python3 "$here/vm/run.py" --mode bench --kernel-dir "$kdir" --module "$(dirname "$here")/dm-remap.ko" \
    --out "$(dirname "$here")/out/bench" --test-timeout 5400
