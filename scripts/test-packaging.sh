#!/usr/bin/env bash
# Packaging checks run by check.sh: DKMS builds the module from a copy of
# the tree against the test kernel (dkms.conf, BUILD_EXCLUSIVE_CONFIG and
# the Makefile as a user's DKMS runs them), `make install` installs it, and
# `make install-tools` installs both tools (the boot one lean), unit, udev
# rule and example config. With a second kernel (the systemd flavour), the
# module built against it and the tools are installed into a second scratch
# root, and scripts/vm/systemd_guest.py boots the host's systemd as PID 1
# over it: the units run as on a fresh machine (boot activation, the
# hardened monitor, scrub timer, events in the journal).
# Everything goes to a scratch directory, nothing into the system.
# Usage: test-packaging.sh <kernel build dir> [<systemd kernel build dir>]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
kdir=$1
skdir=${2:-}
. "$here/toolchain.sh"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$repo/dkms.conf")
kver=$(cat "$kdir/include/config/kernel.release")

mkdir -p "$scratch/src/dm-remap-$version" "$scratch/dkms"
(cd "$repo" && git ls-files -z | xargs -0 cp --parents -t "$scratch/src/dm-remap-$version")
dkms_args=(-m dm-remap -v "$version" -k "$kver" --dkmstree "$scratch/dkms" --sourcetree "$scratch/src"
           --kernelsourcedir "$kdir")
dkms add "${dkms_args[@]}" >/dev/null
if ! dkms build "${dkms_args[@]}" > "$scratch/dkms.out" 2>&1; then
    cat "$scratch/dkms.out"
    find "$scratch/dkms" -name make.log -exec cat {} +
    echo "packaging: dkms build failed" >&2
    exit 1
fi
ko=$(find "$scratch/dkms/dm-remap/$version/$kver" -name 'dm-remap.ko*' | head -1)
[ -n "$ko" ] || { echo "packaging: dkms built no dm-remap.ko" >&2; exit 1; }
echo "packaging: dkms built $(basename "$ko") for $kver"

# (depmod warns that a scratch root has no modules.order: expected.)
make -s -C "$repo" install KDIR="$kdir" INSTALL_MOD_PATH="$scratch/root" > "$scratch/install.log" 2>&1 \
    || { cat "$scratch/install.log"; echo "packaging: make install failed" >&2; exit 1; }
find "$scratch/root/lib/modules/$kver" -name 'dm-remap.ko*' | grep -q . \
    || { echo "packaging: make install put no module under INSTALL_MOD_PATH" >&2; exit 1; }
make -s -C "$repo" install-tools DESTDIR="$scratch/root" >/dev/null
for f in usr/sbin/dm-remap usr/sbin/dm-remap-monitor lib/systemd/system/dm-remap-activate.service \
         lib/systemd/system/dm-remap-monitor.service etc/zabbix/zabbix_agentd.d/dm-remap.conf \
         usr/share/doc/dm-remap/zabbix/dm-remap-template.yaml \
         lib/systemd/system/dm-remap-scrub.service lib/systemd/system/dm-remap-scrub.timer \
         lib/systemd/system/dm-remap-events.service \
         lib/udev/rules.d/61-dm-remap.rules etc/dm-remap/devices.conf.example usr/share/doc/dm-remap/dm-remap.rst \
         usr/share/bash-completion/completions/dm-remap usr/share/zsh/vendor-completions/_dm-remap \
         usr/share/fish/vendor_completions.d/dm-remap.fish usr/share/man/man8/dm-remap.8 \
         usr/share/man/man8/dm-remap-scan-start.8 usr/share/man/man8/dm-remap-events.8; do
    [ -e "$scratch/root/$f" ] || { echo "packaging: make install-tools did not install /$f" >&2; exit 1; }
done
# The boot unit's binary is lean: none of the monitoring side's libraries
# (SQLite, HTTP server, Prometheus client, plotting, XML) is linked into it;
# they are in dm-remap-monitor (the first pattern shows the check can see).
grep -aq "SQLite format 3" "$scratch/root/usr/sbin/dm-remap-monitor" \
    || { echo "packaging: no SQLite found in dm-remap-monitor: the leanness check sees nothing" >&2; exit 1; }
for lib in "SQLite format 3" tiny_http prometheus_client plotters quick_xml; do
    if grep -aq "$lib" "$scratch/root/usr/sbin/dm-remap"; then
        echo "packaging: /usr/sbin/dm-remap links $lib: it belongs in dm-remap-monitor" >&2; exit 1
    fi
done
"$scratch/root/usr/sbin/dm-remap-monitor" --help >/dev/null
# One version: the module DKMS built, the tool and dkms.conf.
[ "$(modinfo -F version "$ko")" = "$version" ] \
    || { echo "packaging: the module's version is '$(modinfo -F version "$ko")', dkms.conf's $version" >&2; exit 1; }
[ "$("$scratch/root/usr/sbin/dm-remap" --version | head -1)" = "dm-remap $version" ] \
    || { echo "packaging: dm-remap --version is not $version" >&2; exit 1; }
# Completions parse in their shells; every man page renders without a
# warning (man -l, groff's warnings on).
bash -n "$scratch/root/usr/share/bash-completion/completions/dm-remap" \
    || { echo "packaging: the bash completion does not parse" >&2; exit 1; }
bash -c ". '$scratch/root/usr/share/bash-completion/completions/dm-remap' && complete -p dm-remap" >/dev/null \
    || { echo "packaging: the bash completion registers no completion for dm-remap" >&2; exit 1; }
if command -v zsh >/dev/null; then zsh -n "$scratch/root/usr/share/zsh/vendor-completions/_dm-remap"; fi
if command -v fish >/dev/null; then fish -n "$scratch/root/usr/share/fish/vendor_completions.d/dm-remap.fish"; fi
pages=0
for page in "$scratch"/root/usr/share/man/man8/dm-remap*.8; do
    warn=$(MANWIDTH=80 MAN_KEEP_STDERR=1 man --warnings -l "$page" 2>&1 >/dev/null) \
        || { echo "packaging: man -l $page failed: $warn" >&2; exit 1; }
    [ -z "$warn" ] || { echo "$warn"; echo "packaging: man -l $page warns" >&2; exit 1; }
    pages=$((pages + 1))
done
MANWIDTH=80 man -l "$scratch/root/usr/share/man/man8/dm-remap-scan-start.8" 2>/dev/null | grep -q -- "--all" \
    || { echo "packaging: dm-remap-scan-start(8) does not show --all" >&2; exit 1; }
echo "packaging: $pages man pages render, bash completion parses"
"$scratch/root/usr/sbin/dm-remap" activate --dry-run --config "$scratch/root/etc/dm-remap/devices.conf.example" >/dev/null
# The units, as systemd reads them inside the scratch root (modprobe stands
# in as an empty executable): any warning fails; enabling the boot unit must hook it
# into sysinit.target (a WantedBy=local-fs-pre.target is never pulled in).
install -D -m 0755 /dev/null "$scratch/root/sbin/modprobe"
# The units with default dependencies need systemd's own (sysinit.target,
# timers.target...): the host's, copied under ours without replacing them.
cp -an /lib/systemd/system/. "$scratch/root/lib/systemd/system/" 2>/dev/null || true
for unit in dm-remap-activate.service dm-remap-scrub.service dm-remap-scrub.timer dm-remap-events.service \
            dm-remap-monitor.service; do
    unit=lib/systemd/system/$unit
    verify=$(systemd-analyze verify --man=no --root="$scratch/root" "$scratch/root/$unit" 2>&1) \
        || { echo "$verify"; echo "packaging: systemd-analyze verify failed for /$unit" >&2; exit 1; }
    [ -z "$verify" ] || { echo "$verify"; echo "packaging: systemd-analyze verify warns about /$unit" >&2; exit 1; }
done
grep -q '^ExecStart=/usr/sbin/dm-remap scan start --all$' "$scratch/root/lib/systemd/system/dm-remap-scrub.service" \
    || { echo "packaging: dm-remap-scrub.service does not start the scans" >&2; exit 1; }
systemctl --root="$scratch/root" enable dm-remap-scrub.timer dm-remap-events.service >/dev/null 2>&1
for l in timers.target.wants/dm-remap-scrub.timer multi-user.target.wants/dm-remap-events.service; do
    [ -L "$scratch/root/etc/systemd/system/$l" ] || { echo "packaging: enabling did not create $l" >&2; exit 1; }
done
systemctl --root="$scratch/root" enable dm-remap-activate.service >/dev/null 2>&1
[ -L "$scratch/root/etc/systemd/system/sysinit.target.wants/dm-remap-activate.service" ] \
    || { echo "packaging: enabling dm-remap-activate.service does not hook it into sysinit.target" >&2; exit 1; }
# The monitor's unit is hardened: systemd-analyze security rates its
# exposure, which must stay "OK" or better (at most 3.9).
unit=lib/systemd/system/dm-remap-monitor.service
exposure=$(systemd-analyze security --offline=yes --root="$scratch/root" "$scratch/root/$unit" 2>&1 \
    | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 3.9) }' \
    || { echo "packaging: /$unit exposure ${exposure:-unknown} (systemd-analyze security), above 3.9" >&2; exit 1; }
echo "packaging: dm-remap-monitor.service verified, exposure $exposure"
echo "packaging: make install and make install-tools ok"

[ -n "$skdir" ] || exit 0
# The fresh machine: the module built against the systemd flavour from the
# copy of the tree, make install and make install-tools into one root, and
# that root booted under the host's systemd.
skver=$(cat "$skdir/include/config/kernel.release")
msrc="$scratch/src/dm-remap-$version"
{ make -C "$msrc" KDIR="$skdir" && make -C "$msrc" install KDIR="$skdir" INSTALL_MOD_PATH="$scratch/sroot"; } \
    > "$scratch/smodule.log" 2>&1 \
    || { cat "$scratch/smodule.log"; echo "packaging: the module for the systemd kernel did not build or install" >&2; exit 1; }
make -s -C "$repo" install-tools DESTDIR="$scratch/sroot" >/dev/null
echo "packaging: installed for $skver; booting it under systemd"
python3 "$here/vm/systemd_guest.py" --kernel-dir "$skdir" --root "$scratch/sroot" --out "${DM_REMAP_VM_OUT:-$repo/out/vm}" \
    || { echo "packaging: the installed units failed under systemd (scripts/vm/systemd_guest.py)" >&2; exit 1; }
echo "packaging: the installed units work under systemd"
