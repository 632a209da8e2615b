# `dm-remap activate` brings up the devices of a config file in order; bad
# lines are reported with their line numbers, and the other devices still
# come up. Activating again skips active devices; `deactivate` removes them.
m1=$(mkloop m1 32); s1=$(mkloop s1 8)
m2=$(mkloop m2 32); s2=$(mkloop s2 8)
cat > /tmp/work/devices.conf <<CONF
# name  main  spare  [policy value ...]
first  $m1  $s1
broken $m1
second $m2  $s2  read_retries 5 spare_warn 50
third  /dev/no-such-disk $s2
fourth $m2  $s2  colour blue
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
[ -b /dev/mapper/first ] && [ -b /dev/mapper/second ] || fail "the good devices are not up"
assert_eq "$(dmsetup table second | cut -d' ' -f6-)" "4 read_retries 5 spare_warn 50" "policies of 'second'"
assert_eq "$(dmsetup info -c --noheadings -o uuid first)" "DMREMAP-first" "uuid of 'first'"
assert_eq "$(info_field first health)" ok "'first' is healthy"

# Again: nothing changes, the active devices are skipped.
set +e; dm-remap activate --config /tmp/work/devices.conf > /tmp/work/out2 2>/dev/null; set -e
grep -q "first: already active" /tmp/work/out2 || fail "active device not skipped"

dm-remap deactivate --config /tmp/work/devices.conf > /tmp/work/out3
! dmsetup info first >/dev/null 2>&1 && ! dmsetup info second >/dev/null 2>&1 || fail "deactivate left devices"
set +e; dm-remap activate --config /tmp/work/missing.conf 2>/dev/null; rc=$?; set -e
assert_eq "$rc" 2 "exit status without a config file"
