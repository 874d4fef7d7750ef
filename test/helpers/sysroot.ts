/**
 * Sysroot fixtures: a tiny bootable OS tree, the `atomic` CLI, and readers for
 * what `ostree admin` leaves on disk (status lines, BLS entries, the boot link
 * farm) so that two sysroots can be compared fact for fact.
 */
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, readlink, rm, symlink } from 'node:fs/promises';
import * as path from 'node:path';
import { ROOT, run, type RunResult } from './env.js';
import { putFile } from './trees.js';

export const ATOMIC = path.join(ROOT, 'dist', 'src', 'cli', 'atomic.js');

/** Run our `atomic` CLI. */
export function atomic(...args: string[]): Promise<RunResult> {
  return run(process.execPath, [ATOMIC, ...args]);
}

export const KVER = '5.10.0-test';

export interface OsTreeOptions {
  /** Ship usr/lib/modules/KVER/initramfs.img (default true). */
  initramfs?: boolean;
  /** Kernel image bytes (default a fixed text: the same kernel in every tree). */
  kernel?: string;
  /** PRETTY_NAME in usr/lib/os-release. */
  pretty?: string;
  /** Content of usr/bin/hello after its shebang line. */
  hello?: string;
  /** Files under usr/etc: relative path → content (null: leave it out). Merged over the defaults. */
  etc?: Record<string, string | null>;
  /** Symlinks under usr/etc: relative path → target. */
  etcLinks?: Record<string, string>;
  /** Extra files anywhere in the tree: relative path → content. */
  extra?: Record<string, string>;
}

/**
 * A deployable tree: a kernel (and initramfs) in the modules layout,
 * os-release, default configuration in usr/etc (a.conf, sub/c.conf, …) and
 * usr/bin/hello. Rebuilt from scratch at `root`.
 */
export async function makeOsTree(root: string, o: OsTreeOptions = {}): Promise<string> {
  await rm(root, { recursive: true, force: true });
  const mod = `usr/lib/modules/${KVER}`;
  await putFile(root, `${mod}/vmlinuz`, o.kernel ?? 'kernel image 5.10.0-test\n');
  if (o.initramfs !== false) await putFile(root, `${mod}/initramfs.img`, 'initramfs for 5.10.0-test\n');
  await putFile(root, 'usr/lib/os-release', `NAME="TestOS"\nID=testos\nPRETTY_NAME="${o.pretty ?? 'TestOS 1'}"\n`);
  await putFile(root, 'usr/bin/hello', `#!/bin/sh\n${o.hello ?? 'echo hello'}\n`, 0o755);
  const etc: Record<string, string | null> = { 'a.conf': 'default-a\n', 'sub/c.conf': 'default-c\n', ...o.etc };
  for (const [rel, content] of Object.entries(etc)) if (content !== null) await putFile(root, `usr/etc/${rel}`, content);
  for (const [rel, target] of Object.entries(o.etcLinks ?? {})) {
    await mkdir(path.dirname(path.join(root, 'usr/etc', rel)), { recursive: true });
    await symlink(target, path.join(root, 'usr/etc', rel));
  }
  for (const [rel, content] of Object.entries(o.extra ?? {})) await putFile(root, rel, content);
  for (const d of ['.', 'usr', 'usr/bin', 'usr/lib', 'usr/lib/modules', mod, 'usr/etc']) await chmod(path.join(root, d), 0o755);
  return root;
}

export interface AdminStatusEntry {
  booted: boolean;
  stateroot: string;
  /** CHECKSUM.SERIAL */
  id: string;
  /** staged, pending, rollback or '' */
  mark: string;
  version: string | null;
  pinned: boolean;
  /** The origin refspec; 'none' when there is no origin file. */
  origin: string | null;
}

/** `ostree admin status` text, parsed. Lines it does not know fail the parse. */
export function parseAdminStatus(text: string): AdminStatusEntry[] {
  const out: AdminStatusEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('No deployments')) continue;
    const head = /^([* ]) (\S+) ([0-9a-f]{64}\.\d+)(?: \((staged|pending|rollback)\))?$/.exec(line);
    if (head) {
      out.push({ booted: head[1] === '*', stateroot: head[2], id: head[3], mark: head[4] ?? '', version: null, pinned: false, origin: null });
      continue;
    }
    const cur = out[out.length - 1];
    let m: RegExpExecArray | null;
    if (cur && (m = /^ {4}Version: (.*)$/.exec(line))) cur.version = m[1];
    else if (cur && line === '    Pinned: yes') cur.pinned = true;
    else if (cur && (m = /^ {4}origin refspec: (.*)$/.exec(line))) cur.origin = m[1];
    else if (cur && line === '    origin: none') cur.origin = 'none';
    else throw new Error(`unexpected line in admin status output: ${JSON.stringify(line)}\n${text}`);
  }
  return out;
}

/** A BLS entry as its lines' key/value pairs, in file order. */
export function parseBls(text: string): Array<[string, string]> {
  return text.split('\n').filter((l) => l.length > 0).map((l) => {
    const i = l.indexOf(' ');
    return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1)];
  });
}

/** A BLS options line without its ostree= argument. */
export function kargsWithoutOstree(options: string): string {
  return options.split(' ').filter((a) => a && !a.startsWith('ostree=')).join(' ');
}

export interface BootState {
  /** Target of boot/loader. */
  loader: string | null;
  /** boot/loader/entries: file name → content. */
  entries: Record<string, string>;
  /** Every file under boot/ostree (relative path → sha256 of its bytes). */
  bootFiles: Record<string, string>;
  /** Every symlink under ostree/ named boot.* (and inside the boot.B.S farms): relative path → target. */
  links: Record<string, string>;
}

async function walk(dir: string, rel: string, visit: (rel: string, full: string) => Promise<void>): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(path.join(dir, rel))).sort();
  } catch {
    return;
  }
  for (const n of names) {
    const r = rel ? `${rel}/${n}` : n;
    const full = path.join(dir, r);
    const st = await lstat(full);
    await visit(r, full);
    if (st.isDirectory()) await walk(dir, r, visit);
  }
}

/** What the boot configuration of a sysroot is made of. */
export async function bootState(sysroot: string): Promise<BootState> {
  const loader = await readlink(path.join(sysroot, 'boot', 'loader')).catch(() => null);
  const entries: Record<string, string> = {};
  const edir = path.join(sysroot, 'boot', 'loader', 'entries');
  for (const n of (await readdir(edir).catch(() => [] as string[])).sort()) entries[n] = await readFile(path.join(edir, n), 'utf8');
  const bootFiles: Record<string, string> = {};
  await walk(path.join(sysroot, 'boot', 'ostree'), '', async (rel, full) => {
    const st = await lstat(full);
    if (st.isFile()) bootFiles[rel] = createHash('sha256').update(await readFile(full)).digest('hex');
    else if (st.isDirectory()) bootFiles[`${rel}/`] = 'dir';
  });
  const links: Record<string, string> = {};
  const odir = path.join(sysroot, 'ostree');
  for (const n of (await readdir(odir)).sort()) {
    if (!n.startsWith('boot.')) continue;
    const st = await lstat(path.join(odir, n));
    if (st.isSymbolicLink()) links[n] = await readlink(path.join(odir, n));
    else if (st.isDirectory()) {
      await walk(odir, n, async (rel, full) => {
        if ((await lstat(full)).isSymbolicLink()) links[rel] = await readlink(full);
      });
    }
  }
  return { loader, entries, bootFiles, links };
}

/** The deployment directories and origin files of a stateroot, sorted. */
export async function deployDir(sysroot: string, stateroot: string): Promise<string[]> {
  return (await readdir(path.join(sysroot, 'ostree', 'deploy', stateroot, 'deploy')).catch(() => [] as string[])).sort();
}

/** The path of deployment CHECKSUM.SERIAL. */
export function deploymentDir(sysroot: string, stateroot: string, id: string): string {
  return path.join(sysroot, 'ostree', 'deploy', stateroot, 'deploy', id);
}

/** The subset of `atomic status --json` a comparison with `ostree admin status` needs. */
export interface StatusFacts {
  id: string;
  stateroot: string;
  version: string | null;
  origin: string | null;
  pinned: boolean;
  kernelArguments: string;
  bootChecksum: string;
  default: boolean;
}

interface StatusDoc {
  deployments: Array<{
    id: string; stateroot: string; version: string | null; origin: { refspec: string | null } | null;
    pinned: boolean; kernelArguments: string; bootChecksum: string; default: boolean;
  }>;
}

export function statusFacts(json: string): StatusFacts[] {
  const doc = JSON.parse(json) as StatusDoc;
  return doc.deployments.map((d) => ({
    id: d.id, stateroot: d.stateroot, version: d.version, origin: d.origin ? d.origin.refspec : 'none',
    pinned: d.pinned, kernelArguments: d.kernelArguments, bootChecksum: d.bootChecksum, default: d.default,
  }));
}
