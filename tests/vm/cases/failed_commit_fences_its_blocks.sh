# A commit that fails in both regions may still have reached the spare (a
# write can report an error after the drive took it), so its generation may
# load at the next reload. Its blocks are fenced until a commit succeeds:
# a write to one is acknowledged only after a commit that supersedes the
# failed one. Here every superblock write fails (dm-dust), so the failed
# commit and its retraction both fail: the block of the failed remap turns
# pending, and a write to it fails even once main takes it again (before the
# fix it went to main and was acknowledged). When the spare heals, the next
# write retracts the failed commit, remaps the block and is acknowledged;
# the data survives a recreate. A failed remap message fences its range too.
main=$(mkdust dust 32)
spare=$(mkdust sdust 8)
dev=$(remap_create r "$main" "$spare")
b_sector=$(region_b_sector /tmp/work/sdust-disk.img)
[ "${b_sector:-0}" -gt 0 ] || fail "region B not found"
superblocks="0 8 $b_sector $((b_sector + 8))"

for s in $superblocks; do dmsetup message sdust 0 addbadblock "$s" 255; done
dmsetup message dust 0 addbadblock 64 255
dd if=/dev/zero of="$dev" bs=512 seek=64 count=1 oflag=direct status=none 2>/dev/null \
    && fail "a write needing a remap was acknowledged with no metadata copy writable"
assert_eq "$(info_field r remaps)" 0 "remaps after the failed commit"
assert_eq "$(info_field r pending)" 1 "fenced blocks after the failed commit"
note "failed commit, retraction failed too: block 64 fenced"

dmsetup message dust 0 removebadblock 64
dd if=/dev/urandom of=/tmp/work/a bs=512 count=1 status=none
dd if=/tmp/work/a of="$dev" bs=512 seek=64 oflag=direct status=none 2>/dev/null \
    && fail "a write to a fenced block was acknowledged before any commit superseded the failed one"
dd if=/tmp/work/a of="$dev" bs=512 seek=72 oflag=direct status=none || fail "a write to an unfenced block failed"
note "main healed: the fenced block's write still fails, other blocks' writes succeed"

if dmsetup message r 0 remap 200 8 >/dev/null 2>&1; then fail "a remap message committed with no copy writable"; fi
assert_eq "$(info_field r pending)" 9 "fenced blocks after the failed remap message"
dd if=/tmp/work/a of="$dev" bs=512 seek=203 oflag=direct status=none 2>/dev/null \
    && fail "a write to a block of the failed remap message was acknowledged"
note "failed remap message: its 8 blocks fenced"

for s in $superblocks; do dmsetup message sdust 0 removebadblock "$s"; done
dd if=/tmp/work/a of="$dev" bs=512 seek=64 oflag=direct status=none || fail "the fenced block's write once the spare healed"
assert_eq "$(info_field r remaps)" 1 "remaps once the spare healed"
dd if=/tmp/work/a of="$dev" bs=512 seek=203 oflag=direct status=none || fail "a write to the failed message's range once settled"
dmsetup message r 0 remap 200 8 >/dev/null || fail "the remap message once the spare healed"
assert_eq "$(info_field r pending)" 0 "fenced blocks once settled and remapped"
note "spare healed: failed commit retracted, block 64 remapped, range 200+8 remapped"

dmsetup remove r
dev=$(remap_create r "$main" "$spare")
for s in 64 72 203; do
    dd if="$dev" bs=512 skip=$s count=1 iflag=direct status=none | cmp - /tmp/work/a || fail "block $s after recreate"
done
note "recreated: every acknowledged write reads back"
