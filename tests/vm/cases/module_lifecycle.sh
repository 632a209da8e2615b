# The module cannot be removed while a remap device exists, and 100
# create/remove cycles leak no slab objects.
main=$(mkloop main 16)
spare=$(mkloop spare 4)
remap_create r "$main" "$spare" >/dev/null
if rmmod dm_remap 2>/dev/null; then fail "rmmod succeeded while a remap device exists"; fi
assert_eq "$(cat /sys/module/dm_remap/refcnt)" 1 "module refcount with one device"
dmsetup remove r
rmmod dm_remap || fail "rmmod failed with no device left"
insmod "$MODULE"

table="0 $(sectors "$main") remap $main $spare"
cycle() { dmsetup create c --table "$table" && dmsetup status c >/dev/null && dmsetup remove c; }
# settle: let deferred frees finish (RCU callbacks; on KASAN kernels, the
# quarantine, which shrinking a cache empties) so counts show live objects.
settle() {
    sync; echo 2 > /proc/sys/vm/drop_caches; sleep 1
    for f in /sys/kernel/slab/*/shrink; do echo 1 > "$f" 2>/dev/null || true; done
}
# slab_counts: "<cache> <active objects>" per line. debug_objects_cache (debug
# kernels only) is the debug-objects pool, which refills itself lazily.
slab_counts() { settle; awk 'NR > 2 && $1 != "debug_objects_cache" { print $1, $2 }' /proc/slabinfo | sort; }
for i in $(seq 10); do cycle; done
slab_counts > /tmp/work/slab.before
for i in $(seq 100); do cycle || fail "cycle $i failed"; done
slab_counts > /tmp/work/slab.after
# A leak of one object per cycle grows some cache by at least 100 objects.
grown=$(join /tmp/work/slab.before /tmp/work/slab.after | awk '$3 - $2 >= 100 { print $1 " +" $3 - $2 }')
[ -z "$grown" ] || fail "slab caches grew over 100 create/remove cycles: $grown"
assert_eq "$(cat /sys/module/dm_remap/refcnt)" 0 "module refcount after the cycles"
note "100 create/remove cycles, no slab cache grew by 100 objects"
