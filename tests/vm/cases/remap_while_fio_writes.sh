# Remaps added while 4 fio jobs write and verify: zero verify errors.
main=$(mkloop main 256)
spare=$(mkloop spare 16)
dev=$(remap_create r "$main" "$spare")
fio --name=w --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 --numjobs=4 \
    --offset_increment=64M --size=64M --rw=randwrite --bsrange=4k-128k --verify=crc32c \
    --verify_backlog=32 --verify_fatal=1 --randseed=5 --eta=never --group_reporting \
    --output=/tmp/work/fio.out &
fio_pid=$!
RANDOM=7
added=0
while kill -0 "$fio_pid" 2>/dev/null && [ "$added" -lt 400 ]; do
    dmsetup message r 0 remap $(( (RANDOM * 32768 + RANDOM) % 524000 )) $(( RANDOM % 64 + 1 )) >/dev/null
    added=$((added + 1))
done
wait "$fio_pid" || { cat /tmp/work/fio.out; fail "fio failed while remaps were added"; }
grep -q "err= 0" /tmp/work/fio.out || { cat /tmp/work/fio.out; fail "fio reported errors"; }
[ "$added" -ge 10 ] || fail "fio finished after only $added remaps"
note "$added remap messages ($(info_field r remaps) blocks) during 4 verifying fio writers"
# Everything fio wrote still verifies after the fact.
fio --name=w --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 --numjobs=4 \
    --offset_increment=64M --size=64M --rw=randwrite --bsrange=4k-128k --verify=crc32c \
    --verify_fatal=1 --randseed=5 --verify_only --eta=never --output=/tmp/work/fio2.out \
    || { cat /tmp/work/fio2.out; fail "final verify failed"; }
