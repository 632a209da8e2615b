#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks that nothing reachable from map() and end_io() can panic.

  check-io-path.py dm-remap.ko

The kernel is built with Rust overflow checks, so an unguarded `a - b` or
`x >> n` compiles to a branch into core::panicking. This walks the module's
call graph (relocations and direct calls in `objdump -dr`) from the map and
end_io trampolines through every dm-remap function they reach, and fails,
naming the call chain, if any of them calls a core panic routine (code
inlined from `core` or `kernel` included). C functions and the `kernel` and
`core` crates' out-of-line functions are not followed: they are the
platform. The worker (error recovery) is not covered: built with
`KRUSTFLAGS=-Cdebuginfo=1` and read with `objdump -dlr`, its only overflow
checks left are inlined from the kernel crate's `KVec` drop (layout
arithmetic on a layout that was valid when allocated), which a call graph
alone cannot tell from dm-remap's own code."""

import re
import subprocess
import sys

ROOTS = {"map": r"2dm6target3mapN", "end_io": r"2dm6target6end_ioN"}
CRATE = re.compile(r"Cs[0-9A-Za-z]+_\d+([a-z_]+?)(?=\d|$)")
PANIC = re.compile(r"panicking|panic_fmt|panic_bounds_check|unwrap_failed|expect_failed")


def call_graph(module: str) -> dict[str, set[str]]:
    dis = subprocess.run(["objdump", "-dr", "--no-show-raw-insn", module],
                         capture_output=True, text=True, check=True).stdout
    graph: dict[str, set[str]] = {}
    cur = None
    for line in dis.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if m:
            cur = m.group(1)
            graph[cur] = set()
            continue
        if cur is None:
            continue
        m = re.search(r"R_X86_64_(?:PLT32|PC32)\s+(\S+?)(?:[-+]0x[0-9a-f]+)?$", line)
        if m:
            graph[cur].add(m.group(1))
        m = re.search(r"\s(?:call|jmp)\s+[0-9a-f]+ <([^+>]+)(?:\+0x[0-9a-f]+)?>", line)
        if m and m.group(1) != cur:
            graph[cur].add(m.group(1))
    return graph


def ours(symbol: str) -> bool:
    """Whether a Rust symbol is defined by dm-remap (not core or kernel)."""
    m = CRATE.search(symbol)
    return m is not None and m.group(1) == "dm_remap"


def main() -> int:
    graph = call_graph(sys.argv[1])
    roots = []
    for name, pattern in ROOTS.items():
        found = [f for f in graph if re.search(pattern, f)]
        if len(found) != 1:
            print(f"check-io-path: no single {name} entry point: {found}")
            return 1
        roots += found
    paths = {r: [r] for r in roots}
    todo = list(roots)
    while todo:
        f = todo.pop()
        for callee in graph.get(f, ()):
            if callee in graph and callee not in paths and ours(callee):
                paths[callee] = paths[f] + [callee]
                todo.append(callee)
    bad = [f for f in paths if any(PANIC.search(c) for c in graph[f])]
    for f in bad:
        print(f"check-io-path: {f} can panic; reached by\n    " + "\n -> ".join(paths[f]))
    print(f"check-io-path: {len(paths)} dm-remap functions reachable from map and end_io, {len(bad)} can panic")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
