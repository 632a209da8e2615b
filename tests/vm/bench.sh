# The benchmark, run in the guest by `scripts/bench.sh` (not a test: it
# never fails on speed). Prints one line per fio run on the results port:
#   ### BENCH <set> <case> <workload> <round> <fio terse v3 line>
# and the commit latencies as "### BENCHKV <key> <value>".
# Devices (kernel command line from run.py): nullb0, 16 GiB, 4 KiB blocks,
# memory_backed=0, so the CPU path dominates; ram0..ram3, 512 MiB each.
ROUNDS=${BENCH_ROUNDS:-3}
RUNTIME=${BENCH_RUNTIME:-4}
SETS=${BENCH_SETS:-null brd}
CASES=${BENCH_CASES:-linear linear_again remap_0 remap_100k_miss remap_100k_10pct remap_all_hit spare_direct}
WORKLOADS=${BENCH_WORKLOADS:-randread4k randwrite4k seqread128k}
COMMITS=${BENCH_COMMITS:-200}
# wanted <word> <list>: whether the list has the word.
wanted() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }
NULL=/dev/nullb0
[ -b $NULL ] && [ -b /dev/ram3 ] || fail "benchmark devices missing (nullb0, ram0..ram3)"

linear() { dmsetup create "$1" --table "0 $(sectors "$2") linear $2 0"; mapper "$1" >/dev/null; }

# restore_table <main> <spare> <awk program printing "main spare" pairs>:
# formats the spare for main, then writes a table of single-block extents
# offline with `dm-remap restore`.
restore_table() {
    local main=$1 spare=$2 prog=$3 hdr n
    dmsetup create fmt --table "0 $(sectors "$main") remap $main $spare 1 force_format"
    dmsetup remove fmt
    hdr=$(dm-remap dump "$spare" | tr -d ' \n' | sed 's/"alloc_next":[0-9]*,"extents":\[\]}$//')
    awk "$prog" > /tmp/work/pairs
    n=$(awk 'BEGIN { m = 0 } { if ($2 + 1 > m) m = $2 + 1 } END { print m }' /tmp/work/pairs)
    {
        printf '%s"alloc_next":%d,"extents":[' "$hdr" "$n"
        awk '{ printf "%s{\"main_block\":%d,\"spare_pool_block\":%d,\"length\":1,\"state\":\"ok\"}", (NR > 1 ? "," : ""), $1, $2 }' /tmp/work/pairs
        echo ']}'
    } > /tmp/work/table.json
    dm-remap restore "$spare" --input /tmp/work/table.json >/dev/null
}

# run <set> <case> <device> <offset> <size> <align> <seq offset> <round>:
# the random workloads run in [offset, offset + size) at <align>, the
# sequential one in [seq offset, seq offset + size).
run() {
    local set=$1 name=$2 dev=$3 off=$4 size=$5 ba=$6 seq_off=$7 round=$8 w rw bs at iops
    wanted "$name" "$CASES" || return 0
    for w in $WORKLOADS; do
        case $w in
            randread4k) rw=randread bs=4k at=$off ;;
            randwrite4k) rw=randwrite bs=4k at=$off ;;
            seqread128k) rw=read bs=128k ba=128k at=$seq_off ;;
        esac
        # Terse v3: field 8 is read IOPS, field 49 write IOPS.
        iops=$(fio --name=b --filename="$dev" --direct=1 --ioengine=libaio --iodepth=32 --numjobs=2 \
            --rw=$rw --bs=$bs --blockalign="$ba" --offset="$at" --size="$size" --time_based \
            --runtime="$RUNTIME" --ramp_time=1 --group_reporting --norandommap --randrepeat=0 \
            --output-format=terse --terse-version=3 2>/dev/null | tail -1 | awk -F';' '{ print $8, $49 }')
        echo "### BENCH $set $name $w $round $iops"
    done
}

null_set() {
# null_blk set. Remap tables: "miss" maps 100k odd blocks and the random
# workloads read and write 8 KiB-aligned even blocks among them (every
# lookup lands among remaps, none hits); its sequential reads run above the
# remapped range. "tenth" maps every 10th block of the first 1M (10% of the
# random I/O hits) plus 16384 contiguous blocks at block 1000000 for the
# all-hits case, compared with the same I/O on the spare through dm-linear.
# "linear_again", a second dm-linear on the same device, shows how closely
# two runs of the same path agree (the benchmark's resolution).
linear lin $NULL
linear lin_again $NULL
remap_create r0 $NULL /dev/ram0 1 force_format >/dev/null
if wanted remap_100k_miss "$CASES"; then
    restore_table $NULL /dev/ram1 'BEGIN { for (i = 0; i < 100000; i++) print 2 * i + 1, i }'
    remap_create rmiss $NULL /dev/ram1 >/dev/null
    assert_eq "$(info_field rmiss remaps)" 100000 "remaps of rmiss"
    # Memory of the 100k-remap table as the module reports it.
    dmsetup message rmiss 0 stats | awk '$1 == "table_extents" { n = $2 } $1 == "table_bytes" { b = $2 }
        END { print "### BENCHKV table_extents " n; print "### BENCHKV table_bytes " b;
              printf "### BENCHKV bytes_per_remap %.2f\n", b / n }'
fi
if wanted remap_100k_10pct "$CASES" || wanted remap_all_hit "$CASES" || wanted spare_direct "$CASES"; then
    restore_table $NULL /dev/ram2 'BEGIN { for (i = 0; i < 100000; i++) print 10 * i, i;
                                            for (j = 0; j < 16384; j++) print 1000000 + j, 100000 + j }'
    remap_create rtenth $NULL /dev/ram2 >/dev/null
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
    run null remap_100k_miss /dev/mapper/rmiss 0 800M 8k 1G "$round"
    run null remap_100k_10pct /dev/mapper/rtenth 0 4000M 4k 0 "$round"
    run null remap_all_hit /dev/mapper/rtenth 4096000000 64M 4k 4096000000 "$round"
    run null spare_direct /dev/mapper/spare 0 64M 4k 0 "$round"
done

# Commit latency of one-block remaps (200, scattered) on the idle remap_0.
dmsetup message r0 0 clear_stats
for i in $(seq 1 "$COMMITS"); do dmsetup message r0 0 remap $((i * 7919 * 8)) >/dev/null; done
dmsetup message r0 0 stats | awk '/^commit/ { print "### BENCHKV " $1 " " $2 }'
dmsetup remove_all
}

brd_set() {
# brd set: a memory-backed main. "miss" maps 100k odd 512-byte blocks in the
# first 100 MiB; fio runs in the upper half, past the last remap, where the
# table index answers without a search.
linear lin /dev/ram3
dd if=/dev/zero of=/dev/ram3 bs=1M seek=256 count=256 oflag=direct status=none  # see spare_direct
remap_create r0 /dev/ram3 /dev/ram0 1 force_format >/dev/null
if wanted remap_100k_miss "$CASES"; then
    restore_table /dev/ram3 /dev/ram1 'BEGIN { for (i = 0; i < 100000; i++) print 2 * i + 1, i }'
    remap_create rmiss /dev/ram3 /dev/ram1 >/dev/null
fi
CASES=linear run brd linear /dev/mapper/lin 256M 256M 4k 256M 0 >/dev/null
for round in $(seq 1 "$ROUNDS"); do
    run brd linear /dev/mapper/lin 256M 256M 4k 256M "$round"
    run brd remap_0 /dev/mapper/r0 256M 256M 4k 256M "$round"
    run brd remap_100k_miss /dev/mapper/rmiss 256M 256M 4k 256M "$round"
done
dmsetup remove_all
}

for set in $SETS; do "${set}_set"; done
