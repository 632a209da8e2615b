# The README's demo: a dm-remap device over two loop-backed files, data written
# through it and read back, then its table and status.
main=$(mkloop main 64)
spare=$(mkloop spare 16)
echo "main device:  $main (64 MiB)"
echo "spare device: $spare (16 MiB)"
dev=$(remap_create demo "$main" "$spare")
echo "created $dev"
dd if=/dev/urandom of=/tmp/work/data bs=1M count=8 status=none
dd if=/tmp/work/data of="$dev" bs=1M oflag=direct status=none
dd if="$dev" of=/tmp/work/readback bs=1M count=8 iflag=direct status=none
cmp /tmp/work/data /tmp/work/readback || fail "data read back differs from data written"
echo "wrote and read back 8 MiB: sha256 $(sha256sum < /tmp/work/data | cut -c1-16)... matches"
echo "dmsetup table:  $(dmsetup table demo)"
echo "dmsetup status: $(dmsetup status demo)"
dmsetup remove demo
