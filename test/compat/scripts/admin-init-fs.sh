# admin init-fs, with and without --modern: the layout left behind is compared.
set -e
mkdir modern full
ostree admin init-fs --modern modern
ostree admin init-fs full
ostree --repo=full/ostree/repo config get core.mode
