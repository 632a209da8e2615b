# `dm-remap activate` brings up the devices of a config file in order; bad
# lines are reported with their line numbers, and the other devices still
# come up. Activating again skips active devices; `deactivate` removes them.
# A same-named device that activate did not make (another uuid) is neither
# counted as active nor removed; names dmsetup would misread (leading '-')
# or too long for the uuid DMREMAP-<name> are refused.
m1=$(mkloop m1 32); s1=$(mkloop s1 8)
m2=$(mkloop m2 32); s2=$(mkloop s2 8)
m3=$(mkloop m3 8); s3=$(mkloop s3 8)
long=$(printf 'n%.0s' $(seq 121))
dmsetup create other --table "0 $(sectors "$m3") linear $m3 0"
cat > /tmp/work/devices.conf <<CONF
# name  main  spare  [policy value ...]
first  $m1  $s1
broken $m1
second $m2  $s2  read_retries 5 spare_warn 50
third  /dev/no-such-disk $s2
fourth $m2  $s2  colour blue
other  $m3  $s3
-dash  $m3  $s3
$long  $m3  $s3
CONF
set +e
dm-remap activate --config /tmp/work/devices.conf > /tmp/work/out 2> /tmp/work/err
rc=$?
set -e
cat /tmp/work/out /tmp/work/err | sed 's/^/  | /'
assert_eq "$rc" 1 "exit status with bad lines"
grep -q "devices.conf:3: expected <name>" /tmp/work/err || fail "line 3 not reported"
grep -q "devices.conf:5: third: /dev/no-such-disk" /tmp/work/err || fail "line 5 not reported"
grep -q "devices.conf:6: Unknown optional argument" /tmp/work/err || fail "line 6 not reported"
grep -q "devices.conf:7: other: a device of that name exists that activate did not create (uuid ''" /tmp/work/err \
    || fail "the same-named linear device was not reported"
assert_eq "$(dmsetup table other | cut -d' ' -f3)" linear "'other' after activate"
grep -q "devices.conf:8: device name '-dash' starts with '-'" /tmp/work/err || fail "line 8 not reported"
grep -q "devices.conf:9: device name '$long' is 121 characters long; at most 120" /tmp/work/err \
    || fail "line 9 not reported"
[ -b /dev/mapper/first ] && [ -b /dev/mapper/second ] || fail "the good devices are not up"
assert_eq "$(dmsetup table second | cut -d' ' -f6-)" "4 read_retries 5 spare_warn 50" "policies of 'second'"
assert_eq "$(dmsetup info -c --noheadings -o uuid first)" "DMREMAP-first" "uuid of 'first'"
assert_eq "$(info_field first health)" ok "'first' is healthy"

# 61-dm-remap.rules gives a device with the uuid DMREMAP-<name> the link
# disk/by-remap/<name>, and adds nothing while the device-mapper rules set
# DM_UDEV_DISABLE_OTHER_RULES_FLAG (as they do while it is suspended).
cp /usr/share/dm-remap/boot/61-dm-remap.rules /lib/udev/rules.d/
trap 'rm -f /lib/udev/rules.d/61-dm-remap.rules' EXIT
sys=/sys/class/block/$(dmsetup info -c --noheadings -o blkdevname first)
udevadm test --action=change "$sys" > /tmp/work/udev 2>&1 || true
grep -q "^DEVLINKS=.*/dev/disk/by-remap/first" /tmp/work/udev || { cat /tmp/work/udev; fail "no by-remap link"; }
dmsetup suspend first
udevadm test --action=change "$sys" > /tmp/work/udev 2>&1 || true
dmsetup resume first
grep -q "^DM_UDEV_DISABLE_OTHER_RULES_FLAG=1" /tmp/work/udev || { cat /tmp/work/udev; fail "the flag is not set while suspended"; }
! grep -q "^DEVLINKS=.*by-remap" /tmp/work/udev || fail "a by-remap link despite DM_UDEV_DISABLE_OTHER_RULES_FLAG"
rm -f /lib/udev/rules.d/61-dm-remap.rules

# Again: nothing changes, the active devices are skipped.
set +e; dm-remap activate --config /tmp/work/devices.conf > /tmp/work/out2 2>/dev/null; set -e
grep -q "first: already active" /tmp/work/out2 || fail "active device not skipped"
! grep -q "other: already active" /tmp/work/out2 || fail "the linear device counted as active"

set +e; dm-remap deactivate --config /tmp/work/devices.conf > /tmp/work/out3 2> /tmp/work/err3; rc=$?; set -e
assert_eq "$rc" 1 "exit status of deactivate that left a device alone"
! dmsetup info first >/dev/null 2>&1 && ! dmsetup info second >/dev/null 2>&1 || fail "deactivate left devices"
assert_eq "$(dmsetup table other | cut -d' ' -f3)" linear "'other' after deactivate"
grep -q "other: left alone" /tmp/work/err3 || fail "deactivate did not say it left 'other' alone"
dmsetup remove other
set +e; dm-remap activate --config /tmp/work/missing.conf 2>/dev/null; rc=$?; set -e
assert_eq "$rc" 2 "exit status without a config file"
