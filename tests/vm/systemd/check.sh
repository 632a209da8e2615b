#!/bin/bash
# The systemd guest's checks (scripts/vm/systemd_guest.py), run by
# dm-remap-vm-check.service under the host's systemd as PID 1, after a boot
# with what `make install` and `make install-tools` installed, the config
# /etc/dm-remap/devices.conf (data0 over the blank disks /dev/vda and
# /dev/vdb, spare_warn 25 spare_crit 50) and the units enabled as an admin
# would. Each check reports "### RESULT <name> PASS|FAIL <rc> <seconds>" on
# the second serial port (run.py's protocol); the guest reboots at the end,
# which ends QEMU.
set -u
exec 3>/dev/ttyS1
export SYSTEMD_PAGER= SYSTEMD_COLORS=0 PATH=/usr/sbin:/usr/bin

note() { echo "  $*"; echo "  $*" >&3; }
fail() { echo "FAIL: $*" >&2; echo "  FAIL: $*" >&3; exit 1; }
assert_eq() { [ "$1" = "$2" ] || fail "$3: '$1', expected '$2'"; }
# wait_for <seconds> <command...>: polls every half second.
wait_for() {
    local n=$(( $1 * 2 )); shift
    for _ in $(seq "$n"); do "$@" && return 0; sleep 0.5; done
    return 1
}
check() {
    local name=$1 started=$SECONDS rc; shift
    echo "### START $name" >&3
    ( set -eu; "$1" ); rc=$?
    local status=PASS; [ "$rc" = 0 ] || status=FAIL
    echo "### RESULT $name $status $rc $((SECONDS - started))" >&3
}
field() { dm-remap status --field "$2" "$1"; }
mono() { systemctl show -p "$2" --value "$1"; }

# The boot unit: data0 of the config is up, from the module the unit loaded,
# before local-fs-pre.target; udev gave it its by-remap link and hid the
# main disk.
boot_activation() {
    state=$(systemctl is-system-running --wait || true)
    note "boot finished: system $state after $(awk '{print int($1)}' /proc/uptime)s"
    assert_eq "$(systemctl is-enabled dm-remap-activate.service)" enabled "dm-remap-activate.service enabled"
    assert_eq "$(systemctl is-active dm-remap-activate.service)" active "dm-remap-activate.service"
    [ -d /sys/module/dm_remap ] || fail "the dm-remap module is not loaded"
    [ -b /dev/mapper/data0 ] || fail "no /dev/mapper/data0"
    disks="$(cat /sys/class/block/vda/dev) $(cat /sys/class/block/vdb/dev)"
    assert_eq "$(dmsetup table data0 | cut -d' ' -f3-5)" "remap $disks" "data0's table"
    assert_eq "$(dmsetup info -c --noheadings -o uuid data0)" DMREMAP-data0 "data0's uuid"
    assert_eq "$(field data0 health)" ok "data0's health"
    done_at=$(mono dm-remap-activate.service ExecMainExitTimestampMonotonic)
    fs_pre=$(mono local-fs-pre.target ActiveEnterTimestampMonotonic)
    [ "$done_at" -gt 0 ] && [ "$done_at" -le "$fs_pre" ] \
        || fail "activation finished at ${done_at}us, local-fs-pre.target reached at ${fs_pre}us"
    note "data0 up at $((done_at / 1000)) ms, before local-fs-pre.target ($((fs_pre / 1000)) ms)"
    if [ "$(systemctl is-active systemd-udevd.service)" = active ]; then
        wait_for 30 test -L /dev/disk/by-remap/data0 || fail "no /dev/disk/by-remap/data0"
        udevadm info /dev/vda > /tmp/vda.udev
        grep -qx "E: DM_REMAP_MAIN=1" /tmp/vda.udev || fail "/dev/vda not recognised as a main disk: $(cat /tmp/vda.udev)"
        grep -qx "E: SYSTEMD_READY=0" /tmp/vda.udev || fail "/dev/vda not hidden (SYSTEMD_READY)"
        note "systemd-udevd: /dev/disk/by-remap/data0 -> $(readlink /dev/disk/by-remap/data0), /dev/vda hidden"
    else
        fail "systemd-udevd is not running"
    fi
}

# The monitor runs as a dynamic user with CAP_SYS_ADMIN and CAP_DAC_OVERRIDE
# only, no new privileges, a seccomp filter; it serves data0 on /metrics.
monitor_service() {
    assert_eq "$(systemctl is-active dm-remap-monitor.service)" active "dm-remap-monitor.service"
    pid=$(systemctl show -p MainPID --value dm-remap-monitor.service)
    [ "$pid" -gt 0 ] || fail "no main pid"
    st=/proc/$pid/status
    uid=$(awk '/^Uid:/ {print $2}' "$st")
    [ "$uid" != 0 ] || fail "the monitor runs as root"
    assert_eq "$(awk '/^CapEff:/ {print $2}' "$st")" 0000000000200002 "effective capabilities (SYS_ADMIN, DAC_OVERRIDE)"
    assert_eq "$(awk '/^CapBnd:/ {print $2}' "$st")" 0000000000200002 "bounding set"
    assert_eq "$(awk '/^NoNewPrivs:/ {print $2}' "$st")" 1 "NoNewPrivs"
    assert_eq "$(awk '/^Seccomp:/ {print $2}' "$st")" 2 "seccomp filter mode"
    user=$(getent passwd "$uid" | cut -d: -f1 || true)
    note "dm-remap-monitor: pid $pid, uid $uid (${user:-no name}), CapEff 0x200002, NoNewPrivs, seccomp filter"
    # /metrics over HTTP (bash's /dev/tcp), once the first sample is in.
    get() {
        exec 5<>/dev/tcp/127.0.0.1/9377 || return 1
        printf 'GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n' >&5
        cat <&5 > /tmp/metrics
        exec 5<&-
        grep -q 'dm_remap_health{device="data0",state="ok"} 1' /tmp/metrics
    }
    wait_for 60 get 2>/dev/null || fail "no data0 on http://127.0.0.1:9377/metrics; the unit's log:
$(journalctl -b -u dm-remap-monitor.service -o cat | tail -n 8)"
    head -1 /tmp/metrics | grep -q "^HTTP/1.[01] 200" || fail "status line: $(head -1 /tmp/metrics)"
    grep -qi '^content-type: text/plain; version=0.0.4' /tmp/metrics || fail "content type: $(grep -i ^content-type /tmp/metrics)"
    grep -q "^dm_remap_info{device=\"data0\",main=\"$(cat /sys/class/block/vda/dev)\",spare=\"$(cat /sys/class/block/vdb/dev)\"," \
        /tmp/metrics || fail "info series: $(grep dm_remap_info /tmp/metrics)"
    [ -f /var/lib/private/dm-remap-monitor/history.sqlite ] || fail "no history in the state directory"
    note "metrics over HTTP: $(grep -c '^dm_remap_' /tmp/metrics) series, data0 healthy; history in /var/lib/private/dm-remap-monitor"
}

# The scrub timer is enabled and waiting; its service starts data0's scan,
# which runs to its end.
scrub() {
    assert_eq "$(systemctl is-enabled dm-remap-scrub.timer)" enabled "dm-remap-scrub.timer enabled"
    assert_eq "$(systemctl is-active dm-remap-scrub.timer)" active "dm-remap-scrub.timer"
    systemctl list-timers --all --no-legend dm-remap-scrub.timer > /tmp/timers
    grep -q "dm-remap-scrub.timer *dm-remap-scrub.service" /tmp/timers || fail "list-timers: $(cat /tmp/timers)"
    note "timer: $(tr -s ' ' < /tmp/timers)"
    systemctl start dm-remap-scrub.service || fail "systemctl start dm-remap-scrub.service"
    assert_eq "$(systemctl show -p Result --value dm-remap-scrub.service)" success "the scrub service's result"
    journalctl -b -u dm-remap-scrub.service -o cat | grep -q "^data0: scan started" \
        || fail "no 'scan started' in the journal: $(journalctl -b -u dm-remap-scrub.service -o cat)"
    scan_done() { [ "$(dm-remap scan status data0 | cut -d' ' -f1)" = done ]; }
    wait_for 120 scan_done || fail "the scan did not finish: $(dm-remap scan status data0)"
    note "scan: $(dm-remap scan status data0)"
}

# A remap that changes data0's health reaches the journal through
# dm-remap-events.service, with the warning priority.
events() {
    assert_eq "$(systemctl is-active dm-remap-events.service)" active "dm-remap-events.service"
    wait_for 30 sh -c 'journalctl -b -u dm-remap-events.service -o cat | grep -q "watching the health"' \
        || fail "events does not watch: $(journalctl -b -u dm-remap-events.service -o cat)"
    total=$(field data0 spare_total)
    for i in $(seq 1 "$total"); do
        dm-remap remap data0 $((i * 64)) 1 >/dev/null
        [ "$(field data0 health)" = ok ] || break
    done
    assert_eq "$(field data0 health)" degraded "health after $i remap(s) of $total spare blocks"
    line() { journalctl -b -u dm-remap-events.service -p warning -o cat | grep "^dm-remap: data0: health degraded (was ok"; }
    wait_for 30 line >/dev/null || fail "no health change in the journal: $(journalctl -b -u dm-remap-events.service -o cat)"
    note "journal (priority warning): $(line)"
}

# Nothing failed, PID 1 had nothing to say about dm-remap's units, and no
# service logged an error.
clean_journal() {
    failed=$(systemctl --failed --no-legend --plain)
    [ -z "$failed" ] || fail "failed units: $failed"
    assert_eq "$(systemctl is-system-running)" running "system state"
    journalctl -b _PID=1 -p warning -o cat | grep -i "dm-remap" > /tmp/pid1 || true
    [ ! -s /tmp/pid1 ] || fail "systemd warns about dm-remap's units: $(cat /tmp/pid1)"
    journalctl -b -p err -o short-monotonic | grep -v -e ' kernel: ' -e '^-- ' > /tmp/errors || true
    [ ! -s /tmp/errors ] || fail "errors in the journal: $(cat /tmp/errors)"
    note "no failed unit; no error in the journal; no warning from systemd about dm-remap's units"
}

check boot_activation boot_activation
check monitor_service monitor_service
check scrub scrub
check events events
check clean_journal clean_journal
echo "### DONE" >&3
journalctl -b -p warning -o short-monotonic --no-pager | sed 's/^/journal: /' | tail -n 80
sync
# The kernel has no ACPI to power off with: a reboot ends QEMU (-no-reboot).
systemctl --no-block reboot
