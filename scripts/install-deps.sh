#!/usr/bin/env bash
# Installs everything dm-remap needs to build the test kernel, the module, the
# userspace tool, and to run the VM tests. Idempotent: a second run only checks.
set -euo pipefail

APT_PACKAGES=(
  # kernel build
  linux-source-6.12 build-essential bc bison flex libelf-dev libssl-dev cpio xz-utils kmod
  rsync python3
  # Rust for the kernel: Debian's rustc with core sources, clang/lld/llvm for LLVM=1 and bindgen
  rustc-web cargo-web rust-web-src rust-web-clippy clang lld llvm libclang-dev
  # VM and guest userspace
  qemu-system-x86 busybox-static dmsetup fio e2fsprogs util-linux coreutils stress-ng dkms
  # boot files: systemd-analyze verify of the unit; udev rules and LVM for main-disk hiding
  systemd udev lvm2
  # the systemd guest of the packaging check is made of the host's own
  # packages (scripts/vm/systemd_guest.py): these besides the ones above
  libnss-systemd procps mawk dash
  # monitoring: promtool (check metrics) validates dm-remap-monitor's exposition in its tests
  prometheus
  # packaging: the generated man pages are rendered with man -l
  man-db groff-base
)

need_apt=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$p")
done
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "install-deps: apt: ${need_apt[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# bindgen >= 0.65.1 for Linux 6.12 (Debian 12 ships 0.60).
BINDGEN_VERSION=0.73.2
CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}
if ! "$CARGO_HOME/bin/bindgen" --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
  echo "install-deps: cargo install bindgen-cli $BINDGEN_VERSION"
  cargo install --quiet --locked --force --version "$BINDGEN_VERSION" bindgen-cli
fi
# cargo-fuzz for the metadata decoder's fuzz target (built with RUSTC_BOOTSTRAP=1
# on the stable toolchain).
if ! "$CARGO_HOME/bin/cargo-fuzz" --version >/dev/null 2>&1; then
  echo "install-deps: cargo install cargo-fuzz"
  cargo install --quiet --locked cargo-fuzz
fi
# rustfmt for the layout check (scripts/check-format.sh): the toolchain's own
# component where rustup manages cargo, else Debian's build of the same rustc.
if ! rustfmt --version >/dev/null 2>&1; then
  if command -v rustup >/dev/null 2>&1; then
    echo "install-deps: rustup component add rustfmt"
    rustup component add rustfmt
  else
    echo "install-deps: apt: rustfmt-web"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rustfmt-web >/dev/null
  fi
fi
echo "install-deps: ok"
