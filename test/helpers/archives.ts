/** Tarballs made by real tools: GNU tar, gzip and zstd. */
import { link, mkdir, writeFile, chmod } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, run } from './env.js';

/** A tar of `dir` as GNU tar writes it: PAX format, numeric owners, every xattr. */
export async function gnuTar(dir: string, out: string): Promise<string> {
  await ok(run('tar', ['--xattrs', "--xattrs-include=*", '--numeric-owner', '--format=pax', '-C', dir, '-cf', out, '.']), `tar of ${dir}`);
  return out;
}

export async function gzipFile(src: string, out: string): Promise<string> {
  await ok(run('sh', ['-c', 'gzip -c "$1" > "$2"', 'sh', src, out]), 'gzip');
  return out;
}

export async function zstdFile(src: string, out: string): Promise<string> {
  await ok(run('zstd', ['-q', '-f', src, '-o', out]), 'zstd');
  return out;
}

/** Files sharing inodes: tar records the second and later names as hard links. */
export async function makeHardlinkTree(root: string): Promise<string> {
  await mkdir(path.join(root, 'a', 'b'), { recursive: true });
  await mkdir(path.join(root, 'c'), { recursive: true });
  for (const d of ['.', 'a', 'a/b', 'c']) await chmod(path.join(root, d), 0o755);
  await writeFile(path.join(root, 'a', 'orig'), 'shared content\n');
  await link(path.join(root, 'a', 'orig'), path.join(root, 'a', 'b', 'same'));
  await link(path.join(root, 'a', 'orig'), path.join(root, 'c', 'again'));
  await writeFile(path.join(root, 'c', 'solo'), 'solo\n');
  return root;
}

/** A tar written entry by entry with Python's tarfile: for archives no well-behaved tool makes. */
export async function pythonTar(out: string, entries: Array<{ name: string; type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'chardev' | 'fifo'; data?: string; link?: string; mode?: number }>): Promise<string> {
  const script = `
import json, sys, tarfile, io
spec = json.loads(sys.argv[2])
types = {'file': tarfile.REGTYPE, 'dir': tarfile.DIRTYPE, 'symlink': tarfile.SYMTYPE, 'hardlink': tarfile.LNKTYPE, 'chardev': tarfile.CHRTYPE, 'fifo': tarfile.FIFOTYPE}
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    for e in spec:
        ti = tarfile.TarInfo(e['name'])
        ti.type = types[e['type']]
        ti.mode = e.get('mode', 0o755 if e['type'] == 'dir' else 0o644)
        data = None
        if e['type'] == 'file':
            b = e.get('data', '').encode()
            ti.size = len(b)
            data = io.BytesIO(b)
        if e['type'] in ('symlink', 'hardlink'):
            ti.linkname = e['link']
        if e['type'] == 'chardev':
            ti.devmajor, ti.devminor = 1, 3
        t.addfile(ti, data)
`;
  await ok(run('python3', ['-c', script, out, JSON.stringify(entries)]), 'python tarfile');
  return out;
}
