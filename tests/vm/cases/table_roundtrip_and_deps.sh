# `dmsetup table` fed back to `dmsetup create` rebuilds an identical device, and
# `dmsetup deps` lists both the main and the spare device.
main=$(mkloop main 32)
spare=$(mkloop spare 8)
remap_create r "$main" "$spare" >/dev/null
table=$(dmsetup table r)
size=$(sectors /dev/mapper/r)
# One dm-remap device at a time per main and spare: remove r first.
dmsetup remove r
dmsetup create r --table "$table" || fail "table '$table' did not load back"
mapper r >/dev/null
assert_eq "$(dmsetup table r)" "$table" "table of the recreated device"
assert_eq "$(sectors /dev/mapper/r)" "$size" "size of the recreated device"

for d in "$main" "$spare"; do
    majmin=$(stat -L -c '%t %T' "$d")
    want="($((16#${majmin% *})), $((16#${majmin#* })))"
    dmsetup deps r | grep -qF "$want" || fail "dmsetup deps r lacks $d $want: $(dmsetup deps r)"
done
assert_eq "$(dmsetup deps r | grep -o 'dependencies' )" "dependencies" "deps output"
note "deps: $(dmsetup deps r)"

# Status INFO names the same devices as the table.
set -- $(dmsetup status r)
assert_eq "$3" remap "target type"
assert_eq "$5 $6" "$(echo "$table" | cut -d' ' -f4,5)" "devices in status"
