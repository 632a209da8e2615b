# The spare sits on dm-dust. A remapped block whose spare block fails a
# write moves to a fresh spare block (the failed one is never used again):
# the write succeeds, reads back, and the move persists. A spare block that
# cannot be read returns the error. Either way health turns degraded.
main=$(mkloop main 32)
spare=$(mkdust sdust 8)
dev=$(remap_create r "$main" "$spare")
dmsetup message r 0 remap 100 8 >/dev/null
set -- $(dmsetup message r 0 list_remaps 100 1 | head -1)
old_spare=$2
dmsetup message sdust 0 addbadblock "$old_spare" 255

dd if=/dev/urandom of=/tmp/work/a bs=4k count=1 status=none
dd if=/tmp/work/a of="$dev" bs=512 seek=100 count=8 iflag=fullblock oflag=direct status=none \
    || fail "write to a block whose spare block fails"
dd if="$dev" of=/tmp/work/got bs=512 skip=100 count=8 iflag=direct status=none
cmp /tmp/work/got /tmp/work/a || fail "data written over a failing spare block does not read back"
set -- $(dmsetup message r 0 list_remaps 100 1 | head -1)
[ "$1" = 100 ] && [ "$3" = 1 ] && [ "$2" != "$old_spare" ] || fail "block 100 did not move: $*"
assert_eq "$(info_field r health)" degraded "health after a spare error"
assert_eq "$(info_field r remaps)" 8 "remapped blocks (a move adds none)"
note "spare block $old_spare failed a write: block 100 moved to spare block $2"

dmsetup remove r
dev=$(remap_create r "$main" "$spare")
dd if="$dev" of=/tmp/work/got bs=512 skip=100 count=8 iflag=direct status=none
cmp /tmp/work/got /tmp/work/a || fail "moved block lost after recreate"

set -- $(dmsetup message r 0 list_remaps 104 1 | head -1)
dmsetup message sdust 0 addbadblock "$(( $2 + 104 - $1 ))"
dd if="$dev" of=/dev/null bs=512 skip=104 count=1 iflag=direct status=none 2>/dev/null \
    && fail "a read of an unreadable spare block succeeded"
assert_eq "$(info_field r unrecovered)" 1 "errors returned after the unreadable spare block"
note "unreadable spare block: error returned"
