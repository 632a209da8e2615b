# The spare sits on dm-dust. When copy B's superblock can no longer be
# written, commits carry on with copy A and health turns degraded; the table
# still loads after recreate (from A, B rewritten once the fault is gone).
# When both copies fail, a write that needs a new remap returns an error
# instead of being acknowledged, health turns failing, and nothing that was
# committed before is lost.
main=$(mkdust dust 32)
spare=$(mkdust sdust 8)
dev=$(remap_create r "$main" "$spare")
# Copy B's superblock: the second DMREMAP1 magic on the spare.
b_sector=$(( $(grep -obUa DMREMAP1 /tmp/work/sdust-disk.img | sed -n 2p | cut -d: -f1) / 512 ))
[ "$b_sector" -gt 0 ] || fail "copy B superblock not found"
dmsetup message r 0 remap 100 >/dev/null
assert_eq "$(info_field r metadata_copies)" 2 "copies written by a healthy commit"

dmsetup message sdust 0 addbadblock "$b_sector" 255
dmsetup message r 0 remap 200 >/dev/null || fail "remap with one failing copy"
assert_eq "$(info_field r metadata_copies)" 1 "copies written with B failing"
assert_eq "$(info_field r health)" degraded "health with one copy failing"
dmsetup message dust 0 addbadblock 48 255
dd if=/dev/urandom of=/tmp/work/a bs=512 count=1 status=none
dd if=/tmp/work/a of="$dev" bs=512 seek=48 oflag=direct status=none || fail "auto remap with one copy failing"
list=$(dmsetup message r 0 list_remaps)
note "copy B failing: commits go on with copy A, health degraded"

dmsetup remove r
dmsetup message sdust 0 removebadblock "$b_sector"
dev=$(remap_create r "$main" "$spare")
assert_eq "$(dmsetup message r 0 list_remaps)" "$list" "table after recreate"
dd if="$dev" bs=512 skip=48 count=1 iflag=direct status=none | cmp - /tmp/work/a || fail "auto-remapped data lost"
assert_eq "$(info_field r health)" ok "health once copy B is writable again"
note "recreated: table loads, copy B rewritten, health ok"

dmsetup message sdust 0 addbadblock 0 255
dmsetup message sdust 0 addbadblock "$b_sector" 255
dmsetup message dust 0 addbadblock 64 255
dd if=/dev/zero of="$dev" bs=512 seek=64 count=1 oflag=direct status=none 2>/dev/null \
    && fail "a write needing a remap was acknowledged with no metadata copy writable"
assert_eq "$(info_field r health)" failing "health with both copies failing"
assert_eq "$(dmsetup message r 0 list_remaps)" "$list" "table after the failed commit"
dmsetup remove r
dmsetup message sdust 0 removebadblock 0
dmsetup message sdust 0 removebadblock "$b_sector"
remap_create r "$main" "$spare" >/dev/null
assert_eq "$(dmsetup message r 0 list_remaps)" "$list" "table after recreate"
note "both copies failing: the write fails, health failing, the committed table intact"
