#!/usr/bin/env bash
# Build a Debian bookworm minbase tree with a kernel and an initramfs, laid
# out the way `ostree admin deploy` expects an OS tree:
#
#   bench/make-kernel-tree.sh [--include=PKG,PKG...] DEST_DIR
#
# 1. fixtures/make-minbase.sh builds the root filesystem with mmdebstrap
#    --variant=minbase plus the --include packages (the bench passes
#    linux-image-cloud-amd64 and initramfs-tools). Installing the kernel
#    runs initramfs-tools' kernel hook inside the chroot, which writes
#    /boot/initrd.img-KVER. The mirror comes from this machine's apt sources
#    (MINBASE_MIRROR overrides it), as for the minbase tree.
# 2. If the chroot did not produce an initramfs, `update-initramfs -c -k KVER`
#    is run in the chroot (with /proc, /sys and /dev mounted). If that fails
#    too, the script stops: there is no fallback initramfs.
# 3. The tree is then converted to the OSTree layout:
#      /boot/vmlinuz-KVER     -> /usr/lib/modules/KVER/vmlinuz
#      /boot/initrd.img-KVER  -> /usr/lib/modules/KVER/initramfs.img
#      /boot/config-KVER, /boot/System.map-KVER -> /usr/lib/modules/KVER/config, System.map
#    /boot is left empty; the top-level /vmlinuz and /initrd.img symlinks
#    (and their .old variants) are removed; /etc is moved to /usr/etc; and
#    /usr/lib/os-release must exist. Everything else (/var, /home, ...)
#    stays as it is.
#
# The tree is built once: if DEST_DIR/.complete exists the script exits at
# once. It is built in a temporary sibling directory and renamed into place,
# so DEST_DIR is either absent or complete. DEST_DIR/.complete (written by
# make-minbase.sh) is part of the tree.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"

usage() {
    echo "usage: $0 [--include=PKG,PKG...] DEST_DIR" >&2
    exit 2
}

die() {
    echo "make-kernel-tree: $*" >&2
    exit 1
}

# Run `update-initramfs -c -k KVER` in the chroot ROOT, with the pseudo
# filesystems it reads mounted for the duration.
chroot_initramfs() {
    local root="$1" kver="$2" status=0
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --bind /dev "$root/dev"
    chroot "$root" update-initramfs -c -k "$kver" || status=$?
    umount "$root/dev" "$root/sys" "$root/proc"
    return "$status"
}

to_ostree_layout() {
    local root="$1"
    local kvers=()
    local d
    for d in "$root"/usr/lib/modules/*/; do
        [ -d "$d" ] && kvers+=("$(basename "$d")")
    done
    [ "${#kvers[@]}" -eq 1 ] || die "expected one kernel in usr/lib/modules, found ${#kvers[@]}: ${kvers[*]}"
    local kver="${kvers[0]}"
    local mod="$root/usr/lib/modules/$kver"

    [ -f "$root/boot/vmlinuz-$kver" ] || die "no /boot/vmlinuz-$kver in the tree"
    if [ ! -f "$root/boot/initrd.img-$kver" ]; then
        echo "make-kernel-tree: no initramfs after mmdebstrap; running update-initramfs in the chroot" >&2
        [ "$(id -u)" -eq 0 ] || die "no initramfs, and making one in the chroot needs root"
        chroot_initramfs "$root" "$kver" || die "update-initramfs in the chroot failed"
        [ -f "$root/boot/initrd.img-$kver" ] || die "update-initramfs did not write /boot/initrd.img-$kver"
    fi

    mv "$root/boot/vmlinuz-$kver" "$mod/vmlinuz"
    mv "$root/boot/initrd.img-$kver" "$mod/initramfs.img"
    [ ! -f "$root/boot/config-$kver" ] || mv "$root/boot/config-$kver" "$mod/config"
    [ ! -f "$root/boot/System.map-$kver" ] || mv "$root/boot/System.map-$kver" "$mod/System.map"
    find "$root/boot" -mindepth 1 -delete
    local link
    for link in vmlinuz vmlinuz.old initrd.img initrd.img.old; do
        rm -f "$root/$link" "$root/boot/$link"
    done

    [ -e "$root/usr/lib/os-release" ] || die "the tree has no /usr/lib/os-release"
    [ ! -e "$root/usr/etc" ] || die "the tree already has /usr/etc"
    mv "$root/etc" "$root/usr/etc"

    echo "make-kernel-tree: kernel $kver: vmlinuz $(stat -c %s "$mod/vmlinuz") bytes, initramfs.img $(stat -c %s "$mod/initramfs.img") bytes" >&2
}

main() {
    local include=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --include=*) include+=("$1"); shift ;;
            --) shift; break ;;
            -*) usage ;;
            *) break ;;
        esac
    done
    [ $# -eq 1 ] || usage
    local dest="${1%/}"

    if [ -e "$dest/.complete" ]; then
        echo "kernel tree: $dest (cached)"
        exit 0
    fi
    [ ! -e "$dest" ] || die "$dest exists but is incomplete; remove it first"

    mkdir -p "$(dirname "$dest")"
    local tmp
    tmp="$(mktemp -d "$dest.tmp.XXXXXX")"
    KERNEL_TREE_TMP="$tmp"
    # --one-file-system: never into a pseudo filesystem left mounted by a failure.
    trap 'rm -rf --one-file-system "$KERNEL_TREE_TMP"' EXIT

    "$here/../fixtures/make-minbase.sh" "${include[@]}" "$tmp/root"
    to_ostree_layout "$tmp/root"
    mv -T "$tmp/root" "$dest"
    rmdir "$tmp"
    trap - EXIT
    echo "kernel tree: $dest"
}

main "$@"
