/**
 * Rollback: make the rollback deployment the default. Booted, that is the
 * one after the booted deployment in its stateroot — or, when the booted
 * one is not the default (an update is pending), the booted one itself.
 * Not booted, the one after the default. Only the boot order changes.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { writeList, type DeployEvent } from '../sysroot/deploy.js';
import { deploymentName, loadSysroot, openSysrootRepo, sameDeployment, type Deployment, type SysrootState } from '../sysroot/state.js';
import { readAtomicConfig } from './atomic-conf.js';
import { bootBackend } from './boot-backend.js';
import { underLock, type HostVerbOptions } from './common.js';
import { checkBootFiles, forgetGone, startNewDefaultProbation, withArmedProbation } from './probation.js';

export interface RollbackOptions extends HostVerbOptions {
  onEvent?: (e: DeployEvent) => void;
}

export interface RollbackResult {
  apiVersion: 'ostree-ts/v1';
  kind: 'RollbackResult';
  /** The default before (CHECKSUM.SERIAL). */
  from: string;
  /** The default now. */
  to: string;
}

/** The deployment a rollback makes the default. */
export function rollbackTarget(st: SysrootState): Deployment {
  const list = st.deployments;
  if (!list.length) throw new OstreeTsError(Codes.NOT_FOUND, `No deployments in ${st.root}: nothing to roll back to.`, { sysroot: st.root });
  if (st.booted && !sameDeployment(list[0], st.booted)) return st.booted;
  const anchor = st.booted ?? list[0];
  const same = list.filter((d) => d.osname === anchor.osname);
  const next = same[same.findIndex((d) => sameDeployment(d, anchor)) + 1];
  if (!next) throw new OstreeTsError(Codes.NOT_FOUND, 'There is no rollback deployment (only one deployment of this stateroot).', { osname: anchor.osname });
  return next;
}

export async function rollback(opts: RollbackOptions): Promise<RollbackResult> {
  return underLock(opts, 'atomic rollback', async (root) => {
    let from = '';
    let to = '';
    const conf = await readAtomicConfig(root, (await openSysrootRepo(root)).config);
    const boot = bootBackend(conf, opts.faults);
    const before = await loadSysroot(root, opts.env);
    await checkBootFiles(before, conf);
    const planned = rollbackTarget(before);
    const switchTo = () => writeList(root, opts.env, (st) => {
      const found = rollbackTarget(st);
      from = deploymentName(st.deployments[0]);
      to = deploymentName(found);
      // Its entry is written counted in the switch itself (grub counts in grubenv instead).
      const counted = conf.tries > 0 && boot.kind !== 'grub' && !sameDeployment(found, st.booted);
      const target = counted ? { ...found, bootCounter: { left: conf.tries, done: 0 } } : found;
      return [target, ...st.deployments.filter((d) => !sameDeployment(d, target))];
    }, { onEvent: opts.onEvent, boot });
    // We hold the lock: the target is the planned one, armed before the switch unless it is the one running.
    const written = sameDeployment(planned, before.booted) ? await switchTo() : await withArmedProbation(root, opts.env, planned, conf, opts.faults, switchTo);
    // The new default is on probation too, unless it is the one running (it booted, so it is what the health checks judged).
    const target = written.deployments[0];
    if (!sameDeployment(target, written.state.booted)) await startNewDefaultProbation(root, opts.env, target, conf, opts.faults);
    await forgetGone(root, written.deployments);
    return { apiVersion: 'ostree-ts/v1', kind: 'RollbackResult', from, to };
  });
}
