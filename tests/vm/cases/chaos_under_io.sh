# Chaos under I/O (issue 14.4): for a bounded time, 4 fio writers verify
# (crc32c) their own regions of a dm-remap device whose main is dm-dust,
# whose blocks go bad (fail every write) while they run, and two control
# loops keep changing the device under them:
#
# - the remapper sends remap messages: random ranges, and ranges that
#   overlap, straddle or join extents it finds with list_remaps;
# - the lifecycle loop suspends and resumes, reloads the same table, starts
#   and stops patrol reads (sometimes left running into a suspend), changes
#   policies by message and by sysfs (auto_remap stays on), reads stats,
#   status and scan status, and sends messages that must be refused.
#
# Every command must succeed or be refused with an error (a hang fails the
# case, a splat fails the run); fio must see no error. Each writer's round
# first makes 3 random 4 KiB-aligned blocks of its next sub-region bad, then
# writes every 4 KiB block of the sub-region once and verifies it: so every
# bad block is written after it went bad, and must end up remapped (nothing
# pending, every byte readable). The last 16 MiB hold a random pattern that
# only remap messages move. Afterwards the table is checked (no block or
# spare block twice), the device read whole and the pattern compared; then
# the device is removed and created again from its table line, and the
# remap list, every byte, and each sub-region's last fio round must read
# back the same.
RUN_MS=${CHAOS_RUN_MS:-75000}
main=$(mkdust dust 80)
spare=$(mkloop spare 32)
dev=$(remap_create r "$main" "$spare")
n=$(sectors "$dev")
bsect=$(( $(info_field r block_bytes) / 512 ))        # sectors per remap block
region=32768                                  # 16 MiB per writer, at w * 16 MiB
sub=4096                                      # 2 MiB sub-regions, one per round
nsub=$(( region / sub ))
tail_start=$(( 4 * region ))                  # 64..80 MiB: the pattern
tail_mib=$(( (n - tail_start) / 2048 ))
W=/tmp/work

# Processes started here die with the case.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

dd if=/dev/urandom of=$W/pattern bs=1M count="$tail_mib" status=none
dd if=$W/pattern of="$dev" bs=1M seek=$(( tail_start / 2048 )) oflag=direct conv=fsync status=none
pattern_sum=$(sha256sum < $W/pattern | cut -d' ' -f1)

rand32() { echo $(( RANDOM * 32768 + RANDOM )); }

# ctl <log tag> <command...>: runs a control command with a hang guard.
# Returns its status; its output is in $W/<tag>.out and .err. A hang, or a
# failure with no error message, ends the calling loop with FAIL.
ctl() {
    local tag=$1 rc=0; shift
    timeout 90 "$@" > "$W/$tag.out" 2> "$W/$tag.err" || rc=$?
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "FAIL: '$*' did not return in 90 s"; exit 1
    fi
    if [ "$rc" != 0 ] && [ ! -s "$W/$tag.err" ]; then
        echo "FAIL: '$*' failed (rc $rc) without an error message"; exit 1
    fi
    return "$rc"
}
# must <tag> <command...>: the command must succeed.
must() {
    ctl "$@" && return 0
    echo "FAIL: '${*:2}' failed: $(cat "$W/$1.err")"
    dmsetup resume r 2>/dev/null || true   # leave no writer stuck behind a suspend
    exit 1
}
# may <tag> <command...>: success, or a refusal that is logged and counted.
may() {
    ctl "$@" && return 0
    echo "${*:2}: $(head -1 "$W/$1.err")" >> "$W/refused.$1"
    return 1
}
past_deadline() { [ "$(now_ms)" -ge "$deadline" ]; }

# writer <w>: rounds over its region's sub-regions until the deadline.
writer() {
    local w=$1 k=0 s off seed b i bad=0 dup=0
    RANDOM=$(( 101 + w ))
    while ! past_deadline; do
        s=$(( k % nsub ))
        off=$(( w * region + s * sub ))
        seed=$(( w * 10000 + k + 1 ))
        for i in 1 2 3; do
            b=$(( off + RANDOM % (sub / 8) * 8 ))
            if dmsetup message dust 0 addbadblock "$b" 255 2>/dev/null; then
                bad=$((bad + 1)); echo "$b" >> "$W/bad.$w"
            else
                dup=$((dup + 1))                  # already bad
            fi
        done
        fio --name=w$w --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 --rw=randwrite \
            --bs=4k --offset=$(( off * 512 )) --size=$(( sub * 512 )) --verify=crc32c --verify_fatal=1 \
            --randseed="$seed" --eta=never --output="$W/fio.$w.out" \
            || { cat "$W/fio.$w.out"; echo "FAIL: writer $w round $k (sector $off) failed"; exit 1; }
        grep -q "err= 0" "$W/fio.$w.out" || { cat "$W/fio.$w.out"; echo "FAIL: writer $w round $k: fio errors"; exit 1; }
        echo "$s $seed" >> "$W/rounds.$w"
        k=$((k + 1))
    done
    echo "$k $bad $dup" > "$W/writer.$w"
}

# remap_msg <sector> <sectors>: one remap message, clamped to the device
# (uses the caller's $id for its output files).
remap_msg() {
    local s=$1 c=$2 r l
    [ "$s" -lt "$n" ] || return 0
    [ $(( s + c )) -le "$n" ] || c=$(( n - s ))
    [ "$c" -ge 1 ] || return 0
    echo issued >> "$W/remap.count"
    if may "remap$id" dmsetup message r 0 remap "$s" "$c"; then
        read -r _ r _ l < "$W/remap$id.out" || true
        [[ "$r" =~ ^[0-9]+$ && "$l" =~ ^[0-9]+$ ]] || { echo "FAIL: remap $s $c: report '$(head -1 "$W/remap$id.out")'"; exit 1; }
        echo "$r $l" >> "$W/remap.done"
    fi
}

# remapper <id>: remap messages until the deadline.
remapper() {
    local id=$1 i=0 pick m len used total x
    RANDOM=$(( 211 + id ))
    while ! past_deadline; do
        i=$((i + 1))
        if [ $(( i % 8 )) = 1 ]; then
            read -r used total < <(dmsetup status r | awk '{ print $10, $9 }')
            if [ $(( used * 100 )) -gt $(( total * 60 )) ]; then
                # Keep the pool for automatic remaps: only list.
                must "list$id" dmsetup message r 0 list_remaps
                sleep 1; i=0; continue
            fi
        fi
        x=$(( RANDOM % 20 ))
        if [ "$x" -lt 6 ]; then
            remap_msg $(( $(rand32) % n )) $(( RANDOM % 64 + 1 ))
        elif [ "$x" -lt 7 ]; then
            remap_msg $(( $(rand32) % n )) $(( RANDOM % 1024 + 256 ))   # a larger copy
        elif [ "$x" -lt 9 ]; then
            # Around a block a writer just made bad: races its write (an
            # automatic remap), or copies it unreadable ("lost") before.
            m=$(tail -n 1 "$W/bad.$(( RANDOM % 4 ))" 2>/dev/null || true)
            [ -n "$m" ] || continue
            x=$(( RANDOM % 8 )); [ "$m" -ge "$x" ] || x=$m
            remap_msg $(( m - x )) $(( x + RANDOM % 16 + 1 ))
        elif [ "$x" -lt 18 ]; then
            # An extent near a random block: overlap, straddle or join it.
            must "list$id" dmsetup message r 0 list_remaps $(( $(rand32) % (n / bsect) )) 8
            pick=$(awk -v r="$RANDOM" '$4 == "ok" || $4 == "lost" { e[c++] = $1 " " $3 }
                                        END { if (c) print e[r % c] }' "$W/list$id.out")
            [ -n "$pick" ] || { remap_msg $(( $(rand32) % n )) 8; continue; }
            read -r m len <<< "$pick"
            m=$(( m * bsect )); len=$(( len * bsect ))
            case $(( RANDOM % 5 )) in
                0) remap_msg "$m" "$len" ;;                                     # exactly it
                1) remap_msg $(( m + len / 2 )) $(( len + RANDOM % 32 + 1 )) ;; # past its end
                2) x=$(( RANDOM % 32 + 1 )); [ "$m" -ge "$x" ] || x=$m
                   remap_msg $(( m - x )) $(( x + len / 2 + 1 )) ;;             # before its start
                3) x=$(( RANDOM % 16 + 1 )); [ "$m" -ge "$x" ] || x=$m
                   remap_msg $(( m - x )) $(( len + x + RANDOM % 16 + 1 )) ;;   # around it
                4) remap_msg $(( m + len - 1 )) $(( RANDOM % 256 + 2 )) ;;      # into what follows
            esac
        else
            must "list$id" dmsetup message r 0 list_remaps
            awk '$4 == "ok" || $4 == "lost" { if ($1 < end) { print "overlap at " $1; exit 1 } end = $1 + $3 }' \
                "$W/list$id.out" > "$W/list$id.check" || { echo "FAIL: list_remaps: $(cat "$W/list$id.check")"; exit 1; }
        fi
    done
}

# expect_refused <tag> <message words...>: a message that must be refused.
expect_refused() {
    local tag=$1; shift
    if ctl "$tag" dmsetup message r 0 "$@"; then echo "FAIL: message '$*' was accepted"; exit 1; fi
    grep -q "Invalid argument" "$W/$tag.err" || { echo "FAIL: message '$*': $(cat "$W/$tag.err")"; exit 1; }
    echo bad >> "$W/badmsg.count"
}

lifecycle() {
    local i=0 t v
    RANDOM=307
    # At least one round of every step, even on a slow (KASAN) kernel.
    while ! past_deadline || [ "$i" -lt 10 ]; do
        case $(( i % 10 )) in
            0|5)
                # A scan is sometimes still running here: the suspend stops it.
                must suspend dmsetup suspend r
                must status dmsetup status r
                must llist dmsetup message r 0 list_remaps 0 4
                ctl scan dmsetup message r 0 scan start 8 && { echo "FAIL: scan start accepted while suspended"; exit 1; }
                sleep 0.$(( RANDOM % 4 ))
                must resume dmsetup resume r
                echo s >> "$W/suspend.count" ;;
            1|6)
                t=$(dmsetup table r)
                must reload dmsetup reload r --table "$t"
                must resume dmsetup resume r
                [ "$(dmsetup table r)" = "$t" ] || { echo "FAIL: table after reload: '$(dmsetup table r)', want '$t'"; exit 1; }
                echo r >> "$W/reload.count" ;;
            2)
                must scan dmsetup message r 0 scan start $(( RANDOM % 48 + 1 ))
                echo s >> "$W/scan.count" ;;
            3|8)
                case $(( RANDOM % 6 )) in
                    0) must set dmsetup message r 0 set read_retries $(( RANDOM % 17 )) ;;
                    1) must set dmsetup message r 0 set error_threshold $(( RANDOM % 100 + 1 )) ;;
                    2) must set dmsetup message r 0 set spare_warn $(( RANDOM % 100 + 1 )) ;;
                    3) must set dmsetup message r 0 set spare_crit $(( RANDOM % 100 + 1 )) ;;
                    4) must set dmsetup message r 0 set auto_remap on ;;
                    5) v=$(( RANDOM % 17 ))
                       must sysfs sh -c "echo $v > /sys/kernel/dm_remap/r/read_retries"
                       [ "$(cat /sys/kernel/dm_remap/r/read_retries)" = "$v" ] \
                           || { echo "FAIL: sysfs read_retries is not $v"; exit 1; } ;;
                esac
                echo p >> "$W/policy.count" ;;
            4)
                must stats dmsetup message r 0 stats
                grep -q "^table_extents " "$W/stats.out" || { echo "FAIL: stats without table_extents"; exit 1; }
                [ $(( RANDOM % 4 )) != 0 ] || must stats dmsetup message r 0 clear_stats
                must status dmsetup status r
                must scan dmsetup message r 0 scan status ;;
            7)
                [ $(( RANDOM % 2 )) = 0 ] && must scan dmsetup message r 0 scan stop
                must scan dmsetup message r 0 scan status ;;
            9)
                case $(( RANDOM % 5 )) in
                    0) expect_refused badmsg set read_retries 17 ;;
                    1) expect_refused badmsg set auto_remap maybe ;;
                    2) expect_refused badmsg scan start 0 ;;
                    3) expect_refused badmsg remap "$n" 1 ;;
                    4) expect_refused badmsg remap 0 0 ;;
                esac ;;
        esac
        i=$((i + 1))
    done
    echo "$i" > "$W/lifecycle.steps"
}

t0=$(now_ms)
deadline=$(( t0 + RUN_MS ))
writers=()
for w in 0 1 2 3; do writer "$w" > "$W/writer.$w.log" 2>&1 & writers+=($!); done
remappers=()
for id in 0 1; do remapper "$id" > "$W/remapper.$id.log" 2>&1 & remappers+=($!); done
lifecycle > "$W/lifecycle.log" 2>&1 & lifecycle_pid=$!

# The lifecycle loop first: if it failed, the device may be stuck suspended.
wait "$lifecycle_pid" || { dmsetup resume r 2>/dev/null; cat "$W/lifecycle.log"; fail "lifecycle loop failed"; }
for id in 0 1; do
    wait "${remappers[$id]}" || { cat "$W/remapper.$id.log"; fail "remapper $id failed"; }
done
for w in 0 1 2 3; do
    wait "${writers[$w]}" || { cat "$W/writer.$w.log"; fail "writer $w failed"; }
done
run_ms=$(( $(now_ms) - t0 ))
dmsetup message r 0 scan stop

count() { [ -f "$W/$1" ] && wc -l < "$W/$1" || echo 0; }
rounds=0; bad=0; dup=0
for w in 0 1 2 3; do
    read -r k b d < "$W/writer.$w"
    rounds=$((rounds + k)); bad=$((bad + b)); dup=$((dup + d))
done
[ "$rounds" -ge 4 ] || fail "only $rounds fio rounds ran"
issued=$(count remap.count); done_=$(count remap.done)
cat $W/refused.remap* > $W/refused.all 2>/dev/null || true
refused=$(count refused.all)
moved=$(awk '{ r += $1; l += $2 } END { print r + 0, l + 0 }' "$W/remap.done" 2>/dev/null || echo "0 0")
[ "$issued" -ge 10 ] || fail "only $issued remap messages were sent"
[ "$(count suspend.count)" -ge 2 ] && [ "$(count reload.count)" -ge 2 ] \
    || fail "only $(count suspend.count) suspends and $(count reload.count) reloads ran"
note "$(( run_ms / 1000 )) s of chaos: $rounds fio rounds, $(( rounds * sub / 2048 )) MiB written and verified by 4 writers, no fio error"
note "remap messages: $issued issued, $done_ done (remapped/lost blocks: $moved), $refused refused"
[ "$refused" = 0 ] || sed 's/^/    /' "$W/refused.all" | sort | uniq -c | sort -rn | head -5
note "lifecycle: $(cat "$W/lifecycle.steps") steps, $(count suspend.count) suspend/resume, $(count reload.count) reloads," \
     "$(count scan.count) scan starts, $(count policy.count) policy changes, $(count badmsg.count) bad messages refused"
note "dm-dust: $bad bad blocks added under load ($dup already bad)"
# (The status counters count from the last reload.)
note "status: $(info_field r remaps) blocks remapped, pending $(info_field r pending), health $(info_field r health)," \
     "generation $(info_field r generation); since the last reload: auto_remaps $(info_field r auto_remaps)," \
     "errors $(info_field r errors), unrecovered $(info_field r unrecovered)"

# Every bad block was written after it went bad: all remapped, none pending.
assert_eq "$(info_field r pending)" 0 "pending blocks after every bad block was rewritten"
dmsetup message r 0 list_remaps > $W/before.list
awk '$4 == "ok" || $4 == "lost" { for (b = $1; b < $1 + $3; b++) print b }' $W/before.list | sort -n | uniq -d > $W/twice
[ ! -s $W/twice ] || fail "main blocks remapped twice: $(head -3 $W/twice | tr '\n' ' ')"
awk '$4 == "ok" || $4 == "lost" { for (b = $2; b < $2 + $3; b++) print b }' $W/before.list | sort -n | uniq -d > $W/twice
[ ! -s $W/twice ] || fail "spare blocks used twice: $(head -3 $W/twice | tr '\n' ' ')"
cat $W/bad.? 2>/dev/null | sort -n > $W/badblocks || true
awk '$4 == "ok" || $4 == "lost" { for (b = $1; b < $1 + $3; b++) print b * '"$bsect"' }' $W/before.list | sort -n > $W/remapped.sectors
join -v1 <(sort $W/badblocks) <(sort -u $W/remapped.sectors) > $W/unremapped
[ ! -s $W/unremapped ] || fail "bad blocks written under load but not remapped: $(head -5 $W/unremapped | tr '\n' ' ')"
note "all $(wc -l < $W/badblocks) bad blocks remapped; table: $(grep -c -E ' (ok|lost)$' $W/before.list || true) extents," \
     "$(grep -c ' lost$' $W/before.list || true) of them lost (copied unreadable by a remap message)"

# sum_device [<dd args>...]: sha256 of the device read with O_DIRECT.
sum_device() {
    sum=$(dd if="$dev" bs=1M iflag=direct status=none "$@" 2>$W/dd.err | sha256sum | cut -d' ' -f1) \
        || fail "reading $dev: $(cat $W/dd.err)"
}
sum_device; before_sum=$sum
sum_device skip=$(( tail_start / 2048 )); tail_sum=$sum
assert_eq "$tail_sum" "$pattern_sum" "checksum of the pattern that remap messages moved"
table=$(dmsetup table r)
extents=$(grep -c -E " (ok|lost)$" $W/before.list || true)

dmsetup remove r
dmsetup create r --table "$table" || fail "recreate from '$table' failed"
dev=$(mapper r)
dmsetup message r 0 list_remaps > $W/after.list
cmp -s $W/before.list $W/after.list || { diff $W/before.list $W/after.list | head; fail "remap list changed across remove and recreate"; }
assert_eq "$(dmsetup table r)" "$table" "table line after recreate"
sum_device
assert_eq "$sum" "$before_sum" "checksum of every byte after recreate"

# Each sub-region's last round, verified again from the recreated device.
for w in 0 1 2 3; do
    (
        awk '{ last[$1] = $2 } END { for (s in last) print s, last[s] }' "$W/rounds.$w" | while read -r s seed; do
            off=$(( w * region + s * sub ))
            fio --name=w$w --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 --rw=randwrite \
                --bs=4k --offset=$(( off * 512 )) --size=$(( sub * 512 )) --verify=crc32c --verify_fatal=1 \
                --randseed="$seed" --verify_only --eta=never --output="$W/verify.$w.out" \
                || { cat "$W/verify.$w.out"; echo "FAIL: writer $w sub-region $s (seed $seed) after recreate"; exit 1; }
            echo "$s" >> "$W/verified.$w"
        done || exit 1
    ) > "$W/verify.$w.log" 2>&1 &
    writers[$w]=$!
done
for w in 0 1 2 3; do
    wait "${writers[$w]}" || { cat "$W/verify.$w.log"; fail "verify after recreate failed"; }
done
verified=$(cat $W/verified.* | wc -l)
note "after remove and recreate: $extents extents and every byte ($(( n / 2048 )) MiB) the same," \
     "pattern intact, last rounds of $verified sub-regions verified ($(( ($(now_ms) - t0) / 1000 )) s in all)"
