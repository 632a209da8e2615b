# Copy A garbage: the target loads copy B and rewrites A. Then copy B garbage:
# it loads the repaired A. Both garbage: refused, spare byte-for-byte
# unchanged, until force_format. A spare of another main device: refused.
main=$(mkloop main 64)
spare=$(mkloop spare 16)
remap_create r "$main" "$spare" >/dev/null
for s in 64 4096 30000; do dmsetup message r 0 remap $s 8 >/dev/null; done
list=$(dmsetup message r 0 list_remaps)
dmsetup remove r
spare_sectors=$(sectors "$spare")

garbage_a() { dd if=/dev/urandom of="$spare" bs=64k count=1 oflag=direct conv=notrunc status=none; }
# Region B sits at the end of the spare, after the pool; the last 2 MiB hold
# its superblock and no remapped data (the pool fills from the front).
garbage_b() { dd if=/dev/urandom of="$spare" bs=512 seek=$((spare_sectors - 4096)) count=4096 oflag=direct status=none; }
spare_sum() { dd if="$spare" bs=1M iflag=direct status=none | sha256sum; }

# load_after_damage <A|B>: garbage over that copy; the table still loads
# (from the other copy) and the damaged copy is rewritten.
load_after_damage() {
    "garbage_$(echo "$1" | tr AB ab)"
    dmesg -C
    remap_create r "$main" "$spare" >/dev/null
    assert_eq "$(dmsetup message r 0 list_remaps)" "$list" "table loaded with copy $1 damaged"
    dmesg | grep -q "rewrote stale metadata copy $1" || fail "copy $1 was not repaired: $(dmesg | tail -3)"
    dmsetup remove r
    note "copy $1 garbage: loaded from the other copy, $1 rewritten"
}
load_after_damage A
load_after_damage B   # loads from the A just repaired

garbage_a
garbage_b
before=$(spare_sum)
expect_table_rejected "0 $(sectors "$main") remap $main $spare" \
    "Spare device holds data but no dm-remap metadata; not overwriting it (force_format formats the spare)"
assert_eq "$(spare_sum)" "$before" "spare after a refused load"
dmsetup create r --table "0 $(sectors "$main") remap $main $spare 1 force_format" || fail "force_format refused"
assert_eq "$(dmsetup message r 0 list_remaps)" "" "table after force_format"
assert_eq "$(dmsetup table r)" "0 $(sectors "$main") remap $(dmsetup table r | cut -d' ' -f4,5)" \
    "force_format is not reported in the table line"
dmsetup remove r
note "both copies damaged: refused with the spare unchanged; force_format formats"

# The spare now belongs to this main device; a differently sized main, or
# one with another logical block size, is refused and writes nothing.
other=$(mkloop other 48)
before=$(spare_sum)
expect_table_rejected "0 $(sectors "$other") remap $other $spare" \
    "Spare metadata belongs to another main device (its size or block size differs)"
assert_eq "$(spare_sum)" "$before" "spare after refusing another main device"
