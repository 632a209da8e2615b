# Power loss during commits, simulated with dm-flakey under the spare: while
# remap messages commit back to back, the spare is suspended (in-flight
# writes finish, new ones queue) and switched to drop every write from then
# on, as if the machine died at that instant. The spare, read directly
# afterwards, must load, and hold every remap acknowledged before the cut.
main=$(mkloop main 64)
spare=$(mkloop spare 16)
n=$(sectors "$spare")
rounds=8
for round in $(seq 1 $rounds); do
    dd if=/dev/zero of="$spare" bs=1M count=16 oflag=direct status=none
    dmsetup create sf --table "0 $n flakey $spare 0 3600 0" || fail "flakey create"
    remap_create r "$main" "$(mapper sf)" >/dev/null
    : > /tmp/work/acked
    (
        i=0
        while :; do
            dmsetup message r 0 remap $((i * 3 + round)) 1 >/dev/null || exit 0
            echo $((i * 3 + round)) >> /tmp/work/acked
            i=$((i + 1))
        done
    ) &
    writer=$!
    # Cut at a different point each round (0.3 s to 2 s of commits).
    cut=$(( (round * 379) % 1700 + 300 ))
    sleep "$((cut / 1000)).$(printf %03d $((cut % 1000)))"
    dmsetup suspend sf
    cp /tmp/work/acked /tmp/work/acked_before_cut
    dmsetup load sf --table "0 $n flakey $spare 0 0 3600 1 drop_writes"
    dmsetup resume sf
    sleep 0.3
    kill $writer 2>/dev/null || true
    wait $writer 2>/dev/null || true
    dmsetup remove r
    dmsetup remove sf

    # "Reboot": load the spare as it is on disk.
    remap_create r "$main" "$spare" >/dev/null
    dmsetup message r 0 list_remaps | awk '$1 ~ /^[0-9]+$/ { print $1 }' | sort -n > /tmp/work/loaded
    sort -n /tmp/work/acked_before_cut > /tmp/work/want
    missing=$(join -v 1 <(sort /tmp/work/want) <(sort /tmp/work/loaded) | head -5)
    [ -z "$missing" ] || fail "round $round: acknowledged remaps missing after the cut: $missing"
    acked=$(wc -l < /tmp/work/want)
    [ "$acked" -gt 0 ] || fail "round $round: no remap was acknowledged before the cut"
    note "round $round: $acked acknowledged before the cut, $(wc -l < /tmp/work/loaded) loaded, generation $(info_field r generation)"
    dmsetup remove r
done
