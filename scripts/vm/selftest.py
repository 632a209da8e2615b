#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Proves the VM harness fails a run for a failing case and for a kernel
WARN: runs tests/vm/selftest/ in the VM and checks the verdicts.

  selftest.py --kernel-dir DIR --module dm-remap.ko
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = HERE.parents[1] / "tests" / "vm" / "selftest"
EXPECTED = {"passing_case": "PASS", "failing_case": "FAIL", "kernel_warn": "FAIL"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kernel-dir", required=True)
    ap.add_argument("--module", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run(
            [sys.executable, str(HERE / "run.py"), "--kernel-dir", args.kernel_dir, "--module", args.module,
             "--cases-dir", str(CASES), "--out", out, "--test-timeout", "120"],
            capture_output=True, text=True)
        results = json.loads(next(Path(out).glob("*/results.json")).read_text())
    problems = []
    if proc.returncode != 1:
        problems.append(f"run.py exited {proc.returncode}, want 1")
    for name, want in EXPECTED.items():
        got = results["tests"].get(name, {}).get("status")
        if got != want:
            problems.append(f"{name}: {got}, want {want}")
    if not any(s["test"] == "kernel_warn" for s in results["splats"]):
        problems.append("the WARN was not tied to kernel_warn")
    if problems:
        print(proc.stdout + proc.stderr)
        print("harness self-test: FAILED: " + "; ".join(problems))
        return 1
    print("harness self-test: a failing case and a kernel WARN both fail the run: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
