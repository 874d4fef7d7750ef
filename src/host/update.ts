/**
 * The updater: upgrade, rebase and deploy (pull a verified commit, check
 * it, deploy it beside the running one, switch the boot default in one
 * step), rollback, pin and kernel arguments — all under the sysroot lock.
 *
 * Preflight runs before any change, and each check that fails is named:
 * `signature` (the remote's policy), `downgrade` (older than what runs),
 * `repo-space` (what the pull needs against what the repository's
 * filesystem has), `boot-space` (a new kernel against /boot), `etc-merge`
 * (a dry run of the /etc merge). A failed check leaves the deployments,
 * the boot configuration and every ref as they were.
 */
import { Codes, OstreeTsError, isCodedError } from '../errors/index.js';
import { KeyFile, Kargs, commitObjectSizes, lookup, type Commit } from '../format/index.js';
import { freeSpace, fsp, path } from '../io/index.js';
import { diffRevs, readRef, resolveRev, writeRef, type Repo, type TreeDiff } from '../repo/index.js';
import {
  checkEtcMerge, cleanupSysroot, commitReader, deploymentPath, diffEtc, findKernel, finishWrite, kernelSize,
  loadSysroot, mergeDeployment, newDeploymentList, openSysrootRepo, prepareDeployment, sameDeployment, setPinned, withSysrootLock,
  writeList, type DeployEvent, type Deployment, type SysrootState,
} from '../sysroot/index.js';
import { pull, type PullEvent } from '../transport/index.js';
import { parseRefspec, withoutOstreeArg } from './status.js';

export type CheckName = 'signature' | 'downgrade' | 'repo-space' | 'boot-space' | 'etc-merge';

export interface CheckResult {
  check: CheckName;
  ok: boolean;
  detail: string;
}

export type UpdateEvent =
  | { type: 'resolve'; refspec: string; checksum: string; current: string }
  | { type: 'check'; result: CheckResult }
  | { type: 'pull'; event: PullEvent }
  | { type: 'deploy'; event: DeployEvent };

export interface UpdateOptions {
  /** The sysroot (default /). */
  sysroot: string;
  /** Stateroot; default: the booted one, else the default deployment's. */
  osname?: string;
  /** Rebase: follow this refspec (REMOTE:REF or REF) from now on. */
  rebase?: string;
  /** Deploy this version (commit `version`) or checksum of the followed ref rather than its newest commit. */
  revision?: string;
  /** Only say whether there is an update and how big it is. */
  check?: boolean;
  /** Fetch the update and list the files that change; deploy nothing. */
  preview?: boolean;
  allowDowngrade?: boolean;
  /** Wait for the sysroot lock rather than fail. */
  lockWait?: boolean;
  /** Kernel arguments changes for the new deployment. */
  karg?: string[];
  kargAppend?: string[];
  kargDelete?: string[];
  onEvent?: (e: UpdateEvent) => void;
  /** Injected for tests: free bytes on a filesystem. */
  freeSpace?: (p: string) => Promise<number>;
}

export interface UpdateResult {
  apiVersion: 'ostree-ts/v1';
  kind: 'UpdateResult';
  /** 'updated': a new default; 'no-update': nothing newer; 'available': --check found one; 'previewed'. */
  outcome: 'updated' | 'no-update' | 'available' | 'previewed';
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

/** A refused preflight check: the error names it. */
function refused(r: CheckResult, data: Record<string, unknown> = {}): OstreeTsError {
  return new OstreeTsError(Codes.PREFLIGHT, `Preflight check '${r.check}' failed: ${r.detail} Nothing was changed.`, { check: r.check, ...data });
}

function fmtTime(ts: bigint): string {
  return new Date(Number(ts) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${u[i]}`;
}

function pickStateroot(st: SysrootState, osname?: string): string {
  if (osname) return osname;
  if (st.booted) return st.booted.osname;
  if (st.deployments.length) return st.deployments[0].osname;
  throw new OstreeTsError(Codes.NOT_FOUND, `No deployments in ${st.root}: nothing to update. Deploy one first ('ostree-ts admin deploy --os=NAME REF').`, { sysroot: st.root });
}

/** The origin a new deployment carries: the merge deployment's, without its per-deployment state. */
function inheritOrigin(merge: Deployment, refspec: string, rebased: boolean): KeyFile {
  const o = KeyFile.parse(merge.origin?.render() ?? '', 'origin');
  o.remove('libostree-transient');
  if (rebased || !o.get('origin', 'refspec')) o.set('origin', 'refspec', refspec);
  o.remove('origin', 'override-commit');
  return o;
}

/** Walk the followed ref's history (commit metadata only) for a version or checksum. */
async function findRevision(repo: Repo, remote: string | null, ref: string, tip: string, wanted: string): Promise<string> {
  if (/^[0-9a-f]{64}$/.test(wanted)) return wanted;
  let c: string | null = tip;
  while (c) {
    if (!(await repo.hasObject(c, 'commit'))) break;
    const commit = await repo.loadCommit(c);
    if (lookup(commit.metadata, 'version', 's') === wanted) return c;
    c = commit.parent;
  }
  throw new OstreeTsError(Codes.NOT_FOUND, `No commit with version ${wanted} in the history of ${remote ? `${remote}:` : ''}${ref}. List them with 'ostree-ts log ${remote ? `${remote}:` : ''}${ref}'.`, { version: wanted, ref });
}

export async function update(opts: UpdateOptions): Promise<UpdateResult> {
  const root = path.resolve(opts.sysroot);
  const purpose = opts.rebase ? `atomic rebase ${opts.rebase}` : opts.revision ? `atomic deploy ${opts.revision}` : 'atomic upgrade';
  return withSysrootLock(root, { wait: opts.lockWait, purpose }, () => updateLocked(root, opts));
}

async function updateLocked(root: string, opts: UpdateOptions): Promise<UpdateResult> {
  const emit = (e: UpdateEvent): void => opts.onEvent?.(e);
  const free = opts.freeSpace ?? freeSpace;
  const st = await loadSysroot(root);
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
    if (!refspec) throw new OstreeTsError(Codes.USAGE, `The deployment ${merge.csum}.${merge.deployserial} has no origin refspec, so there is nothing to follow. Rebase onto one with 'atomic rebase REMOTE:REF'.`, {});
  }
  const { remote, ref } = parseRefspec(refspec);
  const checks: CheckResult[] = [];
  const pass = (r: CheckResult): void => {
    checks.push(r);
    emit({ type: 'check', result: r });
    if (!r.ok) throw refused(r, { refspec });
  };
  const result: UpdateResult = {
    apiVersion: 'ostree-ts/v1', kind: 'UpdateResult', outcome: 'no-update', refspec, from: current.csum, to: current.csum,
    version: null, checks, download: null, diff: null, deployment: null,
  };

  // 1. What to deploy, and its signatures: only the commit, checked against the remote's policy.
  let target: string;
  let commit: Commit;
  if (remote) {
    let plan;
    const seen = new Map<string, Commit>();
    const onVerifiedCommit = (c: string, v: Commit): void => void seen.set(c, v);
    try {
      if (opts.revision && !/^[0-9a-f]{64}$/.test(opts.revision)) {
        // A version: the history's commit objects first (kept marked partial), then the one named.
        await pull(repo, remote, [ref], { commitMetadataOnly: true, depth: -1, noRefs: true });
        const tip = (await pull(repo, remote, [ref], { dryRun: true, commitMetadataOnly: true })).refs[0].checksum;
        const found = await findRevision(repo, remote, ref, tip, opts.revision);
        plan = await pull(repo, remote, [ref], { dryRun: true, commitMetadataOnly: true, overrideCommits: { [ref]: found }, onVerifiedCommit });
      } else {
        plan = await pull(repo, remote, [ref], { dryRun: true, commitMetadataOnly: true, overrideCommits: opts.revision ? { [ref]: opts.revision } : undefined, onVerifiedCommit });
      }
    } catch (e) {
      if (isCodedError(e) && e.code === Codes.SIGNATURE) pass({ check: 'signature', ok: false, detail: e.message });
      throw e;
    }
    const r = plan.refs[0];
    target = r.checksum;
    const c = seen.get(target);
    if (!c) throw new OstreeTsError(Codes.OBJECT_MISSING, `The pull of ${refspec} did not produce commit ${target}.`, { checksum: target });
    commit = c;
    pass({ check: 'signature', ok: true, detail: r.verified?.checked.length ? `verified (${r.verified.checked.join(', ')})` : `remote '${remote}' requires no signature` });
  } else {
    const tip = await resolveRev(repo, ref);
    if (!tip) throw new OstreeTsError(Codes.REF_NOT_FOUND, `No ref ${ref} in ${repo.path}.`, { ref });
    target = opts.revision ? await findRevision(repo, null, ref, tip, opts.revision) : tip;
    commit = await repo.loadCommit(target);
    pass({ check: 'signature', ok: true, detail: 'local ref: no remote policy applies' });
  }
  result.to = target;
  result.version = (lookup(commit.metadata, 'version', 's') as string | undefined) ?? null;
  emit({ type: 'resolve', refspec, checksum: target, current: current.csum });
  const upToDate = (target === current.csum && !opts.rebase && !opts.revision)
    || (target === merge.csum && st.deployments[0]?.csum === target && !opts.rebase);
  if (upToDate) {
    // Already deployed. The followed ref catches up if an interrupted upgrade switched but did not move it.
    if (remote && !opts.revision && !opts.check && (await readRef(repo, refspec)) !== target && (await repo.hasObject(target, 'commit')) && !(await repo.isCommitPartial(target))) {
      await writeRef(repo, refspec, target);
    }
    return result;
  }

  // 2. Never older than what runs, unless asked.
  const currentCommit = await repo.loadCommit(current.csum).catch(() => null);
  if (currentCommit && commit.timestamp < currentCommit.timestamp && !opts.allowDowngrade && !opts.revision) {
    pass({ check: 'downgrade', ok: false, detail: `commit ${target} (${fmtTime(commit.timestamp)}) is older than the deployed ${current.csum} (${fmtTime(currentCommit.timestamp)}). Allow a downgrade to deploy it anyway.` });
  }
  pass({ check: 'downgrade', ok: true, detail: currentCommit ? `${fmtTime(commit.timestamp)} is not older than ${fmtTime(currentCommit.timestamp)}` : 'no current commit to compare with' });

  // 3. Room in the repository for what the pull brings (known when the commit lists its objects' sizes).
  let needed: number | null = null;
  const sizes = commitObjectSizes(commit.metadata);
  if (sizes) {
    needed = 0;
    for (const s of sizes.values()) if (!(await repo.hasObject(s.checksum, s.type))) needed += s.unpacked;
  }
  if (opts.check) {
    result.outcome = 'available';
    if (remote) {
      const dry = await pull(repo, remote, [ref], { dryRun: true, overrideCommits: { [ref]: target } });
      result.download = { objects: dry.needed.objects, bytes: dry.needed.bytes };
    } else result.download = { objects: 0, bytes: 0 };
    return result;
  }
  const repoFree = await free(repo.path);
  if (needed !== null && needed > repoFree) {
    pass({ check: 'repo-space', ok: false, detail: `the update needs ${fmtBytes(needed)} in ${repo.path}, and its filesystem has ${fmtBytes(repoFree)} free. Free some space (ostree-ts admin cleanup removes what no deployment uses).` });
  }
  pass({ check: 'repo-space', ok: true, detail: needed === null ? `size not published by the commit; ${fmtBytes(repoFree)} free` : `${fmtBytes(needed)} needed, ${fmtBytes(repoFree)} free` });

  // 4. Fetch (no ref moves yet).
  if (remote) {
    await pull(repo, remote, [ref], { noRefs: true, overrideCommits: { [ref]: target }, onProgress: (event) => emit({ type: 'pull', event }) });
  }
  if (opts.preview) {
    result.outcome = 'previewed';
    result.diff = await diffRevs(repo, current.csum, target);
    return result;
  }

  // 5. The new kernel must fit in /boot (unless it is there already, or hardlinked on the same filesystem).
  const tree = commitReader(repo, target);
  const kernel = await findKernel(tree, `commit ${target}`);
  const bootDir = path.join(st.root, 'boot');
  const have = await fsp.stat(path.join(bootDir, 'ostree', `${osname}-${kernel.bootcsum}`)).then(() => true, () => false);
  let bootNeed = 0;
  if (!have) {
    const [b, r] = await Promise.all([fsp.stat(bootDir), fsp.stat(repo.path)]);
    bootNeed = b.dev === r.dev ? 0 : await kernelSize(tree, kernel);
  }
  const bootFree = await free(bootDir);
  // Entries and links take a few blocks more.
  if (bootNeed + 64 * 1024 > bootFree && bootNeed > 0) {
    pass({ check: 'boot-space', ok: false, detail: `the new kernel and initramfs need ${fmtBytes(bootNeed)} in ${bootDir}, which has ${fmtBytes(bootFree)} free. Remove old deployments (ostree-ts admin undeploy, cleanup) or grow /boot.` });
  }
  pass({ check: 'boot-space', ok: true, detail: have ? 'kernel already installed' : `${fmtBytes(bootNeed)} needed, ${fmtBytes(bootFree)} free` });

  // 6. A dry run of the /etc merge onto the new defaults.
  const mdir = deploymentPath(st.root, merge);
  const plan = await diffEtc(path.join(mdir, 'usr', 'etc'), path.join(mdir, 'etc'));
  const etcBase = (await tree.type('usr/etc')) === 'dir' ? 'usr/etc' : 'etc';
  const conflicts = await checkEtcMerge(plan, path.join(mdir, 'etc'), {
    typeOf: (rel) => tree.type(`${etcBase}/${rel}`),
  });
  if (conflicts.length) {
    pass({ check: 'etc-merge', ok: false, detail: conflicts.map((c) => c.reason.replace(/([^.])$/, '$1.')).join(' ') });
  }
  pass({ check: 'etc-merge', ok: true, detail: `${plan.modified.length} modified, ${plan.removed.length} removed, ${plan.added.length} added` });

  // 7. Deploy beside the running one and switch; the followed ref moves once the switch is made.
  const deployEvent = (event: DeployEvent): void => emit({ type: 'deploy', event });
  const origin = inheritOrigin(merge, refspec, opts.rebase !== undefined);
  if (opts.revision) origin.set('origin', 'override-commit', target);
  const { deployment, etc } = await prepareDeployment(st, repo, target, {
    osname, revision: refspec, origin, karg: opts.karg, kargAppend: opts.kargAppend, kargDelete: opts.kargDelete, onEvent: deployEvent,
  }, merge);
  const list = newDeploymentList(st, osname, deployment, merge, {});
  const written = await finishWrite(st, repo, list, { deployment, merge, etc }, { noClean: true, onEvent: deployEvent });
  if (remote && !opts.revision && (await readRef(repo, refspec)) !== target) await writeRef(repo, refspec, target);
  const after: SysrootState = { ...st, bootversion: written.write.bootversion as 0 | 1, subbootversion: written.write.subbootversion as 0 | 1, deployments: list };
  deployEvent({ type: 'cleanup', result: await cleanupSysroot(after, repo, { prune: 'auto' }) });
  result.outcome = 'updated';
  result.deployment = `${deployment.csum}.${deployment.deployserial}`;
  return result;
}

export interface RollbackResult {
  apiVersion: 'ostree-ts/v1';
  kind: 'RollbackResult';
  from: string;
  to: string;
}

/**
 * Make the rollback deployment the default: the one after the booted one
 * (or, not booted, after the default) in its stateroot. Booted on a pending
 * deployment's predecessor, the booted one becomes the default again.
 */
export async function rollback(opts: { sysroot: string; lockWait?: boolean; onEvent?: (e: DeployEvent) => void }): Promise<RollbackResult> {
  const root = path.resolve(opts.sysroot);
  return withSysrootLock(root, { wait: opts.lockWait, purpose: 'atomic rollback' }, async () => {
    let from = '';
    let to = '';
    await writeList(root, (st) => {
      const list = [...st.deployments];
      if (!list.length) throw new OstreeTsError(Codes.NOT_FOUND, `No deployments in ${root}: nothing to roll back to.`, {});
      const anchor = st.booted ?? list[0];
      const same = list.filter((d) => d.osname === anchor.osname);
      const ai = same.findIndex((d) => sameDeployment(d, anchor));
      let target: Deployment;
      if (st.booted && !sameDeployment(list[0], st.booted)) target = st.booted;
      else if (ai + 1 < same.length) target = same[ai + 1];
      else throw new OstreeTsError(Codes.NOT_FOUND, 'There is no rollback deployment (only one deployment of this stateroot).', {});
      from = `${list[0].csum}.${list[0].deployserial}`;
      to = `${target.csum}.${target.deployserial}`;
      return [target, ...list.filter((d) => !sameDeployment(d, target))];
    }, { onEvent: opts.onEvent });
    return { apiVersion: 'ostree-ts/v1', kind: 'RollbackResult', from, to };
  });
}

/** Pin or unpin the deployment at `index`. */
export async function pin(opts: { sysroot: string; index: number; unpin?: boolean; lockWait?: boolean }): Promise<Deployment> {
  const root = path.resolve(opts.sysroot);
  return withSysrootLock(root, { wait: opts.lockWait, purpose: 'pin' }, async () => {
    const st = await loadSysroot(root);
    const d = st.deployments[opts.index];
    if (!d) throw new OstreeTsError(Codes.NOT_FOUND, `No deployment at index ${opts.index} (there are ${st.deployments.length}). See 'atomic status'.`, { index: opts.index });
    if (d.staged && !opts.unpin) throw new OstreeTsError(Codes.USAGE, 'A staged deployment cannot be pinned.', {});
    await setPinned(root, d, !opts.unpin);
    return d;
  });
}

/**
 * Change the kernel arguments of a deployment (default: the booted one, else
 * the default) in place: its boot entries are written anew and switched atomically.
 */
export async function setKargs(opts: {
  sysroot: string; index?: number; append?: string[]; replace?: string[]; delete?: string[]; set?: string; lockWait?: boolean;
  /** `admin kargs edit-in-place --append-if-missing`: every deployment gets these unless it has the key already. */
  appendIfMissingAll?: string[];
}): Promise<{ before: string; after: string }> {
  const root = path.resolve(opts.sysroot);
  return withSysrootLock(root, { wait: opts.lockWait, purpose: 'kargs' }, async () => {
    let before = '';
    let after = '';
    await writeList(root, (st) => {
      const list = st.deployments.map((d) => ({ ...d }));
      if (opts.appendIfMissingAll) {
        if (!list.length) throw new OstreeTsError(Codes.NOT_FOUND, `No deployments in ${root}.`, {});
        for (const d of list) {
          const k = Kargs.parse(d.kargs);
          for (const a of opts.appendIfMissingAll) if (!k.has(Kargs.keyOf(a))) k.append(a);
          d.kargs = k.toString();
        }
        before = withoutOstreeArg(st.deployments[0].kargs);
        after = withoutOstreeArg(list[0].kargs);
        return list;
      }
      const i = opts.index ?? (st.booted ? list.findIndex((d) => sameDeployment(d, st.booted)) : 0);
      const d = list[i];
      if (!d) throw new OstreeTsError(Codes.NOT_FOUND, `No deployment at index ${i}.`, { index: i });
      before = withoutOstreeArg(d.kargs);
      const k = opts.set !== undefined ? Kargs.parse(opts.set) : Kargs.parse(d.kargs);
      for (const a of opts.replace ?? []) k.replace(a);
      for (const a of opts.append ?? []) k.append(a);
      for (const a of opts.delete ?? []) {
        if (!k.delete(a)) throw new OstreeTsError(Codes.NOT_FOUND, `Kernel argument ${a} is not set, so it cannot be deleted.`, { karg: a });
      }
      d.kargs = k.toString();
      after = withoutOstreeArg(d.kargs);
      return list;
    }, { noClean: true });
    return { before, after };
  });
}

/** `admin cleanup` under the lock. */
export async function cleanup(opts: { sysroot: string; lockWait?: boolean }): ReturnType<typeof cleanupSysroot> {
  const root = path.resolve(opts.sysroot);
  return withSysrootLock(root, { wait: opts.lockWait, purpose: 'cleanup' }, async () => {
    const st = await loadSysroot(root);
    return cleanupSysroot(st, await openSysrootRepo(st.root));
  });
}
