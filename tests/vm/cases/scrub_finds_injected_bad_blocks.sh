# A patrol read (`scan start`) finds every unreadable block of the main
# device, marks it pending and reports its progress; `scan stop` and a
# suspend stop a running scan. (dm-dust fails a bio by its first block, so
# the bad blocks sit where the scan's 64 KiB reads start.)
main=$(mkdust dust 32)
spare=$(mkloop spare 8)
remap_create r "$main" "$spare" >/dev/null
bad="128 8192 20480 65408"
for b in $bad; do dmsetup message dust 0 addbadblock "$b"; done
assert_eq "$(dmsetup message r 0 scan status)" "idle 0 0 0" "scan status before any scan"
dmsetup message r 0 scan start 1000
for i in $(seq 1 300); do
    [ "$(dmsetup message r 0 scan status | cut -d' ' -f1)" = done ] && break
    sleep 0.1
done
set -- $(dmsetup message r 0 scan status)
assert_eq "$1 $2 $4" "done 100 4" "scan state, percent and blocks found"
assert_eq "$(info_field r pending)" 4 "pending blocks after the scan"
for b in $bad; do
    dmsetup message r 0 list_remaps | grep -qx "$b - 1 pending" || fail "block $b not pending after the scan"
done
assert_eq "$(info_field r scan_state)" done "scan state in the status line"
note "scan found the 4 injected bad blocks: $(dmsetup message r 0 scan status)"

# A slow scan is stopped by message, and by a suspend.
dmsetup message r 0 scan start 1
sleep 0.3
dmsetup message r 0 scan stop
assert_eq "$(dmsetup message r 0 scan status | cut -d' ' -f1)" stopped "state after scan stop"
dmsetup message r 0 scan start 1
sleep 0.3
dmsetup suspend r
assert_eq "$(dmsetup message r 0 scan status | cut -d' ' -f1)" stopped "state after suspend"
dmsetup resume r
expect_message_refused r "Invalid argument" scan start 0
expect_message_refused r "Invalid argument" scan sideways
