# Thousands of scattered remaps, adjacent ones and ones straddling bio
# boundaries: data written before them reads back through them, and fio
# randrw with 512 B to 1 MiB bios verifies with zero errors.
main=$(mkloop main 160)
spare=$(mkloop spare 32)
dev=$(remap_create r "$main" "$spare")
job=(--size=128M --bs=64k --rw=write)
fio_verify "$dev" "${job[@]}" --do_verify=0

# 1500 remaps of 1 to 16 blocks at pseudo-random places, plus adjacent pairs.
RANDOM=42
start=$(date +%s)
for i in $(seq 1500); do
    s=$(( (RANDOM * 32768 + RANDOM) % 260000 ))
    dmsetup message r 0 remap "$s" $(( RANDOM % 16 + 1 )) >/dev/null
    if [ $((i % 100)) = 0 ]; then dmsetup message r 0 remap $((s + 40)) 3 >/dev/null; fi
done
elapsed=$(( $(date +%s) - start ))
extents=$(dmsetup message r 0 list_remaps | wc -l)
note "$(info_field r remaps) blocks remapped in $extents extents by 1515 messages in ${elapsed}s"
[ "$extents" -ge 1000 ] || fail "only $extents extents"

fio_verify "$dev" "${job[@]}" --verify_only
fio_verify "$dev" --size=128M --rw=randrw --bsrange=512-1M --io_size=96M --randseed=99
[ "$(info_field r remapped_reads)" -gt 0 ] && [ "$(info_field r remapped_writes)" -gt 0 ] || fail "no I/O reached the spare"
