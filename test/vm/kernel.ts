/**
 * Debian's real kernel for the VM: the package linux-image-amd64 depends on,
 * fetched with `apt-get download` and unpacked with `dpkg-deb -x` (never
 * installed), kept in a cache directory. Every storage and file-system
 * driver of that kernel is a module, so the modules the boot needs are
 * found by name, in the order their `depends=` strings ask (there is no
 * modprobe in the initramfs).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { must, run } from './tools.js';

export interface Kernel {
  /** The package (linux-image-6.1.0-N-amd64). */
  pkg: string;
  kver: string;
  vmlinuz: string;
  /** lib/modules/KVER of the unpacked package. */
  modules: string;
}

/** The kernel package linux-image-amd64 depends on now. */
export async function kernelPackage(): Promise<string> {
  const out = await must('apt-cache', ['depends', 'linux-image-amd64']);
  const m = /Depends:\s*(linux-image-[0-9][^\s]*)/.exec(out);
  if (!m) throw new Error(`apt-cache depends linux-image-amd64 names no kernel package:\n${out}`);
  return m[1];
}

/** The kernel, downloaded and unpacked into `cache` unless it is there already. */
export async function debianKernel(cache: string, log: (s: string) => void): Promise<Kernel> {
  const pkg = await kernelPackage();
  const dir = path.join(cache, pkg);
  if (!existsSync(path.join(dir, '.unpacked'))) {
    await mkdir(cache, { recursive: true });
    log(`downloading ${pkg} (apt-get download) and unpacking it (dpkg-deb -x)`);
    let r = await run('apt-get', ['download', pkg], { cwd: cache });
    if (r.code !== 0) {
      await run('apt-get', ['update', '-qq']);
      r = await run('apt-get', ['download', pkg], { cwd: cache });
    }
    if (r.code !== 0) throw new Error(`apt-get download ${pkg} failed:\n${r.stderr}`);
    const deb = (await readdir(cache)).find((n) => n.startsWith(`${pkg}_`) && n.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${cache}`);
    const tmp = `${dir}.tmp`;
    await rm(tmp, { recursive: true, force: true });
    await must('dpkg-deb', ['-x', path.join(cache, deb), tmp]);
    await rm(path.join(cache, deb));
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    await writeFile(path.join(dir, '.unpacked'), `${pkg}\n`);
  }
  const kver = (await readdir(path.join(dir, 'lib', 'modules')))[0];
  return { pkg, kver, vmlinuz: path.join(dir, 'boot', `vmlinuz-${kver}`), modules: path.join(dir, 'lib', 'modules', kver) };
}

async function walkModules(dir: string, out: Map<string, string>): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walkModules(p, out);
    else if (e.name.endsWith('.ko')) out.set(e.name.slice(0, -3).replace(/-/g, '_'), p);
  }
}

/** A module's `depends=` list, read from its .modinfo strings. */
export function moduleDepends(ko: Buffer): string[] {
  const key = Buffer.from('\0depends=');
  const at = ko.indexOf(key);
  if (at < 0) return [];
  const end = ko.indexOf(0, at + key.length);
  return ko.subarray(at + key.length, end).toString('latin1').split(',').filter(Boolean).map((d) => d.replace(/-/g, '_'));
}

/** The .ko files of `names` and of everything they depend on, dependencies first. */
export async function moduleOrder(k: Kernel, names: string[]): Promise<Array<{ name: string; file: string }>> {
  const all = new Map<string, string>();
  await walkModules(path.join(k.modules, 'kernel'), all);
  const out: Array<{ name: string; file: string }> = [];
  const seen = new Set<string>();
  const visit = async (n: string): Promise<void> => {
    const name = n.replace(/-/g, '_');
    if (seen.has(name)) return;
    seen.add(name);
    const file = all.get(name);
    if (!file) throw new Error(`module ${name} is not in ${k.pkg} (built in, or misspelt?)`);
    for (const d of moduleDepends(await readFile(file))) await visit(d);
    out.push({ name, file });
  };
  for (const n of names) await visit(n);
  return out;
}
