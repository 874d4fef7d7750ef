/**
 * `atomic boot-reconcile`, early at every boot: finish what the bootloader
 * started. When it fell back — the machine runs another deployment than the
 * default, and the default was on probation and was tried (its tries spent,
 * or some of them), or it is marked failed already — the default is marked
 * failed (reason: its last failed check, or that it did not boot), its
 * commit goes into quarantine, and the booted deployment becomes the
 * default again.
 *
 * The writes come in this order, each durable before the next, so a power
 * cut between any two leaves a state the next run finishes: the record
 * (failed, quarantined), the failed default's entry (`+0-DONE`), then the
 * new deployment list with the booted one first. A default that is merely
 * not booted — chosen by hand from the boot menu while good, or an update
 * made since this boot — is left alone.
 */
import { lookup } from '../format/gvariant.js';
import { deploymentKey, emptyAssessment, updateAssessment, type AssessmentRecord, type QuarantineEntry } from '../sysroot/assessment.js';
import { adoptEspCounters, makeDefault, markDeploymentFailed, readTriesLeft } from '../sysroot/bootloader/index.js';
import { faultHit, type SysrootFaults } from '../sysroot/faults.js';
import { deploymentName, loadSysroot, openSysrootRepo, requireSysroot, sameDeployment, type Deployment, type SysrootState } from '../sysroot/state.js';
import { readAtomicConfig } from './atomic-conf.js';
import { bootBackend } from './boot-backend.js';
import { failureReason } from './checks.js';
import { underLock, type HostVerbOptions } from './common.js';
import { isoTime } from './health-check.js';
import { addToQuarantine } from './quarantine.js';
import { parseRefspec } from './status.js';

export interface ReconcileOptions extends HostVerbOptions {
  faults?: SysrootFaults;
}

export interface ReconcileResult {
  apiVersion: 'ostree-ts/v1';
  kind: 'BootReconcileResult';
  /** CHECKSUM.SERIAL of the booted deployment (null: not booted from this sysroot). */
  booted: string | null;
  /** The default before (CHECKSUM.SERIAL). */
  default: string | null;
  /** 'fell-back': the default was marked failed and quarantined, the booted one made the default. */
  action: 'none' | 'fell-back';
  /** Why nothing was done, or why the default failed. */
  reason: string;
  failed: string | null;
  quarantined: QuarantineEntry | null;
}

/** Why the bootloader left `def` (null: it did not), from the record and the tries left. */
export function fallbackReason(record: AssessmentRecord, def: Deployment, triesLeft: number | null): string | null {
  const a = record.deployments[deploymentKey(def)];
  // Counted with no record of it (cut before its probation was recorded): spent tries are a fallback all the same.
  if (!a) return triesLeft !== null && triesLeft <= 0 ? 'did not boot: the bootloader fell back once its tries were spent' : null;
  if (a.state === 'failed') return a.reason ?? 'it was marked failed';
  if (a.state !== 'untested') return null;
  // On probation, not booted: tried and left (a counter that was spent), or not tried at all (an update made since this boot).
  const tried = triesLeft === null || triesLeft < a.tries || (a.attempts?.length ?? 0) > 0;
  if (!tried) return null;
  const lastFail = [...(a.attempts ?? [])].reverse().find((x) => x.verdict === 'fail');
  const checkReason = lastFail?.checks ? failureReason(lastFail.checks) : null;
  if (checkReason) return checkReason;
  return `did not boot: the bootloader fell back after ${a.tries - Math.max(triesLeft ?? 0, 0)} of its ${a.tries} tries, none of which reached its health checks`;
}

async function versionOf(st: SysrootState, csum: string): Promise<string | undefined> {
  try {
    const c = await (await openSysrootRepo(st.root)).loadCommit(csum);
    return (lookup(c.metadata, 'version', 's') as string | undefined) ?? undefined;
  } catch {
    return undefined;
  }
}

export async function bootReconcile(opts: ReconcileOptions): Promise<ReconcileResult> {
  const root = await requireSysroot(opts.sysroot);
  const repo = await openSysrootRepo(root);
  const conf = await readAtomicConfig(root, repo.config);
  const backend = bootBackend(conf, opts.faults);
  return underLock({ ...opts, lockWait: opts.lockWait ?? true }, 'atomic boot-reconcile', async () => {
    await adoptEspCounters(await loadSysroot(root, opts.env), backend);
    const st = await loadSysroot(root, opts.env);
    const booted = st.booted;
    const def = st.deployments[0] ?? null;
    const result: ReconcileResult = {
      apiVersion: 'ostree-ts/v1', kind: 'BootReconcileResult', booted: booted ? deploymentName(booted) : null, default: def ? deploymentName(def) : null,
      action: 'none', reason: '', failed: null, quarantined: null,
    };
    if (!booted || !def) {
      result.reason = `this machine was not booted from a deployment of ${root}`;
      return result;
    }
    if (sameDeployment(def, booted)) {
      result.reason = 'the default deployment booted';
      return result;
    }
    const tries = await readTriesLeft(st, backend);
    const why = fallbackReason(st.assessment ?? emptyAssessment(), def, tries.get(deploymentKey(def)) ?? null);
    if (!why) {
      result.reason = 'the default deployment is not on probation, or was not tried yet: it is left the default';
      return result;
    }
    const refspec = def.origin?.get('origin', 'refspec');
    const entry: QuarantineEntry = {
      commit: def.csum, ...(refspec ? { ref: parseRefspec(refspec).ref } : {}), ...(await versionOf(st, def.csum).then((v) => (v ? { version: v } : {}))),
      reason: why, since: isoTime(opts.env),
    };
    const at = isoTime(opts.env);
    await updateAssessment(root, (r) => {
      const key = deploymentKey(def);
      const a = r.deployments[key] ?? { state: 'failed', tries: 0, since: at };
      if (!(a.attempts ?? []).some((x) => x.verdict === 'fail') && a.state !== 'failed') a.attempts = [...(a.attempts ?? []), { at, verdict: 'did-not-boot' }];
      if (a.state !== 'failed') a.since = at;
      a.state = 'failed';
      a.reason = why;
      r.deployments[key] = a;
      addToQuarantine(r, entry);
    });
    faultHit(backend.faults, 'reconcile');
    await markDeploymentFailed(root, opts.env, def, why, backend);
    faultHit(backend.faults, 'reconcile');
    await makeDefault(root, opts.env, booted, backend);
    faultHit(backend.faults, 'reconcile');
    return { ...result, action: 'fell-back', reason: why, failed: deploymentName(def), quarantined: entry };
  });
}
