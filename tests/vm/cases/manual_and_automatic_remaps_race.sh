# Remap messages and automatic remaps of the same blocks at the same time:
# fio writes (and verifies) a region with failing blocks while a loop remaps
# ranges over it by message. No write is lost and no block is remapped
# twice.
main=$(mkdust dust 64)
spare=$(mkloop spare 32)
dev=$(remap_create r "$main" "$spare")
for i in $(seq 0 31); do dmsetup message dust 0 addbadblock $((i * 2048 + 8)) 255; done
(
    for i in $(seq 0 31); do
        dmsetup message r 0 remap $((i * 2048)) 64 >/dev/null || exit 1
        sleep 0.05
    done
) &
remapper=$!
fio_verify "$dev" --rw=randwrite --bs=4k --size=32M --iodepth=16
wait $remapper || fail "a remap message failed"
dmsetup message r 0 list_remaps | awk '$1 ~ /^[0-9]+$/ { for (b = $1; b < $1 + $3; b++) print b }' \
    | sort -n | uniq -d > /tmp/work/twice
[ ! -s /tmp/work/twice ] || fail "blocks remapped twice: $(head -3 /tmp/work/twice)"
fio_verify "$dev" --rw=randwrite --bs=4k --size=32M --iodepth=16 --verify_only
note "$(info_field r remaps) blocks remapped ($(info_field r auto_remaps) automatically) while fio wrote; verify clean"
