# A manual remap copies the block's data to the spare; later writes land on the
# spare at the listed location and never on main; reads return them.
main=$(mkloop main 64)
spare=$(mkloop spare 16)
dev=$(remap_create r "$main" "$spare")

dd if=/dev/urandom of=/tmp/work/a bs=512 count=24 status=none
dd if=/tmp/work/a of="$dev" bs=512 seek=1000 oflag=direct status=none
out=$(dmsetup message r 0 remap 1004 16)
assert_eq "$out" "remapped 16 lost 0" "remap result"
assert_eq "$(info_field r remaps)" 16 "remaps in status"
assert_eq "$(info_field r spare_used)" 16 "spare blocks used in status"

# The copy kept the data: all 24 sectors read back through the target.
dd if="$dev" of=/tmp/work/a.back bs=512 skip=1000 count=24 iflag=direct status=none
cmp /tmp/work/a /tmp/work/a.back || fail "data changed by the remap"

set -- $(dmsetup message r 0 list_remaps)
assert_eq "$1 $3 $4" "1004 16 ok" "listed extent (main, length, state)"
spare_block=$2
# The pool follows metadata region A: 8 * (2 + 2 * ceil(N / 252)) sectors
# for a spare of N blocks (Documentation/dm-remap.rst); the first block
# allocated is the pool's first.
n=$(sectors "$spare")
assert_eq "$spare_block" $(( 8 * (2 + 2 * ((n + 251) / 252)) )) "first allocated spare block"

# New data through the target goes to the spare, not to main.
dd if=/dev/urandom of=/tmp/work/b bs=512 count=16 status=none
dd if=/tmp/work/b of="$dev" bs=512 seek=1004 oflag=direct status=none
dd if="$dev" of=/tmp/work/b.back bs=512 skip=1004 count=16 iflag=direct status=none
cmp /tmp/work/b /tmp/work/b.back || fail "remapped blocks read back wrong"
dd if="$spare" of=/tmp/work/b.spare bs=512 skip="$spare_block" count=16 iflag=direct status=none
cmp /tmp/work/b /tmp/work/b.spare || fail "data is not on the spare at block $spare_block"
dd if="$main" of=/tmp/work/a.main bs=512 skip=1004 count=16 iflag=direct status=none
dd if=/tmp/work/a of=/tmp/work/a.mid bs=512 skip=4 count=16 status=none
cmp /tmp/work/a.mid /tmp/work/a.main || fail "main was written after the remap"
[ "$(info_field r remapped_writes)" -ge 1 ] || fail "no remapped write counted"
[ "$(info_field r remapped_reads)" -ge 1 ] || fail "no remapped read counted"

# Remapping the same range again changes nothing; an overlapping range only
# adds the new blocks, and with spare contiguity they join one extent.
assert_eq "$(dmsetup message r 0 remap 1004 16)" "remapped 0 lost 0" "repeated remap"
assert_eq "$(dmsetup message r 0 remap 1010 16)" "remapped 6 lost 0" "overlapping remap"
assert_eq "$(dmsetup message r 0 list_remaps | wc -l)" 1 "extents after a contiguous extension"
set -- $(dmsetup message r 0 list_remaps)
assert_eq "$1 $3" "1004 22" "merged extent"
