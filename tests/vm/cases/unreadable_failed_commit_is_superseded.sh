# A commit whose superblock writes failed may still be on the spare (a
# write can report an error after the drive took it), so nothing may
# depend on its never loading: its generation and the spare blocks it
# handed out are never used again, and a table goes live only once its
# writes cannot be hidden by it. Here, in both regions, the places the
# next commits write fail every read and write (dm-dust, which tears a
# 4 KiB write: sectors 1-7 land): the first block of slot 0's journal
# area, where a one-change commit (format version 3) appends, and slot
# 1's superblock (not holding the newest copy), where the retraction,
# after a failed append, folds. So a remap's commit and its retraction
# fail and the block is fenced.
# Then, with that slot still unreadable:
# 1. suspend and resume: the same table loads the spare again. The newest
#    copy, in slot 0, still loads (before 8485dd2 a 64 KiB read-ahead
#    spanning both slots failed, and with it the resume), and the reload
#    keeps the generations and blocks its failed commits used (before
#    f057a5a the next commit reused both).
# 2. reload: a new table, which cannot know the failed commits, first
#    commits above anything the unreadable slot can hold; while that
#    fails, it does not go live (before the fix it went live and
#    acknowledged a write to the fenced block, the failed commit never
#    superseded).
#    Until a resume succeeds it commits nothing: a remap message between
#    the failed resume and the next is refused (before the fix its failed
#    commit left the table unsettled, and the next resume went live,
#    counting on fences that did not cover the old table's failed commit).
# 3. heal, then remove and create: the failed commit's slot now reads,
#    torn (zeros but for the checksum); it is a damaged copy, and the
#    spare loads (before 2554822 it was refused as someone else's data,
#    which only force_format, losing the table, got past).
# 4. a live table that made every generation on the spare, with slot 1
#    gone bad and no commit tried: suspend and resume needs no commit
#    above it, and succeeds (before the fix it was refused, leaving the
#    device suspended, while the slot could not be written).

# fail_commit <name>: a remap target <name> over dust devices <name>m and
# <name>s whose commit of a remap of block 64 and its retraction failed.
# Sets dev, img, g0 (generation before), used (spare blocks used) and bad
# (the sectors of slot 0's first journal block and slot 1's superblock).
fail_commit() {
    local main spare b
    main=$(mkdust "$1m" 32)
    spare=$(mkdust "$1s" 8)
    dev=$(remap_create "$1" "$main" "$spare")
    img=/tmp/work/$1s-disk.img
    b=$(region_b_sector "$img")
    [ "${b:-0}" -gt 0 ] || fail "region B not found"
    # A fresh spare's format writes an empty copy into slot 0 (block 0, no
    # entry blocks, its journal area from block 2), so the next commit
    # appends at block 2, and a fold after a failed append writes slot 1
    # (block 1). (With slot 0 unreadable a load refuses the spare outright,
    # which is safe: the metadata is found through slot 0's places.)
    g0=$(info_field "$1" generation)
    dm-remap check "$img" | grep "^copy A slot 0: valid, generation $g0, 0 extents" >/dev/null \
        || fail "format did not write an empty slot 0"
    bad="8 16 $((b + 8)) $((b + 16))"
    for s in $bad; do dmsetup message "$1s" 0 addbadblock "$s" 255; done
    dmsetup message "$1m" 0 addbadblock 64 255
    dd if=/dev/zero of="$dev" bs=512 seek=64 count=1 oflag=direct status=none 2>/dev/null \
        && fail "a write needing a remap was acknowledged with no metadata copy writable"
    assert_eq "$(info_field "$1" pending)" 1 "fenced blocks after the failed commit"
    assert_eq "$(info_field "$1" generation)" "$g0" "generation after the failed commit"
    used=$(info_field "$1" spare_used)
    [ "$used" -ge 1 ] || fail "the failed commit's spare block is not counted as used ($used)"
    note "$1: commit of generation $((g0 + 1)) and its retraction failed; block 64 fenced, $used spare block(s) used"
}

# heal <name>: the failed places and main block 64 work again.
heal() {
    for s in $bad; do dmsetup message "$1s" 0 removebadblock "$s"; done
    dmsetup message "$1m" 0 removebadblock 64
}

# settled_write <name>: a write to block 64 is acknowledged, the generation
# is above every failed one, and the write reads back after a recreate.
settled_write() {
    dd if=/dev/urandom of="/tmp/work/$1-data" bs=512 count=1 status=none
    dd if="/tmp/work/$1-data" of="$dev" bs=512 seek=64 oflag=direct status=none \
        || fail "the fenced block's write once the spare healed"
    g=$(info_field "$1" generation)
    [ "$g" -gt $((g0 + 2)) ] \
        || fail "generation $g committed; the failed commit and its retraction tried $((g0 + 1)) and $((g0 + 2))"
    dmsetup remove "$1"
    dev=$(remap_create "$1" "$(mapper "$1m")" "$(mapper "$1s")")
    dd if="$dev" bs=512 skip=64 count=1 iflag=direct status=none | cmp - "/tmp/work/$1-data" \
        || fail "block 64 after recreate"
    note "$1: spare healed: generation $g committed, above every failed one; the write to block 64 survives a recreate"
}

fail_commit r1
dmsetup suspend r1
dmsetup resume r1 || fail "resume with the failed commit's slot unreadable"
assert_eq "$(info_field r1 pending)" 1 "fenced blocks after the resume"
[ "$(info_field r1 spare_used)" -ge "$used" ] \
    || fail "spare blocks used went back at the resume: $(info_field r1 spare_used) < $used"
note "r1: resumed with that slot unreadable: block 64 still fenced, spare blocks used kept"
heal r1
dd if=/dev/zero of="$dev" bs=512 seek=64 count=1 oflag=direct status=none || fail "the fenced block's write"
[ "$(info_field r1 spare_used)" -gt "$used" ] \
    || fail "the remap of block 64 took a spare block the failed commit had handed out"
note "r1: the fenced block's write remapped it to a new spare block"
settled_write r1

fail_commit r2
dmsetup table r2 >/tmp/work/r2-line
dmsetup reload r2 /tmp/work/r2-line || fail "reload with the failed commit's slot unreadable"
if dmsetup resume r2 2>/dev/null; then
    fail "a new table went live with a superblock it could not read, without committing above it (generation $(info_field r2 generation))"
fi
note "r2: the reloaded table does not go live while it cannot commit above the unreadable slot"
if dmsetup message r2 0 remap 200 >/dev/null 2>&1; then
    fail "a remap message committed through a table whose resume failed"
fi
if dmsetup resume r2 2>/dev/null; then
    fail "a remap message between two resumes let the table go live without committing above the unreadable slot"
fi
note "r2: a remap message before a successful resume is refused, and the table still does not go live"
heal r2
dmsetup resume r2 || fail "resume of the reloaded table once the spare healed"
settled_write r2

fail_commit r3
heal r3
dmsetup remove r3
dev=$(remap_create r3 "$(mapper r3m)" "$(mapper r3s)")
dd if=/dev/urandom of=/tmp/work/r3-data bs=512 count=1 status=none
dd if=/tmp/work/r3-data of="$dev" bs=512 seek=64 oflag=direct status=none || fail "a write after the recreate"
dmsetup remove r3
dev=$(remap_create r3 "$(mapper r3m)" "$(mapper r3s)")
dd if="$dev" bs=512 skip=64 count=1 iflag=direct status=none | cmp - /tmp/work/r3-data || fail "block 64 after recreate"
note "r3: recreated over the torn slot: the spare loads, and a write survives a recreate"

main=$(mkdust r4m 32)
spare=$(mkdust r4s 8)
dev=$(remap_create r4 "$main" "$spare")
b=$(region_b_sector /tmp/work/r4s-disk.img)
for s in 8 16 $((b + 8)) $((b + 16)); do dmsetup message r4s 0 addbadblock "$s" 255; done
dd if=/dev/urandom of="$dev" bs=4096 count=4 oflag=direct status=none || fail "a write to a live table"
dmsetup suspend r4
dmsetup resume r4 || fail "suspend and resume of a table that made every generation on the spare, slot 1 gone bad"
note "r4: a live table whose slot 1 went bad resumes without a commit"
