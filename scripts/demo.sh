#!/usr/bin/env bash
# The README's main job: installs what is missing, builds the test kernel and
# the module, boots the VM, creates a dm-remap device over two loop-backed
# files, writes and reads data through it and prints its table and status.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/install-deps.sh"
kdir=$("$here/build-module.sh" | tail -n 1)
exec python3 "$here/vm/run.py" --mode demo --kernel-dir "$kdir" --module "$(dirname "$here")/dm-remap.ko"
