# An error storm cannot flood the kernel log: 200 refused messages leave at
# most a burst of 10 dm_remap lines per 5 s window of the rate limit (as
# DMWARN_LIMIT), and each names the device as device-mapper's own log lines
# do (major:minor).
main=$(mkloop main 32)
spare=$(mkloop spare 8)
remap_create r "$main" "$spare" >/dev/null
dev=$(dmsetup info -c --noheadings -o major,minor --separator : r)
# Let any window an earlier case opened close, so the storm starts a burst.
sleep 6
dmesg -C
t0=$(now_ms)
for i in $(seq 1 200); do
    ! dmsetup message r 0 frobnicate "$i" 2>/dev/null || fail "unknown message accepted"
done
ms=$(( $(now_ms) - t0 ))
dmesg | grep 'dm_remap' | grep -v 'callbacks suppressed' > /tmp/work/lines || true
n=$(wc -l < /tmp/work/lines)
bound=$(( 10 * (ms / 5000 + 1) ))
note "200 refused messages in $ms ms: $n log lines (at most $bound)"
[ "$n" -ge 1 ] || fail "no log line for 200 refused messages"
[ "$n" -le "$bound" ] || fail "200 refused messages in $ms ms logged $n lines, want at most $bound: $(head -3 /tmp/work/lines)"
unnamed=$(grep -v "dm_remap: $dev: " /tmp/work/lines || true)
[ -z "$unnamed" ] || fail "log lines without the device name $dev: $(echo "$unnamed" | head -3)"
