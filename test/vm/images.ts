/**
 * The disks the scenarios boot, each built once: vm-os composed from its
 * recipes with `ostree-ts compose` into a published repository, a sysroot
 * directory with v1 deployed (`ostree-ts admin deploy`), then upgraded to a
 * v2 with `atomic upgrade` (which starts v2's probation: its boot entry
 * counted, on the ESP the systemd-boot back end lays out); the boot loader
 * installed on the ESP (systemd-boot, or GRUB with a grubenv); the disk made
 * from the sysroot directory without mounting it.
 */
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { BlsEntry } from '../../src/format/index.js';
import { grubSnippet } from '../../src/sysroot/index.js';
import { buildDisk, ROOT_LABEL, type Disk } from './disk.js';
import { removeTree } from '../helpers/env.js';
import { GRUB_EFI_MODULES, must, SYSTEMD_BOOT } from './tools.js';

export const OS = 'vmos';
export const REF = 'vm-os/x86_64/stable';
export const TRIES = 2;

export type Variant = 'vm-os-2' | 'vm-os-2-broken' | 'vm-os-2-noroot';
export type Loader = 'systemd-boot' | 'grub';

export interface Images {
  work: string;
  repo: string;
  /** version recipe → commit */
  commits: Map<string, string>;
  disks: Map<string, Disk>;
}

export function atomicConf(loader: Loader): string {
  return loader === 'grub'
    ? `[boot]\ntries=${TRIES}\nbackend=grub\n[health-check]\ntimeout=30\nreboot-command=/usr/libexec/vm-os/reboot\n`
    : `[boot]\ntries=${TRIES}\nbackend=systemd-boot\nesp=/boot/efi\n[health-check]\ntimeout=30\nreboot-command=/usr/libexec/vm-os/reboot\n`;
}

export interface Cli {
  ots: (...args: string[]) => Promise<string>;
  atomic: (...args: string[]) => Promise<string>;
}

export function cli(root: string): Cli {
  return {
    ots: (...args) => must(process.execPath, [path.join(root, 'dist', 'src', 'cli', 'main.js'), ...args]),
    atomic: (...args) => must(process.execPath, [path.join(root, 'dist', 'src', 'cli', 'atomic.js'), ...args]),
  };
}

async function compose(c: Cli, root: string, repo: string, recipe: string): Promise<string> {
  const out = await c.ots('compose', path.join(root, 'recipes', `${recipe}.yaml`), `--repo=${repo}`, '--json');
  return (JSON.parse(out) as { checksum: string }).checksum;
}

/** The sysroot with v1 deployed, its remote the published repository. */
async function baseSysroot(c: Cli, dir: string, repo: string): Promise<void> {
  await c.ots('admin', 'init-fs', dir);
  await c.ots('admin', `--sysroot=${dir}`, 'os-init', OS);
  await mkdir(path.join(dir, 'etc', 'ostree-ts'), { recursive: true });
  const r = path.join(dir, 'ostree', 'repo');
  await c.ots(`--repo=${r}`, 'remote', 'add', '--no-gpg-verify', 'origin', `file://${repo}`, REF);
  await c.ots(`--repo=${r}`, 'pull', 'origin', REF);
  await c.ots('admin', `--sysroot=${dir}`, 'deploy', `--os=${OS}`, `--karg=root=LABEL=${ROOT_LABEL}`, '--karg=rw', '--karg=console=ttyS0,115200',
    '--karg=panic=1', '--karg=quiet', `origin:${REF}`);
}

/** The deployment directories of the sysroot (their /etc is the machine's own configuration). */
async function deploymentDirs(sysroot: string): Promise<string[]> {
  const d = path.join(sysroot, 'ostree', 'deploy', OS, 'deploy');
  return (await readdir(d)).filter((n) => /^[0-9a-f]{64}\.[0-9]+$/.test(n)).map((n) => path.join(d, n));
}

/** The machine's atomic.conf: the sysroot's (for the host's verbs run on the directory) and v1's /etc (read at boot). */
async function configure(sysroot: string, loader: Loader): Promise<void> {
  await writeFile(path.join(sysroot, 'etc', 'ostree-ts', 'atomic.conf'), atomicConf(loader));
  for (const d of await deploymentDirs(sysroot)) await writeFile(path.join(d, 'etc', 'ostree-ts', 'atomic.conf'), atomicConf(loader));
  if (loader === 'systemd-boot') await mkdir(path.join(sysroot, 'boot', 'efi'), { recursive: true });
  else {
    await mkdir(path.join(sysroot, 'boot', 'efi'), { recursive: true });
    await mkdir(path.join(sysroot, 'boot', 'grub'), { recursive: true });
    await must('grub-editenv', [path.join(sysroot, 'boot', 'grub', 'grubenv'), 'create']);
  }
}

/**
 * GRUB on the ESP, its configuration and grubenv on the root (GRUB reads
 * ext4): the boot counting of greenboot's snippet (the project's,
 * grubSnippet) and one menu entry per BLS entry, in /boot/loader's order.
 */
async function installGrub(sysroot: string): Promise<void> {
  const efi = path.join(sysroot, 'boot', 'efi', 'EFI', 'BOOT');
  await mkdir(efi, { recursive: true });
  await must('grub-mkimage', ['-O', 'x86_64-efi', '-d', GRUB_EFI_MODULES, '-o', path.join(efi, 'BOOTX64.EFI'), '-p', '(hd0,gpt2)/boot/grub',
    'part_gpt', 'fat', 'ext2', 'normal', 'configfile', 'loadenv', 'test', 'echo', 'linux', 'gzio', 'sleep']);
  const dir = path.join(sysroot, 'boot', 'loader', 'entries');
  const entries = [];
  for (const n of (await readdir(dir)).filter((x) => x.endsWith('.conf'))) entries.push(BlsEntry.parse(await readFile(path.join(dir, n), 'utf8')));
  entries.sort((a, b) => Number(b.get('version')) - Number(a.get('version')));
  const snippet = grubSnippet(9).split("cat << 'EOF'\n")[1].split('\nEOF')[0];
  const menu = entries.map((e) => `menuentry '${e.get('title') ?? 'ostree'}' {\n  linux /boot${e.get('linux')} ${e.get('options')}\n  initrd /boot${e.get('initrd')}\n}\n`);
  const cfg = `set timeout=0\nset default=0\nload_env\n${snippet}\necho "VMOS-GRUB: default=\${default} boot_counter=\${boot_counter} boot_success=\${boot_success}"\n${menu.join('')}`;
  await writeFile(path.join(sysroot, 'boot', 'grub', 'grub.cfg'), cfg);
}

/** The disk of `variant` under `loader`, built from a copy of the v1 sysroot `base`. */
async function variantDisk(c: Cli, root: string, images: Images, base: string, variant: Variant, loader: Loader): Promise<Disk> {
  const name = `${variant}-${loader}`;
  const sysroot = path.join(images.work, `sysroot-${name}`);
  await must('cp', ['-a', base, sysroot]);
  await configure(sysroot, loader);
  images.commits.set(name, await compose(c, root, images.repo, variant));
  await c.atomic(`--sysroot=${sysroot}`, 'upgrade');
  if (loader === 'systemd-boot') {
    const efi = path.join(sysroot, 'boot', 'efi', 'EFI', 'BOOT');
    await mkdir(efi, { recursive: true });
    await copyFile(SYSTEMD_BOOT, path.join(efi, 'BOOTX64.EFI'));
  } else await installGrub(sysroot);
  const disk = await buildDisk(path.join(images.work, `${name}.img`), path.join(sysroot, 'boot', 'efi'), sysroot, path.join('boot', 'efi'), path.join(images.work, `tmp-${name}`));
  await removeTree(sysroot);
  return disk;
}

/** Every disk the scenarios boot. */
export async function buildImages(root: string, work: string, wanted: Array<[Variant, Loader]>, log: (s: string) => void): Promise<Images> {
  const c = cli(root);
  const repo = path.join(work, 'repo');
  await c.ots('init', `--repo=${repo}`, '--mode=archive');
  const images: Images = { work, repo, commits: new Map(), disks: new Map() };
  let t = Date.now();
  images.commits.set('vm-os', await compose(c, root, repo, 'vm-os'));
  const base = path.join(work, 'sysroot-v1');
  await baseSysroot(c, base, repo);
  log(`composed vm-os 1 and deployed it (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  for (const [variant, loader] of wanted) {
    t = Date.now();
    images.disks.set(`${variant}-${loader}`, await variantDisk(c, root, images, base, variant, loader));
    log(`disk ${variant}-${loader}: composed ${variant}, atomic upgrade, ${loader} installed, disk built (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  }
  return images;
}
