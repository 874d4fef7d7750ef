/**
 * `commit --generate-sizes`: the `ostree.sizes` list of every file, dirtree
 * and dirmeta object a new root reaches, with the size each takes in this
 * (archive) repository and its unpacked size, as libostree records them.
 */
import { decodeArchiveHeader, type ObjectType } from '../format/objects.js';
import { encodeCommitSizes, type ObjectSize } from '../format/sizes.js';
import { fsp } from '../io/fs.js';
import type { RootChecksums } from './commit-writer.js';
import type { Transaction } from './transaction.js';

async function fileSize(file: string): Promise<number> {
  return (await fsp.stat(file)).size;
}

/** The unpacked size a `.filez` header declares; for a symlink, its target's length (as libostree counts it). */
async function archivedContentSize(file: string): Promise<number> {
  const fh = await fsp.open(file, 'r');
  try {
    const head = Buffer.alloc(8);
    await fh.read(head, 0, 8, 0);
    const len = head.readUInt32BE(0);
    const buf = Buffer.alloc(8 + len);
    await fh.read(buf, 0, 8 + len, 0);
    const { header, size } = decodeArchiveHeader(buf, `file object ${file}`);
    return header.symlinkTarget !== '' ? Buffer.byteLength(header.symlinkTarget) : Number(size);
  } finally {
    await fh.close();
  }
}

/** Sizes of the objects under `root`, encoded as the `ostree.sizes` value (type `aay`). */
export async function commitSizes(txn: Transaction, root: RootChecksums): Promise<Uint8Array[]> {
  const out: ObjectSize[] = [];
  const seen = new Set<string>();
  const meta = async (checksum: string, type: ObjectType): Promise<void> => {
    if (seen.has(`${checksum}.${type}`)) return;
    seen.add(`${checksum}.${type}`);
    const n = await fileSize(txn.objectFile(checksum, type));
    out.push({ checksum, type, archived: n, unpacked: n });
  };
  const walk = async (tree: string, dirmeta: string): Promise<void> => {
    await meta(dirmeta, 'dirmeta');
    if (seen.has(`${tree}.dirtree`)) return;
    await meta(tree, 'dirtree');
    const t = await txn.loadDirTree(tree);
    for (const f of t.files) {
      if (seen.has(`${f.checksum}.file`)) continue;
      seen.add(`${f.checksum}.file`);
      const file = txn.objectFile(f.checksum, 'file');
      out.push({ checksum: f.checksum, type: 'file', archived: await fileSize(file), unpacked: await archivedContentSize(file) });
    }
    for (const d of t.dirs) await walk(d.tree, d.meta);
  };
  await walk(root.tree, root.meta);
  return encodeCommitSizes(out);
}
