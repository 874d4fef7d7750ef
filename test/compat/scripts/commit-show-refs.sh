# Commit options, show, ls, refs, rev-parse and config, as a script for ostree would use them.
set -e
mkdir -p tree/usr/bin tree/usr/lib/modules/6.1.0 tree/etc
printf 'tool\n' > tree/usr/bin/tool
chmod 0775 tree/usr/bin/tool
printf 'kernel\n' > tree/usr/lib/modules/6.1.0/vmlinuz
printf 'name=x\n' > tree/etc/os-release
ln -s usr/bin/tool tree/tool
printf 'Release notes\n' > body.txt
ostree init --repo=repo --mode=archive
ostree --repo=repo commit -b os/main -s 'first' --timestamp=@1700000000 --add-metadata-string=version=1 --bootable --generate-sizes tree
ostree --repo=repo commit -b os/main -s 'second' -F body.txt --timestamp=@1700000100 --keep-metadata=version --mode-ro-executables --table-output tree
ostree --repo=repo commit -b os/other -s 'other' --timestamp=@1700000200 --link-checkout-speedup --devino-canonical tree
ostree --repo=repo show --print-metadata-key=version os/main
ostree --repo=repo show --print-metadata-key=ostree.linux os/main^
ostree --repo=repo show --print-sizes os/main^
ostree --repo=repo show --raw os/main
ostree --repo=repo show --print-related os/main
ostree --repo=repo ls -R os/main
ostree --repo=repo ls --dironly os/main /usr
ostree --repo=repo refs --create=stable --alias os/main
ostree --repo=repo refs --alias
ostree --repo=repo refs
ostree --repo=repo refs os --list
ostree --repo=repo refs --create=os/other --force os/main
ostree --repo=repo rev-parse os/other
ostree --repo=repo config --group=core get mode
ostree --repo=repo config --group=core set tmp-expiry-secs 600
ostree --repo=repo config get core.tmp-expiry-secs
ostree --repo=repo commit -b os/nokernel --bootable --timestamp=@1700000300 tree/etc || echo "refused: $?"
ostree --repo=repo refs
ostree --repo=repo reset os/main os/main^
ostree --repo=repo rev-parse os/main
ostree --repo=repo reset os/missing os/main || echo "refused: $?"
ostree --repo=repo fsck --verify-bindings --all -q || echo "bindings: $?"
