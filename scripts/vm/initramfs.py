# SPDX-License-Identifier: GPL-2.0
"""Builds the test guest's initramfs: busybox, the host tools the tests use
(with their shared libraries), the module, and the guest-side test files."""

import os
import shutil
import subprocess
from pathlib import Path

# Host programs copied into the guest. busybox supplies the rest of the shell
# tools; these are the ones whose busybox versions fall short (dd ignores
# O_DIRECT, losetup lacks options) or that busybox lacks.
HOST_TOOLS = [
    "bash", "dmsetup", "fio", "mke2fs", "e2fsck", "dd", "cmp", "blockdev",
    "losetup", "timeout", "truncate", "sha256sum", "od", "stat", "head", "tail",
    "dmesg", "join", "sort", "blkdiscard", "stress-ng", "filefrag", "fallocate", "grep",
    "lvm", "udevadm", "blkid", "setpriv",
]
# Host udev rules the guest's `udevadm test` runs (no udev daemon runs
# there), and the project's boot files (rule, unit, example config).
HOST_UDEV_RULES = ["50-udev-default.rules", "55-dm.rules", "60-persistent-storage.rules", "69-lvm.rules", "99-systemd.rules"]
BOOT_FILES = Path(__file__).resolve().parents[2] / "scripts" / "boot"
TOOL_ALIASES = {"mkfs.ext4": "mke2fs", "fsck.ext4": "e2fsck"}


def libraries(binary: str) -> set[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    libs = set()
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
            libs.add(parts[2])
        elif parts and parts[0].startswith("/"):
            libs.add(parts[0])
    return libs


def _copy(src: str, root: Path, dest: str | None = None) -> None:
    target = root / (dest or src).lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(os.path.realpath(src), target)


def build(root: Path, out: Path, module: Path, guest_dir: Path, config: dict[str, str], cases: Path,
          own_tools: dict[str, Path]) -> Path:
    """Stages the guest tree under `root` and packs it into `out` (newc cpio).

    `guest_dir` holds the runner and helpers, `cases` the test cases (put at
    /tests/cases), `own_tools` the project's userspace programs by guest
    name (put at /usr/bin/<name>: dm-remap, dm-remap-monitor, replay-log); `config`
    becomes /etc/dm-remap-run.sh for the runner."""
    if root.exists():
        shutil.rmtree(root)
    for d in ["bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "run", "etc", "lib/modules"]:
        (root / d).mkdir(parents=True, exist_ok=True)
    _copy("/bin/busybox", root)
    libs: set[str] = set()
    for tool in HOST_TOOLS:
        path = shutil.which(tool)
        if path is None:
            raise SystemExit(f"initramfs: host tool '{tool}' not found (run scripts/install-deps.sh)")
        _copy(path, root, "/usr/bin/" + tool)
        libs |= libraries(path)
    for name, binary in own_tools.items():
        _copy(str(binary), root, "/usr/bin/" + name)
        libs |= libraries(str(binary))
    for alias, name in TOOL_ALIASES.items():
        (root / "usr/bin" / alias).symlink_to(name)
    for lib in libs:
        _copy(lib, root)
    for rule in HOST_UDEV_RULES:
        _copy("/lib/udev/rules.d/" + rule, root)
    shutil.copytree(BOOT_FILES, root / "usr/share/dm-remap/boot")
    shutil.copy2(module, root / "lib/modules/dm-remap.ko")
    shutil.copytree(guest_dir, root / "tests", ignore=shutil.ignore_patterns("cases", "selftest"))
    shutil.copytree(cases, root / "tests" / "cases")
    shutil.copy2(guest_dir / "init", root / "init")
    (root / "init").chmod(0o755)
    with open(root / "etc/dm-remap-run.sh", "w") as f:
        for key, value in config.items():
            f.write(f"{key}='{value}'\n")
    files = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True, check=True).stdout
    with open(out, "wb") as f:
        subprocess.run(["cpio", "--quiet", "-o", "-H", "newc"], cwd=root, input=files.encode(),
                       stdout=f, check=True)
    return out
