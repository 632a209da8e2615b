# Writes that fail on the main device (dm-dust bad blocks that fail every
# write) are retried block by block, the failing blocks remapped and their
# data written to the spare: fio sees no error and verifies every byte, the
# data is on the spare, and it is all still there after remove and recreate.
main=$(mkdust dust 64)
spare=$(mkloop spare 16)
dev=$(remap_create r "$main" "$spare")
bad="8 4096 12296 20000 33000 50000 65536 77776 90008 98296"
for b in $bad; do dmsetup message dust 0 addbadblock "$b" 255; done
dd if=/dev/zero of="$main" bs=512 seek=4096 count=1 oflag=direct status=none 2>/dev/null \
    && fail "dm-dust did not fail a write to bad block 4096"

fio=(--name=werr --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 --rw=randwrite --bs=4k
     --size=56M --verify=crc32c --randseed=11 --eta=never)
fio "${fio[@]}" --do_verify=1 --verify_fatal=1 --verify_state_save=1 --output=/tmp/work/fio.out \
    || { cat /tmp/work/fio.out; fail "fio saw errors through the target"; }
grep -q "err= 0" /tmp/work/fio.out || { cat /tmp/work/fio.out; fail "fio reported errors"; }
assert_eq "$(info_field r auto_remaps)" 10 "blocks remapped automatically"
assert_eq "$(info_field r unrecovered)" 0 "errors returned to callers"
assert_eq "$(info_field r health)" ok "health"
for b in $bad; do
    set -- $(dmsetup message r 0 list_remaps "$b" 1 | head -1)
    assert_eq "$1 $3 $4" "$b 1 ok" "remap of bad block $b"
    dd if="$dev" bs=512 skip="$b" count=1 iflag=direct status=none > /tmp/work/via_target
    dd if="$spare" bs=512 skip="$2" count=1 iflag=direct status=none > /tmp/work/on_spare
    cmp -s /tmp/work/via_target /tmp/work/on_spare || fail "block $b is not on spare block $2"
done
note "10 bad blocks written by fio: all remapped, fio verify clean, data on the spare"

dmsetup remove r
dev=$(remap_create r "$main" "$spare")
fio "${fio[@]}" --verify_only --verify_state_load=1 --output=/tmp/work/verify.out \
    || { cat /tmp/work/verify.out; fail "fio verify_only after recreate failed"; }
note "after remove and recreate: fio verify_only clean"
