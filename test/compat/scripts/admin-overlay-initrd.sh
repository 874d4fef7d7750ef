# admin deploy --overlay-initrd: each image copied into boot/ostree/initramfs-overlays by its
# checksum and loaded after the tree's initramfs; kept by the entries rewritten for later
# deploys, removed once no entry loads it; a missing image refused.
set -e
st() { "$@" 2>&1 || echo "exit $?"; }
mkdir -p tree/usr/etc tree/usr/lib/modules/5.10.0-test
printf 'NAME=Test\nID=test\n' > tree/usr/etc/os-release
echo kernel > tree/usr/lib/modules/5.10.0-test/vmlinuz
echo initramfs > tree/usr/lib/modules/5.10.0-test/initramfs.img
echo one > one.img
echo two > two.img
mkdir sr
ostree admin init-fs sr
ostree admin --sysroot=sr os-init test
ostree --repo=sr/ostree/repo commit -b test/stable --timestamp=@1700000000 -s v1 --tree=dir=tree >/dev/null
ostree admin --sysroot=sr deploy --os=test --karg=root=LABEL=root --overlay-initrd=one.img --overlay-initrd=two.img test/stable 2>/dev/null
cat sr/boot/loader/entries/*.conf
ls -l sr/boot/ostree/initramfs-overlays | awk 'NR > 1 { print $1, $5, $9 }'
ostree admin --sysroot=sr deploy --os=test test/stable 2>/dev/null
cat sr/boot/loader/entries/*.conf
ls sr/boot/ostree/initramfs-overlays
ostree admin --sysroot=sr undeploy 1 >/dev/null 2>&1
ls sr/boot/ostree/initramfs-overlays
st ostree admin --sysroot=sr deploy --os=test --overlay-initrd=missing.img test/stable >/dev/null 2>&1
ostree admin --sysroot=sr status
chattr -i sr/ostree/deploy/test/deploy/*.? 2>/dev/null || true
