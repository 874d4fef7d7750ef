/**
 * Boot-assessment fixtures: a sysroot with versions of a small OS deployed
 * by the library, the real `ostree admin status` read after every step, and
 * the checks a boot configuration must pass whatever happened to it: the
 * entry the firmware would choose exists whole (its kernel and initramfs
 * beside it, its ostree= link leading to a deployment).
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, readlink, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import type { HostEnv } from '../../src/io/index.js';
import {
  chooseEntry, deploy, entryFiles, initFs, loaderConfDefault, loadSysroot, osInit, readFirmwareEntries, type BootBackend, type Deployment,
} from '../../src/sysroot/index.js';
import { BlsEntry } from '../../src/format/index.js';
import { hostEnv } from './booted.js';
import { ok, ostree, tempDir } from './env.js';
import { makeOsTree, parseAdminStatus, type AdminStatusEntry } from './sysroot.js';

export const OS = 'testos';
export const REF = 'testos/stable';

export interface BootSysroot {
  dir: string;
  root: string;
  env: HostEnv;
  /** version → commit checksum */
  commits: Map<string, string>;
}

/** A fresh sysroot with stateroot testos and nothing deployed; `esp` makes an empty directory there (a plain directory as the ESP). */
export async function bootSysroot(t: TestContext, o: { esp?: string } = {}): Promise<BootSysroot> {
  const dir = await tempDir(t, 'ots-boot-');
  const root = path.join(dir, 'sysroot');
  await initFs(root);
  await osInit(root, OS);
  if (o.esp) await mkdir(path.join(root, o.esp), { recursive: true });
  return { dir, root, env: await hostEnv(t), commits: new Map() };
}

/** Commit version `v` with the real ostree (its own kernel when `kernel` is given) into the system repository. */
export async function commitVersion(s: BootSysroot, v: string, o: { kernel?: string } = {}): Promise<string> {
  const tree = await makeOsTree(path.join(s.dir, `tree-${v}`), { pretty: `TestOS ${v}`, hello: `echo ${v}`, kernel: o.kernel });
  const csum = await ok(ostree('commit', `--repo=${path.join(s.root, 'ostree', 'repo')}`, '-b', REF, `--add-metadata-string=version=${v}`,
    '--timestamp=2026-01-01T00:00:00Z', '-s', `TestOS ${v}`, `--tree=dir=${tree}`), `ostree commit ${v}`);
  s.commits.set(v, csum);
  return csum;
}

/** Commit and deploy version `v` as the new default (through the library); returns the deployment as loadSysroot reads it. */
export async function deployVersion(s: BootSysroot, v: string, o: { kernel?: string; boot?: BootBackend; retain?: boolean } = {}): Promise<Deployment> {
  const csum = await commitVersion(s, v, o);
  await deploy(s.root, s.env, { osname: OS, revision: csum, karg: ['root=LABEL=root'], boot: o.boot, retain: o.retain });
  return byVersion(s, v);
}

/** The deployment of version `v`, as the sysroot lists it now. */
export async function byVersion(s: BootSysroot, v: string): Promise<Deployment> {
  const st = await loadSysroot(s.root, s.env);
  const d = st.deployments.find((x) => x.csum === s.commits.get(v));
  assert.ok(d, `version ${v} is deployed`);
  return d;
}

/** The real `ostree admin status` of the sysroot: it must succeed, and its deployments are returned (in boot order). */
export async function adminStatus(s: BootSysroot, label: string): Promise<AdminStatusEntry[]> {
  const r = await ostree('admin', `--sysroot=${s.root}`, 'status');
  assert.equal(r.code, 0, `${label}: ostree admin status failed:\n${r.stderr}`);
  return parseAdminStatus(r.stdout);
}

/** The versions, in boot order, that `ostree admin status` lists. */
export async function adminVersions(s: BootSysroot, label: string): Promise<Array<string | null>> {
  return (await adminStatus(s, label)).map((e) => e.version);
}

/** The entry file names of boot/loader/entries, sorted. */
export async function bootEntryNames(root: string): Promise<string[]> {
  return (await readdir(path.join(root, 'boot', 'loader', 'entries'))).sort();
}

/**
 * The entry firmware reading `loaderDir` (ROOT/boot/loader or ESP/loader)
 * would boot is complete: its kernel, initramfs and devicetree exist under
 * `base`, and its ostree= link leads to a deployment directory. Returns its
 * name. Nothing is renamed.
 */
export async function assertBootable(root: string, base: string, label: string): Promise<string> {
  const entries = await readFirmwareEntries(path.join(base, 'loader', 'entries'));
  const conf = await readFile(path.join(base, 'loader', 'loader.conf'), 'utf8').catch(() => null);
  const pick = chooseEntry(entries, loaderConfDefault(conf));
  assert.ok(pick, `${label}: there is an entry to boot in ${base}/loader/entries`);
  await assertComplete(root, base, pick.chosen.name, pick.chosen.entry, label);
  return pick.chosen.name;
}

/** Entry `name` boots: its files exist under `base`, and its ostree= link leads to a deployment directory. */
export async function assertComplete(root: string, base: string, name: string, e: BlsEntry, label: string): Promise<void> {
  const files = entryFiles(e);
  assert.ok(files.length >= 2, `${label}: ${name} names a kernel and an initramfs`);
  for (const f of files) {
    const st = await stat(path.join(base, f)).catch(() => null);
    assert.ok(st?.isFile() && st.size > 0, `${label}: ${name} boots ${f}, which exists under ${base}`);
  }
  const m = /ostree=(\/ostree\/boot\.[01]\/\S+)/.exec(e.get('options') ?? '');
  assert.ok(m, `${label}: ${name} has an ostree= argument`);
  const target = await readlink(path.join(root, m[1]));
  const dir = await stat(path.resolve(path.dirname(path.join(root, m[1])), target)).catch(() => null);
  assert.ok(dir?.isDirectory(), `${label}: ${name}'s ${m[1]} leads to a deployment`);
}

/** Every entry under `base`/loader/entries boots (none half there); returns how many there are. */
export async function assertAllComplete(root: string, base: string, label: string): Promise<number> {
  const entries = await readFirmwareEntries(path.join(base, 'loader', 'entries'));
  for (const e of entries) await assertComplete(root, base, e.name, e.entry, label);
  return entries.length;
}
