# After the reboot: the same disks give back the same table, UUID and data.
main=/dev/vda spare=/dev/vdb state=/dev/vdc
tar xf "$state" -C /tmp/work || fail "no state from before the reboot on $state"
dev=$(remap_create r "$main" "$spare")
assert_eq "$(dmsetup message r 0 list_remaps)" "$(cat /tmp/work/list)" "remap list after reboot"
assert_eq "$(info_field r uuid)" "$(cat /tmp/work/uuid)" "spare uuid after reboot"
fio --name=reboot --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 --rw=randwrite --bs=4k \
    --size=60M --verify=crc32c --randseed=7 --verify_only --verify_state_load=1 --eta=never \
    --output=/tmp/work/fio.out || { cat /tmp/work/fio.out; fail "fio verify_only after reboot failed"; }
grep -q "err= 0" /tmp/work/fio.out || { cat /tmp/work/fio.out; fail "fio verify errors after reboot"; }
note "table, uuid and fio-verified data all back after the reboot"
