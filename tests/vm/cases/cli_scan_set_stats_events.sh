# The CLI's scan, set, stats, list formats, /dev paths and --version agree
# with the target and sysfs; `events --exec` runs its hook with the right
# device, old and new health on every health change (the target raises a DM
# event for each), and logs it with a journald priority.
m=$(mkloop m 32); s=$(mkloop s 8)
remap_create a "$m" "$s" >/dev/null

assert_eq "$(dm-remap --version | sed -n 2p)" "module dm_remap $(cat /sys/module/dm_remap/version)" "module version"
assert_eq "$(dm-remap --version | head -1)" "dm-remap $(cat /sys/module/dm_remap/version)" "tool and module versions"
dm-remap status a --format json > /tmp/work/a.json
grep -q "\"main\": \"$m\"" /tmp/work/a.json || fail "main path in json: $(cat /tmp/work/a.json)"
grep -q "\"spare\": \"$s\"" /tmp/work/a.json || fail "spare path in json"
assert_eq "$(sed -n 2p /tmp/work/a.json)" '  "schema_version": 1,' "status json starts with schema_version"
dm-remap status | awk -v m="$m" -v s="$s" '$1 == "a" && $(NF-1) == m && $NF == s { ok = 1 } END { exit !ok }' \
    || fail "table shows the paths: $(dm-remap status)"
note "--version names the loaded module's version; status shows /dev paths"

dm-remap set a spare_warn 25
assert_eq "$(info_field a spare_warn)" 25 "spare_warn set through the CLI"
set +e; dm-remap set a read_retries 99 2>/tmp/work/err; rc=$?; set -e
assert_eq "$rc" 2 "exit status for a bad policy value"
grep -q "read_retries takes 0 to 16, not '99'" /tmp/work/err || fail "bad value error: $(cat /tmp/work/err)"
set +e; dm-remap set a colour blue 2>/dev/null; rc=$?; set -e
assert_eq "$rc" 2 "exit status for an unknown policy"

assert_eq "$(dm-remap scan start a --rate 1)" "a: scan started" "scan start"
assert_eq "$(dm-remap scan status a | cut -d' ' -f1)" running "scan status while running"
assert_eq "$(dm-remap scan stop a)" "a: scan stopped" "scan stop"
assert_eq "$(dm-remap scan status a | cut -d' ' -f1)" stopped "scan status after stop"
assert_eq "$(dm-remap scan status a)" "$(dmsetup message a 0 scan status)" "scan status is the target's"
assert_eq "$(dm-remap scan start --all)" "a: scan started" "scan start --all"
assert_eq "$(dm-remap scan start --all)" "" "scan start --all skips a running scan"
dm-remap scan stop a >/dev/null
note "set, scan start/stop/status (and --all) drive the target"

dm-remap remap a 100 8 >/dev/null
assert_eq "$(dm-remap stats a)" "$(dmsetup message a 0 stats)" "stats is the target's text"
dm-remap stats a --format json > /tmp/work/stats.json
grep -q '"schema_version": 1' /tmp/work/stats.json || fail "stats json has no schema_version"
grep -q "\"reads\": $(dmsetup message a 0 stats | awk '$1 == "reads" { print $2 }')" /tmp/work/stats.json \
    || fail "reads in stats json: $(cat /tmp/work/stats.json)"
assert_eq "$(dm-remap stats a --format csv | head -1 | cut -d, -f1-2)" "device,reads" "stats csv header"
assert_eq "$(dm-remap list a --format csv | head -1)" "main_block,spare_block,length,state" "list csv header"
assert_eq "$(dm-remap list a --format csv | tail -n +2)" \
    "$(dmsetup message a 0 list_remaps | awk '{ print $1 "," $2 "," $3 "," $4 }')" "list csv rows"
# (To a file first: grep -q would close the pipe early, failing the pipeline.)
dm-remap list a --format json > /tmp/work/list.json
grep -q '"main_block": 100,' /tmp/work/list.json || fail "list json: $(cat /tmp/work/list.json)"
note "stats and list in every format agree with the target"

# Health changes: a small spare, warn at 25% and crit at 50% of it, used up
# by manual remaps; events --exec must see each change as it happens.
m2=$(mkloop m2 32); s2=$(mkloop s2 48K)
remap_create r "$m2" "$s2" 4 spare_warn 25 spare_crit 50 >/dev/null
total=$(info_field r spare_total)
hook='echo "$DM_REMAP_DEVICE $DM_REMAP_OLD_HEALTH $DM_REMAP_NEW_HEALTH $DM_REMAP_MAIN" >> /tmp/work/hook'
dm-remap events r --exec "$hook" --count 3 2>/tmp/work/events.err &
events_pid=$!
for _ in $(seq 50); do grep -q "watching the health" /tmp/work/events.err && break; sleep 0.1; done
grep -q "watching the health" /tmp/work/events.err || fail "events did not start: $(cat /tmp/work/events.err)"
: > /tmp/work/want
health=ok
for i in $(seq 1 "$total"); do
    dm-remap remap r $((i * 64)) 1 >/dev/null
    now=$(info_field r health)
    if [ "$now" != "$health" ]; then
        echo "r $health $now $m2" >> /tmp/work/want
        health=$now
        for _ in $(seq 50); do cmp -s /tmp/work/want /tmp/work/hook && break; sleep 0.1; done
    fi
done
# With at least 3 pool blocks, health goes ok, degraded, failing,
# spare_exhausted one step at a time; events --count 3 exits after the third.
assert_eq "$(wc -l < /tmp/work/want)" 3 "health changes with $total spare blocks"
assert_eq "$(tail -1 /tmp/work/want)" "r failing spare_exhausted $m2" "last health change"
assert_eq "$(cat /tmp/work/hook)" "$(cat /tmp/work/want)" "hook runs, one per health change"
wait "$events_pid" || fail "events --count 3 exit status"
grep -q "^<4>dm-remap: r: health degraded (was ok; main $m2" /tmp/work/events.err || fail "warning line: $(cat /tmp/work/events.err)"
grep -q "^<2>dm-remap: r: health spare_exhausted (was failing" /tmp/work/events.err || fail "crit line"
note "events --exec: $(wc -l < /tmp/work/hook) health changes, each hook run with device, old and new health"
