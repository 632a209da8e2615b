#!/bin/bash
# Guest test runner: loads dm-remap, runs each selected case in a fresh state
# and reports on /dev/ttyS1 (the kernel log goes to ttyS0):
#   ### BEGIN <name>
#   ### RESULT <name> PASS|FAIL <rc> <seconds>
#   ### DONE
set -a; . /etc/dm-remap-run.sh; set +a
exec 3>/dev/ttyS1
report() { echo "$*" >&3; }
kmsg() { echo "dm-remap-test: $*" > /dev/kmsg; }

# Leaves no mount under /mnt, device-mapper device, loop device or scratch
# file behind.
reset_state() {
    awk '$2 ~ "^/mnt/" { print $2 }' /proc/mounts | while read -r m; do umount -l "$m"; done
    dmsetup remove_all --force >/dev/null 2>&1
    losetup -D 2>/dev/null
    rm -rf /tmp/work && mkdir -p /tmp/work
}

# What a clean state is; prints what is wrong with this one.
state_problems() {
    local devs loops
    devs=$(dmsetup ls 2>/dev/null | grep -v '^No devices found')
    [ -z "$devs" ] || echo "device-mapper devices left: $devs"
    loops=$(losetup -a)
    [ -z "$loops" ] || echo "loop devices left: $loops"
    [ -d /sys/module/dm_remap ] || echo "dm_remap module not loaded"
}

if ! insmod /lib/modules/dm-remap.ko; then
    report "### FATAL insmod dm-remap.ko failed"
fi
reset_state
for t in $TESTS; do
    case $MODE in
        demo|bench) script=/tests/$MODE.sh ;;
        *) script=/tests/cases/$t.sh ;;
    esac
    report "### BEGIN $t"
    kmsg "BEGIN $t"
    start=$(date +%s)
    (cd /tmp/work && timeout -s KILL "$TEST_TIMEOUT" bash -c '. /tests/lib.sh; set -eo pipefail; . "$0"' "$script") >&3 2>&1
    rc=$?
    [ "$rc" = 137 ] && report "test killed after ${TEST_TIMEOUT}s"
    reset_state
    problems=$(state_problems)
    if [ -n "$problems" ]; then
        report "$problems"
        [ "$rc" = 0 ] && rc=99
    fi
    kmsg "END $t rc=$rc"
    status=PASS; [ "$rc" = 0 ] || status=FAIL
    report "### RESULT $t $status $rc $(( $(date +%s) - start ))"
done
# Debug kernels: ask kmemleak about objects allocated by dm-remap.
if mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || [ -e /sys/kernel/debug/kmemleak ]; then
    if [ -e /sys/kernel/debug/kmemleak ]; then
        echo scan > /sys/kernel/debug/kmemleak; sleep 6; echo scan > /sys/kernel/debug/kmemleak
        if grep -q dm_remap /sys/kernel/debug/kmemleak; then
            echo "dm-remap-leak: kmemleak reports objects allocated by dm_remap" > /dev/kmsg
            grep -B2 -A20 dm_remap /sys/kernel/debug/kmemleak | head -60 > /dev/kmsg
        fi
        report "kmemleak: scanned"
    fi
fi
report "### DONE"
