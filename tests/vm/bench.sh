# The benchmark, run in the guest by `scripts/bench.sh` (not a test: it
# never fails on speed). Prints one line per fio run on the results port:
#   ### BENCH <set> <case> <workload> <round> <fio terse v3 line>
# and other figures (commit latencies, load time, the clock check) as
# "### BENCHKV <key> <value>".
# Devices: nullb0 (kernel command line from run.py), 16 GiB, 4 KiB blocks,
# memory_backed=0, so the CPU path dominates; ram0..ram5, 1 GiB each. Made
# here through configfs when a set needs them: twins of nullb0 (a main
# serves one dm-remap device at a time, so each remap case has its own),
# nullb1, nullb0 with a 20 us hrtimer completion (a fast NVMe drive), and
# nullb2, a 4.5 GiB memory-backed spare for the 1M-extent tables.
ROUNDS=${BENCH_ROUNDS:-3}
RUNTIME=${BENCH_RUNTIME:-4}
SETS=${BENCH_SETS:-null nvme brd table1m}
# Cases and workloads per set; BENCH_CASES and BENCH_WORKLOADS replace them
# in every set.
NULL_CASES=${BENCH_CASES:-linear linear_again remap_0 remap_1m_miss remap_100k_10pct remap_all_hit spare_direct}
NVME_CASES=${BENCH_CASES:-linear remap_0 remap_1m_miss}
BRD_CASES=${BENCH_CASES:-linear remap_0 remap_100k_miss}
NULL_WORKLOADS=${BENCH_WORKLOADS:-randread4k randwrite4k seqread128k}
NVME_WORKLOADS=${BENCH_WORKLOADS:-randread4k randwrite4k randread4k_qd1 randwrite4k_qd1}
BRD_WORKLOADS=${BENCH_WORKLOADS:-randread4k randwrite4k seqread128k}
COMMITS=${BENCH_COMMITS:-200}
COMMITS_1M=${BENCH_COMMITS_1M:-200}
NVME_NSEC=20000
# wanted <word> <list>: whether the list has the word.
wanted() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }
NULL=/dev/nullb0
[ -b $NULL ] && [ -b /dev/ram5 ] || fail "benchmark devices missing (nullb0, ram0..ram5)"

# nullb <name> <attribute=value>...: a null_blk device made through configfs
# (the module's parameters give every device of the command line the same
# settings); the other attributes keep the module's defaults, as nullb0's.
nullb() {
    local d=/sys/kernel/config/nullb/$1 kv; shift
    [ -b "/dev/$(basename "$d")" ] && return 0
    mkdir "$d" || fail "configfs: cannot make $d (is configfs mounted?)"
    for kv in "$@"; do echo "${kv#*=}" > "$d/${kv%%=*}" || fail "configfs: $d/${kv%%=*} = ${kv#*=}"; done
    echo 1 > "$d/power"
    [ -b "/dev/$(basename "$d")" ] || fail "null_blk $(basename "$d") did not appear"
}

# twin <name> [<attribute=value>...]: a null_blk like nullb0 (plus the
# attributes given); prints its path. The same driver and settings run the
# same instructions: the null set's linear_again, on a twin, shows it.
twin() {
    local name=$1; shift
    nullb "$name" size=16384 blocksize=4096 memory_backed=0 "$@" >&2
    echo "/dev/$name"
}

linear() { dmsetup create "$1" --table "0 $(sectors "$2") linear $2 0"; mapper "$1" >/dev/null; }

# restore_table <main> <spare> <awk program printing "main block, pool
# index" pairs>: formats the spare for main, then writes a table of
# single-block extents offline with `dm-remap restore` (a million dmsetup
# messages would take hours). Pool indexes count the usable pool blocks:
# those at or past region B are moved above it, as the kernel allocates.
restore_table() {
    local main=$1 spare=$2 prog=$3 hdr n bs g r
    dmsetup create fmt --table "0 $(sectors "$main") remap $main $spare 1 force_format"
    dmsetup remove fmt
    hdr=$(dm-remap dump "$spare" | tr -d ' \n' | sed 's/"alloc_next":[0-9]*,"extents":\[\]}$//')
    case "$hdr" in *'"pool_blocks"'*) ;; *) fail "unexpected dump header: $hdr" ;; esac
    # "layout: <bytes>-byte blocks, metadata regions of <r> sectors at sectors 0 and <b>, ..."
    set -- $(dm-remap check "$spare" | sed -n 's/^layout: \([0-9]*\)-byte blocks, metadata regions of \([0-9]*\) sectors at sectors 0 and \([0-9]*\),.*/\1 \2 \3/p')
    [ $# = 3 ] || fail "unexpected check output: $(dm-remap check "$spare" | head -1)"
    bs=$(( $1 / 512 )); r=$(( $2 / bs )); g=$(( ($3 - $2) / bs ))
    awk "$prog" | awk -v g="$g" -v r="$r" '{ print $1, ($2 < g ? $2 : $2 + r) }' > /tmp/work/pairs
    n=$(awk 'BEGIN { m = 0 } { if ($2 + 1 > m) m = $2 + 1 } END { print m }' /tmp/work/pairs)
    {
        printf '%s"alloc_next":%d,"extents":[' "$hdr" "$n"
        awk '{ printf "%s{\"main_block\":%d,\"spare_pool_block\":%d,\"length\":1,\"state\":\"ok\"}", (NR > 1 ? "," : ""), $1, $2 }' /tmp/work/pairs
        echo ']}'
    } > /tmp/work/table.json
    rm /tmp/work/pairs
    dm-remap restore "$spare" --input /tmp/work/table.json >/dev/null || fail "restore on $spare failed"
    rm /tmp/work/table.json
}

# table_stats <dm name>: the table's memory as the module reports it.
table_stats() {
    dmsetup message "$1" 0 stats | awk '$1 == "table_extents" { n = $2 } $1 == "table_bytes" { b = $2 }
        END { print "### BENCHKV table_extents " n; print "### BENCHKV table_bytes " b;
              printf "### BENCHKV bytes_per_remap %.2f\n", b / n }'
}

# The 1M-miss table for a 16 GiB main of 4 KiB blocks (nullb0 and nullb1
# alike: the spare's fingerprint is the main's size and block size): main
# block 2i + 1 -> pool index i, i < 1M, so odd blocks up to 8 GiB are
# remapped. Written once on nullb2, loaded by both sets.
MISS1M_SPARE=/dev/nullb2
miss1m_table() {
    [ -e /tmp/miss1m.done ] && return 0
    nullb nullb2 size=4608 blocksize=4096 memory_backed=1
    restore_table $NULL $MISS1M_SPARE 'BEGIN { for (i = 0; i < 1000000; i++) print 2 * i + 1, i }'
    touch /tmp/miss1m.done
}

# run <set> <case> <device> <offset> <size> <align> <seq offset> <round>:
# the random workloads run in [offset, offset + size) at <align>, the
# sequential one in [seq offset, seq offset + size). "_qd1" workloads run one
# job at queue depth 1, the others two jobs at queue depth 32.
run() {
    local set=$1 name=$2 dev=$3 off=$4 size=$5 ba=$6 seq_off=$7 round=$8 w rw bs at iops qd jobs
    wanted "$name" "$CASES" || return 0
    for w in $WORKLOADS; do
        qd=32 jobs=2
        case $w in
            randread4k) rw=randread bs=4k at=$off ;;
            randwrite4k) rw=randwrite bs=4k at=$off ;;
            randread4k_qd1) rw=randread bs=4k at=$off qd=1 jobs=1 ;;
            randwrite4k_qd1) rw=randwrite bs=4k at=$off qd=1 jobs=1 ;;
            seqread128k) rw=read bs=128k ba=128k at=$seq_off ;;
            *) fail "unknown workload $w" ;;
        esac
        # Terse v3: field 8 is read IOPS, field 49 write IOPS.
        iops=$(fio --name=b --filename="$dev" --direct=1 --ioengine=libaio --iodepth=$qd --numjobs=$jobs \
            --rw=$rw --bs=$bs --blockalign="$ba" --offset="$at" --size="$size" --time_based \
            --runtime="$RUNTIME" --ramp_time=1 --group_reporting --norandommap --randrepeat=0 \
            --output-format=terse --terse-version=3 2>/dev/null | tail -1 | awk -F';' '{ print $8, $49 }')
        echo "### BENCH $set $name $w $round $iops"
    done
}

null_set() {
# null_blk set. Remap tables: "miss" maps 1M odd blocks (up to 8 GiB) and
# the random workloads read and write 8 KiB-aligned even blocks among them
# in the first 800 MiB (every lookup lands among remaps, none hits); its
# sequential reads run above the remapped range, at 9 GiB. remap_100k_miss
# (not run by default) is the same with 100k odd blocks, sequential reads at
# 1 GiB. "tenth" maps every 10th block of the first 1M (10% of the random
# I/O hits) plus 16384 contiguous blocks at block 1000000 for the all-hits
# case, compared with the same I/O on the spare through dm-linear.
# Each remap device has its own main, a twin of nullb0 (one device, one
# owner); "linear_again", a second dm-linear on a twin too, shows how
# closely two runs of the same path on two such devices agree (the
# benchmark's resolution).
local CASES=$NULL_CASES WORKLOADS=$NULL_WORKLOADS hit
linear lin $NULL
linear lin_again "$(twin nullb3)"
remap_create r0 "$(twin nullb4)" /dev/ram0 1 force_format >/dev/null
if wanted remap_1m_miss "$CASES"; then
    miss1m_table
    remap_create rmiss1m "$(twin nullb5)" $MISS1M_SPARE >/dev/null
    assert_eq "$(info_field rmiss1m remaps)" 1000000 "remaps of rmiss1m"
    table_stats rmiss1m
fi
if wanted remap_100k_miss "$CASES"; then
    restore_table $NULL /dev/ram1 'BEGIN { for (i = 0; i < 100000; i++) print 2 * i + 1, i }'
    remap_create rmiss "$(twin nullb6)" /dev/ram1 >/dev/null
    assert_eq "$(info_field rmiss remaps)" 100000 "remaps of rmiss"
    wanted remap_1m_miss "$CASES" || table_stats rmiss
fi
if wanted remap_100k_10pct "$CASES" || wanted remap_all_hit "$CASES" || wanted spare_direct "$CASES"; then
    restore_table $NULL /dev/ram2 'BEGIN { for (i = 0; i < 100000; i++) print 10 * i, i;
                                            for (j = 0; j < 16384; j++) print 1000000 + j, 100000 + j }'
    remap_create rtenth "$(twin nullb7)" /dev/ram2 >/dev/null
    # spare_direct: dm-linear over the very spare blocks (4 KiB) that
    # remap_all_hit reaches, so both touch the same RAM-disk pages.
    hit=$(dmsetup message rtenth 0 list_remaps 1000000 1 | awk 'NR == 1 { print $2 }')
    dmsetup create spare --table "0 $((16384 * 8)) linear /dev/ram2 $((hit * 8))"
    # brd allocates a page on its first write and reads a missing one as
    # zeroes: fill the region first so that every round reads real pages.
    dd if=/dev/zero of="$(mapper spare)" bs=1M count=64 oflag=direct status=none
fi
# A warm-up pass, not reported: the first run after boot is slower.
CASES=linear run null linear /dev/mapper/lin 0 800M 8k 1G 0 >/dev/null
for round in $(seq 1 "$ROUNDS"); do
    run null linear /dev/mapper/lin 0 800M 8k 1G "$round"
    run null linear_again /dev/mapper/lin_again 0 800M 8k 1G "$round"
    run null remap_0 /dev/mapper/r0 0 800M 8k 1G "$round"
    run null remap_1m_miss /dev/mapper/rmiss1m 0 800M 8k 9G "$round"
    run null remap_100k_miss /dev/mapper/rmiss 0 800M 8k 1G "$round"
    run null remap_100k_10pct /dev/mapper/rtenth 0 4000M 4k 0 "$round"
    run null remap_all_hit /dev/mapper/rtenth 4096000000 64M 4k 4096000000 "$round"
    run null spare_direct /dev/mapper/spare 0 64M 4k 0 "$round"
done

# Commit latency of one-block remaps (200, scattered) on the idle remap_0.
if [ "$COMMITS" -gt 0 ]; then
    dmsetup message r0 0 clear_stats
    for i in $(seq 1 "$COMMITS"); do dmsetup message r0 0 remap $((i * 7919 * 8)) >/dev/null; done
    dmsetup message r0 0 stats | awk '/^commit/ { print "### BENCHKV " $1 " " $2 }'
fi
dmsetup remove_all
}

nvme_set() {
# Typical-device set: nullb1, nullb0 with a completion latency like a fast
# NVMe drive (hrtimer completion after 20 us), the same cases and I/O as
# the null set's (remap_1m_miss loads the same table). First the clock
# check: QD1 random reads straight on nullb0 and nullb1. Under icount an
# idle guest's clock jumps to the next timer, so with the latency accounted
# nullb1 gives about 1e9 / (ns per I/O on nullb0 + 20000) IOPS. If it does
# not (within 10%), nullb1 does not model the drive: on a kernel without
# CONFIG_HIGH_RES_TIMERS an hrtimer fires at the next tick (4 ms at HZ=250).
# Then the cases run at QD1 on nullb0 instead (set "null", workloads
# *_qd1), and the report derives the typical device's figures from the
# instructions per I/O (bench_report.py).
local CASES=$NVME_CASES WORKLOADS=$NVME_WORKLOADS fast slow lin r0 miss set=nvme
nullb nullb1 size=16384 blocksize=4096 memory_backed=0 irqmode=2 completion_nsec=$NVME_NSEC
local NVME=/dev/nullb1
echo "### BENCHKV nvme_completion_nsec $NVME_NSEC"
WORKLOADS=randread4k_qd1 CASES=raw run check raw $NULL 0 800M 8k 0 0 >/dev/null
fast=$(WORKLOADS=randread4k_qd1 CASES=raw run check raw $NULL 0 800M 8k 0 1 | awk '{ print $7 }')
slow=$(WORKLOADS=randread4k_qd1 CASES=raw run check raw $NVME 0 800M 8k 0 1 | awk '{ print $7 }')
echo "### BENCHKV icount_check_qd1_iops_nullb0 $fast"
echo "### BENCHKV icount_check_qd1_iops_nullb1 $slow"
if awk -v f="$fast" -v s="$slow" -v l="$NVME_NSEC" 'BEGIN { e = 1e9 / (1e9 / f + l); exit !(s > 0.9 * e && s < 1.1 * e) }'; then
    lin=$NVME
    r0=$(twin nullb8 irqmode=2 completion_nsec=$NVME_NSEC)
    miss=$(twin nullb9 irqmode=2 completion_nsec=$NVME_NSEC)
else
    echo "### BENCHKV nvme_device_latency_modelled no"
    lin=$NULL r0=$(twin nullb4) miss=$(twin nullb5) set=null
    WORKLOADS=$(for w in $WORKLOADS; do case $w in *_qd1) echo "$w" ;; esac; done)
fi
linear lin $lin
remap_create r0 "$r0" /dev/ram0 1 force_format >/dev/null
if wanted remap_1m_miss "$CASES"; then
    miss1m_table
    remap_create rmiss1m "$miss" $MISS1M_SPARE >/dev/null
    assert_eq "$(info_field rmiss1m remaps)" 1000000 "remaps of rmiss1m"
fi
CASES=linear run $set linear /dev/mapper/lin 0 800M 8k 1G 0 >/dev/null
for round in $(seq 1 "$ROUNDS"); do
    run $set linear /dev/mapper/lin 0 800M 8k 1G "$round"
    run $set remap_0 /dev/mapper/r0 0 800M 8k 1G "$round"
    run $set remap_1m_miss /dev/mapper/rmiss1m 0 800M 8k 9G "$round"
done
dmsetup remove_all
}

brd_set() {
# brd set: memory-backed mains, one per device (ram3 for dm-linear, ram4
# and ram5 for the remap cases). "miss" maps 100k odd 512-byte blocks in the
# first 100 MiB; fio runs in 256-512 MiB, past the last remap, where the
# table index answers without a search.
local CASES=$BRD_CASES WORKLOADS=$BRD_WORKLOADS d
for d in ram3 ram4 ram5; do  # see spare_direct
    dd if=/dev/zero of=/dev/$d bs=1M seek=256 count=256 oflag=direct status=none
done
linear lin /dev/ram3
remap_create r0 /dev/ram4 /dev/ram0 1 force_format >/dev/null
if wanted remap_100k_miss "$CASES"; then
    restore_table /dev/ram5 /dev/ram1 'BEGIN { for (i = 0; i < 100000; i++) print 2 * i + 1, i }'
    remap_create rmiss /dev/ram5 /dev/ram1 >/dev/null
fi
CASES=linear run brd linear /dev/mapper/lin 256M 256M 4k 256M 0 >/dev/null
for round in $(seq 1 "$ROUNDS"); do
    run brd linear /dev/mapper/lin 256M 256M 4k 256M "$round"
    run brd remap_0 /dev/mapper/r0 256M 256M 4k 256M "$round"
    run brd remap_100k_miss /dev/mapper/rmiss 256M 256M 4k 256M "$round"
done
dmsetup remove_all
}

table1m_set() {
# A table of 1M extents on brd (main ram3, spare ram2, 512-byte blocks:
# main block 2i + 1 -> pool index i): the time to load it (dmsetup create,
# guest time) and the latency of one-block remap commits on it
# (BENCH_COMMITS_1M, scattered even blocks, from the module's stats). The
# first commit after a load folds (format version 3: full copies, so that a
# journal place is only ever written by its checkpoint's writer); it is
# measured on its own, the commits after it (appends, and a fold each time
# a journal area fills) together.
local t0 t1 i
restore_table /dev/ram3 /dev/ram2 'BEGIN { for (i = 0; i < 1000000; i++) print 2 * i + 1, i }'
t0=$(now_ms)
dmsetup create t1m --table "0 $(sectors /dev/ram3) remap /dev/ram3 /dev/ram2"
t1=$(now_ms)
assert_eq "$(info_field t1m remaps)" 1000000 "remaps of t1m"
echo "### BENCHKV t1m_extents 1000000"
echo "### BENCHKV t1m_load_ms $((t1 - t0))"
if [ "$COMMITS_1M" -gt 0 ]; then
    dmsetup message t1m 0 clear_stats
    dmsetup message t1m 0 remap 2 >/dev/null
    dmsetup message t1m 0 stats | awk '/^commit_max_us/ { print "### BENCHKV t1m_first_commit_us " $2 }'
    dmsetup message t1m 0 clear_stats
    for i in $(seq 1 "$COMMITS_1M"); do dmsetup message t1m 0 remap $((i * 7919 * 2 % 2000000)) >/dev/null; done
    assert_eq "$(info_field t1m remaps)" $((1000001 + COMMITS_1M)) "remaps of t1m after the commits"
    dmsetup message t1m 0 stats | awk '/^commit/ { print "### BENCHKV t1m_" $1 " " $2 }'
fi
dmsetup remove_all
}

for set in $SETS; do "${set}_set"; done
