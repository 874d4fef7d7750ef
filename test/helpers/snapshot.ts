/** Every fact about a tree that a checkout must reproduce: type, mode, owner, content, target, xattrs. */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import * as path from 'node:path';
import { readXattrs } from '../../src/io/index.js';

export interface EntryFacts {
  path: string;
  type: 'dir' | 'file' | 'symlink' | 'other';
  mode: string;
  uid: number;
  gid: number;
  content?: string;
  target?: string;
  xattrs: string[];
}

export async function snapshotTree(root: string, opts: { owners?: boolean; xattrs?: boolean } = {}): Promise<EntryFacts[]> {
  const out: EntryFacts[] = [];
  const walk = async (rel: string): Promise<void> => {
    const full = path.join(root, rel);
    const st = await lstat(full);
    const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
    const xs = opts.xattrs === false ? [] : (await readXattrs(full))
      .filter((x) => x.value.length > 0 && !x.name.startsWith('security.selinux'))
      .map((x) => `${x.name}=${Buffer.from(x.value).toString('hex')}`)
      .sort();
    const e: EntryFacts = {
      path: rel || '/', type,
      mode: type === 'symlink' ? 'link' : (st.mode & 0o7777).toString(8),
      uid: opts.owners === false ? 0 : st.uid,
      gid: opts.owners === false ? 0 : st.gid,
      xattrs: xs,
    };
    if (type === 'file') e.content = createHash('sha256').update(await readFile(full)).digest('hex');
    if (type === 'symlink') e.target = await readlink(full);
    out.push(e);
    if (type === 'dir') {
      for (const n of (await readdir(full)).sort()) await walk(rel ? `${rel}/${n}` : n);
    }
  };
  await walk('');
  return out;
}
