# A remap whose report does not fit dmsetup's first result buffer (16 KiB)
# makes libdevmapper send the message again with a larger one; by then the
# blocks are remapped, and the re-sent message must still get the whole
# report, not "remapped 0 lost 0". Main: 3000 unreadable blocks (dm-error),
# every other one of the first 6000, so the report has 3000 "lost" lines
# (about 36 KiB: two re-sends). Once delivered, the same message again
# remaps nothing.
loop=$(mkloop main 8)
{
    for i in $(seq 0 2999); do
        echo "$((2 * i)) 1 linear $loop $((2 * i))"
        echo "$((2 * i + 1)) 1 error"
    done
    echo "6000 $(( $(sectors "$loop") - 6000 )) linear $loop 6000"
} > /tmp/work/holey.table
dmsetup create holey < /tmp/work/holey.table || fail "dmsetup create holey"
main=$(mapper holey)
spare=$(mkloop spare 8)
remap_create r "$main" "$spare" >/dev/null

want=$(echo "remapped 6000 lost 3000"; for i in $(seq 0 2999); do echo "lost $((2 * i + 1)) 1"; done)
got=$(dmsetup message r 0 remap 0 6000)
note "report: $(echo "$got" | head -1), $(echo "$got" | wc -l) lines, $(echo "$got" | wc -c) bytes"
[ "$got" = "$want" ] || fail "remap report after the re-send: got $(echo "$got" | wc -l) lines starting '$(echo "$got" | head -2 | tr '\n' '|')', want 3001 lines starting 'remapped 6000 lost 3000|lost 1 1|'"
assert_eq "$(dmsetup message r 0 list_remaps | wc -l)" 6000 "extents after the remap"
assert_eq "$(dmsetup message r 0 remap 0 6000)" "remapped 0 lost 0" "the same remap again, once reported"
