# A remap message that reaches a reloaded table after the table swap but
# before its preresume (found by chaos_under_io): the new table has not
# caught up with the spare yet, so it must not write to the spare at all.
# Its commit is refused ("table not in step with the spare"), but if its
# copy has already written the block's data into a spare block chosen by
# its stale allocator, that spare block may be one the old table handed out
# after the reload, and a remapped block's data is overwritten.
#
# The window is made wide: with the device already suspended, `dmsetup
# resume` publishes the new table, then waits (synchronize_srcu in
# dm_swap_table) for a remap message still running on the old table, made
# slow by dm-delay (reads of main take 3 s); a remap message sent meanwhile
# reaches the new table. (Without the suspend first, the suspend inside the
# resume waits for the slow message before the swap.)
loop=$(mkloop main 64)
dd if=/dev/urandom of="$loop" bs=1M count=64 oflag=direct status=none
dmsetup create slow --table "0 $(sectors "$loop") delay $loop 0 3000 $loop 0 0" || fail "delay create"
main=$(mapper slow)
spare=$(mkloop spare 32)
dev=$(remap_create r "$main" "$spare")
line=$(dmsetup table r)
y=1000          # remapped by the old table after the reload
z=120000        # remapped by a message that reaches the new table early

for attempt in 1 2 3; do
    dmesg -C
    y=$(( y + 8 )); z=$(( z + 8 ))
    dmsetup reload r --table "$line"               # the new table loads generation G
    dmsetup message r 0 remap "$y" 1 >/dev/null     # the old one commits G+1: y -> spare block A
    want=$(dd if="$dev" bs=512 skip="$y" count=1 iflag=direct status=none | sha256sum)
    set -- $(dmsetup message r 0 list_remaps "$y" 1 | head -1)
    spare_block=$2
    # A slow remap on the old, suspended table, then the resume.
    dmsetup suspend r
    dmsetup message r 0 remap $(( attempt * 16384 )) 64 > /tmp/work/big.out 2>&1 & big=$!
    sleep 0.3
    dmsetup resume r & resume=$!
    sleep 1
    kill -0 "$big" 2>/dev/null || { wait "$big" || true; note "attempt $attempt: the long remap ended too soon"; continue; }
    if dmsetup message r 0 remap "$z" 1 > /tmp/work/z.out 2>&1; then z_result=accepted; else z_result="refused: $(cat /tmp/work/z.out)"; fi
    wait "$resume" || fail "resume failed"
    wait "$big" || fail "the long remap failed: $(cat /tmp/work/big.out)"
    if ! dmesg | grep -q "not in step"; then
        note "attempt $attempt: the message did not reach the new table before its preresume ($z_result)"
        continue
    fi
    note "attempt $attempt: remap $z reached the new table before its preresume: $z_result"
    got=$(dd if="$dev" bs=512 skip="$y" count=1 iflag=direct status=none | sha256sum)
    zdata=$(dd if="$loop" bs=512 skip="$z" count=1 iflag=direct status=none | sha256sum)
    [ "$got" != "$zdata" ] || fail "block $y (spare block $spare_block, remapped by the old table after the reload) now holds block $z's data: the refused remap wrote it there"
    assert_eq "$got" "$want" "block $y after a remap message reached the new table before its preresume"
    note "block $y (spare block $spare_block) kept its data"
    exit 0
done
fail "the window between table swap and preresume was never hit"
