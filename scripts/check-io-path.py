#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks that nothing reachable from the I/O path of dm-remap.ko can panic.

  check-io-path.py dm-remap.ko

The kernel is built with Rust overflow checks, so an unguarded `a - b` or
`x >> n` in map() compiles to a branch into core::panicking. This walks the
module's call graph (relocations and direct calls in `objdump -dr`) from the
map and end_io trampolines through every function of the module they reach,
and fails, naming the call chain, if any of them calls a core panic routine.
Kernel functions (outside the module) are not followed."""

import re
import subprocess
import sys

ROOT = re.compile(r"2dm6target(3map|6end_io)N")
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


def main() -> int:
    graph = call_graph(sys.argv[1])
    roots = [f for f in graph if ROOT.search(f)]
    if len(roots) != 2:
        print(f"check-io-path: expected the map and end_io trampolines, found {roots}")
        return 1
    paths = {r: [r] for r in roots}
    todo = list(roots)
    while todo:
        f = todo.pop()
        for callee in graph.get(f, ()):
            if callee in graph and callee not in paths:
                paths[callee] = paths[f] + [callee]
                todo.append(callee)
    bad = [f for f in paths if any(PANIC.search(c) for c in graph[f])]
    for f in bad:
        print(f"check-io-path: {f} can panic; reached by\n    " + "\n -> ".join(paths[f]))
    print(f"check-io-path: {len(paths)} functions reachable from map/end_io, {len(bad)} can panic")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
