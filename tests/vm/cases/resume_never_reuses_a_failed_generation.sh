# A commit whose superblock writes failed may still be on the spare, so its
# generation and the spare blocks it handed out are never used again. Here
# the failed commit's slot (slot 1, not holding the newest copy, in both
# regions) fails every write and read (dm-dust): the commit and its
# retraction fail. A suspend and resume then finds that slot unreadable:
# - the newest copy, in slot 0, still loads (before the fix a 64 KiB
#   read-ahead spanning both slots failed, and with it the resume);
# - the reload keeps the generations and blocks the failed commits used
#   (before the fix it took them from the copies it could read, so the next
#   commit reused the failed commit's generation, a tie with the copy that
#   may have landed, and its spare block).
main=$(mkdust dust 32)
spare=$(mkdust sdust 8)
dev=$(remap_create r "$main" "$spare")
img=/tmp/work/sdust-disk.img
b_sector=$(region_b_sector "$img")
[ "${b_sector:-0}" -gt 0 ] || fail "region B not found"
# A fresh spare's format writes slot 0, so the next commit writes slot 1.
# (With slot 0 unreadable a reload refuses the spare outright, which is
# safe: the metadata is found through slot 0's places.)
g0=$(info_field r generation)
dm-remap check "$img" | grep -q "^copy A slot 0: valid, generation $g0," || fail "format did not write slot 0"
free=8
for s in "$free" $((b_sector + free)); do dmsetup message sdust 0 addbadblock "$s" 255; done

dmsetup message dust 0 addbadblock 64 255
dd if=/dev/zero of="$dev" bs=512 seek=64 count=1 oflag=direct status=none 2>/dev/null \
    && fail "a write needing a remap was acknowledged with no metadata copy writable"
assert_eq "$(info_field r pending)" 1 "fenced blocks after the failed commit"
assert_eq "$(info_field r generation)" "$g0" "generation after the failed commit"
used=$(info_field r spare_used)
[ "$used" -ge 1 ] || fail "the failed commit's spare block is not counted as used ($used)"
note "commit of generation $((g0 + 1)) and its retraction failed; block 64 fenced, $used spare block(s) used"

dmsetup suspend r
dmsetup resume r || fail "resume with the failed commit's slot unreadable"
assert_eq "$(info_field r pending)" 1 "fenced blocks after the resume"
[ "$(info_field r spare_used)" -ge "$used" ] || fail "spare blocks used went back at the resume: $(info_field r spare_used) < $used"
note "resumed with that slot unreadable: block 64 still fenced, spare blocks used kept"

for s in "$free" $((b_sector + free)); do dmsetup message sdust 0 removebadblock "$s"; done
dmsetup message dust 0 removebadblock 64
dd if=/dev/urandom of=/tmp/work/a bs=512 count=1 status=none
dd if=/tmp/work/a of="$dev" bs=512 seek=64 oflag=direct status=none || fail "the fenced block's write once the spare healed"
g=$(info_field r generation)
[ "$g" -gt $((g0 + 2)) ] \
    || fail "generation $g committed after the resume; the failed commit and its retraction tried $((g0 + 1)) and $((g0 + 2))"
[ "$(info_field r spare_used)" -gt "$used" ] \
    || fail "the remap of block 64 took a spare block the failed commit had handed out"
note "spare healed: generation $g committed, above every failed one; a new spare block for block 64"

dmsetup remove r
dev=$(remap_create r "$main" "$spare")
dd if="$dev" bs=512 skip=64 count=1 iflag=direct status=none | cmp - /tmp/work/a || fail "block 64 after recreate"
note "recreated: the acknowledged write reads back"
