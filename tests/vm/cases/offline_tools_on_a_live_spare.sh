# The offline commands on the spare of a live dm-remap device: `repair` and
# `restore` open it exclusively and refuse (the live target holds it), and
# reads use O_DIRECT, so `dump` sees the target's latest commit even when
# the spare's page cache holds older blocks. Once the device is gone, the
# writers work again.
main=$(mkloop main 32); spare=$(mkloop spare 8)
dev=$(remap_create r "$main" "$spare")
dm-remap dump "$spare" > /tmp/work/dump1
gen1=$(sed -n 's/.*"generation": *\([0-9]*\).*/\1/p' /tmp/work/dump1 | head -1)
[ -n "$gen1" ] || fail "no generation in the dump: $(head -c 300 /tmp/work/dump1)"

# Fill the spare's page cache, then let the target commit around it.
cat "$spare" > /dev/null
dm-remap remap r 1000 8 > /dev/null
dm-remap dump "$spare" > /tmp/work/dump2
gen2=$(sed -n 's/.*"generation": *\([0-9]*\).*/\1/p' /tmp/work/dump2 | head -1)
[ "$gen2" -gt "$gen1" ] || fail "dump read a stale spare: generation $gen2 after the remap, $gen1 before"
grep -q '"main_block": *1000' /tmp/work/dump2 || fail "dump does not show the new remap"

for cmd in "repair $spare" "restore $spare --input /tmp/work/dump2"; do
    set +e; dm-remap $cmd > /tmp/work/out 2>&1; rc=$?; set -e
    assert_eq "$rc" 2 "exit status of '$cmd' on a live spare"
    grep -q "device is in use" /tmp/work/out || fail "'$cmd' on a live spare: $(cat /tmp/work/out)"
done
assert_eq "$(dmsetup status r | cut -d' ' -f3)" remap "the live device after the refusals"

dmsetup remove r
dm-remap repair "$spare" > /tmp/work/out 2>&1 || fail "repair of the released spare: $(cat /tmp/work/out)"
dm-remap check "$spare" | tail -1 | grep -q '^clean' || fail "check after the repair: $(dm-remap check "$spare")"

# O_DIRECT on a spare with 4 KiB logical blocks: every transfer is aligned.
main4=$(mkloop main4 32 4096); spare4=$(mkloop spare4 8 4096)
remap_create r4 "$main4" "$spare4" > /dev/null
dm-remap remap r4 800 8 > /dev/null
dmsetup remove r4
# Into a file, not a pipe: under pipefail, `grep -q` exiting at its match
# would fail the dump's later writes with SIGPIPE (seen once in 48 runs).
dm-remap dump "$spare4" > /tmp/work/dump4 2>&1 || fail "dump of a 4K spare: $(head -c 300 /tmp/work/dump4)"
grep -q '"main_block": *100' /tmp/work/dump4 || fail "dump of a 4K spare: $(head -c 300 /tmp/work/dump4)"
dm-remap repair "$spare4" > /tmp/work/out 2>&1 || fail "repair of a 4K spare: $(cat /tmp/work/out)"
dm-remap check "$spare4" | tail -1 | grep -q '^clean' || fail "check of a 4K spare: $(dm-remap check "$spare4")"
