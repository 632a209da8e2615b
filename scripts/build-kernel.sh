#!/usr/bin/env bash
# Builds the Rust-enabled test kernel from Debian's linux-source-6.12 and caches it
# outside the work tree, keyed by kernel version, config fragments and toolchain.
# Usage: build-kernel.sh [--checked | --debug | --systemd] [--print-dir]
#   --checked    the checked flavour (lockdep, PROVE_RCU, DEBUG_ATOMIC_SLEEP,
#                DEBUG_OBJECTS, kmemleak, KFENCE): what CI runs the suite on too
#   --debug      the debug flavour: checked plus KASAN (a manual run)
#   --systemd    the systemd flavour: base plus what systemd as PID 1 and the
#                units' hardening need (cgroups, net, seccomp, BPF): what the
#                packaging check boots the installed units under
#   --print-dir  only print the build directory the key selects (built or not)
# The last line printed is the build directory (bzImage at arch/x86/boot/bzImage).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/toolchain.sh"

flavour=base print_only=0
for a in "$@"; do
  case "$a" in
    --checked) flavour=checked ;;
    --debug) flavour=debug ;;
    --systemd) flavour=systemd ;;
    --print-dir) print_only=1 ;;
    *) echo "build-kernel.sh: unknown argument '$a'" >&2; exit 2 ;;
  esac
done
fragments=("$here/kernel/base.config")
case "$flavour" in checked|debug) fragments+=("$here/kernel/checked.config") ;; esac
[ "$flavour" = debug ] && fragments+=("$here/kernel/debug.config")
[ "$flavour" = systemd ] && fragments+=("$here/kernel/systemd.config")

kver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$( { echo "$kver"; cat "${fragments[@]}"; "$RUSTC" --version; "$BINDGEN" --version; clang --version | head -1; } \
       | sha256sum | cut -c1-16)
src="$DM_REMAP_CACHE/linux-$kver"
out="$DM_REMAP_CACHE/kernel-$flavour-$key"
if [ "$print_only" = 1 ]; then echo "$out"; exit 0; fi
if [ -f "$out/.dm-remap-complete" ]; then echo "$out"; exit 0; fi

mkdir -p "$DM_REMAP_CACHE"
if [ ! -f "$src/.unpacked" ]; then
  echo "build-kernel: unpacking $KERNEL_SOURCE_TARBALL" >&2
  rm -rf "$src" "$src.tmp" && mkdir -p "$src.tmp"
  tar -xf "$KERNEL_SOURCE_TARBALL" -C "$src.tmp" --strip-components=1
  mv "$src.tmp" "$src" && touch "$src/.unpacked"
fi

mkdir -p "$out"
kmake() { make -C "$src" O="$out" "${KMAKE_VARS[@]}" "$@"; }
echo "build-kernel: configuring $flavour kernel in $out" >&2
kmake -s rustavailable >&2
kmake -s allnoconfig >&2
(cd "$out" && "$src/scripts/kconfig/merge_config.sh" -m -O "$out" .config "${fragments[@]}" >/dev/null)
kmake -s olddefconfig >&2
# Every option the fragments ask for must have landed (a missing dependency drops it silently).
missing=0
while IFS= read -r line; do
  case "$line" in CONFIG_*=n) opt=${line%%=*}; grep -q "^$opt=" "$out/.config" && { echo "  $opt still set" >&2; missing=1; } ;;
                  CONFIG_*) grep -qxF "$line" "$out/.config" || { echo "  $line not in .config" >&2; missing=1; } ;; esac
done < <(cat "${fragments[@]}")
[ "$missing" = 0 ] || { echo "build-kernel: config fragment did not apply" >&2; exit 1; }

echo "build-kernel: building (this takes several minutes on a cold cache)" >&2
kmake -j"$(nproc)" bzImage modules modules_prepare >&2
touch "$out/.dm-remap-complete"
echo "$out"
