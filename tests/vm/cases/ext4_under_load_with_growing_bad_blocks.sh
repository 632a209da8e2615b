# ext4 on the target under a mixed verified load (fio with crc32c verify on a
# file, stress-ng iomix and hdd with --verify) while 32 blocks go bad on the
# main device, each before the load first writes it (a block that goes bad
# while holding data is lost to any remapper: it cannot be read). Every bad
# block is remapped, fio and stress-ng verify, and e2fsck -fn is clean.
main=$(mkdust dust 256)
spare=$(mkloop spare 32)
dev=$(remap_create r "$main" "$spare")
mkfs.ext4 -q -b 4096 "$dev"
mkdir -p /mnt/t && mount -t ext4 "$dev" /mnt/t
fallocate -l 64M /mnt/t/data
sync
# Physical 4 KiB blocks of the file's second half, from its extent map.
filefrag -v -b4096 /mnt/t/data \
    | awk '/^ *[0-9]+:/ { gsub(/[.:]+/, " "); for (i = 0; i < $6; i++) print $4 + i }' \
    | awk 'NR > 8192' > /tmp/work/late_blocks
[ "$(wc -l < /tmp/work/late_blocks)" -ge 8000 ] || { filefrag -v -b4096 /mnt/t/data; fail "could not map the file"; }

note "file mapped; starting the load"
fio --name=ext4 --filename=/mnt/t/data --direct=1 --ioengine=libaio --iodepth=4 --rw=write --bs=4k \
    --size=64M --rate=16m --verify=crc32c --verify_fatal=1 --eta=never --output=/tmp/work/fio.out &
fio_pid=$!
mkdir -p /mnt/t/stress
stress-ng --iomix 2 --hdd 1 --hdd-bytes 8M --iomix-bytes 8M --verify --timeout 15s \
    --temp-path /mnt/t/stress --quiet > /tmp/work/stress.out 2>&1 &
stress_pid=$!
# Blocks go bad ahead of the sequential writer: 32 spread over the second half.
awk 'NR % 250 == 1 && ++n <= 32' /tmp/work/late_blocks > /tmp/work/bad
while read -r b; do dmsetup message dust 0 addbadblock $((b * 8)) 255; done < /tmp/work/bad
note "bad blocks injected"
wait $fio_pid || { cat /tmp/work/fio.out; fail "fio failed on ext4"; }
grep -q "err= 0" /tmp/work/fio.out || { cat /tmp/work/fio.out; fail "fio reported errors"; }
wait $stress_pid || { cat /tmp/work/stress.out; fail "stress-ng failed"; }
umount /mnt/t
e2fsck -fn "$dev" > /tmp/work/fsck.out 2>&1 || { cat /tmp/work/fsck.out; fail "e2fsck found problems"; }
assert_eq "$(info_field r auto_remaps)" 32 "blocks remapped under the load"
assert_eq "$(info_field r unrecovered)" 0 "errors returned to the filesystem"
note "32 blocks went bad under ext4 + fio + stress-ng: all remapped, verifies clean, e2fsck -fn clean"
