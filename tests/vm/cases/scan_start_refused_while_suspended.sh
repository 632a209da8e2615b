# `scan start` on a suspended device is refused with EBUSY: nothing would
# stop that scan (a suspend is what stops one), and a remove would then read
# the whole main device inside its destructor. A new table accepts it once
# resumed. A scan running when the device is suspended and removed stops at
# once; the time the remove takes is measured.
main=$(mkloop main 256)
spare=$(mkloop spare 8)
n=$(sectors "$main")
remap_create r "$main" "$spare" >/dev/null

dmsetup suspend r
if dmsetup message r 0 scan start 1 2>/tmp/work/msg.err; then
    # Stop it, or the cleanup's remove reads 256 MiB at 1 MiB/s.
    dmsetup message r 0 scan stop
    dmsetup resume r
    fail "scan start accepted on a suspended device"
fi
grep -q "Device or resource busy" /tmp/work/msg.err || fail "scan start while suspended: want EBUSY, got: $(cat /tmp/work/msg.err)"
assert_eq "$(dmsetup message r 0 scan status | cut -d' ' -f1)" idle "scan state after the refused start"
dmsetup resume r
dmsetup message r 0 scan start 1 || fail "scan start refused after resume"
dmsetup message r 0 scan stop

# A reloaded table takes messages once it is resumed.
dmsetup reload r --table "0 $n remap $main $spare"
dmsetup resume r
dmsetup message r 0 scan start 1 || fail "scan start refused by a reloaded table"
assert_eq "$(dmsetup message r 0 scan status | cut -d' ' -f1)" running "scan state on the reloaded table"

# Suspend and remove with that scan running.
sleep 0.5
t0=$(now_ms)
dmsetup suspend r
dmsetup remove r
ms=$(( $(now_ms) - t0 ))
note "suspend + remove with a 1 MiB/s scan of 256 MiB running: $ms ms"
[ "$ms" -lt 60000 ] || fail "suspend + remove took $ms ms with a scan running"
