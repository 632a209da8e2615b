# A table of 1M extents (1M scattered single-block remaps) commits and
# loads. The table is written offline with `dm-remap restore` (a million
# dmsetup calls would take hours here), loaded by the kernel, grown by one
# remap (a full commit of both copies), and loaded again. The times and the
# metadata size are reported, not checked.
n=1000000
main=$(mkloop main 1024)
spare=$(mkloop spare 600)
remap_create r "$main" "$spare" >/dev/null
dmsetup remove r

# The formatted spare's header, with 1M extents: main block 2i -> pool block
# i, skipping the pool blocks of metadata region B (g to g + r).
hdr=$(dm-remap dump "$spare" | tr -d ' \n' | sed 's/"alloc_next":[0-9]*,"extents":\[\]}$//')
case "$hdr" in *'"pool_blocks"'*) ;; *) fail "unexpected dump header: $hdr" ;; esac
set -- $(dm-remap check "$spare" | sed -n 's/^layout: .* regions of \([0-9]*\) sectors at sectors 0 and \([0-9]*\),.*/\1 \2/p')
r=$1; g=$(( $2 - $1 ))
{
    printf '%s"alloc_next":%d,"extents":[' "$hdr" "$(( n > g ? n + r : n ))"
    awk -v n="$n" -v g="$g" -v r="$r" 'BEGIN { for (i = 0; i < n; i++)
        printf "%s{\"main_block\":%d,\"spare_pool_block\":%d,\"length\":1,\"state\":\"ok\"}", (i ? "," : ""), 2 * i, (i < g ? i : i + r) }'
    echo ']}'
} > /tmp/work/big.json
dm-remap restore "$spare" --input /tmp/work/big.json >/dev/null || fail "restore of 1M extents failed"
rm /tmp/work/big.json

t0=$(now_ms)
dev=$(remap_create r "$main" "$spare")
t1=$(now_ms)
assert_eq "$(info_field r remaps)" "$n" "remapped blocks after loading"
# Data written through the target lands on the spare block the table names.
set -- $(dmsetup message r 0 list_remaps 1000000 1 | head -1)
assert_eq "$1 $3 $4" "1000000 1 ok" "listing of block 1000000"
spare_block=$2
dd if=/dev/urandom of=/tmp/work/pattern bs=512 count=1 status=none
dd if=/tmp/work/pattern of="$dev" bs=512 seek=1000000 oflag=direct status=none
dd if="$spare" of=/tmp/work/on_spare bs=512 skip="$spare_block" count=1 iflag=direct status=none
cmp /tmp/work/pattern /tmp/work/on_spare || fail "write to block 1000000 is not on spare block $spare_block"

t2=$(now_ms)
dmsetup message r 0 remap 1 1 >/dev/null
t3=$(now_ms)
assert_eq "$(info_field r remaps)" "$((n + 1))" "remapped blocks after one more remap"
generation=$(info_field r generation)
dmsetup remove r
t4=$(now_ms)
remap_create r "$main" "$spare" >/dev/null
t5=$(now_ms)
assert_eq "$(info_field r remaps)" "$((n + 1))" "remapped blocks after reloading"
assert_eq "$(info_field r generation)" "$generation" "generation after reloading"
dm-remap check "$spare" | tail -1 | grep -q '^clean' || fail "offline check after the kernel's commit: $(dm-remap check "$spare")"
blocks=$(( (n + 1 + 251) / 252 + 1 ))
note "1M extents: load $((t1 - t0)) ms, one-remap commit (both copies) $((t3 - t2)) ms, reload $((t5 - t4)) ms"
note "metadata per copy: $blocks blocks of 4 KiB = $((blocks * 4)) KiB; memory: 16 B per extent"
