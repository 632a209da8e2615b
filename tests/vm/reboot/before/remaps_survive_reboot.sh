# Before the reboot: remap on the virtio disks, write a verifiable pattern,
# scribble over the remapped blocks on main, and keep the fio verify state
# and the expected table on /dev/vdc (the runner's /tmp does not survive).
main=/dev/vda spare=/dev/vdb state=/dev/vdc
dev=$(remap_create r "$main" "$spare")
for s in 300 4096 65536 100000; do dmsetup message r 0 remap $s 32 >/dev/null; done
fio --name=reboot --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 --rw=randwrite --bs=4k \
    --size=60M --verify=crc32c --randseed=7 --do_verify=0 --verify_state_save=1 --eta=never \
    --output=/tmp/work/fio.out || { cat /tmp/work/fio.out; fail "fio write failed"; }
dmsetup message r 0 list_remaps > /tmp/work/list
info_field r uuid > /tmp/work/uuid
dmsetup remove r
for s in 300 4096 65536 100000; do
    dd if=/dev/urandom of="$main" bs=512 seek=$s count=32 oflag=direct status=none
done
tar cf /tmp/work/state.tar -C /tmp/work list uuid $(cd /tmp/work && ls *verify.state)
dd if=/tmp/work/state.tar of="$state" bs=64k conv=fsync status=none
note "4 remaps, fio pattern and state saved; rebooting"
