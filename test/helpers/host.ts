/**
 * Host-update fixtures: small OS trees (kernel, os-release, /usr/etc, a bulk
 * of files), an archive repository publishing them over HTTP, a sysroot with
 * the first version deployed, and the checks every sysroot must pass whatever
 * happened to it (boot/loader, entries, links, deployments).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, readlink, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ROOT, ok, ostree, ots, run, type RunResult } from './env.js';
import { serveRepo } from './serve.js';
import { snapshotTree, type EntryFacts } from './snapshot.js';
import { putFile } from './trees.js';

export const ATOMIC = path.join(ROOT, 'dist', 'src', 'cli', 'atomic.js');
export const OS = 'testos';
export const KVER = '5.10.0-test';

/** Run the host updater. */
export function atomic(...args: string[]): Promise<RunResult> {
  return run(process.execPath, [ATOMIC, ...args]);
}

/** Deterministic bytes: AES-CTR keystream of a seed (incompressible, fast). */
export function bytes(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const c = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(size)), c.final()]);
}

export interface OsTreeOptions {
  /** The commit's version, also in PRETTY_NAME and /usr/etc/motd. */
  version: string;
  /** Seed of the kernel and initramfs bytes: another seed, another boot checksum. */
  kernel: string;
  kernelSize?: number;
  initramfsSize?: number;
  /** Seed of the files that change from version to version (binaries, data blobs). */
  variant?: string;
  /** Packages of small documentation files (3 each), the same in every version. */
  docs?: number;
  /** Executables in usr/bin (4-20 KB); the first half change with the variant. */
  tools?: number;
  /** Data blobs of 100 KB and more in usr/lib/testos-data; the first `changed` change with the variant. */
  blobs?: number;
  changed?: number;
  /** Change usr/etc after it is written (the defaults this version ships). */
  etc?: (etcDir: string) => Promise<void>;
  /** The top level of a bootable tree: mount points (sysroot, boot, dev, proc, run) and the links ostree → sysroot/ostree, bin, lib and lib64 → usr/… (see helpers/booted.ts). */
  rootfs?: boolean;
}

/** An OS-like tree in OSTree layout (kernel under usr/lib/modules, defaults in usr/etc). */
export async function makeOsTree(root: string, o: OsTreeOptions): Promise<string> {
  const variant = o.variant ?? o.version;
  await mkdir(root, { recursive: true });
  await chmod(root, 0o755);
  await putFile(root, `usr/lib/modules/${KVER}/vmlinuz`, bytes(`vmlinuz ${o.kernel}`, o.kernelSize ?? 96 * 1024));
  await putFile(root, `usr/lib/modules/${KVER}/initramfs.img`, bytes(`initramfs ${o.kernel}`, o.initramfsSize ?? 48 * 1024));
  await putFile(root, 'usr/lib/os-release', `NAME="Test OS"\nID=${OS}\nPRETTY_NAME="Test OS ${o.version}"\nVERSION_ID=${o.version}\n`);
  const etc = path.join(root, 'usr', 'etc');
  await putFile(etc, 'hostname', 'testhost\n');
  await putFile(etc, 'motd', `Welcome to Test OS ${o.version}\n`);
  for (let i = 1; i <= 12; i++) await putFile(etc, `conf.d/${String(i).padStart(2, '0')}-setting.conf`, `setting${i}=default\n`);
  await putFile(etc, 'app/main.conf', 'mode=default\n');
  await putFile(etc, 'app/extra.conf', 'extra=1\n');
  await putFile(etc, 'shadow-ish', 'secret\n', 0o600);
  await symlink('../usr/lib/os-release', path.join(etc, 'os-release'));
  if (o.etc) await o.etc(etc);
  const tools = o.tools ?? 4;
  for (let i = 1; i <= tools; i++) {
    const seed = i <= tools / 2 ? `tool ${i} ${variant}` : `tool ${i}`;
    await putFile(root, `usr/bin/tool${i}`, Buffer.concat([Buffer.from('#!/bin/sh\n'), bytes(seed, 4096 + ((i * 1531) % 16384))]), 0o755);
  }
  for (let i = 1; i <= (o.docs ?? 2); i++) {
    for (const f of ['README', 'copyright', 'changelog']) await putFile(root, `usr/share/doc/pkg${i}/${f}`, `${f} of pkg${i}\n${bytes(`doc ${i} ${f}`, 200 + ((i * 97) % 1800)).toString('base64')}\n`);
  }
  const blobs = o.blobs ?? 1;
  for (let i = 1; i <= blobs; i++) {
    const seed = i <= (o.changed ?? 1) ? `blob ${i} ${variant}` : `blob ${i}`;
    await putFile(root, `usr/lib/${OS}-data/blob${i}.bin`, bytes(seed, 100 * 1024 + ((i * 7919) % 65536)));
  }
  if (o.rootfs) {
    for (const d of ['sysroot', 'boot', 'dev', 'proc', 'run']) await mkdir(path.join(root, d), { recursive: true, mode: 0o755 });
    for (const [name, target] of [['ostree', 'sysroot/ostree'], ['bin', 'usr/bin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64']]) {
      await symlink(target, path.join(root, name));
    }
  }
  return root;
}

export interface PublishOptions {
  ref?: string;
  /** Also bind the commit to this ref and point it there (the ref the host first pulls it by). */
  alsoRef?: string;
  timestamp: number;
  version: string;
  /** ed25519 secret key file to sign with. */
  keysFile?: string;
}

/** Commit a tree to the upstream archive repository and refresh its summary. */
export async function publish(upstream: string, tree: string, o: PublishOptions): Promise<string> {
  const ref = o.ref ?? 'os/stable';
  const csum = await ok(ots(`--repo=${upstream}`, 'commit', '-b', ref, ...(o.alsoRef ? [`--bind-ref=${o.alsoRef}`] : []),
    `--timestamp=@${o.timestamp}`, `--add-metadata-string=version=${o.version}`, '-s', `Test OS ${o.version}`,
    ...(o.keysFile ? [`--keys-file=${o.keysFile}`] : []), `--tree=dir=${tree}`), `commit ${o.version}`);
  if (o.alsoRef) await ok(ots(`--repo=${upstream}`, 'refs', `--create=${o.alsoRef}`, csum), 'refs --create');
  await ok(ots(`--repo=${upstream}`, 'summary', '-u'), 'summary');
  return csum;
}

export interface Host {
  dir: string;
  upstream: string;
  url: string;
  sysroot: string;
  repo: string;
  v1: string;
}

export interface HostOptions {
  /** The first version's tree. */
  v1: OsTreeOptions;
  /** Deploy it with the real ostree rather than ours. */
  deployWithOstree?: boolean;
  /** Extra `remote add` settings for the sysroot's remote (its signature policy). */
  remoteSettings?: string[];
  keysFile?: string;
}

/**
 * An upstream archive repository with v1 on os/stable (and os/v1), served
 * over HTTP, and a sysroot that pulled it by os/v1 and deployed it, its
 * origin following origin:os/stable.
 */
export async function makeHost(t: { after: (fn: () => void) => void }, dir: string, o: HostOptions): Promise<Host> {
  const upstream = path.join(dir, 'upstream');
  await ok(ots('init', `--repo=${upstream}`, '--mode=archive'), 'init upstream');
  const v1 = await publish(upstream, await makeOsTree(path.join(dir, 'tree-v1'), o.v1), {
    alsoRef: 'os/v1', timestamp: 1_700_000_000, version: o.v1.version, keysFile: o.keysFile,
  });
  const { url } = await serveRepo(t, upstream, dir);
  const sysroot = path.join(dir, 'sysroot');
  await mkdir(sysroot);
  if (o.deployWithOstree) {
    await ok(ostree('admin', 'init-fs', sysroot), 'ostree admin init-fs');
    await ok(ostree('admin', `--sysroot=${sysroot}`, 'os-init', OS), 'ostree admin os-init');
  } else {
    await ok(ots('admin', 'init-fs', sysroot), 'admin init-fs');
    await ok(ots('admin', `--sysroot=${sysroot}`, 'os-init', OS), 'admin os-init');
  }
  const repo = path.join(sysroot, 'ostree', 'repo');
  await ok(ots(`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', ...(o.remoteSettings ?? []).map((s) => `--set=${s}`), 'origin', url), 'remote add');
  await ok(ots(`--repo=${repo}`, 'pull', 'origin', 'os/v1'), 'pull v1');
  const originFile = path.join(dir, 'v1.origin');
  await writeFile(originFile, '[origin]\nrefspec=origin:os/stable\n');
  const deployArgs = ['admin', `--sysroot=${sysroot}`, 'deploy', `--os=${OS}`, '--karg=root=LABEL=testroot', '--karg=quiet', `--origin-file=${originFile}`, 'origin:os/v1'];
  await ok(o.deployWithOstree ? ostree(...deployArgs) : ots(...deployArgs), 'deploy v1');
  return { dir, upstream, url, sysroot, repo, v1 };
}

/** The deployment directory of a commit (serial 0). */
export function deployDir(sysroot: string, csum: string, serial = 0): string {
  return path.join(sysroot, 'ostree', 'deploy', OS, 'deploy', `${csum}.${serial}`);
}

/** `key value` lines, as a boot loader reads them (space or tab, one split). */
export function parseEntry(text: string, file: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const r = /^([A-Za-z][A-Za-z0-9_-]*)[ \t]+(.*)$/.exec(line);
    if (!r) throw new Error(`${file}: unparsable line ${JSON.stringify(line)}`);
    if (!m.has(r[1])) m.set(r[1], r[2]);
  }
  return m;
}

export interface BootDeployment {
  /** CHECKSUM.SERIAL */
  id: string;
  csum: string;
  entry: string;
  version: number;
}

/**
 * What every sysroot must satisfy at any instant, whatever was interrupted:
 * boot/loader is a link to loader.0 or loader.1; its entries parse, with
 * distinct versions (one default); each names, by ostree=, a link of the
 * farm ostree/boot.B that resolves to an existing deployment directory with
 * an origin; its kernel and initramfs exist under boot/. Returns the
 * deployments in boot order (default first). Throws saying what is wrong.
 */
export async function checkBootInvariants(sysroot: string): Promise<BootDeployment[]> {
  const boot = path.join(sysroot, 'boot');
  const loader = path.join(boot, 'loader');
  if (!(await lstat(loader)).isSymbolicLink()) throw new Error('boot/loader is not a symbolic link');
  const target = await readlink(loader);
  const m = /^loader\.([01])$/.exec(target);
  if (!m) throw new Error(`boot/loader points at ${target}, not loader.0 or loader.1`);
  const B = m[1];
  const entriesDir = path.join(boot, `loader.${B}`, 'entries');
  const names = (await readdir(entriesDir)).filter((n) => n.startsWith('ostree-') && n.endsWith('.conf')).sort();
  if (names.length === 0) throw new Error(`no entries in boot/loader.${B}/entries`);
  const out: BootDeployment[] = [];
  const sysrootReal = await realpath(sysroot);
  for (const name of names) {
    const file = path.join(entriesDir, name);
    if (!(await lstat(file)).isFile()) throw new Error(`${name} is not a regular file`);
    const e = parseEntry(await readFile(file, 'utf8'), name);
    for (const key of ['title', 'version', 'options', 'linux', 'initrd']) if (!e.get(key)) throw new Error(`${name} has no ${key}`);
    const version = e.get('version') as string;
    if (!/^[0-9]+$/.test(version)) throw new Error(`${name}: version ${version} is not a number`);
    const opt = (e.get('options') as string).split(/\s+/).filter((a) => a.startsWith('ostree='));
    if (opt.length !== 1) throw new Error(`${name}: ${opt.length} ostree= arguments`);
    const om = /^ostree=\/ostree\/boot\.([01])\/([^/]+)\/([0-9a-f]{64})\/([0-9]+)$/.exec(opt[0]);
    if (!om) throw new Error(`${name}: malformed ${opt[0]}`);
    if (om[1] !== B) throw new Error(`${name}: ${opt[0]} names boot.${om[1]} in loader.${B}`);
    const link = path.join(sysroot, 'ostree', `boot.${om[1]}`, om[2], om[3], om[4]);
    let dir: string;
    try {
      dir = await realpath(link);
    } catch (err) {
      throw new Error(`${name}: ${opt[0]} does not resolve (${(err as Error).message})`);
    }
    const dm = /^([0-9a-f]{64})\.([0-9]+)$/.exec(path.basename(dir));
    if (!dm || path.dirname(dir) !== path.join(sysrootReal, 'ostree', 'deploy', om[2], 'deploy')) throw new Error(`${name}: ${opt[0]} resolves to ${dir}, not a deployment`);
    if (!(await stat(dir)).isDirectory()) throw new Error(`${name}: ${dir} is not a directory`);
    if (!(await stat(`${dir}.origin`).then((s) => s.isFile(), () => false))) throw new Error(`${name}: ${path.basename(dir)} has no origin file`);
    for (const key of ['linux', 'initrd']) {
      const rel = e.get(key) as string;
      if (!rel.startsWith(`/ostree/${om[2]}-${om[3]}/`)) throw new Error(`${name}: ${key} ${rel} is not under /ostree/${om[2]}-${om[3]}/`);
      const st = await stat(path.join(boot, rel)).catch(() => null);
      if (!st?.isFile()) throw new Error(`${name}: ${key} ${rel} does not exist under boot/`);
    }
    // The deployment's own kernel is what the entry boots.
    const own = await readFile(path.join(dir, 'usr', 'lib', 'modules', KVER, 'vmlinuz'));
    if (!own.equals(await readFile(path.join(boot, e.get('linux') as string)))) throw new Error(`${name}: the kernel in boot/ is not the deployment's`);
    out.push({ id: path.basename(dir), csum: dm[1], entry: name, version: Number(version) });
  }
  out.sort((a, b) => b.version - a.version);
  const versions = new Set(out.map((d) => d.version));
  if (versions.size !== out.length) throw new Error(`entries share a version: ${out.map((d) => `${d.entry}=${d.version}`).join(', ')}`);
  if (out[0].version !== out.length) throw new Error(`the default entry has version ${out[0].version} among ${out.length} entries`);
  return out;
}

/** The deployments the real `ostree admin status` lists, in order (CHECKSUM.SERIAL). */
export async function ostreeStatus(sysroot: string): Promise<string[]> {
  const out = await ok(ostree('admin', `--sysroot=${sysroot}`, 'status'), 'ostree admin status');
  const ids: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^[* ]? *(\S+) ([0-9a-f]{64}\.[0-9]+)/.exec(line);
    if (m) ids.push(m[2]);
  }
  return ids;
}

/** The refs of a repository with their commits, by the real ostree. */
export async function refsOf(repo: string): Promise<Record<string, string>> {
  const names = (await ok(ostree('refs', `--repo=${repo}`), 'ostree refs')).split('\n').filter(Boolean).sort();
  const out: Record<string, string> = {};
  for (const n of names) out[n] = await ok(ostree('rev-parse', `--repo=${repo}`, n), `rev-parse ${n}`);
  return out;
}

export interface SysrootSnapshot {
  loader: string;
  bootLinks: Record<string, string | null>;
  boot: EntryFacts[];
  deployments: string[];
  refs: Record<string, string>;
  status: string;
}

/** What a refused update must leave exactly as it was. */
export async function snapshotSysroot(sysroot: string): Promise<SysrootSnapshot> {
  const bootLinks: Record<string, string | null> = {};
  for (const b of ['boot.0', 'boot.1']) bootLinks[b] = await readlink(path.join(sysroot, 'ostree', b)).catch(() => null);
  return {
    loader: await readlink(path.join(sysroot, 'boot', 'loader')),
    bootLinks,
    boot: await snapshotTree(path.join(sysroot, 'boot'), { xattrs: false }),
    deployments: (await readdir(path.join(sysroot, 'ostree', 'deploy', OS, 'deploy'))).sort(),
    refs: await refsOf(path.join(sysroot, 'ostree', 'repo')),
    status: await ok(ostree('admin', `--sysroot=${sysroot}`, 'status'), 'ostree admin status'),
  };
}

/** Objects in a repository (files under objects/). */
export async function objectCount(repo: string): Promise<number> {
  let n = 0;
  for (const d of await readdir(path.join(repo, 'objects'))) n += (await readdir(path.join(repo, 'objects', d))).length;
  return n;
}
