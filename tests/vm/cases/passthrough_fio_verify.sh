# Data written through an empty remap target reads back intact (fio crc32c
# verify on randrw, 512 B to 1 MiB), and lands on the main device unchanged.
main=$(mkloop main 128)
spare=$(mkloop spare 32)
dev=$(remap_create r "$main" "$spare")
# Creating the target formats the spare's metadata; after that, I/O that hits
# no remap must not change the spare at all.
spare_before=$(dd if="$spare" bs=1M iflag=direct status=none | md5sum)

fio_verify "$dev" --rw=randrw --bsrange=512-1M --size=96M --io_size=64M
note "fio randrw verify: $(grep -o 'READ: bw=[^,]*' /tmp/work/fio.out) / $(grep -o 'WRITE: bw=[^,]*' /tmp/work/fio.out)"

# A known pattern through the target must be on main byte for byte, at the
# same offset; the spare must not have been written since the format.
dd if=/dev/urandom of=/tmp/work/pattern bs=1M count=4 status=none
dd if=/tmp/work/pattern of="$dev" bs=64k seek=160 oflag=direct status=none
dd if="$main" of=/tmp/work/on_main bs=64k skip=160 count=64 iflag=direct status=none
cmp /tmp/work/pattern /tmp/work/on_main || fail "main device does not hold what was written through the target"
assert_eq "$(dd if="$spare" bs=1M iflag=direct status=none | md5sum)" "$spare_before" \
    "spare contents after passthrough I/O"
