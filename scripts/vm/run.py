#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Boots the test kernel under QEMU with dm-remap and runs guest tests.

  run.py --kernel-dir DIR --module dm-remap.ko [--mode test|demo|bench] [NAME ...]

Test cases are tests/vm/cases/NAME.sh; all of them run in one boot unless
NAMEs are given. Reboot cases are tests/vm/reboot/{before,after}/NAME.sh:
the "before" halves run in one boot with fresh virtio disks attached
(/dev/vda 64 MiB, /dev/vdb 16 MiB, /dev/vdc 8 MiB for state), then the
"after" halves run in a second boot of the same disk images. The guest sends
results on a second serial port and the kernel log on the first; any failed
test, timeout, missing result or kernel splat fails the run (exit 1), with
the relevant log lines printed.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import initramfs  # noqa: E402
import logscan  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
GUEST_DIR = REPO / "tests" / "vm"
REBOOT_DIR = GUEST_DIR / "reboot"
BOOT_SECONDS = 120
REBOOT_DISKS = {"vda": 64, "vdb": 16, "vdc": 8}  # MiB


def build_tools() -> dict[str, Path]:
    """Builds the userspace programs tests use in the guest: the dm-remap
    tool and dm-remap-monitor, replay-log (dm-log-writes replay) and
    hostile-spare (mutated spares); guest name -> host binary."""
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "dm-remap-tool", "-p", "dm-remap-monitor",
                    "-p", "dm-remap-replay-log", "-p", "dm-remap-hostile-spare"], cwd=REPO, check=True)
    return {name: REPO / "target" / "release" / name
            for name in ("dm-remap", "dm-remap-monitor", "replay-log", "hostile-spare")}


def all_tests(cases_dir: Path) -> list[str]:
    return sorted(p.stem for p in cases_dir.glob("*.sh"))


def kvm_boots(kernel: Path, initrd: Path, workdir: Path) -> bool:
    """Whether a KVM guest really reaches userspace here (nested PVM does not)."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    log = workdir / "kvm-probe.log"
    cmd = qemu_command(kernel, initrd, "kvm", log, workdir / "kvm-probe-results.log", "probe")
    try:
        subprocess.run(cmd, timeout=30, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False
    return "dm-remap-probe: userspace reached" in log.read_text(errors="replace")


# Benchmark devices: a 16 GiB null_blk with 4 KiB blocks and no memory
# behind it, and six 1 GiB RAM disks (pages allocated on first write; 1 GiB
# of 512-byte blocks holds a 1M-extent table: 2 x 65 MiB of metadata regions
# sized for the spare, 15.5 MiB per copy of the table). The benchmark adds
# null_blk devices with other settings through configfs (tests/vm/bench.sh).
BENCH_CMDLINE = "null_blk.nr_devices=1 null_blk.gb=16 null_blk.bs=4096 brd.rd_nr=6 brd.rd_size=1048576"


def qemu_command(kernel: Path, initrd: Path, accel: str, console: Path, results: Path, mode: str,
                 disks: list[Path] = (), extra_cmdline: str = "") -> list[str]:
    accel_args = {
        "kvm": ["-accel", "kvm", "-cpu", "host"],
        "tcg": ["-accel", "tcg,thread=multi", "-cpu", "max"],
        # Guest time counts executed instructions (1 ns each) and skips idle
        # time: timings measure the CPU path and not the host's load.
        "icount": ["-accel", "tcg,thread=single", "-cpu", "max", "-icount", "shift=0,sleep=off"],
    }[accel]
    extra = f" {BENCH_CMDLINE}" if mode == "bench" else ""
    extra += f" {extra_cmdline}" if extra_cmdline else ""
    return [
        "qemu-system-x86_64", *accel_args, "-smp", "2", "-m", "4G" if mode == "bench" else "3G",
        "-kernel", str(kernel / "arch/x86/boot/bzImage"), "-initrd", str(initrd),
        "-append", f"console=ttyS0 loglevel=7 panic=-1 dmremap_mode={mode}{extra}",
        "-display", "none", "-monitor", "none", "-no-reboot",
        "-serial", f"file:{console}", "-serial", f"file:{results}",
        *[a for d in disks for a in ("-drive", f"file={d},format=raw,if=virtio,cache=writeback")],
    ]


def follow(proc: subprocess.Popen, results: Path, deadline: float, echo: bool) -> bool:
    """Streams the results log while the VM runs; False on timeout."""
    pos = 0
    while True:
        if results.exists():
            with open(results, "rb") as f:
                f.seek(pos)
                chunk = f.read()
                pos += len(chunk)
            if echo and chunk:
                sys.stdout.write(chunk.decode(errors="replace"))
                sys.stdout.flush()
        if proc.poll() is not None:
            return True
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            return False
        time.sleep(0.5)


def parse_results(text: str, expected: list[str]) -> tuple[dict[str, dict], bool]:
    results: dict[str, dict] = {}
    done = False
    for line in text.splitlines():
        parts = line.split()
        if line.startswith("### RESULT") and len(parts) >= 6:
            results[parts[2]] = {"status": parts[3], "rc": parts[4], "seconds": parts[5]}
        elif line.startswith("### DONE"):
            done = True
    for name in expected:
        results.setdefault(name, {"status": "MISSING", "rc": "-", "seconds": "-"})
    return results, done


def boot(args, run_dir: Path, tests: list[str], cases_dir: Path, accel: str, disks: list[Path]) -> tuple:
    """One VM boot running `tests` from `cases_dir`; returns (results, ok)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    initrd = initramfs.build(run_dir / "root", run_dir / "initramfs.cpio", args.module, GUEST_DIR, {
        "MODE": args.mode, "TESTS": " ".join(tests), "TEST_TIMEOUT": str(args.test_timeout),
        **{k: os.environ[k] for k in ("BENCH_ROUNDS", "BENCH_RUNTIME", "BENCH_SETS", "BENCH_CASES",
                                               "BENCH_WORKLOADS", "BENCH_COMMITS", "BENCH_COMMITS_1M") if k in os.environ},
    }, cases_dir, build_tools())
    if accel == "auto":
        accel = "kvm" if kvm_boots(args.kernel_dir, initrd, run_dir) else "tcg"
    console, results_log = run_dir / "kernel.log", run_dir / "results.log"
    cmd = qemu_command(args.kernel_dir, initrd, accel, console, results_log, args.mode, disks)
    print(f"vm: {args.mode} run of {len(tests)} case(s) under {accel}; logs in {run_dir}", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    deadline = started + BOOT_SECONDS + args.test_timeout * len(tests)
    finished = follow(proc, results_log, deadline, echo=True)
    elapsed = time.monotonic() - started

    log_text = console.read_text(errors="replace") if console.exists() else ""
    res_text = results_log.read_text(errors="replace") if results_log.exists() else ""
    results, done = parse_results(res_text, tests)
    splats = logscan.scan(log_text)
    for s in splats:
        if s["test"] in results:
            results[s["test"]]["status"] = "FAIL"
            results[s["test"]]["splat"] = s["line"]
    (run_dir / "results.json").write_text(json.dumps(
        {"tests": results, "done": done, "finished": finished, "seconds": round(elapsed, 1),
         "splats": [{"test": s["test"], "line": s["line"]} for s in splats]}, indent=2))

    print(f"\nvm: {'booted and finished' if finished else 'TIMED OUT'} in {elapsed:.0f}s")
    for s in splats:
        print(f"\nvm: kernel splat during {s['test']}: {s['line']}\n  " + "\n  ".join(s["context"]))
    if not done:
        print("\nvm: the guest did not report completion; last kernel log lines:\n  "
              + "\n  ".join(log_text.splitlines()[-40:]))
    return results, finished and done and not splats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel-dir", required=True, type=Path)
    ap.add_argument("--module", required=True, type=Path)
    ap.add_argument("--mode", choices=["test", "demo", "bench"], default="test")
    ap.add_argument("--accel", choices=["tcg", "icount", "kvm", "auto"], default=os.environ.get("DM_REMAP_ACCEL"),
                    help="default: icount for the benchmark, tcg otherwise")
    ap.add_argument("--test-timeout", type=int, default=int(os.environ.get("DM_REMAP_TEST_TIMEOUT", "600")))
    ap.add_argument("--out", type=Path, default=REPO / "out" / "vm")
    ap.add_argument("--cases-dir", type=Path, default=GUEST_DIR / "cases",
                    help="guest test cases (default tests/vm/cases)")
    ap.add_argument("tests", nargs="*")
    args = ap.parse_args()
    args.accel = args.accel or ("icount" if args.mode == "bench" else "tcg")

    known = all_tests(args.cases_dir)
    reboot_known = all_tests(REBOOT_DIR / "before") if args.cases_dir == GUEST_DIR / "cases" else []
    tests = [t for t in args.tests if t in known] if args.tests else known
    reboot_tests = [t for t in args.tests if t in reboot_known] if args.tests else reboot_known
    unknown = [t for t in args.tests if t not in known and t not in reboot_known]
    if args.mode in ("demo", "bench"):
        tests, reboot_tests = [args.mode], []
    elif unknown:
        print(f"vm: unknown test(s): {' '.join(unknown)}\nknown: {' '.join(known + reboot_known)}", file=sys.stderr)
        return 2

    run_dir = args.out / time.strftime(f"{args.mode}-%Y%m%d-%H%M%S")
    results: dict[str, dict] = {}
    ok = True
    if tests:
        r, good = boot(args, run_dir, tests, args.cases_dir, args.accel, [])
        results.update(r)
        ok &= good
    if reboot_tests:
        disks = []
        for name, mib in REBOOT_DISKS.items():
            disk = run_dir / "disks" / f"{name}.img"
            disk.parent.mkdir(parents=True, exist_ok=True)
            with open(disk, "wb") as f:
                f.truncate(mib << 20)
            disks.append(disk)
        for phase in ("before", "after"):
            r, good = boot(args, run_dir / f"reboot-{phase}", reboot_tests, REBOOT_DIR / phase, args.accel, disks)
            results.update({f"{k}:{phase}": v for k, v in r.items()})
            ok &= good

    if args.mode == "bench":
        import bench_report  # noqa: E402
        report = bench_report.write(run_dir / "results.log", run_dir, args.accel)
        print(f"\nvm: benchmark report in {report}.md and {report}.json")
    for name, r in results.items():
        print(f"  {r['status']:7} {name} ({r['seconds']}s){'  splat: ' + r['splat'] if 'splat' in r else ''}")
    passed = sum(1 for r in results.values() if r["status"] == "PASS")
    failed = len(results) - passed
    print(f"\nvm: {passed} passed, {failed} failed")
    return 0 if ok and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
