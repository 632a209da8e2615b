# Issue 14.5: hostile spares. Thousands of mutants of spares the module
# wrote (a fresh one, one with 260 remaps, a grown one) are loaded: each
# must load, or be refused with a `remap: <reason>` line in the kernel log
# and nothing written to it; never an oops, a splat or a hang. Half of them
# get their checksums recomputed after the mutation, so that the checks
# past the checksum (fields, layout, entries, table) are reached.
# hostile-spare (tests/hostile-spare) makes the mutants from a seed, loads
# each with the ioctls of `dmsetup create`, and compares the outcome with
# what the shared load code decides for the same image: the refusal's
# reason, or the number of remapped blocks and reads through the table.
# A failing mutant: `hostile-spare mutate <base> <seed> 16384 <out>` makes
# it again from the base (the base-<n>.sha256 lines identify the bases).
COUNT=3500
SECONDS_MAX=240

main=$(mkloop main 8)
dd if=/dev/urandom of="$main" bs=1M count=8 oflag=direct status=none
main_sum=$(sha256sum </tmp/work/main.img)

# Base 0: a fresh 2 MiB spare, formatted by the module.
s0=$(mkloop spare0 2)
remap_create r "$main" "$s0" >/dev/null
dmsetup remove r

# Base 1: a 2 MiB spare with 260 runs of 1-5 blocks (two entry blocks per
# copy), committed one remap message at a time.
s1=$(mkloop spare1 2)
remap_create r "$main" "$s1" >/dev/null
t0=$(now_ms)
for i in $(seq 0 259); do dmsetup message r 0 remap $((i * 60 + 3)) $((i % 5 + 1)) >/dev/null; done
assert_eq "$(info_field r remaps)" 780 "remapped blocks of base 1"
dmsetup remove r
note "base 1: 260 remaps in $(( $(now_ms) - t0 )) ms"

# Base 2: a spare formatted at 2 MiB with 5 remaps, grown to 3 MiB (region B
# stays where it was), loaded again and given 5 more.
s2=$(mkloop spare2 2)
remap_create r "$main" "$s2" >/dev/null
for s in 100 2000 4000 9000 16000; do dmsetup message r 0 remap $s 3 >/dev/null; done
dmsetup remove r
truncate -s 3M /tmp/work/spare2.img
losetup -c "$s2"
assert_eq "$(sectors "$s2")" 6144 "grown spare size"
remap_create r "$main" "$s2" >/dev/null
for s in 500 3000 7000 12000 15000; do dmsetup message r 0 remap $s 2 >/dev/null; done
assert_eq "$(info_field r remaps)" 25 "remapped blocks of base 2"
dmsetup remove r

args=()
for n in 0 1 2; do
    cp "/tmp/work/spare$n.img" "/tmp/work/base$n.img"
    dm-remap check "/tmp/work/base$n.img" | tail -1 | grep -q '^clean' \
        || fail "base $n is not clean: $(dm-remap check "/tmp/work/base$n.img")"
    note "base-$n.sha256 $(sha256sum <"/tmp/work/base$n.img" | cut -c1-16) $(dm-remap check "/tmp/work/base$n.img" | grep '^layout')"
    dev=$(eval echo "\$s$n")
    args+=(--spare "$dev:/tmp/work/spare$n.img:/tmp/work/base$n.img")
done

hostile-spare run --main "$main" --main-file /tmp/work/main.img "${args[@]}" \
    --count "$COUNT" --seconds "$SECONDS_MAX" --log /tmp/work/hostile.log 2>&1 \
    | while IFS= read -r line; do note "$line"; done
assert_eq "$(sha256sum </tmp/work/main.img)" "$main_sum" "main device after the mutants"
! dmsetup info hostile >/dev/null 2>&1 || fail "a mutant's device was left behind"
