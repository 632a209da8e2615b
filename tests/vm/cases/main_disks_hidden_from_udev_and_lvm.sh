# A main disk carries every signature of its dm-remap device. With the
# config installed, 61-dm-remap.rules hides them from udev (no ID_FS_*, no
# by-uuid link, SYSTEMD_READY=0, no pvscan from 69-lvm.rules) and the
# global_filter of `dm-remap lvm-filter` keeps LVM off the disk: `pvs` sees
# the dm-remap device only. Control steps show that without them udev and
# LVM would see the raw disk. (No udev daemon here: `udevadm test` runs the
# rules on an event it makes up.)
mkdir -p /usr/sbin /sbin /etc/dm-remap /etc/lvm /lib/udev/rules.d /run/lvm
ln -sf /usr/bin/dm-remap /usr/sbin/dm-remap
ln -sf /usr/bin/lvm /sbin/lvm
cleanup() {
    rm -f /etc/dm-remap/devices.conf /etc/lvm/lvmlocal.conf /lib/udev/rules.d/61-dm-remap.rules
    lvm vgchange -an --devices /dev/mapper/pv0 vgr >/dev/null 2>&1 || true
}
trap cleanup EXIT
# No udev to wait for: LVM makes its own nodes.
export LVM_SUPPRESS_FD_WARNINGS=1
lvm_() { lvm "$@" --config 'activation { udev_sync = 0 udev_rules = 0 }'; }

m1=$(mkloop m1 64); s1=$(mkloop s1 16)
m2=$(mkloop m2 32); s2=$(mkloop s2 8)
cat > /tmp/work/devices.conf <<CONF
pv0 $m1 $s1
fs0 $m2 $s2
CONF
dm-remap activate --config /tmp/work/devices.conf >/dev/null
dmsetup mknodes
# (LVM refuses a VG whose PV it finds twice, on the dm-remap device and on
# the raw disk: set up by naming the devices.)
lvm_ pvcreate -q --devices /dev/mapper/pv0 /dev/mapper/pv0 >/dev/null
lvm_ vgcreate -q --devices /dev/mapper/pv0 vgr /dev/mapper/pv0 >/dev/null
lvm_ lvcreate -q --devices /dev/mapper/pv0 -L 8M -n lv vgr >/dev/null
mkfs.ext4 -q -U 5a1e3c2d-0000-4000-8000-00000000d15c /dev/mapper/fs0

# blkid (which reads the disks itself) finds the signatures on both.
blkid -p -s TYPE -o value "$m1" | grep -qx LVM2_member || fail "the raw main disk has no PV label to hide"
blkid -p -s UUID -o value "$m2" | grep -qx 5a1e3c2d-0000-4000-8000-00000000d15c \
    || fail "the raw main disk has no filesystem uuid to hide"

# (69-lvm.rules scans a loop device on its "change" event, when it has a
# backing file.)
udev_test() { udevadm test --action=change "/sys/class/block/${1#/dev/}" 2>&1; }
lvm_sees() { lvm pvs -a -o pv_name --noheadings 2>&1; }

# Control: without the config, udev and LVM see the raw disks.
udev_test "$m1" > /tmp/work/u1
udev_test "$m2" > /tmp/work/u2
grep -q "^ID_FS_TYPE=LVM2_member" /tmp/work/u1 || { cat /tmp/work/u1; fail "control: udev does not see the PV label"; }
grep -q "pvscan" /tmp/work/u1 || { cat /tmp/work/u1; fail "control: 69-lvm.rules runs no pvscan on the raw disk"; }
grep -q "^DEVLINKS=.*disk/by-uuid/5a1e3c2d" /tmp/work/u2 || { cat /tmp/work/u2; fail "control: no by-uuid link"; }
lvm_sees > /tmp/work/pvs0
sed 's/^/  | control pvs: /' /tmp/work/pvs0
grep -q "$m1" /tmp/work/pvs0 || fail "control: LVM does not see the raw main disk"

# With the config, the rule and the filter.
cp /tmp/work/devices.conf /etc/dm-remap/devices.conf
cp /usr/share/dm-remap/boot/61-dm-remap.rules /lib/udev/rules.d/
dm-remap lvm-filter > /etc/lvm/lvmlocal.conf
sed 's/^/  | lvmlocal.conf: /' /etc/lvm/lvmlocal.conf
assert_eq "$(dm-remap udev-check "$m1" disk/by-uuid/x disk/by-diskseq/9)" "$(printf 'DM_REMAP_MAIN=1\nDM_REMAP_NAME=pv0\nDM_REMAP_LINKS=disk/by-diskseq/9')" "udev-check of pv0's main disk"
assert_eq "$(dm-remap udev-check "$s1")" "" "udev-check of a spare"

udev_test "$m1" > /tmp/work/u1
udev_test "$m2" > /tmp/work/u2
for f in u1 u2; do
    grep -q "^DM_REMAP_MAIN=1" /tmp/work/$f || { cat /tmp/work/$f; fail "$f: the rule did not recognise the main disk"; }
    grep -q "^SYSTEMD_READY=0" /tmp/work/$f || fail "$f: SYSTEMD_READY is not 0"
    ! grep -q "^ID_FS_" /tmp/work/$f || fail "$f: ID_FS_ properties left: $(grep ^ID_FS_ /tmp/work/$f)"
    grep -q "^DEVLINKS=.*disk/by-diskseq/" /tmp/work/$f || fail "$f: the other links are gone"
    ! grep -q "^DEVLINKS=.*by-uuid" /tmp/work/$f || { grep "by-uuid\|61-dm-remap\|DEVLINKS" /tmp/work/$f; fail "$f: a by-uuid link is left"; }
done
! grep -q "pvscan" /tmp/work/u1 || fail "69-lvm.rules still runs pvscan on the raw disk"
udev_test "$s1" > /tmp/work/u3
! grep -q "^DM_REMAP_MAIN" /tmp/work/u3 || fail "a spare is taken for a main disk"
lvm_sees > /tmp/work/pvs1
sed 's/^/  | pvs: /' /tmp/work/pvs1
! grep -q "$m1" /tmp/work/pvs1 || fail "LVM still sees the raw main disk"
grep -q "/dev/mapper/pv0\|/dev/dm-" /tmp/work/pvs1 || fail "LVM no longer sees the dm-remap device"
lvm pvscan --cache "$m1" > /tmp/work/scan 2>&1 || true
! grep -qi "vgr" /tmp/work/scan || { cat /tmp/work/scan; fail "pvscan --cache of the raw disk found the VG"; }
