/**
 * Where a bootable tree keeps its kernel, as libostree looks for it
 * (usr/lib/modules/KVER first, then usr/lib/ostree-boot and boot/ with
 * checksum suffixes), the names the files take under
 * boot/ostree/STATEROOT-BOOTCSUM/, and the boot checksum over them.
 *
 * Pure: trees are read through `TreeReader`, which the caller backs with a
 * directory, a commit, or anything else.
 */
import { createHash } from 'node:crypto';
import { Codes, OstreeTsError } from '../errors/index.js';

/** Where kernels and their modules live in a tree (one directory per kernel version). */
export const MODULES_DIR = 'usr/lib/modules';

/** The kernel and initramfs names libostree reads inside `usr/lib/modules/KVER/`. */
export const MODULES_KERNEL = 'vmlinuz';
export const MODULES_INITRAMFS = ['initramfs.img', 'initramfs'] as const;

/**
 * A kernel or initramfs as distributions install them in /boot
 * (vmlinuz-KVER, initrd.img-KVER, initramfs-KVER.img): its kind and version,
 * or null for any other name (or one with a boot checksum suffix).
 */
export function parseBootFileName(name: string): { kind: 'kernel' | 'initramfs'; kver: string } | null {
  if (SUFFIX.test(name)) return null;
  let m = /^vmlinuz-(.+)$/.exec(name);
  if (m) return { kind: 'kernel', kver: m[1] };
  m = /^initrd\.img-(.+)$/.exec(name) ?? /^initramfs-(.+)\.img$/.exec(name);
  if (m) return { kind: 'initramfs', kver: m[1] };
  return null;
}

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

export const BOOT_CHECKSUM_SUFFIX = /-([0-9a-f]{64})$/;
const SUFFIX = BOOT_CHECKSUM_SUFFIX;

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

async function fromModules(t: TreeReader, knownBootcsum?: string, hash = true): Promise<KernelLayout | null> {
  const kvers = await t.list(MODULES_DIR);
  if (!kvers) return null;
  for (const k of kvers) {
    if (k.type !== 'dir') continue;
    const dir = `${MODULES_DIR}/${k.name}`;
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
    if (!hash) return layout;
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

/**
 * The tree's kernel, or a coded error naming where it was looked for. With
 * `bootcsum: false` a kernel in usr/lib/modules is not hashed (its
 * `bootcsum` is empty), for callers that need the layout only.
 */
export async function findKernel(t: TreeReader, what: string, opts: { knownBootcsum?: string; bootcsum?: boolean } = {}): Promise<KernelLayout> {
  const modules = await fromModules(t, opts.knownBootcsum, opts.bootcsum !== false);
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

