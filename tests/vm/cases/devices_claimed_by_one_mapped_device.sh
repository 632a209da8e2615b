# A main or spare device serves one dm-remap device at a time: a second
# device over the same spare (through another main of the same size, which
# the spare's fingerprint cannot tell apart) or over the same main is
# refused with its own reason, and so are two targets of one table on one
# spare. A reload of the same device still works, a refused table releases
# what it claimed, and after a remove the devices can be claimed again.
main=$(mkloop main 32)
main2=$(mkloop main2 32)
main3=$(mkloop main3 32)
spare=$(mkloop spare 8)
spare2=$(mkloop spare2 8)
n=$(sectors "$main")
half=$((n / 2))

remap_create r "$main" "$spare" >/dev/null
expect_table_rejected "0 $n remap $main2 $spare" "Spare device is already used by another dm-remap device"
expect_table_rejected "0 $n remap $main $spare2" "Main device is already used by another dm-remap device"
expect_table_rejected "0 $n remap $spare2 $main" "Spare device is already used by another dm-remap device"

# Two targets of one table on one spare.
dmesg -C
if printf '%s\n' "0 $half remap $main2 $spare2" "$half $half remap $main3 $spare2" | dmsetup create two 2>/dev/null; then
    dmsetup remove two
    fail "a table with two targets on one spare was accepted"
fi
dmesg | grep -qF "remap: Spare device is already used by another dm-remap device" \
    || fail "two targets on one spare: no reason in the kernel log: $(dmesg | tail -3)"

# A reload of the same device (both tables hold the devices until the old
# one goes) is no second claim.
dmsetup reload r --table "0 $n remap $main $spare 2 auto_remap off" || fail "reload of r refused"
dmsetup resume r
assert_eq "$(info_field r auto_remap)" off "policy after the reload"
dmsetup reload r --table "0 $n remap $main $spare" || fail "second reload of r refused"
dmsetup reload r --table "0 $n remap $main $spare 2 read_retries 2" || fail "reload over an inactive table refused"
dmsetup resume r
assert_eq "$(info_field r read_retries)" 2 "policy after the second reload"

# A table refused after its devices were claimed (a spare too small)
# releases them.
dmsetup remove r
tiny=$(mkloop tiny 16K)
expect_table_rejected "0 $n remap $main2 $tiny" "Spare device too small for two metadata copies plus one spare block"
remap_create r2 "$main2" "$spare2" >/dev/null
dmsetup remove r2

# Removed devices can be claimed again, each by one new device.
remap_create r2 "$main2" "$spare" >/dev/null
remap_create r3 "$main" "$spare2" >/dev/null
dmsetup remove r2
dmsetup remove r3
