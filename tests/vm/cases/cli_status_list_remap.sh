# The CLI's status (table, json, csv, xml), list and remap agree with
# dmsetup and sysfs; an unknown device is a clear error with exit status 2.
m1=$(mkloop m1 32); s1=$(mkloop s1 8)
m2=$(mkloop m2 32); s2=$(mkloop s2 8)
remap_create a "$m1" "$s1" >/dev/null
remap_create b "$m2" "$s2" >/dev/null
assert_eq "$(dm-remap remap a 100 8)" "remapped 8 lost 0" "remap through the CLI"
assert_eq "$(dm-remap list a)" "$(dmsetup message a 0 list_remaps)" "list through the CLI"

dm-remap status --format csv > /tmp/work/all.csv
assert_eq "$(wc -l < /tmp/work/all.csv)" 3 "csv lines (header and two devices)"
# Column n of the CSV row for device a, by header name.
col() { awk -F, -v k="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == k) c = i } $1 == "a" { print $c }' /tmp/work/all.csv; }
assert_eq "$(col remaps)" "$(info_field a remaps)" "remaps in csv"
assert_eq "$(col remaps)" "$(cat /sys/kernel/dm_remap/a/remaps)" "remaps in csv and sysfs"
assert_eq "$(col uuid)" "$(cat /sys/kernel/dm_remap/a/uuid)" "uuid in csv and sysfs"
assert_eq "$(col health)" "$(info_field a health)" "health in csv"
assert_eq "$(col generation)" "$(info_field a generation)" "generation in csv"
dm-remap status a --format json | grep '"name": "a"' >/dev/null || fail "json status of a"
dm-remap status b --format xml | grep '<name>b</name>' >/dev/null || fail "xml status of b"
dm-remap status | awk 'NR > 1 { print $1 }' | tr '\n' ' ' | grep -qx 'a b ' || fail "table status: $(dm-remap status)"

set +e
dm-remap status nosuch > /dev/null 2> /tmp/work/err; rc=$?
set -e
assert_eq "$rc" 2 "exit status for an unknown device"
grep -q "^dm-remap: nosuch:" /tmp/work/err || fail "error for an unknown device: $(cat /tmp/work/err)"
dmsetup create lin --table "0 1024 linear $m2 0"
set +e; dm-remap status lin > /dev/null 2> /tmp/work/err; rc=$?; set -e
assert_eq "$rc" 2 "exit status for a non-remap device"
note "status, list, remap agree with dmsetup and sysfs; bad devices refused"

# badblocks(8) lists: import seeds remaps, export gives them back.
printf '# badblocks -b 4096\n100\n101\n500\n' > /tmp/work/bb
dm-remap badblocks import b /tmp/work/bb --block-size 4096 | grep "imported 2 run" >/dev/null || fail "badblocks import"
assert_eq "$(dm-remap badblocks export b --block-size 4096 | tr '\n' ' ')" "100 101 500 " "badblocks export"
assert_eq "$(info_field b remaps)" 24 "blocks remapped by the import (3 x 8 sectors)"
set +e; echo "12x" | dm-remap badblocks import b - 2>/tmp/work/err; rc=$?; set -e
assert_eq "$rc" 2 "exit status for a bad list"
grep -q "line 1" /tmp/work/err || fail "bad list error: $(cat /tmp/work/err)"

# Monitoring outputs, from dm-remap-monitor; the boot tool names it for
# its old commands and exits 2 (usage).
set +e; dm-remap nagios a >/dev/null 2>/tmp/work/err; rc=$?; set -e
assert_eq "$rc" 2 "exit status of a monitoring command in the boot tool"
grep -q "run 'dm-remap-monitor nagios'" /tmp/work/err || fail "moved-command hint: $(cat /tmp/work/err)"
set +e; out=$(dm-remap-monitor nagios a); rc=$?; set -e
assert_eq "$rc" 0 "nagios exit status for a healthy device"
case "$out" in "DM-REMAP OK - a ok (8 remapped, 0 pending,"*) ;; *) fail "nagios output: $out" ;; esac
set +e; dm-remap-monitor nagios nosuch >/dev/null; rc=$?; set -e
assert_eq "$rc" 3 "nagios exit status for an unknown device"
dm-remap-monitor zabbix-discovery | grep >/dev/null '"{#DMREMAP}":"b"' || fail "zabbix discovery: $(dm-remap-monitor zabbix-discovery)"
# No smartmontools in the guest: health says SMART is unavailable and
# still reports the device (exit 0).
set +e; dm-remap-monitor health a >/tmp/work/out 2>/tmp/work/err; rc=$?; set -e
assert_eq "$rc" 0 "health exit status without smartctl"
grep -q "SMART unavailable: smartctl not found" /tmp/work/out || fail "health without smartctl: $(cat /tmp/work/out /tmp/work/err)"
grep -q "^a " /tmp/work/out || fail "health does not show the device: $(cat /tmp/work/out)"
dm-remap-monitor watch a --interval 1 --count 2 | grep -c '^a ' | grep -qx 2 || fail "watch did not draw twice"

# The monitor samples the live devices into its history; report renders it.
dm-remap-monitor monitor --db /tmp/work/h.sqlite --interval 1 --samples 2 --listen '' 2>/tmp/work/mon.err \
    || fail "monitor: $(cat /tmp/work/mon.err)"
dm-remap-monitor report --db /tmp/work/h.sqlite --out /tmp/work/r.html >/dev/null
[ "$(grep -o "<h2>[ab]</h2>" /tmp/work/r.html | wc -l)" = 2 ] || fail "report does not show both devices"
grep "<svg" /tmp/work/r.html >/dev/null || fail "report has no charts"

# After faults, the CLI, sysfs and dmsetup still agree.
dm3=$(mkdust dust 16); s3=$(mkloop s3 8)
devc=$(remap_create c "$dm3" "$s3")
dmsetup message dust 0 addbadblock 64 255      # fails writes: remapped
dmsetup message dust 0 addbadblock 128         # fails reads: pending
dd if=/dev/zero of="$devc" bs=512 seek=64 count=1 oflag=direct status=none
! dd if="$devc" of=/dev/null bs=512 skip=128 count=1 iflag=direct status=none 2>/dev/null || fail "bad read succeeded"
dm-remap status c --format csv > /tmp/work/c.csv
ccol() { awk -F, -v k="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == k) c = i } NR == 2 { print $c }' /tmp/work/c.csv; }
for f in auto_remaps pending unrecovered_errors remaps health; do
    assert_eq "$(ccol $f)" "$(cat /sys/kernel/dm_remap/c/$f)" "$f in CLI and sysfs after faults"
done
assert_eq "$(ccol auto_remaps) $(ccol pending) $(ccol unrecovered_errors)" "1 1 1" "fault counts"
assert_eq "$(cat /sys/kernel/dm_remap/c/read_errors) $(cat /sys/kernel/dm_remap/c/write_errors)" "1 1" "read and write errors"
assert_eq "$(ccol errors)" "$(info_field c errors)" "errors in CLI and dmsetup"
set +e; dm-remap-monitor nagios c >/dev/null; rc=$?; set -e
assert_eq "$rc" 1 "nagios state with a pending block (WARNING)"
