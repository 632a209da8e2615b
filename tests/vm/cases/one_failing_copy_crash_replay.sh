# Issue 13 point 3 in the kernel: while one metadata region's superblocks
# fail every write (health degraded), commits go on with the other region,
# and a power cut at any write of any commit must still load every remap
# acknowledged before it. The spare is dm-dust (failing every block of
# region B: superblocks, entry blocks and journal area) over log-writes over a loop device; after each
# acknowledged remap the log gets a mark. The log is then replayed onto a
# zeroed image one write at a time: at every point the spare loads and
# holds every remap acknowledged before the last mark passed.
# (With the version-1 commit, which rewrote copy A in place while B failed,
# the point between A's entry blocks and its superblock loaded B's older
# generation and lost the acknowledged remaps.)
export LC_ALL=C
W=/tmp/work
main=$(mkloop main 16)
spare_loop=$(mkloop spare 2)
spare_log=$(mkloop spare-log 16)
dmsetup create lws --table "0 $(sectors "$spare_loop") log-writes $spare_loop $spare_log" || fail "log-writes on spare"
dmsetup create sdust --table "0 $(sectors "$spare_loop") dust $(mapper lws) 0 512" || fail "dust over log-writes"
dmsetup message sdust 0 enable
dev=$(remap_create r "$main" "$(mapper sdust)")
dmsetup message r 0 remap 10 1 >/dev/null
dmsetup remove r
b=$(region_b_sector "$spare_loop")
[ "${b:-0}" -gt 0 ] || fail "region B not found"
# Every block of region B fails from now on (a version-3 commit appends to
# a region's journal area, not its superblocks).
dust_region sdust add "$b" "$(region_sectors "$spare_loop")"
remap_create r "$main" "$(mapper sdust)" >/dev/null
: > $W/acked
for i in $(seq 1 6); do
    dmsetup message r 0 remap $((100 + i * 7)) 1 >/dev/null || fail "remap $i with region B failing"
    echo $((100 + i * 7)) >> $W/acked
    cp $W/acked $W/acked.$i
    dmsetup message lws 0 mark "m$i"
done
assert_eq "$(info_field r metadata_copies)" 1 "copies written with region B failing"
assert_eq "$(info_field r health)" degraded "health with region B failing"
dmsetup remove r
dmsetup remove sdust
dmsetup remove lws

truncate -s 2M $W/replay.img
truncate -s 2M $W/point.img
point=$(losetup -f --show $W/point.img)
replay-log --log "$spare_log" --list > $W/list || fail "spare log unreadable"
applied=0
acked=0
points=0
while read -r n _ nr flags name <&3; do
    case "$n" in ''|*[!0-9]*) continue ;; esac # the closing count line
    case "$flags" in
        *MARK*) acked=${name#m}; continue ;;
    esac
    [ "$nr" -gt 0 ] || continue
    replay-log --log "$spare_log" --replay $W/replay.img --start $((applied + 1)) --limit "$n" >/dev/null \
        || fail "replay to entry $n"
    applied=$n
    [ "$acked" -gt 0 ] || continue
    dd if=$W/replay.img of=$W/point.img bs=1M conv=notrunc status=none
    dmsetup create chk --table "0 $(sectors "$main") remap $main $point" 2>/dev/null \
        || fail "entry $n: the spare is refused after remap $acked was acknowledged"
    dmsetup message chk 0 list_remaps | awk '{ print $1 }' > $W/loaded
    dmsetup remove chk
    lost=$(grep -vxFf $W/loaded $W/acked.$acked | head -3 || true)
    [ -z "$lost" ] || fail "entry $n: acknowledged remaps lost after remap $acked: $lost"
    points=$((points + 1))
done 3< $W/list
losetup -d "$point"
[ "$points" -gt 6 ] || fail "only $points crash points checked"
note "region B failing every superblock write: $points crash points replayed, no acknowledged remap lost"
