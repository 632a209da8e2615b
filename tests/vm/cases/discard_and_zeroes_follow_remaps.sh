# Discard and write-zeroes over a range that mixes remapped and unremapped
# blocks reach both devices at the right places: the remapped part on the
# spare, the rest on main, nothing outside the range.
main=$(mkloop main 32)
spare=$(mkloop spare 8)
dev=$(remap_create r "$main" "$spare")
dd if=/dev/urandom of="$dev" bs=512 count=4096 oflag=direct status=none
dmsetup message r 0 remap 1000 24 >/dev/null
dd if=/dev/urandom of="$dev" bs=512 seek=1000 count=24 oflag=direct status=none
dd if="$dev" of=/tmp/work/before bs=512 count=4096 iflag=direct status=none
set -- $(dmsetup message r 0 list_remaps)
spare_block=$2

check_range_zeroed() {   # <what> : sectors 990..1033 read as zeros, the rest unchanged
    dd if="$dev" of=/tmp/work/after bs=512 count=4096 iflag=direct status=none
    cmp -s -n $((990 * 512)) /tmp/work/before /tmp/work/after || fail "$1 changed data before the range"
    cmp -s -i $((1034 * 512)) /tmp/work/before /tmp/work/after || fail "$1 changed data after the range"
    dd if=/tmp/work/after of=/tmp/work/mid bs=512 skip=990 count=44 status=none
    cmp -s -n $((44 * 512)) /tmp/work/mid /dev/zero || fail "$1 left data in the range"
    dd if="$spare" of=/tmp/work/spare_part bs=512 skip="$spare_block" count=24 iflag=direct status=none
    cmp -s -n $((24 * 512)) /tmp/work/spare_part /dev/zero || fail "$1 did not reach the spare blocks"
}
blkdiscard -o $((990 * 512)) -l $((44 * 512)) "$dev"
check_range_zeroed discard

dd if=/dev/urandom of="$dev" bs=512 seek=990 count=44 oflag=direct status=none
dd if="$dev" of=/tmp/work/before bs=512 count=4096 iflag=direct status=none
blkdiscard -z -o $((990 * 512)) -l $((44 * 512)) "$dev"
check_range_zeroed write-zeroes

# Flushes reach both devices: a synced write lands and reads back.
dd if=/dev/urandom of=/tmp/work/f bs=512 count=8 status=none
dd if=/tmp/work/f of="$dev" bs=512 seek=1004 conv=fsync oflag=sync status=none
dd if="$spare" of=/tmp/work/f.spare bs=512 skip=$((spare_block + 4)) count=8 iflag=direct status=none
cmp /tmp/work/f /tmp/work/f.spare || fail "synced write is not on the spare"
