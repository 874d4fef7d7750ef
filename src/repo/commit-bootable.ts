/**
 * `commit --bootable`: libostree's metadata for a bootable tree. The kernel
 * must be `usr/lib/modules/KVER/vmlinuz` (the first KVER, in name order, that
 * has one); the commit then carries `ostree.bootable` and `ostree.linux`
 * (KVER). A tree without one is refused, as libostree refuses it.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import type { VarDict } from '../format/gvariant.js';
import type { RootChecksums } from './commit-writer.js';
import type { Transaction } from './transaction.js';

export async function bootableMetadata(txn: Transaction, root: RootChecksums): Promise<VarDict> {
  let tree = await txn.loadDirTree(root.tree);
  let where = '';
  for (const name of ['usr', 'lib', 'modules']) {
    where += `/${name}`;
    const d = tree.dirs.find((e) => e.name === name);
    if (!d) {
      throw new OstreeTsError(Codes.NOT_FOUND, `No such file or directory: ${where} (a bootable commit needs its kernel in /usr/lib/modules/VERSION/vmlinuz).`, { path: where });
    }
    tree = await txn.loadDirTree(d.tree);
  }
  for (const d of tree.dirs) {
    const sub = await txn.loadDirTree(d.tree);
    if (sub.files.some((f) => f.name === 'vmlinuz')) {
      return [['ostree.bootable', { type: 'b', value: true }], ['ostree.linux', { type: 's', value: d.name }]];
    }
  }
  throw new OstreeTsError(Codes.NOT_FOUND, `No kernel found in ${where}: a bootable commit needs /usr/lib/modules/VERSION/vmlinuz.`, { path: where });
}
