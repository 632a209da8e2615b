# Issue 13 points 13 and 14. Write-zeroes over a block whose writes fail is
# recovered like a write: the block is remapped and reads back as zeros
# (BLKZEROOUT used to return EIO where a write succeeded). A pending block
# remapped by a `remap` message is no longer pending (it stayed in the
# pending set, and every write to it detoured through the worker).
main=$(mkdust dust 32)
spare=$(mkloop spare 8)
dev=$(remap_create r "$main" "$spare")
dd if=/dev/urandom of="$dev" bs=4k count=64 oflag=direct status=none

# Block 80 (sectors 80..87 with 512-byte blocks: the zero-out starts there)
# fails its next writes; write-zeroes over it must succeed and read zeros.
dmsetup message dust 0 addbadblock 80 5
blkdiscard -z -o $((80 * 512)) -l 4096 "$dev" || fail "write-zeroes over a block failing writes returned an error"
dd if="$dev" bs=512 skip=80 count=8 iflag=direct status=none | cmp - <(head -c 4096 /dev/zero) \
    || fail "zeroed blocks do not read back as zeros"
[ "$(info_field r auto_remaps)" -ge 1 ] || fail "the failing block was not remapped"
note "write-zeroes over a failing block: remapped, reads zeros"

# Block 200 unreadable: a read marks it pending; a remap message moves it
# (as lost) and it is pending no more.
dmsetup message dust 0 addbadblock 200
dmsetup message r 0 set read_retries 1
dd if="$dev" of=/dev/null bs=512 skip=200 count=1 iflag=direct status=none 2>/dev/null \
    && fail "a read of an unreadable block succeeded"
assert_eq "$(info_field r pending)" 1 "pending blocks after the failed read"
assert_eq "$(dmsetup message r 0 remap 200 1)" "remapped 1 lost 1
lost 200 1" "remap of the pending block"
assert_eq "$(info_field r pending)" 0 "pending blocks once the block is remapped"
dd if=/dev/urandom of=/tmp/work/b bs=512 count=1 status=none
dd if=/tmp/work/b of="$dev" bs=512 seek=200 oflag=direct status=none
dd if="$dev" bs=512 skip=200 count=1 iflag=direct status=none | cmp - /tmp/work/b || fail "block 200 does not read back"
assert_eq "$(info_field r auto_remaps)" 1 "a write to the remapped block needs no new remap"
note "remap message of a pending block: not pending any more"
