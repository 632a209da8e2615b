# Every malformed or impossible table line is refused with its own reason in
# the kernel log, leaves no device behind, and splats nothing.
main=$(mkloop main 32)
spare=$(mkloop spare 8)
other=$(mkloop other 16)
tiny=$(mkloop tiny 16K)     # 32 sectors: one short of the smallest spare
n=$(sectors "$main")

expect_table_rejected "0 $n remap" "Invalid argument count"
expect_table_rejected "0 $n remap $main" "Invalid argument count"
expect_table_rejected "0 $n remap /dev/does-not-exist $spare" "Main device lookup failed"
expect_table_rejected "0 $n remap $main /dev/does-not-exist" "Spare device lookup failed"
expect_table_rejected "0 $n remap $main $main" "Main and spare must be different devices"
expect_table_rejected "0 $((n + 8)) remap $main $spare" "Target length exceeds the main device"
expect_table_rejected "0 $n remap $main $tiny" "Spare device too small for two metadata copies plus one spare block"
expect_table_rejected "0 $n remap $main $spare x" "Invalid optional argument count"
expect_table_rejected "0 $n remap $main $spare 2 foo" "Optional argument count does not match the arguments given"
expect_table_rejected "0 $n remap $main $spare 1 foo" "Unknown optional argument"

# Unknown messages are refused and logged.
remap_create r "$main" "$spare" >/dev/null
dmesg -C
if dmsetup message r 0 frobnicate 1 2 2>/dev/null; then fail "unknown message accepted"; fi
dmesg | grep -q "unrecognised message: 'frobnicate'" || fail "unknown message not logged"
# The devices still work after all that.
dd if=/dev/zero of=/dev/mapper/r bs=4k count=1 oflag=direct status=none
