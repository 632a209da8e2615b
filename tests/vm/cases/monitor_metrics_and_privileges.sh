# dm-remap-monitor on live devices: /metrics carries the kernel's latency
# histograms and counters as sysfs shows them, a removed device leaves it;
# and the privileges dm-remap-monitor.service grants are the ones needed:
# dmsetup status as a non-root user works with CAP_SYS_ADMIN and
# CAP_DAC_OVERRIDE, and fails with CAP_SYS_ADMIN alone.
m1=$(mkloop m1 32); s1=$(mkloop s1 8)
m2=$(mkloop m2 32); s2=$(mkloop s2 8)
dev=$(remap_create a "$m1" "$s1")
remap_create b "$m2" "$s2" >/dev/null
dd if=/dev/zero of="$dev" bs=4096 count=256 oflag=direct status=none
dd if="$dev" of=/dev/null bs=4096 count=256 iflag=direct status=none

# (The guest has no network: `metrics` prints what `monitor` serves on
# /metrics, from the same code; the HTTP side is tested on the host.)
dm-remap-monitor monitor --db /tmp/work/state/h.sqlite --interval 1 --samples 1 --listen '' 2>/tmp/work/mon.err \
    || fail "monitor: $(cat /tmp/work/mon.err)"
[ -f /tmp/work/state/h.sqlite ] || fail "the monitor did not create its state directory and history"
dm-remap-monitor metrics > /tmp/work/m1 || fail "metrics"
reads=$(cat /sys/kernel/dm_remap/a/reads)
got=$(sed -n 's/^dm_remap_reads_total{device="a"} //p' /tmp/work/m1)
[ "${got:-0}" -gt 0 ] && [ "$got" -le "$reads" ] || fail "reads_total $got, sysfs $reads: $(cat /tmp/work/m1)"
# The main path's histogram: its +Inf bucket and _count are the sum of the
# kernel's buckets (no I/O since, so sysfs still shows the same counts).
sum=$(awk '$1 == "latency_us_log2" && $2 == "main" { for (i = 3; i <= NF; i++) s += $i } END { print s + 0 }' \
    /sys/kernel/dm_remap/a/latency_histogram)
[ "$sum" -gt 0 ] || fail "no sampled latencies in sysfs"
grep -qx "dm_remap_io_latency_seconds_bucket{device=\"a\",path=\"main\",le=\"+Inf\"} $sum" /tmp/work/m1 \
    || fail "histogram +Inf bucket, want $sum: $(grep 'a",path="main",le="+Inf' /tmp/work/m1)"
grep -qx "dm_remap_io_latency_seconds_count{device=\"a\",path=\"main\"} $sum" /tmp/work/m1 || fail "histogram count"
grep -qx 'dm_remap_health{device="a",state="ok"} 1' /tmp/work/m1 || fail "health series"
grep -q '^dm_remap_info{device="a",main="7:[0-9]*",spare="7:[0-9]*",uuid="[0-9a-f]\{32\}",block_bytes="[0-9]*"} 1$' \
    /tmp/work/m1 || fail "info: $(grep dm_remap_info /tmp/work/m1)"
grep -qx 'dm_remap_last_scrape_success 1' /tmp/work/m1 || fail "scrape success"
note "metrics of live devices match sysfs: reads $got, main latency samples $sum"

dmsetup remove b
dm-remap-monitor metrics > /tmp/work/m2 || fail "metrics after a remove"
grep -q 'device="b"' /tmp/work/m2 && fail "a removed device stays in the metrics"
grep -q 'device="a"' /tmp/work/m2 || fail "device a left the metrics"
note "a removed device leaves the metrics"

# The service's privileges: nobody (65534) with the unit's two capabilities.
# as_nobody <cap>[,<cap>...] <command>...
as_nobody() {
    local caps="-all,+${1//,/,+}"; shift
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps="$caps" --ambient-caps="$caps" -- "$@"
}
out=$(as_nobody sys_admin,dac_override dm-remap-monitor value a health) || fail "as nobody with CAP_SYS_ADMIN and CAP_DAC_OVERRIDE"
assert_eq "$out" ok "health read by an unprivileged user with the unit's capabilities"
set +e; as_nobody sys_admin dmsetup status a >/dev/null 2>/tmp/work/err; rc=$?; set -e
[ "$rc" != 0 ] || fail "dmsetup status as nobody with CAP_SYS_ADMIN alone worked: CAP_DAC_OVERRIDE is not needed"
grep -q "Permission denied" /tmp/work/err || fail "without CAP_DAC_OVERRIDE: $(cat /tmp/work/err)"
set +e; as_nobody dac_override dmsetup status a >/dev/null 2>/tmp/work/err; rc=$?; set -e
[ "$rc" != 0 ] || fail "dmsetup status without CAP_SYS_ADMIN worked"
note "dmsetup status needs CAP_SYS_ADMIN and, for a non-root user, CAP_DAC_OVERRIDE"
