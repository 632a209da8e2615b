# Remapping a block that main cannot read zero-fills its spare block, names it
# in the result and lists it as lost; its neighbours keep their data.
loop=$(mkloop main 32)
spare=$(mkloop spare 8)
dmsetup create dust --table "0 $(sectors "$loop") dust $loop 0 512"
main=$(mapper dust)
dev=$(remap_create r "$main" "$spare")
dd if=/dev/urandom of=/tmp/work/a bs=512 count=16 status=none
dd if=/tmp/work/a of="$dev" bs=512 seek=1000 oflag=direct status=none
dmsetup message dust 0 addbadblock 1005
dmsetup message dust 0 enable
dd if="$main" of=/dev/null bs=512 skip=1005 count=1 iflag=direct status=none 2>/dev/null \
    && fail "dm-dust did not fail the read of block 1005"

out=$(dmsetup message r 0 remap 1000 16)
assert_eq "$out" "remapped 16 lost 1
lost 1005 1" "remap result naming the lost block"
assert_eq "$(dmsetup message r 0 list_remaps | awk '{ print $1, $3, $4 }' | tr '\n' ,)" \
    "1000 5 ok,1005 1 lost,1006 10 ok," "extents by state"

dd if="$dev" of=/tmp/work/a.back bs=512 skip=1000 count=16 iflag=direct status=none
cmp -n $((5 * 512)) /tmp/work/a /tmp/work/a.back || fail "blocks before the lost one changed"
cmp -i $((6 * 512)) /tmp/work/a /tmp/work/a.back || fail "blocks after the lost one changed"
dd if=/tmp/work/a.back of=/tmp/work/lost bs=512 skip=5 count=1 status=none
cmp -s -n 512 /tmp/work/lost /dev/zero || fail "the lost block does not read as zeros"
# Writing the lost block makes it whole again on the spare.
dd if=/dev/urandom of=/tmp/work/n bs=512 count=1 status=none
dd if=/tmp/work/n of="$dev" bs=512 seek=1005 oflag=direct status=none
dd if="$dev" of=/tmp/work/n.back bs=512 skip=1005 count=1 iflag=direct status=none
cmp /tmp/work/n /tmp/work/n.back || fail "write to the lost block did not read back"
