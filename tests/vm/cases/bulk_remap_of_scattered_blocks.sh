# `remap_list`: 100k scattered single blocks (a badblocks import) remapped in
# messages of 16384 ranges, each one copy pass and one commit. The data of a
# sample of them reads the same before and after; the commit counter shows
# one commit per message. The elapsed time is a figure (issue 17.4's target:
# under 60 s), not a pass criterion.
main=$(mkloop main 1100)
spare=$(mkloop spare 64)
dev=$(remap_create r "$main" "$spare")

# Block i of the list: sector 20 * i + i % 7.
awk 'BEGIN { for (i = 0; i < 100000; i++) print 20 * i + i % 7 }' > /tmp/work/list
# A sample of 64 listed blocks gets random data first (through the target,
# so on main), and so does a block between two listed ones.
dd if=/dev/urandom of=/tmp/work/sample bs=512 count=65 status=none
awk 'NR % 1531 == 1 && n++ < 64' /tmp/work/list > /tmp/work/picked
j=0
while read -r s; do
    dd if=/tmp/work/sample of="$dev" bs=512 skip=$j seek="$s" count=1 oflag=direct conv=notrunc status=none
    j=$((j + 1))
done < /tmp/work/picked
dd if=/tmp/work/sample of="$dev" bs=512 skip=64 seek=1010 count=1 oflag=direct conv=notrunc status=none

dmsetup message r 0 stats > /tmp/work/stats0
commits0=$(awk '$1 == "commits" { print $2 }' /tmp/work/stats0)
start=$(now_ms)
remapped=0 messages=0
while read -r line; do
    set -- $(dmsetup message r 0 remap_list $line)
    [ "$1 $3 $4" = "remapped lost 0" ] || fail "remap_list result: $*"
    remapped=$((remapped + $2)) messages=$((messages + 1))
done < <(awk '{ printf "%s%s", $1, (NR % 16384 == 0 ? "\n" : " ") } END { if (NR % 16384) print "" }' /tmp/work/list)
took=$(( $(now_ms) - start ))
dmsetup message r 0 stats > /tmp/work/stats1
commits=$(( $(awk '$1 == "commits" { print $2 }' /tmp/work/stats1) - commits0 ))
assert_eq "$messages" 7 "messages of at most 16384 ranges"
assert_eq "$remapped" 100000 "blocks remapped"
assert_eq "$(info_field r remaps)" 100000 "remaps in status"
assert_eq "$commits" "$messages" "commits: one per remap_list message"
assert_eq "$(dmsetup message r 0 list_remaps | wc -l)" 100000 "extents (none touch)"

# Every sampled block reads its data back, now from the spare; the block in
# between still from main.
j=0
while read -r s; do
    dd if="$dev" of=/tmp/work/got bs=512 skip="$s" count=1 iflag=direct status=none
    dd if=/tmp/work/sample of=/tmp/work/want bs=512 skip=$j count=1 status=none
    cmp /tmp/work/want /tmp/work/got || fail "block at sector $s changed by the bulk remap"
    j=$((j + 1))
done < /tmp/work/picked
dd if="$dev" of=/tmp/work/got bs=512 skip=1010 count=1 iflag=direct status=none
dd if=/tmp/work/sample of=/tmp/work/want bs=512 skip=64 count=1 status=none
cmp /tmp/work/want /tmp/work/got || fail "an unlisted block changed"
first=$(head -1 /tmp/work/picked)
set -- $(dmsetup message r 0 list_remaps "$first" 1)
assert_eq "$1 $3 $4" "$first 1 ok" "a sampled block's extent"

# The same list again remaps nothing; a list with one range past the end,
# or more blocks than the pool has left, is refused whole.
assert_eq "$(dmsetup message r 0 remap_list $(head -100 /tmp/work/list))" "remapped 0 lost 0" "list sent again"
end=$(sectors "$main")
expect_message_refused r "Invalid argument" remap_list 1 3 $((end - 1))+2
free=$(( $(info_field r spare_total) - $(info_field r spare_used) ))
expect_message_refused r "No space left" remap_list 7 2000100+$((free + 1))
note "100000 scattered blocks remapped by $messages remap_list messages in ${took} ms ($commits commits)"
