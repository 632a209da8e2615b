# The spare sits on dm-dust. When metadata region B can no longer be
# written (its superblocks, entry blocks and journal area: a one-change
# commit of format version 3 appends a journal block, a fold rewrites a
# slot), commits carry on with copy A and health turns degraded; the table
# still loads after recreate (from A, B rewritten once the fault is gone).
# When both copies fail, a write that needs a new remap returns an error
# instead of being acknowledged, health turns failing, and nothing that was
# committed before is lost.
main=$(mkdust dust 32)
spare=$(mkdust sdust 8)
dev=$(remap_create r "$main" "$spare")
b_sector=$(region_b_sector /tmp/work/sdust-disk.img)
[ "${b_sector:-0}" -gt 0 ] || fail "region B not found"
r_sectors=$(region_sectors /tmp/work/sdust-disk.img)
[ "${r_sectors:-0}" -gt 0 ] || fail "region size not found"
dmsetup message r 0 remap 100 >/dev/null
assert_eq "$(info_field r metadata_copies)" 2 "copies written by a healthy commit"

dust_region sdust add "$b_sector" "$r_sectors"
dmsetup message r 0 remap 200 >/dev/null || fail "remap with one failing copy"
assert_eq "$(info_field r metadata_copies)" 1 "copies written with B failing"
assert_eq "$(info_field r health)" degraded "health with one copy failing"
dmsetup message dust 0 addbadblock 48 255
dd if=/dev/urandom of=/tmp/work/a bs=512 count=1 status=none
dd if=/tmp/work/a of="$dev" bs=512 seek=48 oflag=direct status=none || fail "auto remap with one copy failing"
list=$(dmsetup message r 0 list_remaps)
note "copy B failing: commits go on with copy A, health degraded"

dmsetup remove r
dust_region sdust remove "$b_sector" "$r_sectors"
dev=$(remap_create r "$main" "$spare")
assert_eq "$(dmsetup message r 0 list_remaps)" "$list" "table after recreate"
dd if="$dev" bs=512 skip=48 count=1 iflag=direct status=none | cmp - /tmp/work/a || fail "auto-remapped data lost"
assert_eq "$(info_field r health)" ok "health once copy B is writable again"
note "recreated: table loads, copy B rewritten, health ok"

for s in 0 "$b_sector"; do dust_region sdust add "$s" "$r_sectors"; done
dmsetup message dust 0 addbadblock 64 255
dd if=/dev/zero of="$dev" bs=512 seek=64 count=1 oflag=direct status=none 2>/dev/null \
    && fail "a write needing a remap was acknowledged with no metadata copy writable"
assert_eq "$(info_field r health)" failing "health with both copies failing"
# The block of the failed remap is fenced (see failed_commit_fences_its_blocks).
assert_eq "$(dmsetup message r 0 list_remaps)" "$list
64 - 1 pending" "table after the failed commit"
dmsetup remove r
for s in 0 "$b_sector"; do dust_region sdust remove "$s" "$r_sectors"; done
remap_create r "$main" "$spare" >/dev/null
assert_eq "$(dmsetup message r 0 list_remaps)" "$list" "table after recreate"
note "both copies failing: the write fails, health failing, the committed table intact"
