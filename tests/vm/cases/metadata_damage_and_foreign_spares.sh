# Damage inside a copy (our magic, a bad checksum) is repaired: the table
# loads from the other region and the resume rewrites the newest table into
# both regions. Damage in every copy: refused, spare byte-for-byte unchanged,
# until force_format. Someone else's data where a copy belongs (a filesystem
# made over a former spare, copy B intact): refused, spare unchanged. A spare
# of another main device: refused.
main=$(mkloop main 64)
spare=$(mkloop spare 16)
remap_create r "$main" "$spare" >/dev/null
for s in 64 4096 30000; do dmsetup message r 0 remap $s 8 >/dev/null; done
list=$(dmsetup message r 0 list_remaps)
dmsetup remove r
b=$(region_b_sector "$spare")
[ "${b:-0}" -gt 0 ] || fail "region B not found"

damage_a() { corrupt_superblock "$spare" 0; corrupt_superblock "$spare" 8; }
damage_b() { corrupt_superblock "$spare" "$b"; corrupt_superblock "$spare" $((b + 8)); }
spare_sum() { dd if="$spare" bs=1M iflag=direct status=none | sha256sum; }

# load_after_damage <A|B>: both superblocks of that region damaged; the table
# still loads (from the other region) and the resume rewrites the region.
load_after_damage() {
    "damage_$(echo "$1" | tr AB ab)"
    dm-remap check "$spare" >/tmp/work/check || true
    grep -q "copy $1 slot 0: damaged" /tmp/work/check || fail "damage to region $1 not seen: $(cat /tmp/work/check)"
    dmesg -C
    remap_create r "$main" "$spare" >/dev/null
    assert_eq "$(dmsetup message r 0 list_remaps)" "$list" "table loaded with region $1 damaged"
    dmesg | grep -q "metadata rewritten into both regions" || fail "region $1 was not repaired: $(dmesg | tail -3)"
    assert_eq "$(info_field r metadata_copies)" 2 "copies after the repair"
    dmsetup remove r
    dm-remap check "$spare" | tail -1 | grep -q '^clean' || fail "offline check after the repair: $(dm-remap check "$spare")"
    note "region $1 damaged: loaded from the other region, both rewritten at resume"
}
load_after_damage A
load_after_damage B

damage_a
damage_b
before=$(spare_sum)
expect_table_rejected "0 $(sectors "$main") remap $main $spare" \
    "Spare metadata is damaged in every copy; not overwriting it (force_format formats the spare)"
assert_eq "$(spare_sum)" "$before" "spare after a refused load"
dmsetup create r --table "0 $(sectors "$main") remap $main $spare 1 force_format" || fail "force_format refused"
assert_eq "$(dmsetup message r 0 list_remaps)" "" "table after force_format"
assert_eq "$(dmsetup table r)" "0 $(sectors "$main") remap $(dmsetup table r | cut -d' ' -f4,5)" \
    "force_format is not reported in the table line"
dmsetup message r 0 remap 64 8 >/dev/null
dmsetup remove r
note "every copy damaged: refused with the spare unchanged; force_format formats"

# A filesystem made over the former spare's first MiBs (region A), region B
# intact: someone else's data where a copy belongs.
dd if=/dev/zero of=/tmp/work/fs.img bs=1M count=2 status=none
mkfs.ext4 -q -F /tmp/work/fs.img
dd if=/tmp/work/fs.img of="$spare" bs=1M count=2 oflag=direct conv=notrunc status=none
before=$(spare_sum)
expect_table_rejected "0 $(sectors "$main") remap $main $spare" \
    "Spare device holds someone else's data where a metadata copy belongs; not overwriting it (force_format formats the spare)"
assert_eq "$(spare_sum)" "$before" "spare after refusing foreign data"
note "a filesystem over region A, region B intact: refused, spare unchanged"

# A spare formatted for this main device; a differently sized main, or one
# with another logical block size, is refused and writes nothing.
dmsetup create r --table "0 $(sectors "$main") remap $main $spare 1 force_format" || fail "force_format refused"
dmsetup remove r
other=$(mkloop other 48)
before=$(spare_sum)
expect_table_rejected "0 $(sectors "$other") remap $other $spare" \
    "Spare metadata belongs to another main device (its size or block size differs)"
assert_eq "$(spare_sum)" "$before" "spare after refusing another main device"
