#!/bin/sh
# vm-os's initramfs: what ostree-prepare-root does, with busybox. Load the drivers (every storage and
# file-system driver of Debian's kernel is a module), mount the root read-write on /sysroot, follow the
# kernel argument ostree= to the deployment, bind it on /newroot with the stateroot's /var, the sysroot's
# /boot and a read-only /usr, move /sysroot, /dev, /proc, /sys and /run into it, and switch_root to its init.
# Any failure reboots: the bootloader counts it as a failed boot.
export PATH=/bin
fail() {
  echo "VMOS-INITRAMFS: boot failed: $*"
  echo "VMOS: rebooting (initramfs)"
  reboot -f
  sleep 30
}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /etc/modules); do
  insmod "/lib/modules/$m.ko" || fail "insmod $m"
done
# What the boot loader says it chose (systemd-boot's EFI variables), for the test's record of a boot that ends here.
efivars=/sys/firmware/efi/efivars
loader_var() {
  f=$efivars/$1-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
  if [ -f "$f" ]; then tail -c +5 "$f" | tr -d '\000'; else echo none; fi
}
if mount -t efivarfs efivarfs $efivars 2>/dev/null; then
  echo "VMOS-INITRAMFS: entry=$(loader_var LoaderEntrySelected) countpath=$(loader_var LoaderBootCountPath)"
  umount $efivars
fi
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=LABEL=*) label=${arg#root=LABEL=} ;;
    ostree=*) ostree=${arg#ostree=} ;;
  esac
done
[ -n "$label" ] && [ -n "$ostree" ] || fail "the kernel command line has no root=LABEL= or no ostree="
dev=
i=0
while [ -z "$dev" ] && [ $i -lt 100 ]; do
  dev=$(findfs "LABEL=$label" 2>/dev/null) || { sleep 0.1; i=$((i + 1)); }
done
[ -n "$dev" ] || fail "no block device labelled $label"
mount -t ext4 -o rw "$dev" /sysroot || fail "cannot mount the root $dev (LABEL=$label)"
deploy=$(readlink -f "/sysroot$ostree")
case "$deploy" in
  /sysroot/ostree/deploy/*/deploy/*) ;;
  *) fail "ostree=$ostree leads to $deploy, not to a deployment" ;;
esac
[ -d "$deploy/usr" ] || fail "the deployment $deploy has no /usr"
stateroot_var=${deploy%/deploy/*}/var
echo "VMOS-INITRAMFS: deployment ${deploy#/sysroot}"
mount --bind "$deploy" /newroot || fail "bind $deploy"
mount --bind "$stateroot_var" /newroot/var || fail "bind $stateroot_var"
mount --bind /sysroot/boot /newroot/boot || fail "bind /sysroot/boot"
mount --bind /newroot/usr /newroot/usr && mount -o remount,bind,ro /newroot/usr || fail "read-only /usr"
mount -t tmpfs -o mode=0755 tmpfs /run
: > /run/ostree-booted
for m in /sysroot /dev /proc /sys /run; do
  mount --move "$m" "/newroot$m" || fail "move $m"
done
exec switch_root /newroot /usr/sbin/init
