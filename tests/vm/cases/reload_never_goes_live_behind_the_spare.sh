# Issue 13 point 8: a table constructed by `dmsetup load` while the old one
# is still live must not go live with an older view of the spare. The old
# table commits a remap after the new one was constructed; when the new
# table's resume cannot read the spare's superblocks, the resume fails (the
# device stays suspended) instead of going live without that remap; once
# they read again, the resume loads it. Nothing acknowledged is lost, and
# no spare block is handed out twice.
main=$(mkloop main 32)
spare=$(mkdust sdust 8)
line="0 $(sectors "$main") remap $main $spare"
dev=$(remap_create r "$main" "$spare")
dmsetup message r 0 remap 100 1 >/dev/null
dmsetup load r --table "$line" || fail "load of the new table"
dmsetup message r 0 remap 200 1 >/dev/null   # committed by the old, live table
before=$(dmsetup message r 0 list_remaps)
echo "$before" | grep -q '^200 ' || fail "remap of block 200 not listed: $before"

# Every block that holds a superblock now fails reads (dm-dust; a write clears it).
sbs=$(grep -obUa DMREMAP1 /tmp/work/sdust-disk.img | cut -d: -f1 | while read -r o; do echo $((o / 512)); done)
[ -n "$sbs" ] || fail "no superblock found on the spare"
for s in $sbs; do dmsetup message sdust 0 addbadblock "$s"; done
if dmsetup resume r 2>/dev/null; then
    got=$(dmsetup message r 0 list_remaps)
    echo "$got" | grep -q '^200 ' || fail "the new table went live without the remap the old one committed: $got"
    fail "resume succeeded although the spare's superblocks could not be read"
fi
note "resume refused while the spare's superblocks cannot be read"
for s in $sbs; do dmsetup message sdust 0 removebadblock "$s" >/dev/null 2>&1 || true; done
dmsetup resume r || fail "resume once the spare reads again"
assert_eq "$(dmsetup message r 0 list_remaps)" "$before" "table after the resume"
dmsetup message r 0 remap 300 1 >/dev/null
after=$(dmsetup message r 0 list_remaps)
spares=$(echo "$after" | awk '$1 ~ /^[0-9]+$/ { print $2 }' | sort | uniq -d)
[ -z "$spares" ] || fail "spare blocks handed out twice: $spares"
dmsetup remove r
remap_create r "$main" "$spare" >/dev/null
assert_eq "$(dmsetup message r 0 list_remaps)" "$after" "table after recreate"
note "resumed once readable: the old table's remap kept, spare blocks never reused"
