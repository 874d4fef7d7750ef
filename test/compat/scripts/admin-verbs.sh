# admin verbs on a sysroot this machine did not boot: deploy --karg-none and --no-prune,
# config-diff, set-origin --set (an existing remote is left as it is), and what needs a
# booted system (unlock, --stage, config-diff without --os), with their messages and exit statuses.
set -e
st() { "$@" 2>&1 || echo "exit $?"; }
mkdir -p tree/usr/etc tree/usr/lib/modules/5.10.0-test tree/usr/bin
printf 'NAME=Test\nID=test\n' > tree/usr/etc/os-release
echo one > tree/usr/etc/a
echo two > tree/usr/etc/b
echo kernel > tree/usr/lib/modules/5.10.0-test/vmlinuz
echo initramfs > tree/usr/lib/modules/5.10.0-test/initramfs.img
mkdir sr
ostree admin init-fs sr
ostree admin --sysroot=sr os-init test
ostree --repo=sr/ostree/repo commit -b test/stable --timestamp=@1700000000 -s v1 --tree=dir=tree >/dev/null
ostree admin --sysroot=sr deploy --os=test --karg=root=LABEL=root --karg=quiet test/stable 2>/dev/null
d=$(ls -d sr/ostree/deploy/test/deploy/*.0)
echo changed >> "$d/etc/a"
rm "$d/etc/b"
mkdir "$d/etc/new.d"
echo x > "$d/etc/new.d/x.conf"
echo "config-diff:"
st ostree admin --sysroot=sr config-diff --os=test
st ostree admin --sysroot=sr config-diff
st ostree admin --sysroot=sr config-diff --os=nosuch
echo "unlock:"
st ostree admin --sysroot=sr unlock
st ostree admin --sysroot=sr unlock --hotfix
echo "stage:"
st ostree admin --sysroot=sr deploy --os=test --stage test/stable
echo "karg-none, no-prune:"
echo three > tree/usr/etc/c
ostree --repo=sr/ostree/repo commit -b test/stable --timestamp=@1700000100 -s v2 --tree=dir=tree >/dev/null
ostree admin --sysroot=sr deploy --os=test --karg-none --karg=console=ttyS0 --no-prune test/stable 2>/dev/null
grep -h '^options' sr/boot/loader/entries/*.conf | sed 's/ostree=[^ ]*/ostree=X/' | sort
ostree --repo=sr/ostree/repo rev-parse test/stable
echo "set-origin:"
st ostree admin --sysroot=sr set-origin --set=gpg-verify=false --set=branches=main origin http://127.0.0.1:1/repo test/stable
st ostree admin --sysroot=sr set-origin --index=0 --set=gpg-verify=false --set=branches=main origin http://127.0.0.1:1/repo test/stable
st ostree admin --sysroot=sr set-origin --index=0 --set=gpg-verify=true origin http://127.0.0.1:2/other
st ostree admin --sysroot=sr set-origin --index=5 origin http://127.0.0.1:1/repo test/stable
ostree --repo=sr/ostree/repo config get 'remote "origin".url'
ostree --repo=sr/ostree/repo config get 'remote "origin".gpg-verify'
cat sr/ostree/deploy/test/deploy/*.origin
echo "status --verify:"
st ostree admin --sysroot=sr status --verify
# The layout left behind is compared too; the immutable deployment directories are made removable.
chattr -i sr/ostree/deploy/test/deploy/*.? 2>/dev/null || true
