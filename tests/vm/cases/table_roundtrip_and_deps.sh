# `dmsetup table` fed back to `dmsetup create` builds an identical device, and
# `dmsetup deps` lists both the main and the spare device.
main=$(mkloop main 32)
spare=$(mkloop spare 8)
remap_create r "$main" "$spare" >/dev/null
table=$(dmsetup table r)
dmsetup create r2 --table "$table" || fail "table '$table' did not load back"
mapper r2 >/dev/null
assert_eq "$(dmsetup table r2)" "$table" "table of the recreated device"
assert_eq "$(sectors /dev/mapper/r2)" "$(sectors /dev/mapper/r)" "size of the recreated device"

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
