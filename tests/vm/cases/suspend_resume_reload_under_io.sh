# Suspend/resume and table reloads while fio writes and verifies: no verify
# error, and the device keeps its table.
main=$(mkloop main 96)
spare=$(mkloop spare 16)
dev=$(remap_create r "$main" "$spare")
table=$(dmsetup table r)

fio --name=bg --filename="$dev" --direct=1 --ioengine=libaio --iodepth=16 --rw=randwrite \
    --bsrange=4k-256k --size=64M --verify=crc32c --verify_backlog=64 --verify_fatal=1 \
    --randseed=7 --eta=never --output=/tmp/work/fio.out &
fio_pid=$!
cycles=0
while kill -0 "$fio_pid" 2>/dev/null && [ "$cycles" -lt 40 ]; do
    dmsetup suspend r
    sleep 0.1
    dmsetup resume r
    echo "$table" | cut -d' ' -f1-5 | dmsetup reload r
    dmsetup resume r
    cycles=$((cycles + 1))
done
wait "$fio_pid" || { cat /tmp/work/fio.out; fail "fio failed across suspend/resume/reload"; }
grep -q "err= 0" /tmp/work/fio.out || { cat /tmp/work/fio.out; fail "fio reported errors"; }
[ "$cycles" -gt 0 ] || fail "fio finished before any suspend cycle ran"
assert_eq "$(dmsetup table r)" "$table" "table after $cycles reload cycles"
note "$cycles suspend/resume + reload cycles under fio, no verify errors"
