/**
 * The input trees the vm-os recipes (recipes/vm-os*.yaml) name, made in
 * build/vm-os/ from this machine's packages and the built project:
 *
 *  - userland: busybox-static and its applet links, the usr-merge links,
 *    the mount points, `/ostree -> sysroot/ostree` (so the host's tools
 *    find the sysroot at `/`, as on any OSTree host);
 *  - kernel: usr/lib/modules/KVER/vmlinuz (Debian's) and initramfs.img
 *    (busybox, the modules the boot needs, test/vm/os/initramfs-init.sh);
 *  - kernel-noroot: the same initramfs without the ext4 driver;
 *  - ostree-ts: Node.js (this machine's binary and the libraries it links),
 *    the built project (dist/src, package.json, the OFD lock addon) and the
 *    node_modules packages the host verbs load, with their dependencies.
 */
import { copyFile, cp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { newcArchive, type CpioEntry } from './cpio.js';
import { moduleOrder, type Kernel } from './kernel.js';
import { BUSYBOX, must } from './tools.js';

/** The drivers of the boot: virtio disk, ext4 (its crc32c), the ESP's vfat and its code pages, efivarfs. */
export const BOOT_MODULES = ['virtio_pci', 'virtio_blk', 'crc32c_generic', 'ext4', 'vfat', 'nls_cp437', 'nls_utf8', 'nls_ascii', 'efivarfs'];

/** The packages the host verbs load (the rest of the project's dependencies serve compose, signing and pulls). */
export const GUEST_PACKAGES = ['tar', 'yargs', '@napi-rs/xattr'];

async function applets(): Promise<string[]> {
  return (await must(BUSYBOX, ['--list'])).split('\n').filter((a) => a && a !== 'busybox');
}

async function initramfs(root: string, k: Kernel, modules: string[]): Promise<Buffer> {
  const entries: CpioEntry[] = [];
  for (const d of ['bin', 'dev', 'etc', 'lib', 'lib/modules', 'newroot', 'proc', 'run', 'sys', 'sysroot']) entries.push({ kind: 'dir', path: d });
  entries.push({ kind: 'char', path: 'dev/console', major: 5, minor: 1 });
  entries.push({ kind: 'file', path: 'bin/busybox', data: await readFile(BUSYBOX), mode: 0o755 });
  for (const a of await applets()) entries.push({ kind: 'symlink', path: `bin/${a}`, target: 'busybox' });
  const order = await moduleOrder(k, modules);
  for (const m of order) entries.push({ kind: 'file', path: `lib/modules/${m.name}.ko`, data: await readFile(m.file) });
  entries.push({ kind: 'file', path: 'etc/modules', data: Buffer.from(`${order.map((m) => m.name).join('\n')}\n`) });
  entries.push({ kind: 'file', path: 'init', data: await readFile(path.join(root, 'test', 'vm', 'os', 'initramfs-init.sh')), mode: 0o755 });
  return newcArchive(entries);
}

async function kernelTree(dest: string, root: string, k: Kernel, modules: string[], withKernel: boolean): Promise<void> {
  const dir = path.join(dest, 'usr', 'lib', 'modules', k.kver);
  await mkdir(dir, { recursive: true });
  if (withKernel) await copyFile(k.vmlinuz, path.join(dir, 'vmlinuz'));
  await writeFile(path.join(dir, 'initramfs.img'), await initramfs(root, k, modules));
}

async function userland(dest: string): Promise<void> {
  for (const d of ['usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib64', 'usr/libexec', 'dev', 'proc', 'sys', 'run', 'tmp', 'var', 'sysroot', 'boot', 'etc', 'root']) {
    await mkdir(path.join(dest, d), { recursive: true });
  }
  await copyFile(BUSYBOX, path.join(dest, 'usr', 'bin', 'busybox'));
  for (const a of await applets()) await symlink('busybox', path.join(dest, 'usr', 'bin', a));
  for (const [l, t] of [['bin', 'usr/bin'], ['sbin', 'usr/sbin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64'], ['ostree', 'sysroot/ostree']]) {
    await symlink(t, path.join(dest, l));
  }
}

/** The libraries `bin` links (ldd), as paths on this machine. */
async function linkedLibraries(bin: string): Promise<string[]> {
  const out = await must('ldd', [bin]);
  return [...out.matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1]);
}

/** `names` and the packages they depend on, as directories of node_modules. */
async function packageClosure(nodeModules: string, names: string[]): Promise<string[]> {
  const seen = new Set<string>();
  const visit = async (n: string): Promise<void> => {
    if (seen.has(n)) return;
    const dir = path.join(nodeModules, n);
    if (!existsSync(path.join(dir, 'package.json'))) return;
    seen.add(n);
    const pj = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const d of Object.keys(pj.dependencies ?? {})) await visit(d);
  };
  for (const n of names) await visit(n);
  return [...seen].sort();
}

async function ostreeTs(dest: string, root: string): Promise<void> {
  const node = process.execPath;
  await mkdir(path.join(dest, 'usr', 'bin'), { recursive: true });
  await copyFile(node, path.join(dest, 'usr', 'bin', 'node'));
  for (const lib of await linkedLibraries(node)) {
    // The loader at its ELF interpreter path (/lib64 is usr/lib64), the others in the multiarch directory.
    const to = lib.startsWith('/lib64/') ? path.join(dest, 'usr', 'lib64', path.basename(lib)) : path.join(dest, 'usr', 'lib', 'x86_64-linux-gnu', path.basename(lib));
    await mkdir(path.dirname(to), { recursive: true });
    await copyFile(lib, to);
  }
  const lib = path.join(dest, 'usr', 'lib', 'ostree-ts');
  await mkdir(lib, { recursive: true });
  await copyFile(path.join(root, 'package.json'), path.join(lib, 'package.json'));
  await cp(path.join(root, 'dist', 'src'), path.join(lib, 'dist', 'src'), { recursive: true });
  const addon = path.join('native', 'ofd-lock', 'build', 'Release', 'ofd_lock.node');
  await mkdir(path.dirname(path.join(lib, addon)), { recursive: true });
  await copyFile(path.join(root, addon), path.join(lib, addon));
  const nm = path.join(root, 'node_modules');
  for (const p of await packageClosure(nm, GUEST_PACKAGES)) {
    await cp(path.join(nm, p), path.join(lib, 'node_modules', p), { recursive: true, dereference: true });
  }
}

export interface VmInputs {
  dir: string;
  kernel: Kernel;
}

/** Make build/vm-os/ afresh under the project root `root`. */
export async function makeInputs(root: string, k: Kernel): Promise<VmInputs> {
  const dir = path.join(root, 'build', 'vm-os');
  await rm(dir, { recursive: true, force: true });
  await userland(path.join(dir, 'userland'));
  await kernelTree(path.join(dir, 'kernel'), root, k, BOOT_MODULES, true);
  await kernelTree(path.join(dir, 'kernel-noroot'), root, k, BOOT_MODULES.filter((m) => m !== 'ext4'), false);
  await ostreeTs(path.join(dir, 'ostree-ts'), root);
  return { dir, kernel: k };
}
