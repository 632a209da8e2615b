# A read that fails on main is retried block by block; a block that never
# reads returns the error (no invented data) and becomes pending, shown in
# status and in the list. The next write to it goes to a new spare block,
# after which it reads back right. Good blocks of a failing bio still read.
main=$(mkdust dust 32)
spare=$(mkloop spare 8)
dev=$(remap_create r "$main" "$spare")
dd if=/dev/urandom of=/tmp/work/a bs=4k count=16 status=none
dd if=/tmp/work/a of="$dev" bs=4k seek=100 oflag=direct status=none
dmsetup message dust 0 addbadblock 816     # first block of 4 KiB block 102
dmsetup message r 0 set read_retries 2

dd if="$dev" of=/tmp/work/got bs=4k skip=102 count=1 iflag=direct status=none 2>/dev/null \
    && fail "a read of an unreadable block succeeded"
assert_eq "$(info_field r pending)" 1 "pending blocks after the failed read"
assert_eq "$(dmsetup message r 0 list_remaps | tail -1)" "816 - 1 pending" "pending block in the list"
assert_eq "$(info_field r unrecovered)" 1 "errors returned to callers"
assert_eq "$(info_field r remaps)" 0 "a read error alone remaps nothing"
# The other blocks around it still read.
dd if="$dev" of=/tmp/work/next bs=4k skip=103 count=1 iflag=direct status=none
cmp /tmp/work/next <(dd if=/tmp/work/a bs=4k skip=3 count=1 status=none) || fail "neighbour block changed"
note "unreadable block 816: error returned, pending, listed"

dd if=/dev/urandom of=/tmp/work/b bs=512 count=1 status=none
dd if=/tmp/work/b of="$dev" bs=512 seek=816 oflag=direct status=none || fail "write to the pending block failed"
assert_eq "$(info_field r pending)" 0 "pending blocks after the write"
assert_eq "$(info_field r auto_remaps)" 1 "blocks remapped by the write"
set -- $(dmsetup message r 0 list_remaps 816 1 | head -1)
assert_eq "$1 $3 $4" "816 1 ok" "remap of the written block"
dd if="$dev" of=/tmp/work/got bs=512 skip=816 count=1 iflag=direct status=none || fail "read after the write failed"
cmp /tmp/work/got /tmp/work/b || fail "the written block does not read back"
note "write to the pending block: remapped to spare block $2, reads back right"
