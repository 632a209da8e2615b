# Helpers for guest test cases (sourced before each case, with `set -e`).
# Cases run in /tmp/work, which the runner empties between cases.

MODULE=/lib/modules/dm-remap.ko

fail() { echo "FAIL: $*"; exit 1; }
note() { echo "  $*"; }

# assert_eq <got> <want> <what>
assert_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

# mkloop <name> <size> [<logical_block_size>]: a loop device over a scratch
# file of <size> MiB (or <size> as truncate takes it, e.g. 16K); prints its path.
mkloop() {
    local size=$2
    case "$size" in *[!0-9]*) ;; *) size=${size}M ;; esac
    truncate -s "$size" "/tmp/work/$1.img"
    losetup -f --show ${3:+-b "$3"} "/tmp/work/$1.img"
}

sectors() { blockdev --getsz "$1"; }

# mapper <name>: creates the /dev/mapper node (no udev here) and checks that it
# is a block device, so nothing writes to a plain file by mistake.
mapper() {
    dmsetup mknodes "$1" >/dev/null
    [ -b "/dev/mapper/$1" ] || fail "/dev/mapper/$1 is not a block device"
    echo "/dev/mapper/$1"
}

# remap_create <name> <main> <spare> [<opt args>...]: a remap device over all
# of main; prints its /dev/mapper path.
remap_create() {
    local name=$1 main=$2 spare=$3; shift 3
    dmsetup create "$name" --table "0 $(sectors "$main") remap $main $spare $*" \
        || fail "dmsetup create $name failed"
    mapper "$name"
}

# expect_table_rejected <table line> <ti->error text>: loading the line must
# fail, the kernel must log that exact reason, and no device may remain.
expect_table_rejected() {
    local line=$1 reason=$2
    dmesg -C
    if dmsetup create rejected --table "$line" 2>/tmp/work/dmsetup.err; then
        dmsetup remove rejected
        fail "table '$line' was accepted"
    fi
    # From a file: under pipefail, grep -q quitting at its match can fail dmesg with SIGPIPE.
    dmesg >/tmp/work/dmesg.rejected
    grep -qF "remap: $reason" /tmp/work/dmesg.rejected \
        || { tail -5 /tmp/work/dmesg.rejected; fail "table '$line': no '$reason' in the kernel log"; }
    ! dmsetup info rejected >/dev/null 2>&1 || fail "table '$line' left a device behind"
    note "rejected: '$line' -> $reason"
}

# fio_verify <device> <fio args...>: a verifying fio job; fails on any error.
fio_verify() {
    local dev=$1; shift
    fio --name=verify --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 \
        --verify=crc32c --verify_fatal=1 --do_verify=1 --randseed=1234 \
        --eta=never --output=/tmp/work/fio.out "$@" || { cat /tmp/work/fio.out; fail "fio verify on $dev failed"; }
    grep -q "err= 0" /tmp/work/fio.out || { cat /tmp/work/fio.out; fail "fio reported errors on $dev"; }
}

# expect_message_refused <dm name> <errno text> <message words...>: the message
# must fail with that error and leave the remap table unchanged.
expect_message_refused() {
    local name=$1 want=$2; shift 2
    local before after
    before=$(dmsetup message "$name" 0 list_remaps)
    if dmsetup message -- "$name" 0 "$@" >/dev/null 2>/tmp/work/msg.err; then
        fail "message '$*' was accepted"
    fi
    grep -q "$want" /tmp/work/msg.err || fail "message '$*': want '$want', got: $(cat /tmp/work/msg.err)"
    after=$(dmsetup message "$name" 0 list_remaps)
    assert_eq "$after" "$before" "remap table after refused message '$*'"
    note "refused: '$*' -> $want"
}

# now_ms: wall-clock milliseconds (for figures reported by tests, never checked).
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# mkdust <name> <size MiB>: a dm-dust device (512-byte blocks) over a fresh
# loop device, with bad-block failures enabled; prints its /dev/mapper path.
# dm-dust judges a bio by its first block only, so tests put bad blocks where
# bios start (4 KiB-aligned for 4 KiB I/O).
mkdust() {
    local loop
    loop=$(mkloop "$1-disk" "$2")
    dmsetup create "$1" --table "0 $(sectors "$loop") dust $loop 0 512" || fail "dust create"
    dmsetup message "$1" 0 enable
    mapper "$1"
}

# info_field <dm name> <field name>: a named INFO status field (its name in
# Documentation/dm-remap.rst's table), read by the tool with the core's
# StatusLine, the status line's one definition.
info_field() {
    dm-remap status --field "$2" "$1" || fail "status field $2 of $1"
}

# region_b_sector <spare device or image>: first sector of metadata region B
# (its slot 0 superblock; slot 1's is 8 sectors further), as the tool reads
# the layout recorded on the spare.
region_b_sector() {
    dm-remap check "$1" | sed -n 's/^layout: .* at sectors 0 and \([0-9]*\),.*/\1/p'
}

# region_sectors <spare device or image>: sectors in each metadata region.
region_sectors() {
    dm-remap check "$1" | sed -n 's/^layout: .* metadata regions of \([0-9]*\) sectors at .*/\1/p'
}

# dust_region <dust name> add|remove <first sector> <sectors>: every 4 KiB
# metadata block from <first sector> on fails every read and write (its first
# sector is a bad block; dm-dust splits I/O into 512-byte pieces, so a write
# of the block tears: sectors 1-7 land), or works again. Whole regions, since
# a version-3 commit may write a region's superblocks, entry blocks or any
# place of its journal area.
dust_region() {
    local s
    for s in $(seq "$3" 8 $(($3 + $4 - 8))); do
        if [ "$2" = add ]; then
            dmsetup message "$1" 0 addbadblock "$s" 255
        else
            dmsetup message "$1" 0 removebadblock "$s"
        fi
    done >/dev/null
}

# corrupt_superblock <device> <sector>: flips byte 100 of that sector (past
# the magic), if it holds a superblock. Format version 3 leaves a slot blank
# until a chain folds into it (one-change commits append journal blocks to
# slot 0's copy): a byte written into a blank slot would be someone else's
# data there (refused as foreign), not damage to a copy.
corrupt_superblock() {
    dd if="$1" of=/tmp/work/sector bs=512 skip="$2" count=1 iflag=direct status=none
    [ "$(head -c 8 /tmp/work/sector | tr -d '\000')" = DMREMAP1 ] || return 0
    printf '\377' | dd of=/tmp/work/sector bs=1 seek=100 conv=notrunc status=none
    dd if=/tmp/work/sector of="$1" bs=512 seek="$2" count=1 oflag=direct conv=notrunc status=none
}
