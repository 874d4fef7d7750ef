/**
 * Reading a sysroot as libostree lays it out: the boot version from
 * `boot/loader`, the sub-boot version from `ostree/boot.B`, and the
 * deployments from the BLS entries' `ostree=` arguments, in entry order.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { BlsEntry, Kargs, strverscmp } from '../format/bls.js';
import { parseBootCounter, type BootCounter } from '../format/boot-counter.js';
import { KeyFile } from '../format/keyfile.js';
import { exists, fsp, isErrno, path } from '../io/fs.js';
import type { BootedRoot, HostEnv } from '../io/host-env.js';
import { Repo } from '../repo/repo.js';
import { emptyAssessment, readAssessment, type AssessmentRecord } from './assessment.js';

export interface Deployment {
  osname: string;
  csum: string;
  deployserial: number;
  bootcsum: string;
  /** Numbered per boot checksum in deployment order; assigned when the list is written. */
  bootserial: number;
  /** Kernel arguments as the entry's options has them, `ostree=` included: rewritten, it keeps its place (as libostree replaces it). */
  kargs: string;
  /** The `.origin` key file (null when it is missing). */
  origin: KeyFile | null;
  /** The BLS entry it was read from (null for a deployment not yet written). */
  entry: BlsEntry | null;
  /** Staged: checked out, finalized at shutdown, no entry yet. */
  staged: boolean;
  /** The name of its entry file in boot/loader/entries (absent for a deployment not yet written). */
  entryFile?: string | null;
  /**
   * The boot counter in its entry's name (`+LEFT-DONE`), null when it has
   * none. A list write keeps it; set it on a new deployment before the
   * write to have its entry written counted.
   */
  bootCounter?: BootCounter | null;
  /**
   * Extra initramfs images loaded after the deployment's own (`deploy
   * --overlay-initrd`): their paths in the entry, `/ostree/initramfs-overlays/SHA256.img`.
   */
  overlayInitrds?: string[];
}

/** Where overlay initramfs images live under /boot, named by the SHA-256 of their content. */
export const OVERLAY_INITRDS_DIR = 'ostree/initramfs-overlays';

export interface SysrootState {
  root: string;
  bootversion: 0 | 1;
  subbootversion: 0 | 1;
  /** In boot order: index 0 is the default. */
  deployments: Deployment[];
  /** The deployment this machine is running, when it runs one from this sysroot. */
  booted: Deployment | null;
  /** The host it was read on: what booted, the clock, free space, root or not. */
  env: HostEnv;
  /** The probation record (assessment.ts); empty when there is none, or when it cannot be read (then see assessmentProblem). */
  assessment?: AssessmentRecord;
  /** Why the record could not be read (a damaged file), null when it could. */
  assessmentProblem?: string | null;
}

const OSTREE_ARG = /^\/ostree\/boot\.([01])\/([^/]+)\/([^/]+)\/([0-9]+)$/;
const DEPLOY_NAME = /^([0-9a-f]+)\.([0-9]+)$/;

export function deploymentName(d: Pick<Deployment, 'csum' | 'deployserial'>): string {
  return `${d.csum}.${d.deployserial}`;
}

/** `ostree/deploy/OS/deploy/CSUM.SERIAL`, relative to the sysroot. */
export function deploymentRelPath(d: Pick<Deployment, 'osname' | 'csum' | 'deployserial'>): string {
  return `ostree/deploy/${d.osname}/deploy/${deploymentName(d)}`;
}

export function deploymentPath(root: string, d: Pick<Deployment, 'osname' | 'csum' | 'deployserial'>): string {
  return path.join(root, deploymentRelPath(d));
}

export function originPath(root: string, d: Pick<Deployment, 'osname' | 'csum' | 'deployserial'>): string {
  return `${deploymentPath(root, d)}.origin`;
}

export function sameDeployment(a: Deployment | null | undefined, b: Deployment | null | undefined): boolean {
  return !!a && !!b && a.osname === b.osname && a.csum === b.csum && a.deployserial === b.deployserial;
}

export function isPinned(d: Deployment): boolean {
  return d.origin?.get('libostree-transient', 'pinned') === 'true';
}

async function readVersionLink(link: string, prefix: string): Promise<0 | 1 | null> {
  let target: string;
  try {
    target = await fsp.readlink(link);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return null;
    if (isErrno(e, 'EINVAL')) {
      throw new OstreeTsError(Codes.SYSROOT_INVALID, `${link} should be a symbolic link to ${prefix}0 or ${prefix}1, but it is not a link. Restore it (ostree-ts admin status shows what the sysroot holds).`, { path: link });
    }
    throw e;
  }
  const base = path.basename(target);
  if (base === `${prefix}0`) return 0;
  if (base === `${prefix}1`) return 1;
  throw new OstreeTsError(Codes.SYSROOT_INVALID, `${link} points at ${target}, not at ${prefix}0 or ${prefix}1. Point it back at one of them.`, { path: link, target });
}

/** B: the target of boot/loader (0 when it does not exist). */
export async function readBootversion(root: string): Promise<0 | 1> {
  return (await readVersionLink(path.join(root, 'boot', 'loader'), 'loader.')) ?? 0;
}

/** S for a boot version: from ostree/boot.B (0 when it does not exist). */
export async function readSubbootversion(root: string, bootversion: 0 | 1): Promise<0 | 1> {
  return (await readVersionLink(path.join(root, 'ostree', `boot.${bootversion}`), `boot.${bootversion}.`)) ?? 0;
}

export async function readOrigin(file: string): Promise<KeyFile | null> {
  try {
    return KeyFile.parse(await fsp.readFile(file, 'utf8'), file);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return null;
    throw e;
  }
}

/** The entries of boot/loader.B/entries, sorted as readers sort them (version, highest first). */
export async function readEntries(root: string, bootversion: 0 | 1): Promise<Array<{ file: string; entry: BlsEntry }>> {
  const dir = path.join(root, 'boot', `loader.${bootversion}`, 'entries');
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
  const out: Array<{ file: string; entry: BlsEntry }> = [];
  for (const name of names) {
    if (!name.startsWith('ostree-') || !name.endsWith('.conf')) continue;
    const file = path.join(dir, name);
    const st = await fsp.lstat(file);
    if (!st.isFile()) continue;
    out.push({ file, entry: BlsEntry.parse(await fsp.readFile(file, 'utf8')) });
  }
  // Highest version first; entries without one last.
  out.sort((a, b) => {
    const va = a.entry.get('version');
    const vb = b.entry.get('version');
    if (va === undefined && vb === undefined) return 0;
    if (va === undefined) return 1;
    if (vb === undefined) return -1;
    return strverscmp(vb, va);
  });
  return out;
}

/**
 * Refuse a directory that is not a sysroot (it has neither ostree/deploy nor
 * ostree/repo), before anything is written into it; returns its absolute path.
 */
export async function requireSysroot(rootIn: string): Promise<string> {
  const root = path.resolve(rootIn);
  if (!(await exists(path.join(root, 'ostree', 'deploy'))) && !(await exists(path.join(root, 'ostree', 'repo')))) {
    throw new OstreeTsError(Codes.SYSROOT_INVALID, `${root} is not an OSTree sysroot (it has no ostree/deploy or ostree/repo). Nothing was changed. Create one with 'ostree-ts admin init-fs ${rootIn}', or name an existing one.`, { path: root, hint: { option: 'sysroot' } });
  }
  return root;
}

/** The sysroot's repository (ostree/repo). */
export async function openSysrootRepo(root: string): Promise<Repo> {
  const at = path.join(root, 'ostree', 'repo');
  try {
    return await Repo.open(at);
  } catch (e) {
    // A system repository is bare, and init-fs makes it: not the archive kind `init` suggests for publishing.
    if (e instanceof OstreeTsError && e.code === Codes.REPO_NOT_FOUND) {
      throw new OstreeTsError(Codes.REPO_NOT_FOUND, `The sysroot ${root} has no system repository (${at}). Create it with 'ostree-ts admin init-fs ${root}' (a bare repository beside the deployments), or 'ostree-ts init --repo=${at} --mode=bare'.`, { path: at, sysroot: root }, { cause: e });
    }
    throw e;
  }
}

/** The deployments the entries of boot version `bootversion` name, in boot order. */
export async function readDeploymentList(root: string, bootversion: 0 | 1): Promise<Deployment[]> {
  const deployments: Deployment[] = [];
  for (const { file, entry } of await readEntries(root, bootversion)) {
    const options = entry.get('options') ?? '';
    const kargs = Kargs.parse(options);
    const ostreeArg = kargs.get('ostree');
    const m = ostreeArg !== undefined ? OSTREE_ARG.exec(ostreeArg) : null;
    if (!m) {
      throw new OstreeTsError(Codes.SYSROOT_INVALID, `Boot entry ${file} has no valid ostree= argument (options: ${options}). It should read ostree=/ostree/boot.B/STATEROOT/BOOTCSUM/N; repair or remove that entry.`, { file });
    }
    const link = path.join(root, 'ostree', `boot.${m[1]}`, m[2], m[3], m[4]);
    let target: string;
    try {
      target = await fsp.readlink(link);
    } catch (e) {
      throw new OstreeTsError(Codes.SYSROOT_INVALID, `Boot entry ${file} names ${ostreeArg}, but the link ${link} cannot be read (${(e as Error).message}). The boot link farm is damaged; redeploy to rewrite it.`, { file, link }, { cause: e });
    }
    const dm = DEPLOY_NAME.exec(path.basename(target));
    if (!dm) throw new OstreeTsError(Codes.SYSROOT_INVALID, `The boot link ${link} points at ${target}, which is not a deployment (CHECKSUM.SERIAL).`, { link, target });
    const entryFile = path.basename(file);
    const counter = parseBootCounter(entryFile);
    const d: Deployment = {
      osname: m[2], csum: dm[1], deployserial: Number(dm[2]), bootcsum: m[3], bootserial: Number(m[4]),
      kargs: options.trim(), origin: null, entry, staged: false,
      entryFile, bootCounter: counter ? { left: counter.left, done: counter.done } : null,
      // As libostree reads an entry: every initrd after the first is an overlay.
      overlayInitrds: entry.getAll('initrd').slice(1),
    };
    d.origin = await readOrigin(originPath(root, d));
    deployments.push(d);
  }
  return deployments;
}

/** Load the sysroot's current deployment list, which of them `env` runs, and the probation record. */
export async function loadSysroot(rootIn: string, env: HostEnv, opts: { bootedCheck?: boolean } = {}): Promise<SysrootState> {
  const root = await requireSysroot(rootIn);
  const bootversion = await readBootversion(root);
  const subbootversion = await readSubbootversion(root, bootversion);
  const deployments = await readDeploymentList(root, bootversion);
  const bootedRoot = opts.bootedCheck === false ? null : await ostreeBootedRoot(env);
  let booted: Deployment | null = null;
  if (bootedRoot) {
    for (const d of deployments) {
      if (await isBootedRoot(bootedRoot, root, d)) {
        booted = d;
        break;
      }
    }
  }
  // A damaged record must not keep the host from booting, rolling back or being looked at: it is reported, not thrown.
  let assessment = emptyAssessment();
  let assessmentProblem: string | null = null;
  try {
    assessment = await readAssessment(root);
  } catch (e) {
    if (!(e instanceof OstreeTsError)) throw e;
    assessmentProblem = e.message;
  }
  return { root, bootversion, subbootversion, deployments, booted, env, assessment, assessmentProblem };
}

/** What `/` is on a machine OSTree booted (its run directory holds `ostree-booted`); null on any other. */
export async function ostreeBootedRoot(env: HostEnv): Promise<BootedRoot | null> {
  if (!(await exists(path.join(env.runDir, 'ostree-booted')))) return null;
  return env.bootedRoot();
}

/** Whether `d`, a deployment of the sysroot at `root`, is what `/` is. */
export async function isBootedRoot(booted: BootedRoot, root: string, d: Pick<Deployment, 'osname' | 'csum' | 'deployserial'>): Promise<boolean> {
  if ('deployment' in booted) {
    const b = booted.deployment;
    return b.osname === d.osname && b.checksum === d.csum && b.serial === d.deployserial;
  }
  const st = await fsp.stat(deploymentPath(root, d)).catch(() => null);
  return st !== null && st.dev === booted.dev && st.ino === booted.ino;
}

/** The deployment whose configuration a new one of `osname` inherits: the booted one, else the first of that stateroot. */
export function mergeDeployment(state: SysrootState, osname: string): Deployment | null {
  if (state.booted && state.booted.osname === osname) return state.booted;
  return state.deployments.find((d) => d.osname === osname) ?? null;
}

/** The stateroots that exist (directories under ostree/deploy). */
export async function listStateroots(root: string): Promise<string[]> {
  try {
    return (await fsp.readdir(path.join(root, 'ostree', 'deploy'))).sort();
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
}
