/**
 * Rollback: make the rollback deployment the default. Booted, that is the
 * one after the booted deployment in its stateroot — or, when the booted
 * one is not the default (an update is pending), the booted one itself.
 * Not booted, the one after the default. Only the boot order changes.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { deploymentName, sameDeployment, writeList, type DeployEvent, type Deployment, type SysrootState } from '../sysroot/index.js';
import { underLock, type HostVerbOptions } from './common.js';

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
    await writeList(root, opts.env, (st) => {
      const target = rollbackTarget(st);
      from = deploymentName(st.deployments[0]);
      to = deploymentName(target);
      return [target, ...st.deployments.filter((d) => !sameDeployment(d, target))];
    }, { onEvent: opts.onEvent });
    return { apiVersion: 'ostree-ts/v1', kind: 'RollbackResult', from, to };
  });
}
