# /sys/kernel/dm_remap/<name>/: read-only state that matches the status
# line, policies that root can change (with bad values refused), and a
# directory that exists exactly while the device is active.
main=$(mkloop main 32)
spare=$(mkloop spare 8)
dev=$(remap_create r "$main" "$spare")
d=/sys/kernel/dm_remap/r
[ -d $d ] || fail "$d missing"
dmsetup message r 0 remap 100 8 >/dev/null
dd if=/dev/zero of="$dev" bs=4k count=16 oflag=direct status=none
for f in remaps pending spare_total spare_used health generation uuid metadata_copies reads writes \
         remapped_reads remapped_writes errors auto_remaps soft_read_errors unrecovered_errors \
         commit_p50_us commit_p99_us last_commit_time; do
    assert_eq "$(stat -c %a $d/$f)" 444 "mode of $f"
done
for f in auto_remap read_retries error_threshold spare_warn spare_crit; do
    assert_eq "$(stat -c %a $d/$f)" 644 "mode of $f"
done
assert_eq "$(cat $d/remaps)" "$(info_field r remaps)" "remaps"
assert_eq "$(cat $d/spare_used)" "$(info_field r spare_used)" "spare_used"
assert_eq "$(cat $d/health)" "$(info_field r health)" "health"
assert_eq "$(cat $d/uuid)" "$(info_field r uuid)" "uuid"
assert_eq "$(cat $d/generation)" "$(info_field r generation)" "generation"
assert_eq "$(cat $d/writes)" "$(info_field r writes)" "writes"
[ "$(cat $d/last_commit_time)" -gt 1000000000 ] || fail "last_commit_time: $(cat $d/last_commit_time)"

echo 7 > $d/read_retries
assert_eq "$(info_field r read_retries)" 7 "read_retries set through sysfs"
assert_eq "$(dmsetup table r | cut -d' ' -f6-)" "2 read_retries 7" "table line after a sysfs write"
for bad in "17" "x" ""; do
    ! echo "$bad" > $d/read_retries 2>/dev/null || fail "read_retries accepted '$bad'"
done
! echo maybe > $d/auto_remap 2>/dev/null || fail "auto_remap accepted 'maybe'"
! echo 5 > $d/remaps 2>/dev/null || fail "a read-only attribute accepted a write"
assert_eq "$(cat $d/read_retries)" 7 "read_retries after refused writes"
note "attributes match status; policy writes validated"

dmsetup suspend r
[ ! -e $d ] || fail "$d present while suspended"
dmsetup resume r
[ -d $d ] || fail "$d missing after resume"
dmsetup reload r --table "$(dmsetup table r)"
dmsetup resume r
assert_eq "$(cat $d/read_retries)" 7 "policy after reload"
dmsetup remove r
[ ! -e $d ] || fail "$d left after remove"
