/**
 * Probation of a new default: every deployment that `upgrade`, `deploy`,
 * `rebase` or `rollback` makes the default starts untested, with the tries
 * atomic.conf (or the repository's `[sysroot] boot-counting-tries`) gives;
 * 0 turns counting off (it is then recorded good). Record entries of
 * deployments that are gone are dropped at the same time.
 */
import type { HostEnv } from '../io/host-env.js';
import { deploymentKey, readAssessment, updateAssessment } from '../sysroot/assessment.js';
import { armProbation, readTriesLeft, startProbation } from '../sysroot/bootloader/index.js';
import type { SysrootFaults } from '../sysroot/faults.js';
import type { Deployment, SysrootState } from '../sysroot/state.js';
import type { AtomicConfig } from './atomic-conf.js';
import { bootBackend } from './boot-backend.js';

/**
 * Before the switch: the record says `d` is untested and GRUB's counter is
 * armed (see armProbation), so a cut between the switch and the probation
 * still leaves its first boot counted. Run `fn` (the switch); if it fails,
 * the grubenv is put back.
 */
export async function withArmedProbation<T>(root: string, env: HostEnv, d: Deployment, conf: AtomicConfig, faults: SysrootFaults | undefined, fn: () => Promise<T>): Promise<T> {
  const armed = await armProbation(root, env, d, conf.tries, bootBackend(conf, faults));
  try {
    return await fn();
  } catch (e) {
    await armed.undo().catch(() => {});
    throw e;
  }
}

export async function startNewDefaultProbation(root: string, env: HostEnv, d: Deployment, conf: AtomicConfig, faults?: SysrootFaults): Promise<void> {
  await startProbation(root, env, d, conf.tries, bootBackend(conf, faults));
}

/**
 * Read what the probation will write to, before anything changes: a
 * grubenv that is not one (not 1024 bytes, a bad header) or a damaged
 * record refuses the update with the file named, the sysroot untouched.
 */
export async function checkBootFiles(st: SysrootState, conf: AtomicConfig): Promise<void> {
  if (conf.tries > 0) await readTriesLeft(st, bootBackend(conf));
  await readAssessment(st.root);
}

/** Drop the record's entries for deployments not in `list` (removed by cleanup, undeploy or another tool). */
export async function forgetGone(root: string, list: Deployment[]): Promise<void> {
  const keep = new Set(list.map((d) => deploymentKey(d)));
  if (Object.keys((await readAssessment(root)).deployments).every((k) => keep.has(k))) return;
  await updateAssessment(root, (r) => {
    for (const k of Object.keys(r.deployments)) if (!keep.has(k)) delete r.deployments[k];
  });
}
