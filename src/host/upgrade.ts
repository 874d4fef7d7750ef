/**
 * Upgrade, rebase and deploy-a-revision: one update, in phases, under the
 * sysroot lock. Resolve the commit to deploy (its signatures checked by the
 * remote's policy, nothing fetched but commit objects); run the preflight
 * checks of each stage as it is reached; fetch, with no ref moved; deploy it
 * beside what runs and switch the boot default in one step; move the
 * followed ref last; clean up.
 *
 * A refused check leaves the deployments, the boot configuration and every
 * ref as they were. The booted deployment is always kept, and is the one
 * whose /etc the new deployment merges.
 */
import { Codes, OstreeTsError, isCodedError } from '../errors/index.js';
import { lookup } from '../format/gvariant.js';
import { KeyFile } from '../format/keyfile.js';
import { diffRevs, type TreeDiff } from '../repo/inspect.js';
import { readRef, resolveRev, writeRef } from '../repo/refs.js';
import { cleanupSysroot } from '../sysroot/cleanup.js';
import { finishWrite, newDeploymentList, prepareDeployment, type DeployEvent } from '../sysroot/deploy.js';
import { loadSysroot, mergeDeployment, openSysrootRepo, type Deployment, type SysrootState } from '../sysroot/state.js';
import { pull, type PullEvent } from '../transport/pull.js';
import { findRevision, resolveCommit } from '../transport/resolve-commit.js';
import { readAtomicConfig, type AtomicConfig } from './atomic-conf.js';
import { bootBackend } from './boot-backend.js';
import { checkBootFiles, forgetGone, startNewDefaultProbation, withArmedProbation } from './probation.js';
import { underLock, type HostVerbOptions } from './common.js';
import { runPreflight, targetOf, type CheckResult, type CheckStage, type PreflightContext, type PreflightTarget } from './preflight/index.js';
import { parseRefspec } from './status.js';

export type UpdateEvent =
  | { type: 'resolve'; refspec: string; checksum: string; current: string }
  | { type: 'check'; result: CheckResult }
  | { type: 'pull'; event: PullEvent }
  | { type: 'deploy'; event: DeployEvent };

export interface UpgradeOptions extends HostVerbOptions {
  /** Stateroot; default: the booted one, else the default deployment's. */
  osname?: string;
  /** Only say whether there is an update and how big it is. */
  check?: boolean;
  /** Fetch the update and list the files that change; deploy nothing. */
  preview?: boolean;
  allowDowngrade?: boolean;
  /** Kernel arguments changes for the new deployment. */
  karg?: string[];
  kargAppend?: string[];
  kargDelete?: string[];
  /** Fetch the update and move the followed ref; deploy nothing (`ostree admin upgrade --pull-only`). */
  pullOnly?: boolean;
  /** Deploy what the followed ref already holds here; fetch nothing (`--deploy-only`). */
  deployOnly?: boolean;
  /** No cleanup (and no prune) after the switch. */
  noPrune?: boolean;
  onEvent?: (e: UpdateEvent) => void;
}

export interface UpdateOptions extends UpgradeOptions {
  /** Rebase: follow this refspec (REMOTE:REF or REF) from now on. */
  rebase?: string;
  /** Deploy this version (commit `version`) or checksum of the followed ref rather than its newest commit. */
  revision?: string;
  /** The revision is not let past the downgrade check (`ostree admin upgrade --override-commit`, which needs --allow-downgrade for an older one). */
  revisionChecksDowngrade?: boolean;
}

export interface UpdateResult {
  apiVersion: 'ostree-ts/v1';
  kind: 'UpdateResult';
  /** 'updated': a new default; 'no-update': nothing newer; 'available': --check found one; 'previewed'; 'pulled': --pull-only fetched it. */
  outcome: 'updated' | 'no-update' | 'available' | 'previewed' | 'pulled';
  refspec: string;
  from: string;
  to: string;
  version: string | null;
  checks: CheckResult[];
  /** --check: what the pull would fetch. */
  download: { objects: number; bytes: number | null } | null;
  /** --preview: the files that change. */
  diff: TreeDiff | null;
  deployment: string | null;
}

/** Deploy the newest commit of the followed ref. */
export function upgrade(opts: UpgradeOptions): Promise<UpdateResult> {
  return update(opts);
}

/** Follow `refspec` (REMOTE:REF or REF) from now on, and deploy its newest commit. */
export function rebase(refspec: string, opts: UpgradeOptions): Promise<UpdateResult> {
  return update({ ...opts, rebase: refspec });
}

/** Deploy a version or checksum of the followed ref (older ones allowed); the origin records it as override-commit. */
export function deployRevision(revision: string, opts: UpgradeOptions): Promise<UpdateResult> {
  return update({ ...opts, revision });
}

/** Upgrade, rebase (`rebase`) or deploy a revision (`revision`). */
export function update(opts: UpdateOptions): Promise<UpdateResult> {
  const purpose = opts.rebase ? `atomic rebase ${opts.rebase}` : opts.revision ? `atomic deploy ${opts.revision}` : 'atomic upgrade';
  return underLock(opts, purpose, (root) => updateLocked(root, opts));
}

async function updateLocked(root: string, opts: UpdateOptions): Promise<UpdateResult> {
  const emit = (e: UpdateEvent): void => opts.onEvent?.(e);
  const followed = await whatToFollow(root, opts);
  // A bad configuration refuses the update before anything changes.
  const conf = await readAtomicConfig(followed.st.root, followed.repo.config);
  await checkBootFiles(followed.st, conf);
  const ctx = await resolveTarget(followed, opts);
  const { current, refspec } = ctx;
  const result: UpdateResult = {
    apiVersion: 'ostree-ts/v1', kind: 'UpdateResult', outcome: 'no-update', refspec, from: current.csum, to: current.csum,
    version: null, checks: [], download: null, diff: null, deployment: null,
  };
  const preflight = (stage: CheckStage): Promise<void> => runPreflight(stage, ctx, (r) => {
    result.checks.push(r);
    emit({ type: 'check', result: r });
  });

  await preflight('target');
  const target = targetOf(ctx);
  result.to = target.checksum;
  result.version = (lookup(target.commit.metadata, 'version', 's') as string | undefined) ?? null;
  emit({ type: 'resolve', refspec, checksum: target.checksum, current: current.csum });
  if (isDeployed(ctx, target, opts)) {
    await catchUpRef(ctx, target, opts);
    return result;
  }

  if (opts.check) {
    // A quarantined commit is no update: --check says so (77) rather than refusing.
    try {
      await preflight('update');
    } catch (e) {
      if (isCodedError(e) && e.code === Codes.PREFLIGHT && e.data.check === 'quarantine') return result;
      throw e;
    }
  } else await preflight('update');
  if (opts.check) {
    result.outcome = 'available';
    result.download = await downloadSize(ctx, target);
    return result;
  }

  await preflight('fetch');
  if (!opts.deployOnly) await fetchTarget(ctx, target, emit);
  else if (await ctx.repo.isCommitPartial(target.checksum)) {
    throw new OstreeTsError(Codes.NOT_FOUND, `Commit ${target.checksum} of ${refspec} is not wholly in ${ctx.repo.path}, so it cannot be deployed without a pull. Pull it first (--pull-only), or upgrade without --deploy-only.`, { checksum: target.checksum });
  }
  if (opts.pullOnly) {
    if (ctx.remote && (await readRef(ctx.repo, refspec)) !== target.checksum) await writeRef(ctx.repo, refspec, target.checksum);
    result.outcome = 'pulled';
    return result;
  }
  if (opts.preview) {
    result.outcome = 'previewed';
    result.diff = await diffRevs(ctx.repo, current.csum, target.checksum);
    return result;
  }

  await preflight('deploy');
  result.deployment = await deployTarget(ctx, target, opts, conf, (event) => emit({ type: 'deploy', event }));
  result.outcome = 'updated';
  return result;
}

type Followed = Omit<PreflightContext, 'target' | 'verification' | 'allowDowngrade' | 'revision'>;

function pickStateroot(st: SysrootState, osname?: string): string {
  if (osname) return osname;
  if (st.booted) return st.booted.osname;
  if (st.deployments.length) return st.deployments[0].osname;
  throw new OstreeTsError(Codes.NOT_FOUND, `No deployments in ${st.root}: nothing to update. Deploy one first ('ostree-ts admin deploy --os=NAME REF').`, { sysroot: st.root });
}

/** The stateroot, its merge deployment, what runs, and the refspec to follow (the rebase's, else the merge deployment's origin). */
async function whatToFollow(root: string, opts: UpdateOptions): Promise<Followed> {
  const st = await loadSysroot(root, opts.env);
  const repo = await openSysrootRepo(st.root);
  const osname = pickStateroot(st, opts.osname);
  const merge = mergeDeployment(st, osname);
  if (!merge) throw new OstreeTsError(Codes.NOT_FOUND, `No deployment of stateroot '${osname}' to update. Deploy one first.`, { osname });
  const current = st.booted && st.booted.osname === osname ? st.booted : merge;
  let refspec = opts.rebase;
  if (!refspec) {
    const unconfigured = merge.origin?.get('origin', 'unconfigured-state');
    if (unconfigured) throw new OstreeTsError(Codes.USAGE, `${unconfigured} (the deployment's origin says so). Rebase onto a ref with 'atomic rebase REMOTE:REF'.`, { osname });
    refspec = merge.origin?.get('origin', 'refspec');
    if (!refspec) throw new OstreeTsError(Codes.USAGE, `The deployment ${merge.csum}.${merge.deployserial} has no origin refspec, so there is nothing to follow. Rebase onto one with 'atomic rebase REMOTE:REF'.`, { deployment: `${merge.csum}.${merge.deployserial}` });
  }
  const { remote, ref } = parseRefspec(refspec);
  return { st, repo, osname, merge, current, refspec, remote, ref };
}

/** Phase 1: the commit to deploy, and the remote's verdict on its signatures (a refusal is kept for the `signature` check). */
async function resolveTarget(f: Followed, opts: UpdateOptions): Promise<PreflightContext> {
  // A revision lets an older commit through unless it is an override that must pass the downgrade check.
  const base = { ...f, allowDowngrade: opts.allowDowngrade === true, revision: opts.revisionChecksDowngrade ? undefined : opts.revision };
  if (!f.remote || opts.deployOnly) {
    // --deploy-only: what the followed ref holds here, its signatures checked against the remote's keys offline.
    const local = f.remote ? `${f.remote}:${f.ref}` : f.ref;
    const tip = await resolveRev(f.repo, local);
    if (!tip) throw new OstreeTsError(Codes.REF_NOT_FOUND, `No ref ${local} in ${f.repo.path}.${f.remote ? ' Pull it first (--pull-only).' : ''}`, { ref: local });
    const checksum = opts.revision ? await findRevision(f.repo, f.remote, f.ref, tip, opts.revision) : tip;
    const commit = await f.repo.loadCommit(checksum);
    if (!f.remote) return { ...base, target: { checksum, commit }, verification: { verified: null, refusal: null } };
    const { remotePolicy, verifyCommit } = await import('../sign/policy.js');
    try {
      return { ...base, target: { checksum, commit }, verification: { verified: await verifyCommit(f.repo, checksum, await remotePolicy(f.repo, f.remote)), refusal: null } };
    } catch (e) {
      if (isCodedError(e) && e.code === Codes.SIGNATURE) return { ...base, target: null, verification: { verified: null, refusal: e } };
      throw e;
    }
  }
  try {
    const r = await resolveCommit(f.repo, f.remote, f.ref, { revision: opts.revision });
    return { ...base, target: { checksum: r.checksum, commit: r.commit }, verification: { verified: r.verified, refusal: null } };
  } catch (e) {
    if (isCodedError(e) && e.code === Codes.SIGNATURE) return { ...base, target: null, verification: { verified: null, refusal: e } };
    throw e;
  }
}

/** Already deployed: what runs (unless rebasing or naming a revision), or the default when it is the merge deployment. */
function isDeployed(ctx: PreflightContext, { checksum: target }: PreflightTarget, opts: UpdateOptions): boolean {
  return (target === ctx.current.csum && !opts.rebase && !opts.revision)
    || (target === ctx.merge.csum && ctx.st.deployments[0]?.csum === target && !opts.rebase);
}

/** The followed ref catches up if an interrupted upgrade switched but did not move it. */
async function catchUpRef(ctx: PreflightContext, { checksum: target }: PreflightTarget, opts: UpdateOptions): Promise<void> {
  const { repo, refspec } = ctx;
  if (!ctx.remote || opts.revision || opts.check) return;
  if ((await readRef(repo, refspec)) === target) return;
  if ((await repo.hasObject(target, 'commit')) && !(await repo.isCommitPartial(target))) await writeRef(repo, refspec, target);
}

/** --check: what the pull would fetch. */
async function downloadSize(ctx: PreflightContext, target: PreflightTarget): Promise<UpdateResult['download']> {
  if (!ctx.remote) return { objects: 0, bytes: 0 };
  const dry = await pull(ctx.repo, ctx.remote, [ctx.ref], { dryRun: true, overrideCommits: { [ctx.ref]: target.checksum } });
  return { objects: dry.needed.objects, bytes: dry.needed.bytes };
}

/** Phase 4: fetch the commit's objects; no ref moves yet. */
async function fetchTarget(ctx: PreflightContext, target: PreflightTarget, emit: (e: UpdateEvent) => void): Promise<void> {
  if (!ctx.remote) return;
  await pull(ctx.repo, ctx.remote, [ctx.ref], {
    noRefs: true, overrideCommits: { [ctx.ref]: target.checksum }, onProgress: (event) => emit({ type: 'pull', event }),
  });
}

/** The origin a new deployment carries: the merge deployment's, without its per-deployment state. */
function inheritOrigin(merge: Deployment, refspec: string, rebased: boolean): KeyFile {
  const o = KeyFile.parse(merge.origin?.render() ?? '', 'origin');
  o.remove('libostree-transient');
  if (rebased || !o.get('origin', 'refspec')) o.set('origin', 'refspec', refspec);
  o.remove('origin', 'override-commit');
  return o;
}

/** Phase 7: deploy beside what runs and switch; the followed ref moves once the switch is made; then clean up. Returns CHECKSUM.SERIAL. */
async function deployTarget(ctx: PreflightContext, { checksum: target }: PreflightTarget, opts: UpdateOptions, conf: AtomicConfig, onEvent: (e: DeployEvent) => void): Promise<string> {
  const { st, repo, osname, merge, refspec } = ctx;
  const origin = inheritOrigin(merge, refspec, opts.rebase !== undefined);
  if (opts.revision) origin.set('origin', 'override-commit', target);
  const { deployment, etc } = await prepareDeployment(st, repo, target, {
    osname, revision: refspec, origin, karg: opts.karg, kargAppend: opts.kargAppend, kargDelete: opts.kargDelete, onEvent,
  }, merge);
  const list = newDeploymentList(st, osname, deployment, merge, {});
  const boot = bootBackend(conf, opts.faults);
  // Its entry is written counted, in the same switch that makes it the default (grub counts in grubenv instead).
  if (conf.tries > 0 && boot.kind !== 'grub') deployment.bootCounter = { left: conf.tries, done: 0 };
  const written = await withArmedProbation(st.root, st.env, deployment, conf, opts.faults, () => finishWrite(st, repo, list, { deployment, merge, etc }, { noClean: true, boot, onEvent }));
  // On probation from its first boot: the bootloader counts its tries, the health checks bless it.
  await startNewDefaultProbation(st.root, st.env, deployment, conf, opts.faults);
  if (ctx.remote && !opts.revision && (await readRef(repo, refspec)) !== target) await writeRef(repo, refspec, target);
  const after: SysrootState = { ...st, bootversion: written.write.bootversion as 0 | 1, subbootversion: written.write.subbootversion as 0 | 1, deployments: list };
  onEvent({ type: 'cleanup', result: await cleanupSysroot(after, repo, { prune: opts.noPrune ? false : 'auto' }) });
  await forgetGone(st.root, list);
  return `${deployment.csum}.${deployment.deployserial}`;
}
