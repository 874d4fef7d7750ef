/**
 * Deployments: `init-fs`, `os-init`, and deploying a commit — a hardlink
 * checkout in ostree/deploy/OS/deploy/CSUM.SERIAL, its /etc made from
 * usr/etc and merged with the merge deployment's local changes, its origin
 * file, its kernel found — then the new list written (the boot default
 * switched in one rename) and everything no longer needed cleaned up.
 */
import { createHash } from 'node:crypto';
import { Codes, OstreeTsError } from '../errors/index.js';
import { Kargs } from '../format/bls.js';
import type { BootCounter } from '../format/boot-counter.js';
import { KeyFile } from '../format/keyfile.js';
import { atomicCopyFile, atomicWriteFile, createReadStream, exists, fsp, isErrno, path } from '../io/fs.js';
import type { HostEnv } from '../io/host-env.js';
import { setImmutable } from '../io/host-fs.js';
import { checkout } from '../repo/checkout.js';
import { resolveRev } from '../repo/refs.js';
import { Repo } from '../repo/repo.js';
import type { BootBackend } from './bootloader/index.js';
import { adoptCountersFrom, writeEsp } from './bootloader/esp.js';
import { cleanupSysroot, removeDeploymentDir, type CleanupResult } from './cleanup.js';
import { applyEtcMerge, copyTree, diffEtc, expandPaths, type EtcMergePlan } from './etc-merge.js';
import { dirReader, findKernel } from './kernel.js';
import {
  deploymentPath, deploymentRelPath, isPinned, loadSysroot, mergeDeployment, originPath, openSysrootRepo, OVERLAY_INITRDS_DIR, requireSysroot, sameDeployment,
  type Deployment, type SysrootState,
} from './state.js';
import { writeDeployments, type WriteEvent } from './write.js';

/** Progress of a deploy, as events. */
export type DeployEvent =
  | { type: 'checkout'; deployment: string }
  /** The stateroot's /var had no label stamp (its first deployment): stamped now. */
  | { type: 'relabel' }
  | { type: 'etc'; modified: number; removed: number; added: number }
  | WriteEvent
  | { type: 'cleanup'; result: CleanupResult };

/** `admin init-fs`: the top-level directories and a bare repository at ostree/repo. */
export async function initFs(root: string, opts: { modern?: boolean } = {}): Promise<void> {
  await fsp.mkdir(root, { recursive: true });
  const dirs: Array<[string, number]> = opts.modern
    // As ostree 2022.7 --modern: boot/ only, besides ostree/.
    ? [['boot', 0o755]]
    : [['boot', 0o755], ['dev', 0o755], ['home', 0o755], ['proc', 0o755], ['run', 0o755], ['sys', 0o755], ['root', 0o700], ['tmp', 0o1777]];
  for (const [d, mode] of dirs) {
    const p = path.join(root, d);
    try {
      await fsp.mkdir(p, { mode });
      await fsp.chmod(p, mode);
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw e;
    }
  }
  await fsp.mkdir(path.join(root, 'ostree', 'deploy'), { recursive: true, mode: 0o775 });
  await Repo.init(path.join(root, 'ostree', 'repo'), 'bare');
}

function checkName(kind: string, name: string): void {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(name)) {
    throw new OstreeTsError(Codes.INVALID_NAME, `Invalid ${kind} name '${name}': use letters, digits, '.', '_' and '-'.`, { name });
  }
}

/** `admin os-init`: a stateroot with its persistent /var. */
export async function osInit(root: string, osname: string): Promise<void> {
  checkName('stateroot', osname);
  // As ostree: a stateroot goes into a sysroot, never into a directory it would make look like one.
  await requireSysroot(root);
  const base = path.join(root, 'ostree', 'deploy', osname);
  await fsp.mkdir(path.join(base, 'deploy'), { recursive: true, mode: 0o755 });
  const v = path.join(base, 'var');
  for (const [d, mode] of [['', 0o755], ['tmp', 0o1777], ['lib', 0o755], ['log', 0o755]] as Array<[string, number]>) {
    const p = path.join(v, d);
    await fsp.mkdir(p, { recursive: true, mode });
    if (d === 'tmp') await fsp.chmod(p, mode);
  }
  for (const [name, target] of [['run', '../run'], ['lock', '../run/lock']]) {
    await fsp.symlink(target, path.join(v, name)).catch((e: unknown) => {
      if (!isErrno(e, 'EEXIST')) throw e;
    });
  }
}

export interface DeployOptions {
  osname: string;
  /** A ref or checksum in the sysroot's repository. */
  revision: string;
  /** The origin to write; default: refspec=REVISION as given. */
  origin?: KeyFile;
  /** --karg: replace by key, on top of the merge deployment's arguments. */
  karg?: string[];
  kargAppend?: string[];
  kargDelete?: string[];
  /** --karg-proc-cmdline: start from this (the running kernel's command line). */
  procCmdline?: string;
  retain?: boolean;
  retainPending?: boolean;
  retainRollback?: boolean;
  notAsDefault?: boolean;
  /** Skip cleanup (and its prune) after writing. */
  noClean?: boolean;
  /** Clean up the deployments and boot directories no longer listed, but do not prune the repository. */
  noPrune?: boolean;
  /** Start from no kernel arguments rather than the merge deployment's (`--karg-none`). */
  kargNone?: boolean;
  /** Deploy with no /etc merge (a fresh /etc from usr/etc). */
  noMerge?: boolean;
  /** The boot back end to keep in step (the systemd-boot ESP); default bls, /boot/loader only. */
  boot?: BootBackend;
  /**
   * The new deployment's entry is written with this boot counter (`+LEFT`),
   * so it is counted from the moment it is the default; startProbation then
   * records it (its rename is then nothing to do).
   */
  bootCounter?: BootCounter | null;
  /** Initramfs images loaded after the tree's own (`--overlay-initrd`), copied into /boot by their checksum. */
  overlayInitrds?: string[];
  onEvent?: (e: DeployEvent) => void;
}

/**
 * Copy each overlay initramfs into boot/ostree/initramfs-overlays/SHA256.img
 * (once: an image already there is the same by its name), durably, mode
 * 0600 as libostree leaves it. Returns their paths in a boot entry.
 */
export async function installOverlayInitrds(root: string, files: string[]): Promise<string[]> {
  const out: string[] = [];
  const dir = path.join(root, 'boot', OVERLAY_INITRDS_DIR);
  for (const f of files) {
    const hash = createHash('sha256');
    try {
      for await (const chunk of createReadStream(f)) hash.update(chunk as Buffer);
    } catch (e) {
      throw new OstreeTsError(Codes.NOT_FOUND, `Cannot read the overlay initramfs ${f}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}.`, { path: f }, { cause: e });
    }
    const name = `${hash.digest('hex')}.img`;
    const dest = path.join(dir, name);
    if (!(await exists(dest))) {
      await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
      await atomicCopyFile(f, dest, { mode: 0o600 });
    }
    out.push(`/${OVERLAY_INITRDS_DIR}/${name}`);
  }
  return out;
}

export interface DeployResult {
  deployment: Deployment;
  merge: Deployment | null;
  etc: EtcMergePlan | null;
  deployments: Deployment[];
  write: WriteEvent;
  cleanup: CleanupResult | null;
}

/** Kernel arguments for a new deployment, as `ostree admin deploy` computes them. */
export function newKargs(merge: Deployment | null, o: Pick<DeployOptions, 'karg' | 'kargAppend' | 'kargDelete' | 'procCmdline' | 'kargNone'>): string {
  const changing = (o.karg?.length ?? 0) + (o.kargAppend?.length ?? 0) + (o.kargDelete?.length ?? 0) > 0;
  if (o.kargNone && o.procCmdline !== undefined) {
    throw new OstreeTsError(Codes.USAGE, 'Start from no kernel arguments (--karg-none) or from /proc/cmdline (--karg-proc-cmdline), not both.', {});
  }
  const from = o.kargNone ? '' : merge ? merge.kargs : '';
  let k: Kargs;
  if (o.procCmdline !== undefined) k = Kargs.parse(o.procCmdline);
  else k = Kargs.parse(from);
  if (!changing && o.procCmdline === undefined) return from;
  for (const a of o.karg ?? []) k.replace(a);
  for (const a of o.kargAppend ?? []) k.append(a);
  for (const a of o.kargDelete ?? []) {
    if (!k.delete(a)) throw new OstreeTsError(Codes.NOT_FOUND, `Kernel argument ${a} is not set, so it cannot be deleted.`, { karg: a });
  }
  return k.toString();
}

/** libostree's choice of which deployments a new one keeps (simple_write_deployment). */
export function newDeploymentList(st: SysrootState, osname: string, added: Deployment, merge: Deployment | null, o: Pick<DeployOptions, 'retain' | 'retainPending' | 'retainRollback' | 'notAsDefault'>): Deployment[] {
  const out: Deployment[] = [];
  let addedNew = false;
  if (!o.notAsDefault) {
    out.push(added);
    addedNew = true;
  }
  let retain = o.retain === true;
  if (!st.booted && !merge && (o.retainPending || o.retainRollback)) retain = true;
  let beforeBooted = true;
  let beforeMerge = true;
  for (const d of st.deployments) {
    const osMatches = d.osname === osname;
    const isBooted = sameDeployment(d, st.booted);
    const isMerge = sameDeployment(d, merge);
    if (isBooted) beforeBooted = false;
    if (isMerge) beforeMerge = false;
    const crossed = st.booted ? !beforeBooted : !beforeMerge;
    if (retain || isPinned(d) || !osMatches || (o.retainPending && !crossed) || isBooted || isMerge || (o.retainRollback && crossed)) out.push(d);
    if (!addedNew && crossed) {
      out.push(added);
      addedNew = true;
    }
  }
  if (!addedNew) out.push(added);
  return out;
}

async function prepareEtc(dir: string, merge: Deployment | null, st: SysrootState, noMerge: boolean): Promise<EtcMergePlan | null> {
  const etc = path.join(dir, 'etc');
  const usrEtc = path.join(dir, 'usr', 'etc');
  const hasEtc = await exists(etc);
  const hasUsrEtc = await exists(usrEtc);
  if (hasEtc && hasUsrEtc) {
    throw new OstreeTsError(Codes.TREE_CONFLICT, `The tree has both /etc and /usr/etc; a deployable tree keeps its default configuration in /usr/etc only. Recompose it without /etc.`, { path: dir });
  }
  if (hasEtc) await fsp.rename(etc, usrEtc);
  if (!hasEtc && !hasUsrEtc) return null;
  const asRoot = st.env.asRoot;
  await copyTree(usrEtc, etc, { asRoot });
  if (!merge || noMerge) return null;
  const mdir = deploymentPath(st.root, merge);
  const plan = await diffEtc(path.join(mdir, 'usr', 'etc'), path.join(mdir, 'etc'));
  await applyEtcMerge(plan, path.join(mdir, 'etc'), etc, { asRoot });
  return plan;
}

/** Check out `csum` as a new deployment directory and prepare it (etc, origin, kernel); not yet in the boot list. */
export async function prepareDeployment(st: SysrootState, repo: Repo, csum: string, o: DeployOptions, merge: Deployment | null): Promise<{ deployment: Deployment; etc: EtcMergePlan | null }> {
  const root = st.root;
  if (!(await exists(path.join(root, 'ostree', 'deploy', o.osname)))) {
    throw new OstreeTsError(Codes.NOT_FOUND, `No stateroot '${o.osname}' in ${root}. Create it with 'ostree-ts admin --sysroot=${root} os-init ${o.osname}'.`, { osname: o.osname });
  }
  let serial = 0;
  for (const d of st.deployments) if (d.osname === o.osname && d.csum === csum) serial = Math.max(serial, d.deployserial + 1);
  const d: Deployment = {
    osname: o.osname, csum, deployserial: serial, bootcsum: '', bootserial: 0,
    kargs: newKargs(merge, o), origin: null, entry: null, staged: false, bootCounter: o.bootCounter ?? null,
    overlayInitrds: o.overlayInitrds?.length ? await installOverlayInitrds(root, o.overlayInitrds) : [],
  };
  const dir = deploymentPath(root, d);
  // Anything left there by an interrupted deploy goes first.
  if (await exists(dir)) await removeDeploymentDir(dir);
  await fsp.mkdir(path.dirname(dir), { recursive: true, mode: 0o775 });
  o.onEvent?.({ type: 'checkout', deployment: deploymentRelPath(d) });
  await checkout(repo, csum, dir, {});
  const etc = await prepareEtc(dir, merge, st, o.noMerge === true);
  if (etc && merge) {
    const added = (await expandPaths(path.join(deploymentPath(root, merge), 'etc'), etc.added)).length;
    o.onEvent?.({ type: 'etc', modified: etc.modified.length, removed: etc.removed.length, added });
  }
  // systemd's ConditionNeedsUpdate runs once after an update.
  await fsp.rm(path.join(dir, 'etc', '.updated'), { force: true });
  await fsp.rm(path.join(root, 'ostree', 'deploy', o.osname, 'var', '.updated'), { force: true });
  // The stamp libostree leaves once the stateroot's /var has been labeled (here: nothing to label).
  const stamped = await fsp.writeFile(path.join(root, 'ostree', 'deploy', o.osname, 'var', '.ostree-selabeled'), '', { flag: 'wx' }).then(() => true, () => false);
  if (stamped) o.onEvent?.({ type: 'relabel' });
  const kernel = await findKernel(dirReader(dir), `commit ${csum}`);
  d.bootcsum = kernel.bootcsum;
  let origin = o.origin;
  if (!origin) {
    origin = new KeyFile();
    origin.set('origin', 'refspec', o.revision);
  }
  d.origin = origin;
  await atomicWriteFile(originPath(root, d), origin.render(), { fsync: false });
  await setImmutable(dir, true);
  return { deployment: d, etc };
}

/** `admin deploy`: a new deployment of REVISION, made the default unless told otherwise. */
export async function deploy(root: string, env: HostEnv, o: DeployOptions): Promise<DeployResult> {
  const st = await loadSysroot(root, env);
  const repo = await openSysrootRepo(st.root);
  const csum = await resolveRev(repo, o.revision);
  if (!csum) throw new OstreeTsError(Codes.REF_NOT_FOUND, `No ref or commit ${o.revision} in ${repo.path}. Pull it first, or name another.`, { revision: o.revision });
  const merge = mergeDeployment(st, o.osname);
  const { deployment, etc } = await prepareDeployment(st, repo, csum, o, merge);
  const list = newDeploymentList(st, o.osname, deployment, merge, o);
  return finishWrite(st, repo, list, { deployment, merge, etc }, o);
}

/** Write a list, then clean up (unless asked not to). */
export async function finishWrite(
  st: SysrootState, repo: Repo, list: Deployment[], extra: { deployment: Deployment; merge: Deployment | null; etc: EtcMergePlan | null },
  o: { noClean?: boolean; noPrune?: boolean; boot?: BootBackend; onEvent?: (e: DeployEvent) => void },
): Promise<DeployResult> {
  const boot = o.boot;
  // The firmware's counters on the ESP are newer than /boot/loader's names: the list written keeps them.
  if (boot && boot.kind === 'systemd-boot') await adoptCountersFrom(st.root, boot, st);
  const write = await writeDeployments(st, repo, list, {
    onEvent: o.onEvent,
    // The ESP follows the new list before cleanup removes what its old entries name.
    afterSwitch: boot && boot.kind === 'systemd-boot' ? async () => { await writeEsp(st.root, boot); } : undefined,
  });
  const after: SysrootState = { ...st, bootversion: write.bootversion as 0 | 1, subbootversion: write.subbootversion as 0 | 1, deployments: list };
  let cleanup: CleanupResult | null = null;
  if (!o.noClean) {
    cleanup = await cleanupSysroot(after, repo, { prune: o.noPrune ? false : 'auto' });
    o.onEvent?.({ type: 'cleanup', result: cleanup });
  }
  return { ...extra, deployments: list, write, cleanup };
}

/** Write a reordered or shortened list of existing deployments (undeploy, rollback). */
export async function writeList(root: string, env: HostEnv, pick: (st: SysrootState) => Deployment[], o: { noClean?: boolean; boot?: BootBackend; onEvent?: (e: DeployEvent) => void } = {}): Promise<{ state: SysrootState; write: WriteEvent; cleanup: CleanupResult | null; deployments: Deployment[] }> {
  const st = await loadSysroot(root, env);
  const repo = await openSysrootRepo(st.root);
  const list = pick(st);
  if (st.booted && !list.some((d) => sameDeployment(d, st.booted))) {
    throw new OstreeTsError(Codes.USAGE, 'The booted deployment cannot be removed from the boot list.', {});
  }
  const r = await finishWrite(st, repo, list, { deployment: list[0], merge: null, etc: null }, o);
  return { state: st, write: r.write, cleanup: r.cleanup, deployments: list };
}

/** Set or clear `[libostree-transient] pinned` in a deployment's origin. */
export async function setPinned(root: string, d: Deployment, pinned: boolean): Promise<void> {
  const origin = d.origin ?? new KeyFile();
  if (pinned) origin.set('libostree-transient', 'pinned', 'true');
  else {
    origin.remove('libostree-transient', 'pinned');
    const g = origin.group('libostree-transient');
    if (g && !g.lines.some((l) => l.kind === 'entry')) origin.remove('libostree-transient');
  }
  d.origin = origin;
  await atomicWriteFile(originPath(root, d), origin.render());
}

/** Replace a deployment's origin file. */
export async function writeOrigin(root: string, d: Deployment, origin: KeyFile): Promise<void> {
  d.origin = origin;
  await atomicWriteFile(originPath(root, d), origin.render());
}
