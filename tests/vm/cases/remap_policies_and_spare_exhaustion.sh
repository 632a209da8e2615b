# auto_remap off returns write errors to the caller and remaps nothing; the
# policy shows in the table line and status and can be set by message. When
# the spare pool runs out, writes to new bad blocks fail, health turns
# spare_exhausted, and a device-mapper event is raised; on the way, health
# follows the spare_warn and spare_crit levels.
main=$(mkdust dust 32)
spare=$(mkloop spare 48K)   # 96 sectors: a handful of pool blocks
dmsetup create r --table "0 $(sectors "$main") remap $main $spare 2 auto_remap off" || fail "create"
dev=$(mapper r)
assert_eq "$(dmsetup table r | cut -d' ' -f6-)" "2 auto_remap off" "policy in the table line"
assert_eq "$(info_field r auto_remap)" off "policy in status"
dmsetup message dust 0 addbadblock 40 255
dd if=/dev/zero of="$dev" bs=512 seek=40 count=1 oflag=direct status=none 2>/dev/null \
    && fail "a failed write succeeded with auto_remap off"
assert_eq "$(info_field r remaps)" 0 "remaps with auto_remap off"
note "auto_remap off: write error returned, nothing remapped"

dmsetup message r 0 set auto_remap on
assert_eq "$(dmsetup table r | cut -d' ' -f6-)" "" "default policies are not in the table line"
expect_message_refused r "Invalid argument" set auto_remap maybe
expect_message_refused r "Invalid argument" set read_retries 99
expect_message_refused r "Invalid argument" set colour blue

dmsetup message r 0 set spare_warn 25
dmsetup message r 0 set spare_crit 50
assert_eq "$(dmsetup table r | cut -d' ' -f6-)" "4 spare_warn 25 spare_crit 50" "changed policies in the table line"
assert_eq "$(info_field r spare_warn) $(info_field r spare_crit)" "25 50" "spare levels in status"

total=$(info_field r spare_total)
event_before=$(dmsetup info -c --noheadings -o events r)
for i in $(seq 1 "$total"); do dmsetup message dust 0 addbadblock $((1000 + i * 8)) 255; done
for i in $(seq 1 "$total"); do
    dd if=/dev/zero of="$dev" bs=512 seek=$((1000 + i * 8)) count=1 oflag=direct status=none \
        || fail "write $i of $total failed while the spare had room"
    used=$(info_field r spare_used)
    want=ok
    [ $((used * 100)) -ge $((total * 25)) ] && want=degraded
    [ $((used * 100)) -ge $((total * 50)) ] && want=failing
    [ "$used" -ge "$total" ] && want=spare_exhausted
    assert_eq "$(info_field r health)" "$want" "health with $used of $total spare blocks used"
done
dmsetup message dust 0 addbadblock 5000 255
dd if=/dev/zero of="$dev" bs=512 seek=5000 count=1 oflag=direct status=none 2>/dev/null \
    && fail "a write to a new bad block succeeded with the spare full"
[ "$(dmsetup info -c --noheadings -o events r)" -gt "$event_before" ] || fail "no dm event on the health change"
note "$total spare blocks used up: health spare_exhausted, event raised, the next bad write fails"
