/**
 * A directory on disk read as a tree (format's TreeReader): what the kernel
 * search reads a deployment, a checkout or a staged compose tree through.
 * Names are listed in byte order, so that what is found first does not
 * depend on the file system.
 */
import type { EntryType, TreeReader } from '../format/kernel-layout.js';
import { createReadStream, fsp, isErrno, path } from '../io/fs.js';

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function dirReader(root: string): TreeReader {
  const abs = (rel: string): string => path.join(root, rel);
  const typeOf = (st: { isDirectory(): boolean; isSymbolicLink(): boolean }): EntryType => (st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file');
  return {
    async list(rel) {
      try {
        const ents = await fsp.readdir(abs(rel), { withFileTypes: true });
        return ents.map((e) => ({ name: e.name, type: typeOf(e) })).sort((a, b) => byName(a.name, b.name));
      } catch (e) {
        if (isErrno(e, 'ENOENT', 'ENOTDIR')) return null;
        throw e;
      }
    },
    async type(rel) {
      const st = await fsp.lstat(abs(rel)).catch(() => null);
      return st ? typeOf(st) : null;
    },
    async size(rel) {
      return (await fsp.stat(abs(rel))).size;
    },
    open(rel) {
      return createReadStream(abs(rel));
    },
  };
}
