# Issue 13 point 5: a spare (a dm-linear) grown from 32 to 64 MiB keeps its
# region B where it was formatted; when copy A is damaged, and then when
# region A is zeroed, the target must still find region B and load the
# remaps (it refused the spare, then formatted it with 0 remaps).
main=$(mkloop main 32)
disk=$(mkloop disk 64)
dmsetup create sp --table "0 65536 linear $disk 0" || fail "spare linear"
spare=$(mapper sp)
remap_create r "$main" "$spare" >/dev/null
for s in 64 4096 20000 30000; do dmsetup message r 0 remap $s 1 >/dev/null; done
list=$(dmsetup message r 0 list_remaps)
dmsetup remove r
dmsetup suspend sp
dmsetup load sp --table "0 131072 linear $disk 0"
dmsetup resume sp
assert_eq "$(sectors "$spare")" 131072 "spare size after growing"

corrupt_superblock "$spare" 0
corrupt_superblock "$spare" 8
remap_create r "$main" "$spare" >/dev/null
assert_eq "$(dmsetup message r 0 list_remaps)" "$list" "table with copy A damaged"
dmsetup remove r
note "grown spare, copy A damaged: region B found, table loaded"

region_a=$(dm-remap check "$spare" | sed -n 's/^layout: .* regions of \([0-9]*\) sectors.*/\1/p')
dd if=/dev/zero of="$spare" bs=512 count="$region_a" oflag=direct conv=notrunc status=none
# The tool reads the spare as the kernel does: region B where the 32 MiB
# spare had it (the largest power of two leaving room for it), not where
# 64 MiB would put it.
assert_eq "$(region_b_sector "$spare")" 32768 "region B of the grown spare, as the tool finds it"
check=$(dm-remap check "$spare") && fail "check passed with region A zeroed: $check" || true
case "$check" in *"copy B slot "[01]": valid"*) ;; *) fail "tool check of the grown spare: $check" ;; esac
remap_create r "$main" "$spare" >/dev/null
assert_eq "$(dmsetup message r 0 list_remaps)" "$list" "table with region A zeroed"
dmsetup remove r
dmsetup remove sp
note "grown spare, region A zeroed: region B found, not formatted"
