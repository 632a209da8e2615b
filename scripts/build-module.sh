#!/usr/bin/env bash
# Builds dm-remap.ko against the test kernel (built first if need be) and
# fails on any compiler or clippy warning. Prints the kernel build directory.
# Usage: build-module.sh [--checked | --debug]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
kdir=$("$here/build-kernel.sh" "$@" | tail -n 1)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Objects built against another kernel build are not rebuilt by kbuild on
# their own (the module would not load): clean when the kernel changes.
stamp="$repo/.dm-remap-kdir"
if [ "$(cat "$stamp" 2>/dev/null)" != "$kdir" ]; then
  make -C "$repo" KDIR="$kdir" clean >/dev/null 2>&1 || true
  echo "$kdir" > "$stamp"
fi
# CLIPPY=1 compiles with clippy-driver: one pass gives rustc's and clippy's warnings.
if ! make -C "$repo" KDIR="$kdir" CLIPPY=1 >"$log" 2>&1; then
  cat "$log" >&2; echo "build-module: build failed" >&2; exit 1
fi
if grep -E -q '(^|: )warning[:[]' "$log"; then
  cat "$log" >&2; echo "build-module: warnings are errors here" >&2; exit 1
fi
echo "$kdir"
