#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Boots the host's own systemd as PID 1 over what `make install` and
`make install-tools` installed, and checks the units as an admin would on a
fresh machine.

  systemd_guest.py --kernel-dir DIR --root DESTDIR [--out DIR]

DIR is the systemd kernel flavour (build-kernel.sh --systemd); DESTDIR holds
the install of the module built against it (make install
INSTALL_MOD_PATH=DESTDIR) and of the tools (make install-tools
DESTDIR=DESTDIR). The guest is an initramfs: a minimal Debian userland copied
from the host's packages (systemd, udev, dmsetup, kmod, coreutils, bash...,
with their libraries), DESTDIR on top, /init being /lib/systemd/systemd. As
an admin would, the build writes /etc/dm-remap/devices.conf (a device over
two blank virtio disks) and enables the units with `systemctl --root`; the
guest boots, and tests/vm/systemd/check.sh, run by a service, checks the
boot activation, the hardened monitor and its metrics over HTTP, the scrub
timer and scan, the events unit's journal lines and that no unit failed, then
reboots (which ends QEMU). Results come on the second serial port as in run.py; the console
log (kernel and the journal) is in the output directory.
"""

import argparse
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import logscan  # noqa: E402
import run  # noqa: E402
from initramfs import libraries  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
GUEST = REPO / "tests" / "vm" / "systemd"
# The host packages the guest's userland is made of (their files, less
# documentation, plus every shared library their programs load).
PACKAGES = ["systemd", "libsystemd-shared", "udev", "dmsetup", "kmod", "coreutils", "bash", "util-linux",
            "mount", "grep", "sed", "mawk", "dash", "procps", "libc-bin", "libnss-systemd"]
SKIP = ("/usr/share/doc/", "/usr/share/man/", "/usr/share/locale/", "/usr/share/info/", "/usr/share/lintian/",
        "/usr/share/bash-completion/", "/usr/share/zsh/", "/usr/share/fish/", "/usr/lib/udev/hwdb.d/",
        "/lib/udev/hwdb.d/", "/etc/")
# Units of the host's packages that need what this guest lacks (a D-Bus
# daemon, agetty on a console the harness writes to): masked, as an image
# builder would. Nothing of dm-remap's is masked.
MASKED = ["systemd-logind.service", "getty@.service", "serial-getty@.service", "console-getty.service",
          "getty-static.service"]
# The disks: vda the main disk, vdb the spare (blank: the target formats it).
DISKS = {"vda": 32 << 20, "vdb": 48 << 10}
CONFIG = "# written by scripts/vm/systemd_guest.py\ndata0  /dev/vda  /dev/vdb  spare_warn 25 spare_crit 50\n"
TIMEOUT = 900


def guest_path(path: str) -> str:
    """The guest is usr-merged: /bin, /sbin, /lib and /lib64 are in /usr."""
    for top in ("/bin/", "/sbin/", "/lib/", "/lib64/"):
        if path.startswith(top):
            return "/usr" + path
    return path


def copy(src: str, root: Path, dest: str | None = None) -> None:
    """Copies a host file into the guest (symbolic links as links)."""
    target = root / guest_path(dest or src).lstrip("/")
    if target.exists() or target.is_symlink():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if os.path.islink(src):
        link = os.readlink(src)
        os.symlink(link, target)
        if not link.startswith("/"):
            resolved = os.path.normpath(os.path.join(os.path.dirname(src), link))
            if os.path.exists(resolved):
                copy(resolved, root)
        elif os.path.exists(link):
            copy(link, root)
    else:
        shutil.copy2(src, target)


def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def package_files(pkg: str) -> list[str]:
    r = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True)
    if r.returncode != 0:
        return []
    return [p for p in r.stdout.splitlines()
            if p.startswith("/") and not p.startswith(SKIP) and (os.path.islink(p) or os.path.isfile(p))]


def merge_tree(src: Path, root: Path) -> set[str]:
    """Copies DESTDIR into the guest (its /lib... into /usr/lib...); returns
    the shared libraries of its programs."""
    libs: set[str] = set()
    for dirpath, _, files in os.walk(src):
        for name in files:
            path = Path(dirpath) / name
            rel = "/" + str(path.relative_to(src))
            target = root / guest_path(rel).lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists() or target.is_symlink():
                target.unlink()
            if path.is_symlink():
                os.symlink(os.readlink(path), target)
            else:
                shutil.copy2(path, target)
                if is_elf(str(path)) and not path.name.endswith((".ko", ".ko.xz", ".ko.zst")):
                    libs |= libraries(str(path))
    return libs


def build(root: Path, out: Path, destdir: Path, kernel_dir: Path) -> Path:
    if root.exists():
        shutil.rmtree(root)
    for d in ["usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "proc", "sys", "dev", "run", "tmp", "var/tmp",
              "var/lib", "var/log/journal", "root", "etc/systemd/system", "mnt"]:
        (root / d).mkdir(parents=True, exist_ok=True)
    for top in ("bin", "sbin", "lib", "lib64"):
        (root / top).symlink_to("usr/" + top)
    (root / "tmp").chmod(0o1777)
    # The kernel opens /dev/console for PID 1 before anything mounts /dev.
    try:
        os.mknod(root / "dev/console", 0o600 | stat.S_IFCHR, os.makedev(5, 1))
    except PermissionError:
        pass
    (root / "var/tmp").chmod(0o1777)
    files: list[str] = []
    for pkg in PACKAGES:
        files += package_files(pkg)
    for f in files:
        copy(f, root)
    # Every shared library of every program and library copied, and the
    # modules systemd loads by name (NSS).
    elves = {f for f in files if not os.path.islink(f) and is_elf(f)}
    libs: set[str] = set()
    for f in elves:
        libs |= libraries(f)
    # What `make install` and `make install-tools` installed.
    libs |= merge_tree(destdir, root)
    for lib in sorted(libs):
        copy(lib, root)
        copy(os.path.realpath(lib), root)
    # Debian's alternatives live in /etc, which is not copied.
    (root / "usr/bin/awk").symlink_to("mawk")
    copy("/usr/lib/os-release", root)
    (root / "etc/os-release").symlink_to("../usr/lib/os-release")
    # A fresh Debian's users and groups (base-passwd), and the groups udev's
    # postinst adds for its rules.
    shutil.copy2("/usr/share/base-passwd/passwd.master", root / "etc/passwd")
    groups = Path("/usr/share/base-passwd/group.master").read_text()
    (root / "etc/group").write_text(groups + "input:x:101:\nkvm:x:102:\nrender:x:103:\nsgx:x:104:\n")
    (root / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc/shadow").chmod(0o640)
    (root / "etc/nsswitch.conf").write_text("passwd: files systemd\ngroup: files systemd\nshadow: files\n")
    (root / "etc/fstab").write_text("# the root is the initramfs\n")
    (root / "etc/hostname").write_text("dm-remap-guest\n")
    (root / "init").symlink_to("usr/lib/systemd/systemd")

    kvers = [p.parts[-3] for p in (root / "usr/lib/modules").glob("*/updates/dm-remap.ko*")]
    if len(kvers) != 1:
        raise SystemExit(f"systemd_guest: want one dm-remap.ko under {destdir}/lib/modules/*/updates, found {kvers}")
    for name in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
        if (kernel_dir / name).exists():
            shutil.copy2(kernel_dir / name, root / "usr/lib/modules" / kvers[0] / name)
    subprocess.run(["depmod", "-b", str(root), kvers[0]], check=True)

    # The admin's part: the config, and the units enabled.
    (root / "etc/dm-remap/devices.conf").write_text(CONFIG)
    for unit in MASKED:
        (root / "etc/systemd/system" / unit).symlink_to("/dev/null")
    shutil.copy2(GUEST / "dm-remap-vm-check.service", root / "usr/lib/systemd/system/")
    shutil.copy2(GUEST / "check.sh", root / "usr/lib/dm-remap-vm-check.sh")
    (root / "etc/systemd/system/default.target").symlink_to("/usr/lib/systemd/system/multi-user.target")
    subprocess.run(["systemctl", f"--root={root}", "enable", "--quiet", "dm-remap-activate.service",
                    "dm-remap-monitor.service", "dm-remap-events.service", "dm-remap-scrub.timer",
                    "dm-remap-vm-check.service"], check=True)

    listing = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True, check=True).stdout
    with open(out, "wb") as f:
        subprocess.run(["cpio", "--quiet", "-o", "-H", "newc"], cwd=root, input=listing.encode(),
                       stdout=f, check=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel-dir", required=True, type=Path)
    ap.add_argument("--root", required=True, type=Path, help="DESTDIR of make install and make install-tools")
    ap.add_argument("--accel", choices=["tcg", "kvm"], default=os.environ.get("DM_REMAP_ACCEL", "tcg"))
    ap.add_argument("--out", type=Path, default=REPO / "out" / "vm")
    args = ap.parse_args()

    run_dir = args.out / time.strftime("systemd-%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    initrd = build(run_dir / "root", run_dir / "initramfs.cpio", args.root, args.kernel_dir)
    disks = []
    for name, size in DISKS.items():
        disk = run_dir / f"{name}.img"
        with open(disk, "wb") as f:
            f.truncate(size)
        disks.append(disk)
    console, results_log = run_dir / "console.log", run_dir / "results.log"
    # The image has no /etc/machine-id (first boot, as a fresh image):
    # systemd-firstboot would prompt on the console for the locale, keymap
    # and timezone; firstboot=off answers it as an image builder does.
    cmd = run.qemu_command(args.kernel_dir, initrd, args.accel, console, results_log, "systemd", disks,
                           extra_cmdline="systemd.journald.forward_to_console=1 systemd.firstboot=off")
    mib = initrd.stat().st_size >> 20
    print(f"vm: systemd guest ({mib} MiB initramfs) under {args.accel}; logs in {run_dir}", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    finished = run.follow(proc, results_log, started + TIMEOUT, echo=True)
    elapsed = time.monotonic() - started

    log_text = console.read_text(errors="replace") if console.exists() else ""
    res_text = results_log.read_text(errors="replace") if results_log.exists() else ""
    checks = [line.split()[2] for line in res_text.splitlines() if line.startswith("### RESULT")]
    results, done = run.parse_results(res_text, checks)
    splats = logscan.scan(log_text)
    print(f"\nvm: {'booted and finished' if finished else 'TIMED OUT'} in {elapsed:.0f}s")
    for s in splats:
        print(f"\nvm: kernel splat: {s['line']}\n  " + "\n  ".join(s["context"]))
    if not done:
        print("\nvm: the guest did not report completion; last console lines:\n  "
              + "\n  ".join(log_text.splitlines()[-60:]))
    for name, r in results.items():
        print(f"  {r['status']:7} {name} ({r['seconds']}s)")
    failed = [n for n, r in results.items() if r["status"] != "PASS"]
    ok = finished and done and not splats and results and not failed
    print(f"\nvm: systemd guest: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
