# With a 4K-sector main device the remap unit is 4 KiB: the target advertises
# 4096-byte logical blocks, a one-sector remap moves the whole 4K block, and
# data reads back through it.
main=$(mkloop main 32 4096)
spare=$(mkloop spare 8)
dev=$(remap_create r "$main" "$spare")
assert_eq "$(blockdev --getss "$dev")" 4096 "logical block size of the target"
assert_eq "$(info_field r block_bytes)" 4096 "block size in status"
assert_eq "$(info_field r spare_total)" 2008 "spare pool blocks (8 MiB less two 160-sector metadata regions, in 4K blocks)"
dd if=/dev/urandom of=/tmp/work/p bs=4096 count=4 status=none
dd if=/tmp/work/p of="$dev" bs=4096 seek=10 oflag=direct status=none
assert_eq "$(dmsetup message r 0 remap 85)" "remapped 1 lost 0" "one sector remaps its 4K block"
set -- $(dmsetup message r 0 list_remaps)
assert_eq "$1 $3" "10 1" "listed 4K block"
dd if="$dev" of=/tmp/work/p.back bs=4096 skip=10 count=4 iflag=direct status=none
cmp /tmp/work/p /tmp/work/p.back || fail "data through 4K remap differs"
dd if="$spare" of=/tmp/work/p.spare bs=4096 skip="$2" count=1 iflag=direct status=none
dd if=/tmp/work/p of=/tmp/work/p.first bs=4096 count=1 status=none
cmp /tmp/work/p.first /tmp/work/p.spare || fail "4K block not copied to spare block $2"
