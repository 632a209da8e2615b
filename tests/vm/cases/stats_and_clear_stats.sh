# `stats` reports the per-cpu I/O counters (the same values as the status
# line) and metadata commit latencies; `clear_stats` zeroes them.
main=$(mkloop main 32)
# The spare sits under dm-delay (20 ms per write, flushes included), so that a
# commit takes at least that long whatever the guest's clock: the test kernel
# has no HPET or ACPI PM timer, the guest falls back to the jiffies clock
# (4 ms ticks), and there a fast commit measures 0 us.
spare_loop=$(mkloop spare 8)
dmsetup create slowspare --table "0 $(sectors "$spare_loop") delay $spare_loop 0 0 $spare_loop 0 20" \
    || fail "delay create"
spare=$(mapper slowspare)
dev=$(remap_create r "$main" "$spare")
for s in 10 20 30; do dmsetup message r 0 remap $s >/dev/null; done
dd if=/dev/zero of="$dev" bs=4k count=64 oflag=direct status=none
dd if="$dev" of=/dev/null bs=4k count=32 iflag=direct status=none
dmsetup message r 0 stats > /tmp/work/stats
stat() { awk -v k="$1" '$1 == k { print $2 }' /tmp/work/stats; }
assert_eq "$(stat reads)" "$(info_field r reads)" "reads in stats and status"
assert_eq "$(stat writes)" "$(info_field r writes)" "writes in stats and status"
[ "$(stat writes)" -ge 64 ] || fail "writes counted: $(stat writes)"
[ "$(stat remapped_writes)" -ge 1 ] || fail "remapped writes counted: $(stat remapped_writes)"
assert_eq "$(stat commits)" 3 "commits counted"
[ "$(stat commit_p50_us)" -le "$(stat commit_p99_us)" ] && [ "$(stat commit_p99_us)" -le "$(stat commit_max_us)" ] \
    && [ "$(stat commit_p50_us)" -ge 16000 ] || fail "commit latencies: $(tr '\n' ' ' < /tmp/work/stats)"
assert_eq "$(stat table_extents)" 3 "extents in the table"
[ "$(stat table_bytes)" -ge 48 ] && [ "$(stat table_bytes)" -le 4096 ] || fail "table bytes: $(stat table_bytes)"
note "stats: $(tr '\n' ' ' < /tmp/work/stats)"
dmsetup message r 0 clear_stats
dmsetup message r 0 stats > /tmp/work/stats
assert_eq "$(stat reads) $(stat writes) $(stat commits)" "0 0 0" "counters after clear_stats"
expect_message_refused r "Invalid argument" stats now

# Latency histograms: each CPU times its every 32nd read and write, and
# every timed bio lands in one bucket.
dd if=/dev/zero of="$dev" bs=4k count=640 oflag=direct status=none
dmsetup message r 0 stats > /tmp/work/stats
every=$(stat latency_sample_every)
assert_eq "$every" 32 "latency sampling"
main_total=$(awk '$1 == "latency_us_log2" && $2 == "main" { for (i = 3; i <= NF; i++) s += $i; print s }' /tmp/work/stats)
spare_total=$(awk '$1 == "latency_us_log2" && $2 == "spare" { for (i = 3; i <= NF; i++) s += $i; print s }' /tmp/work/stats)
timed=$((main_total + spare_total)) writes=$(stat writes) cpus=$(nproc)
[ $((timed * every)) -le "$writes" ] && [ "$writes" -lt $(((timed + cpus) * every)) ] \
    || fail "$timed bios timed of $writes writes on $cpus CPUs, one in $every"
assert_eq "$(awk '$1 == "latency_us_log2" { print NF }' /tmp/work/stats | tr '\n' ' ')" "34 34 " "histogram buckets"
assert_eq "$(wc -l < /sys/kernel/dm_remap/r/latency_histogram)" 2 "sysfs histogram lines"
