# 64 bad blocks hit at once by 4 concurrent writers: every one is remapped
# (no single pending slot), fio verifies every byte, and the table persists.
main=$(mkdust dust 64)
spare=$(mkloop spare 16)
dev=$(remap_create r "$main" "$spare")
# 16 bad blocks in each writer's 16 MiB region, at 4 KiB-aligned sectors.
for w in 0 1 2 3; do
    for i in $(seq 0 15); do
        dmsetup message dust 0 addbadblock $(( w * 32768 + i * 2040 + 8 )) 255
    done
done
fio --name=conc --filename="$dev" --direct=1 --ioengine=libaio --iodepth=16 --rw=randwrite --bs=4k \
    --size=16M --offset_increment=16M --numjobs=4 --verify=crc32c --verify_fatal=1 --randseed=3 \
    --group_reporting --eta=never --output=/tmp/work/fio.out || { cat /tmp/work/fio.out; fail "fio failed"; }
grep -q "err= 0" /tmp/work/fio.out || { cat /tmp/work/fio.out; fail "fio reported errors"; }
assert_eq "$(info_field r auto_remaps)" 64 "blocks remapped automatically"
assert_eq "$(info_field r remaps)" 64 "remapped blocks"
assert_eq "$(info_field r unrecovered)" 0 "errors returned to callers"
generation=$(info_field r generation)
note "64 bad blocks under 4 writers: all remapped in $((generation - 1)) commit(s), fio verify clean"
dmsetup remove r
remap_create r "$main" "$spare" >/dev/null
assert_eq "$(info_field r remaps)" 64 "remapped blocks after recreate"
