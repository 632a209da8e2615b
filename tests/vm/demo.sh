# The README's demo: a dm-remap device over a main disk (a loop device with
# dm-dust on top, to make sectors go bad) and a spare; data written through
# it, a manual remap, a write error remapped automatically, the table kept
# across remove and recreate, and what dmsetup, the CLI and sysfs show.
disk=$(mkloop main 64)
spare=$(mkloop spare 16)
dmsetup create dust --table "0 $(sectors "$disk") dust $disk 0 512" && dmsetup message dust 0 enable
main=$(mapper dust)
echo "main device:  $main (dm-dust over $disk, 64 MiB)"
echo "spare device: $spare (16 MiB)"
dev=$(remap_create demo "$main" "$spare")
echo "created $dev (the blank spare was formatted: uuid $(info_field demo uuid))"
dd if=/dev/urandom of=/tmp/work/data bs=1M count=8 status=none
dd if=/tmp/work/data of="$dev" bs=1M oflag=direct status=none
dd if="$dev" of=/tmp/work/readback bs=1M count=8 iflag=direct status=none
cmp /tmp/work/data /tmp/work/readback || fail "data read back differs from data written"
echo "wrote and read back 8 MiB: sha256 $(sha256sum < /tmp/work/data | cut -c1-16)... matches"
echo
echo "\$ dmsetup message demo 0 remap 2048 16      # move 16 sectors to the spare by hand"
dmsetup message demo 0 remap 2048 16
echo "\$ dmsetup message dust 0 addbadblock 4096 255   # sector 4096 now fails every write"
dmsetup message dust 0 addbadblock 4096 255 2>/dev/null
dd if=/dev/urandom of=/tmp/work/block bs=512 count=1 status=none
dd if=/tmp/work/block of="$dev" bs=512 seek=4096 oflag=direct status=none || fail "write to the failing sector failed"
dd if="$dev" bs=512 skip=4096 count=1 iflag=direct status=none | cmp - /tmp/work/block || fail "remapped data differs"
echo "wrote sector 4096 anyway: the failing block was remapped automatically and reads back right"
echo "\$ dmsetup message demo 0 list_remaps"
dmsetup message demo 0 list_remaps
echo
dmsetup remove demo
remap_create demo "$main" "$spare" >/dev/null
echo "removed and recreated: $(dmsetup message demo 0 list_remaps | wc -l) extents loaded back from the spare's metadata"
echo
echo "dmsetup table:  $(dmsetup table demo)"
echo "dmsetup status: $(dmsetup status demo)"
echo "\$ dm-remap status"
dm-remap status
echo "/sys/kernel/dm_remap/demo: health=$(cat /sys/kernel/dm_remap/demo/health) remaps=$(cat /sys/kernel/dm_remap/demo/remaps) auto_remaps=$(cat /sys/kernel/dm_remap/demo/auto_remaps) generation=$(cat /sys/kernel/dm_remap/demo/generation)"
dmsetup remove demo
dmsetup remove dust
