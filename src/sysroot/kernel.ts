/**
 * Finding a deployment's kernel on disk or in a commit (the layout rules are
 * in format/kernel-layout.ts) and installing it under
 * boot/ostree/STATEROOT-BOOTCSUM/.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import type { EntryType, KernelLayout, TreeReader } from '../format/kernel-layout.js';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../format/objects.js';
import { exists, fsp, isErrno, path, randomSuffix } from '../io/fs.js';
import type { Repo } from '../repo/repo.js';

export { dirReader } from '../repo/tree-reader.js';
export { findKernel, kernelSize, type EntryType, type KernelFile, type KernelLayout, type TreeReader } from '../format/kernel-layout.js';

/** A commit in a repository, read without checking it out. */
export function commitReader(repo: Repo, checksum: string): TreeReader {
  const trees = new Map<string, Promise<{ files: Map<string, string>; dirs: Map<string, string> } | null>>();
  const root = repo.loadCommit(checksum).then((c) => c.rootTree);
  const tree = (rel: string): Promise<{ files: Map<string, string>; dirs: Map<string, string> } | null> => {
    const key = rel.replace(/^\/+|\/+$/g, '');
    let p = trees.get(key);
    if (!p) {
      p = (async () => {
        let csum: string | undefined;
        if (key === '') csum = await root;
        else {
          const parent = await tree(path.posix.dirname(key) === '.' ? '' : path.posix.dirname(key));
          csum = parent?.dirs.get(path.posix.basename(key));
        }
        if (!csum) return null;
        const t = await repo.loadDirTree(csum);
        return { files: new Map(t.files.map((f) => [f.name, f.checksum])), dirs: new Map(t.dirs.map((d) => [d.name, d.tree])) };
      })();
      trees.set(key, p);
    }
    return p;
  };
  const fileOf = async (rel: string): Promise<string | null> => {
    const dir = path.posix.dirname(rel);
    const t = await tree(dir === '.' ? '' : dir);
    return t?.files.get(path.posix.basename(rel)) ?? null;
  };
  const fileType = async (csum: string): Promise<EntryType> => {
    const f = await repo.loadFile(csum);
    const fmt = f.header.mode & S_IFMT;
    return fmt === S_IFLNK ? 'symlink' : fmt === S_IFDIR ? 'dir' : 'file';
  };
  return {
    async list(rel) {
      const t = await tree(rel);
      if (!t) return null;
      const out: Array<{ name: string; type: EntryType }> = [...t.dirs.keys()].map((name) => ({ name, type: 'dir' as const }));
      for (const [name, csum] of t.files) out.push({ name, type: await fileType(csum) });
      return out;
    },
    async type(rel) {
      if ((await tree(rel)) !== null) return 'dir';
      const f = await fileOf(rel);
      return f ? fileType(f) : null;
    },
    async size(rel) {
      const f = await fileOf(rel);
      if (!f) throw new OstreeTsError(Codes.NOT_FOUND, `No file ${rel} in commit ${checksum}.`, { path: rel, checksum });
      return (await repo.loadFile(f)).size;
    },
    async *open(rel) {
      const f = await fileOf(rel);
      if (!f) throw new OstreeTsError(Codes.NOT_FOUND, `No file ${rel} in commit ${checksum}.`, { path: rel, checksum });
      const stored = await repo.loadFile(f);
      if ((stored.header.mode & S_IFMT) !== S_IFREG) throw new OstreeTsError(Codes.NOT_FOUND, `${rel} in commit ${checksum} is not a regular file.`, { path: rel });
      for await (const b of stored.open()) yield b as Buffer;
    },
  };
}

/** Hardlink when possible, else copy (same mode); written under a temporary name, so a file that exists is whole. */
async function installFile(src: string, dest: string): Promise<void> {
  if (await exists(dest)) return;
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.tmp-${randomSuffix()}`);
  try {
    await fsp.link(src, tmp);
  } catch (e) {
    if (!isErrno(e, 'EXDEV', 'EPERM', 'EMLINK')) throw e;
    await fsp.copyFile(src, tmp);
    const st = await fsp.stat(src);
    await fsp.chmod(tmp, st.mode & 0o7777);
    const fh = await fsp.open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  await fsp.rename(tmp, dest);
}

async function installDir(src: string, dest: string): Promise<void> {
  await fsp.mkdir(dest, { recursive: true, mode: 0o755 });
  for (const e of await fsp.readdir(src, { withFileTypes: true })) {
    if (e.isDirectory()) await installDir(path.join(src, e.name), path.join(dest, e.name));
    else if (e.isFile()) await installFile(path.join(src, e.name), path.join(dest, e.name));
  }
}

/** Copy (or link) a deployment's kernel into `bootDir/ostree/OS-BOOTCSUM/`; files already there are kept. */
export async function installKernel(deployDir: string, k: KernelLayout, bootDir: string, osname: string): Promise<string> {
  const dir = path.join(bootDir, 'ostree', `${osname}-${k.bootcsum}`);
  await fsp.mkdir(dir, { recursive: true, mode: 0o775 });
  for (const f of [k.kernel, k.initramfs, k.devicetree, k.hmac]) {
    if (f) await installFile(path.join(deployDir, f.src), path.join(dir, f.dest));
  }
  if (k.dtbDir) await installDir(path.join(deployDir, k.dtbDir.src), path.join(dir, k.dtbDir.dest));
  return dir;
}
