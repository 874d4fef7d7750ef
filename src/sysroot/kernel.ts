/**
 * Finding a tree's kernel the way libostree does (usr/lib/modules/KVER
 * first, then usr/lib/ostree-boot and boot/ with checksum suffixes), its boot
 * checksum, and installing it under boot/ostree/STATEROOT-BOOTCSUM/.
 *
 * Trees are read through `TreeReader`, so the same search runs on a
 * deployment directory and, before anything is checked out, on a commit.
 */
import { createHash } from 'node:crypto';
import { Codes, OstreeTsError } from '../errors/index.js';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../format/index.js';
import { createReadStream, exists, fsp, isErrno, path, randomSuffix } from '../io/index.js';
import type { Repo } from '../repo/index.js';

export type EntryType = 'file' | 'dir' | 'symlink';

export interface TreeReader {
  /** Entries of a directory (relative path, no leading slash), or null when it is not a directory. */
  list(rel: string): Promise<Array<{ name: string; type: EntryType }> | null>;
  type(rel: string): Promise<EntryType | null>;
  size(rel: string): Promise<number>;
  open(rel: string): AsyncIterable<Buffer>;
}

export interface KernelFile {
  /** Path in the tree. */
  src: string;
  /** Name under boot/ostree/STATEROOT-BOOTCSUM/. */
  dest: string;
}

export interface KernelLayout {
  kernel: KernelFile;
  initramfs: KernelFile | null;
  devicetree: KernelFile | null;
  /** A dtb/ directory (copied whole, entry key fdtdir). */
  dtbDir: KernelFile | null;
  hmac: KernelFile | null;
  bootcsum: string;
}

const SUFFIX = /-([0-9a-f]{64})$/;

/** A directory on disk. */
export function dirReader(root: string): TreeReader {
  const abs = (rel: string): string => path.join(root, rel);
  const typeOf = (st: { isDirectory(): boolean; isSymbolicLink(): boolean }): EntryType => (st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file');
  return {
    async list(rel) {
      try {
        const ents = await fsp.readdir(abs(rel), { withFileTypes: true });
        return ents.map((e) => ({ name: e.name, type: typeOf(e) }));
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

async function hashInto(h: ReturnType<typeof createHash>, t: TreeReader, rel: string): Promise<void> {
  for await (const b of t.open(rel)) h.update(b);
}

async function hashDir(h: ReturnType<typeof createHash>, t: TreeReader, rel: string): Promise<void> {
  const ents = ((await t.list(rel)) ?? []).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of ents) {
    if (e.type === 'dir') await hashDir(h, t, `${rel}/${e.name}`);
    else if (e.type === 'file') await hashInto(h, t, `${rel}/${e.name}`);
  }
}

async function fromModules(t: TreeReader, knownBootcsum?: string): Promise<KernelLayout | null> {
  const kvers = await t.list('usr/lib/modules');
  if (!kvers) return null;
  for (const k of kvers) {
    if (k.type !== 'dir') continue;
    const dir = `usr/lib/modules/${k.name}`;
    if ((await t.type(`${dir}/vmlinuz`)) !== 'file') continue;
    const kver = k.name;
    const layout: KernelLayout = { kernel: { src: `${dir}/vmlinuz`, dest: `vmlinuz-${kver}` }, initramfs: null, devicetree: null, dtbDir: null, hmac: null, bootcsum: '' };
    for (const name of ['initramfs.img', 'initramfs']) {
      if ((await t.type(`${dir}/${name}`)) === 'file') {
        layout.initramfs = { src: `${dir}/${name}`, dest: `initramfs-${kver}.img` };
        break;
      }
    }
    if ((await t.type(`${dir}/devicetree`)) === 'file') layout.devicetree = { src: `${dir}/devicetree`, dest: `devicetree-${kver}` };
    else if ((await t.type(`${dir}/dtb`)) === 'dir') layout.dtbDir = { src: `${dir}/dtb`, dest: 'dtb' };
    if ((await t.type(`${dir}/.vmlinuz.hmac`)) === 'file') layout.hmac = { src: `${dir}/.vmlinuz.hmac`, dest: `.vmlinuz-${kver}.hmac` };
    if (knownBootcsum) {
      // Computed when the deployment was made (its boot link names it): not hashed again.
      layout.bootcsum = knownBootcsum;
      return layout;
    }
    const h = createHash('sha256');
    await hashInto(h, t, layout.kernel.src);
    if (layout.initramfs) await hashInto(h, t, layout.initramfs.src);
    if (layout.devicetree) await hashInto(h, t, layout.devicetree.src);
    else if (layout.dtbDir) await hashDir(h, t, layout.dtbDir.src);
    layout.bootcsum = h.digest('hex');
    return layout;
  }
  return null;
}

async function fromLegacy(t: TreeReader): Promise<KernelLayout | null> {
  for (const dir of ['usr/lib/ostree-boot', 'boot']) {
    const ents = await t.list(dir);
    if (!ents) continue;
    let kernel: string | null = null;
    let initramfs: string | null = null;
    let devicetree: string | null = null;
    for (const e of ents) {
      if (e.type !== 'file') continue;
      if (e.name.startsWith('vmlinuz-') && SUFFIX.test(e.name)) kernel = e.name;
      else if (e.name.startsWith('initramfs-') && SUFFIX.test(e.name)) initramfs = e.name;
      else if (e.name.startsWith('devicetree-') && SUFFIX.test(e.name)) devicetree = e.name;
    }
    if (!kernel) continue;
    const csum = SUFFIX.exec(kernel)![1];
    for (const other of [initramfs, devicetree]) {
      if (other && SUFFIX.exec(other)![1] !== csum) {
        throw new OstreeTsError(Codes.SYSROOT_INVALID, `Mismatched kernel checksums in ${dir}: ${kernel} and ${other} must end in the same SHA-256.`, { dir });
      }
    }
    const strip = (n: string): string => n.replace(SUFFIX, '');
    return {
      kernel: { src: `${dir}/${kernel}`, dest: strip(kernel) },
      initramfs: initramfs ? { src: `${dir}/${initramfs}`, dest: strip(initramfs) } : null,
      devicetree: devicetree ? { src: `${dir}/${devicetree}`, dest: strip(devicetree) } : null,
      dtbDir: null, hmac: null, bootcsum: csum,
    };
  }
  return null;
}

/** The tree's kernel, or a coded error naming where it was looked for. */
export async function findKernel(t: TreeReader, what: string, opts: { knownBootcsum?: string } = {}): Promise<KernelLayout> {
  const modules = await fromModules(t, opts.knownBootcsum);
  const legacy = modules && modules.initramfs ? null : await fromLegacy(t);
  if (modules && !(legacy?.initramfs && !modules.initramfs)) return modules;
  if (legacy) return legacy;
  throw new OstreeTsError(Codes.NOT_FOUND, `Failed to find a kernel in ${what}: looked in /usr/lib/modules/KVER/vmlinuz, /usr/lib/ostree-boot and /boot. A bootable tree needs one.`, { tree: what });
}

/** Bytes the kernel files take (what /boot must hold for a new boot checksum). */
export async function kernelSize(t: TreeReader, k: KernelLayout): Promise<number> {
  let n = 0;
  for (const f of [k.kernel, k.initramfs, k.devicetree, k.hmac]) if (f) n += await t.size(f.src);
  if (k.dtbDir) {
    const walk = async (rel: string): Promise<void> => {
      for (const e of (await t.list(rel)) ?? []) {
        if (e.type === 'dir') await walk(`${rel}/${e.name}`);
        else if (e.type === 'file') n += await t.size(`${rel}/${e.name}`);
      }
    };
    await walk(k.dtbDir.src);
  }
  return n;
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
