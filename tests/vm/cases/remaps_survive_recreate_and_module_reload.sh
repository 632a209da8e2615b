# Remaps and the data behind them survive removing and recreating the device,
# and unloading and reloading the module: the table comes back from the
# spare's metadata, with the same generation and UUID.
main=$(mkloop main 64)
spare=$(mkloop spare 16)
dev=$(remap_create r "$main" "$spare")
uuid=$(info_field r uuid)
[ "${#uuid}" = 32 ] || fail "status UUID '$uuid' is not 32 hex digits"
for s in 100 2048 5000 40000 90000; do dmsetup message r 0 remap $s 16 >/dev/null; done
fio=(--name=persist --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 --rw=randwrite --bs=4k
     --size=48M --verify=crc32c --randseed=42 --eta=never)
fio "${fio[@]}" --do_verify=0 --verify_state_save=1 --output=/tmp/work/write.out \
    || { cat /tmp/work/write.out; fail "fio write failed"; }
list=$(dmsetup message r 0 list_remaps)
generation=$(info_field r generation)
note "5 remaps committed, generation $generation, uuid $uuid"

# Garbage over the remapped blocks on main: only a loaded table reads right.
scramble_main() {
    for s in 100 2048 5000 40000 90000; do
        dd if=/dev/urandom of="$main" bs=512 seek=$s count=16 oflag=direct status=none
    done
}

check_back() {
    local how=$1
    dev=$(remap_create r "$main" "$spare")
    assert_eq "$(dmsetup message r 0 list_remaps)" "$list" "remap list after $how"
    assert_eq "$(info_field r generation)" "$generation" "generation after $how"
    assert_eq "$(info_field r uuid)" "$uuid" "uuid after $how"
    assert_eq "$(info_field r health)" ok "health after $how"
    fio "${fio[@]}" --verify_only --verify_state_load=1 --output=/tmp/work/verify.out \
        || { cat /tmp/work/verify.out; fail "fio verify after $how failed"; }
    grep -q "err= 0" /tmp/work/verify.out || { cat /tmp/work/verify.out; fail "fio verify errors after $how"; }
    note "after $how: same table, generation and uuid; fio verify_only clean"
}

dmsetup remove r
scramble_main
check_back "remove and recreate"

dmsetup remove r
rmmod dm_remap
insmod "$MODULE"
scramble_main
check_back "rmmod and insmod"

# A table reload keeps it too, and a remap made after the reload persists.
dmsetup reload r --table "$(dmsetup table r)"
dmsetup resume r
dmsetup message r 0 remap 120000 8 >/dev/null
list=$(dmsetup message r 0 list_remaps)
generation=$(info_field r generation)
dmsetup remove r
dev=$(remap_create r "$main" "$spare")
assert_eq "$(dmsetup message r 0 list_remaps)" "$list" "remap list after reload, remap and recreate"

# A remap the live table commits after the new table was loaded (between
# `dmsetup reload` and `resume`) is not lost: the new table reloads at resume.
dmsetup reload r --table "$(dmsetup table r)"
dmsetup message r 0 remap 125000 8 >/dev/null
list=$(dmsetup message r 0 list_remaps)
dmesg -C
dmsetup resume r
assert_eq "$(dmsetup message r 0 list_remaps)" "$list" "remap list of the new table after resume"
dmesg | grep -q "reloading it" || fail "the new table did not notice the newer generation"
note "a remap committed between reload and resume is in the new table"
