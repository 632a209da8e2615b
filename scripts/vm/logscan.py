# SPDX-License-Identifier: GPL-2.0
"""Finds kernel splats in the guest's console log and ties each to the test
that was running (the guest runner writes BEGIN/END markers to /dev/kmsg)."""

import re

SPLAT = re.compile(
    r"Oops|BUG:|kernel BUG at|WARNING:|KASAN:|UBSAN:|general protection fault|"
    r"possible circular locking|possible recursive locking|inconsistent lock state|"
    r"suspicious RCU usage|DEBUG_LOCKS_WARN_ON|possible irq lock inversion|"
    r"INFO: task .* blocked for more than|rcu.*(detected stalls|self-detected stall)|"
    r"soft lockup|hard LOCKUP|Call Trace:|Kernel panic|kmemleak: .*suspected memory leak|"
    r"dm-remap-leak:|panicked at|rust_panic"
)
MARKER = re.compile(r"dm-remap-test: (BEGIN|END) (\S+)")


def scan(log: str) -> list[dict]:
    """Returns one entry per splat: the test it happened in, and context lines."""
    lines = log.splitlines()
    current = "(boot)"
    splats = []
    last_reported = -1
    for i, line in enumerate(lines):
        m = MARKER.search(line)
        if m:
            current = m.group(2) if m.group(1) == "BEGIN" else "(between tests)"
            continue
        if SPLAT.search(line) and i > last_reported:
            end = min(len(lines), i + 40)
            context = lines[max(0, i - 5):end]
            splats.append({"test": current, "line": line.strip(), "context": context})
            last_reported = end
    return splats
