# Checkout layering and prune, as a script for ostree would use them.
set -e
mkdir -p base/usr/bin base/etc top/etc top/usr/bin
printf 'one\n' > base/usr/bin/a
printf 'conf\n' > base/etc/conf
printf 'gone\n' > base/etc/old
printf 'new\n' > top/etc/added
: > top/etc/.wh.old
printf '/etc/conf\n' > skip.txt
ostree init --repo=repo --mode=bare-user-only
ostree --repo=repo commit -b base --timestamp=@1700000000 base
ostree --repo=repo commit -b top --timestamp=@1700000000 top
ostree --repo=repo checkout -U base out
ostree --repo=repo checkout -U --union --whiteouts top out
ostree --repo=repo checkout -U --union-add base out
ostree --repo=repo checkout -U --skip-list=skip.txt base skipped
ostree --repo=repo checkout -U --allow-noent --subpath=/nope base none
printf 'base\0/usr\0top\0/etc\0' | ostree --repo=repo checkout -U --union --from-stdin many
for i in 1 2 3; do printf "$i\n" > base/usr/bin/a; ostree --repo=repo commit -b base --timestamp=@$((1700000000 + i)) base; done
ostree --repo=repo diff base^ base
ostree --repo=repo diff --stats base^ base
ostree --repo=repo diff --stats --fs-diff base top
ostree --repo=repo prune --only-branch=base --depth=1
ostree --repo=repo log base | grep -c '^commit'
ostree --repo=repo prune --refs-only --depth=0 --commit-only
ostree --repo=repo prune --refs-only --depth=0
