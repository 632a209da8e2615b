# Crash-point replay: dm-log-writes records every write that reaches the
# spare (and the main device) in the order it became durable; replaying
# those logs (replay-log, tests/replay-log) rebuilds the devices as a power
# cut would have left them at any point.
#
# Recording: main = dm-dust (write-failing blocks) over log-writes over a
# loop device (dm-dust sits above the log so that a failed write never
# reaches, and is never logged as, the media); spare = log-writes over a
# zeroed loop device. Each round, fio writes a fresh region with fsyncs and
# verify while blocks in it fail (automatic remaps) and remap messages move
# blocks of the region just written and of the region being written; then
# the region's remapped blocks are rewritten and fsynced with no commit
# after them (only a flush passed on to the spare makes them durable). After
# each acknowledged step (a remap message returned, a fio job or dd exited
# after its fsync) both logs get a mark, and the mark's guarantee is saved:
# the table list_remaps showed before the mark (dm-remap publishes a table
# only after its commit returned) and the checksums of every region fio had
# fsynced.
#
# Replay: the spare's log, onto a zeroed image, one entry at a time. At
# every entry that writes, the image loads as a dm-remap spare (never
# refused), its generation never goes back and no remapped block is lost or
# moved from one point to the next. At every mark, the main log is replayed
# to the same mark and a dm-remap device over the two images holds every
# remap the mark guarantees and reads back every fsynced region unchanged.
# Each point is loaded from a copy (loading may format a blank spare or
# rewrite a stale copy); the replay is incremental (replay-log --start).
export LC_ALL=C
W=/tmp/work
t0=$(now_ms)
rounds=5
region_sectors=1024 # 512 KiB per round, from sector 2048
region() { echo $((2048 + $1 * region_sectors)); }

main_loop=$(mkloop main 16)
main_log=$(mkloop main-log 16)
spare_loop=$(mkloop spare 2)
spare_log=$(mkloop spare-log 16)
dmsetup create lwm --table "0 $(sectors "$main_loop") log-writes $main_loop $main_log" || fail "log-writes on main"
dmsetup create lws --table "0 $(sectors "$spare_loop") log-writes $spare_loop $spare_log" || fail "log-writes on spare"
dmsetup create dust --table "0 $(sectors "$main_loop") dust $(mapper lwm) 0 512" || fail "dust over log-writes"
dmsetup message dust 0 enable
dev=$(remap_create r "$(mapper dust)" "$(mapper lws)")
main_sectors=$(sectors "$dev")

# expand [<file>]: list_remaps lines on stdin -> one "<main_block> <spare_block>"
# line per remapped block (in table order) into <file> or stdout; prints the
# number of blocks when writing to a file.
expand() {
    [ -z "$1" ] || : > "$1"
    awk -v out="${1:-/dev/stdout}" '$2 ~ /^[0-9]+$/ { for (i = 0; i < $3; i++) { print $1 + i, $2 + i > out; n++ } }
        END { if (out != "/dev/stdout") print n + 0 }'
}
# missing <want> <have>: lines of <want> that are not in <have>.
missing() { awk 'FILENAME == ARGV[1] { have[$0]; next } !($0 in have)' "$2" "$1"; }

# mark <name>: saves what the mark guarantees, then marks both logs.
mkdir -p $W/marks
: > $W/fsynced
mark() {
    dmsetup message r 0 list_remaps | expand > "$W/marks/$1.remaps"
    cp $W/fsynced "$W/marks/$1.fsynced"
    dmsetup message lwm 0 mark "$1" || fail "mark $1 on the main log"
    dmsetup message lws 0 mark "$1" || fail "mark $1 on the spare log"
    echo "$1" >> $W/marks.order
}

# fsynced <sector>: records the checksum of the region at <sector>, read
# through the target, as fsynced (replacing its earlier checksum).
fsynced() {
    local sum
    sum=$(dd if="$dev" bs=64k skip=$(($1 / 128)) count=$((region_sectors / 128)) iflag=direct status=none | sha256sum)
    awk -v b="$1" '$1 != b' $W/fsynced > $W/fsynced.new
    echo "$1 ${sum%% *}" >> $W/fsynced.new
    mv $W/fsynced.new $W/fsynced
}

# remap_acked <sector> <count> <mark>: a remap message, acknowledged, then marked.
remap_acked() {
    local out
    out=$(dmsetup message r 0 remap "$1" "$2") || fail "remap $1 $2 refused"
    case "$out" in "remapped "*" lost 0") ;; *) fail "remap $1 $2: '$out'" ;; esac
    mark "$3"
    grep -q "^$1 " "$W/marks/$3.remaps" || fail "remap $1 $2 returned but list_remaps lacks block $1"
}

mark created
for k in $(seq 0 $((rounds - 1))); do
    base=$(region "$k")
    # Two write-failing blocks where fio's 4 KiB writes start.
    bad="$((base + 8 * (3 + 5 * k))) $((base + 8 * (70 + 3 * k)))"
    for b in $bad; do dmsetup message dust 0 addbadblock "$b" 255 >/dev/null; done
    fio --name=round$k --filename="$dev" --direct=1 --ioengine=libaio --iodepth=4 --rw=randwrite \
        --bs=4k --offset=$((base * 512)) --size=$((region_sectors * 512)) --fsync=16 --end_fsync=1 \
        --verify=crc32c --do_verify=1 --verify_fatal=1 --randseed=$((40 + k)) --eta=never \
        --output=$W/fio$k.out &
    fio_pid=$!
    # Remaps racing fio's writes: 4 blocks of this region ...
    remap_acked $((base + 200 + 16 * k)) 4 "r$k-live"
    if [ "$k" -gt 0 ]; then
        # ... and blocks of the region fsynced last round: one, a run of 8,
        # and a run over that round's first failing block (already remapped).
        prev=$(region $((k - 1)))
        remap_acked $((prev + 500 + k)) 1 "r$k-one"
        remap_acked $((prev + 700 + 8 * k)) 8 "r$k-run"
        remap_acked $((prev + 8 * (3 + 5 * (k - 1)) - 2)) 5 "r$k-straddle"
    fi
    wait $fio_pid || { cat $W/fio$k.out; fail "round $k: fio failed"; }
    grep -q "err= 0" $W/fio$k.out || { cat $W/fio$k.out; fail "round $k: fio reported errors"; }
    fsynced "$base"
    mark "r$k-fsynced"
    for b in $bad; do
        grep -q "^$b " "$W/marks/r$k-fsynced.remaps" || fail "round $k: failing block $b was not remapped"
    done
    # Rewrite this region's remapped blocks: the writes go to the spare and
    # no commit follows, so only the fsync (a flush the target must pass to
    # the spare) makes them durable.
    for b in $bad "$((base + 200 + 16 * k)) 4"; do
        set -- $b
        dd if=/dev/urandom of="$dev" bs=512 seek="$1" count="${2:-1}" oflag=direct conv=fsync status=none \
            || fail "round $k: rewrite of block $1"
    done
    fsynced "$base"
    mark "r$k-rewritten"
done
assert_eq "$(info_field r auto_remaps)" $((2 * rounds)) "blocks remapped automatically"
assert_eq "$(info_field r unrecovered)" 0 "errors returned to fio"
dmsetup message r 0 list_remaps | expand > $W/final.remaps
for lw in lwm lws; do
    case "$(dmsetup status $lw)" in *logging_disabled*) fail "$lw stopped logging (log device full?)" ;; esac
done
dmsetup remove r
dmsetup remove dust
dmsetup remove lwm
dmsetup remove lws
for l in "$main_loop" "$main_log" "$spare_loop" "$spare_log"; do losetup -d "$l"; done
t_record=$(now_ms)
note "recorded $(wc -l < $W/marks.order) marks, $(wc -l < $W/final.remaps) remapped blocks in $(( (t_record - t0) / 1000 ))s"

# Replay onto zeroed images (the logged devices started zeroed).
truncate -s 16M $W/rmain.img
truncate -s 2M $W/rspare.img
truncate -s 2M $W/point.img
rmain=$(losetup -f --show $W/rmain.img)
point=$(losetup -f --show $W/point.img)
replay-log --log $W/spare-log.img --list > $W/spare.list || fail "spare log unreadable"
replay-log --log $W/main-log.img --marks > $W/main.marks || fail "main log unreadable"
spare_applied=0
main_applied=0
: > $W/prev.remaps
prev_gen=0
writes=0
marks=0

# load <point>: loads a copy of the replayed spare over the replayed main as
# "chk" and checks it against the previous point; leaves chk up, its table
# in $W/prev.remaps.
load() {
    local what=$1 blocks remaps gen
    dd if=$W/rspare.img of=$W/point.img bs=1M conv=notrunc status=none
    # The newest generation on the spare at this point, read offline: the
    # kernel's load rewrites a copy missing from a region (as a newer
    # generation), which this point's history does not contain.
    # (0 on a blank spare, which the load formats).
    gen=$( (dm-remap check $W/point.img 2>/dev/null || true) | sed -n 's/.*valid, generation \([0-9]*\),.*/\1/p' | sort -n | tail -1)
    gen=${gen:-0}
    dmsetup create chk --table "0 $main_sectors remap $rmain $point" 2>$W/create.err \
        || { cat $W/create.err; dmesg | grep 'remap:' | tail -3; fail "$what: the replayed spare was refused"; }
    read -r remaps < /sys/kernel/dm_remap/chk/remaps # sysfs: no process to start
    blocks=$(dmsetup message chk 0 list_remaps | expand $W/now.remaps)
    assert_eq "$blocks" "$remaps" "$what: blocks listed by list_remaps vs the remaps count"
    [ "$gen" -ge "$prev_gen" ] || fail "$what: generation went back from $prev_gen to $gen"
    missing $W/prev.remaps $W/now.remaps > $W/lost
    [ ! -s $W/lost ] || fail "$what: remapped blocks lost or moved since the previous point (main spare): $(head -3 $W/lost)"
    cp $W/now.remaps $W/prev.remaps
    prev_gen=$gen
}

while read -r n _ nr flags name <&3; do
    case "$flags" in
        *MARK*)
            [ "$name" != dm-log-writes-end ] || continue
            replay-log --log $W/spare-log.img --replay $W/rspare.img --start $((spare_applied + 1)) --limit "$n" >/dev/null \
                || fail "replay of the spare log to mark $name"
            spare_applied=$n
            m=$(awk -v name="$name" '$2 == name { print $1 }' $W/main.marks)
            [ -n "$m" ] || fail "mark $name is not in the main log"
            replay-log --log $W/main-log.img --replay $W/rmain.img --start $((main_applied + 1)) --limit "$m" >/dev/null \
                || fail "replay of the main log to mark $name"
            main_applied=$m
            load "mark $name (spare entry $n, main entry $m)"
            missing "$W/marks/$name.remaps" $W/prev.remaps > $W/missing
            [ ! -s $W/missing ] || fail "mark $name: acknowledged remaps missing (main spare): $(head -3 $W/missing)"
            while read -r off want; do
                got=$(dd if="$(mapper chk)" bs=64k skip=$((off / 128)) count=$((region_sectors / 128)) \
                      iflag=direct status=none | sha256sum)
                [ "${got%% *}" = "$want" ] || fail "mark $name: data fsynced at sector $off reads back changed"
            done < "$W/marks/$name.fsynced"
            dmsetup remove chk
            marks=$((marks + 1))
            ;;
        *)
            [ "$nr" -gt 0 ] || continue # a flush changes nothing
            replay-log --log $W/spare-log.img --replay $W/rspare.img --start $((spare_applied + 1)) --limit "$n" >/dev/null \
                || fail "replay of the spare log to entry $n"
            spare_applied=$n
            load "spare entry $n ($flags, $nr sectors)"
            dmsetup remove chk
            writes=$((writes + 1))
            ;;
    esac
done 3< <(awk '$1 ~ /^[0-9]+$/' $W/spare.list)

assert_eq "$marks" "$(wc -l < $W/marks.order)" "marks replayed"
cmp -s $W/prev.remaps $W/final.remaps || fail "the last point does not hold the final table"
# The whole replay rebuilt both devices byte for byte.
replay-log --log $W/spare-log.img --replay $W/rspare.img --start $((spare_applied + 1)) >/dev/null
replay-log --log $W/main-log.img --replay $W/rmain.img --start $((main_applied + 1)) >/dev/null
cmp -s $W/rspare.img $W/spare.img || fail "the replayed spare differs from the spare"
cmp -s $W/rmain.img $W/main.img || fail "the replayed main device differs from the main device"
losetup -d "$rmain"
losetup -d "$point"
spare_entries=$(tail -1 $W/spare.list | awk '{ print $3 }')
main_entries=$(replay-log --log $W/main-log.img --list | tail -1)
note "spare log: $(tail -1 $W/spare.list)"
note "main log: $main_entries"
note "crash points checked: $writes spare writes + $marks marks; replay ${spare_entries} spare entries in $(( ($(now_ms) - t_record) / 1000 ))s"
