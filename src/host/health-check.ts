/**
 * `atomic health-check`: assess the booted deployment. Its checks run (see
 * checks.ts); then, holding the sysroot lock:
 *
 * - all required passed: the attempt is recorded and the deployment blessed
 *   (its boot counter removed, or grubenv `boot_success=1`; state good);
 *   `green.d` runs;
 * - one could not tell (inconclusive): the attempt is recorded, the try it
 *   used is given back, and nothing else happens (no reboot);
 * - one failed: the attempt is recorded with the check's name and output.
 *   On probation with tries left, it stays untested; with none left, it is
 *   marked failed. `red.d` runs, then the machine reboots, so the
 *   bootloader tries again or falls back (boot-reconcile finishes a
 *   fallback on the next boot). A deployment not on probation is not
 *   rebooted away from: there is nothing to fall back to automatically.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { lookup } from '../format/gvariant.js';
import type { HostEnv } from '../io/host-env.js';
import { runProcess, inheritedEnv } from '../io/process.js';
import {
  deploymentKey, emptyAssessment, updateAssessment, type AssessmentRecord, type DeploymentAssessment,
} from '../sysroot/assessment.js';
import { adoptEspCounters, blessDeployment, giveBackTry, markDeploymentFailed, readTriesLeft, type BootBackend } from '../sysroot/bootloader/index.js';
import type { SysrootFaults } from '../sysroot/faults.js';
import { deploymentName, deploymentPath, loadSysroot, openSysrootRepo, requireSysroot, sameDeployment, type Deployment, type SysrootState } from '../sysroot/state.js';
import { readAtomicConfig, type AtomicConfig } from './atomic-conf.js';
import { bootBackend } from './boot-backend.js';
import {
  failureReason, findScripts, runHealthChecks, runScripts, type CheckRun, type RunScriptsOptions, type Verdict,
} from './checks.js';
import { underLock, type HostVerbOptions } from './common.js';

export interface HealthCheckOptions extends HostVerbOptions {
  /** Reboot the machine; default: run the configured reboot command. */
  reboot?: (command: string[]) => Promise<void>;
  /** Each check's result as it comes. */
  onCheck?: (r: CheckRun) => void;
  /** Where the boot writes stop (tests). */
  faults?: SysrootFaults;
}

export type HealthAction =
  /** Blessed: it is good now. */
  | 'blessed'
  /** Good already; the checks were recorded. */
  | 'recorded'
  /** Inconclusive: the try was given back, nothing else changed. */
  | 'retry-later'
  /** Failed with tries left: the bootloader tries it again after the reboot. */
  | 'try-again'
  /** Failed with no try left: marked failed; the bootloader falls back after the reboot. */
  | 'failed'
  /** Failed, not on probation: recorded, no reboot. */
  | 'unhealthy';

export interface HealthCheckResult {
  apiVersion: 'ostree-ts/v1';
  kind: 'HealthCheckResult';
  /** CHECKSUM.SERIAL of the booted deployment. */
  deployment: string;
  stateroot: string;
  version: string | null;
  /** Its state before the checks ran ('unknown': no record of it). */
  stateBefore: DeploymentAssessment['state'] | 'unknown';
  state: DeploymentAssessment['state'] | 'unknown';
  verdict: Verdict;
  action: HealthAction;
  reason: string | null;
  /** Boot attempts left for it, when it is counted. */
  triesLeft: number | null;
  checks: CheckRun[];
  /** What ran after the verdict (green.d or red.d). */
  scripts: CheckRun[];
  /** A reboot was asked for (and, unless simulated, made). */
  reboot: boolean;
}

/** ISO 8601 UTC, seconds. */
export function isoTime(env: Pick<HostEnv, 'now'>): string {
  return new Date(env.now()).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** What the scripts of a deployment get: where they are, and which deployment and sysroot they judge. */
export function checkEnvironment(st: Pick<SysrootState, 'root'>, d: Deployment): Record<string, string> {
  return {
    ATOMIC_SYSROOT: st.root,
    ATOMIC_DEPLOYMENT: deploymentPath(st.root, d),
    ATOMIC_DEPLOYMENT_ID: deploymentName(d),
    ATOMIC_STATEROOT: d.osname,
  };
}

export function scriptOptions(st: Pick<SysrootState, 'root'>, d: Deployment, conf: AtomicConfig): RunScriptsOptions {
  return {
    deployRoot: deploymentPath(st.root, d), env: checkEnvironment(st, d), timeout: conf.checkTimeout, timeouts: conf.checkTimeouts,
    inconclusiveCode: conf.inconclusiveCode, maxOutput: conf.maxOutput,
  };
}

/** Tries left of a deployment as its boot entry (or grubenv) counts them; null when it is not counted. */
export async function triesLeftOf(st: SysrootState, d: Deployment, backend: BootBackend): Promise<number | null> {
  return (await readTriesLeft(st, backend)).get(deploymentKey(d)) ?? null;
}

async function commitVersionOf(st: SysrootState, d: Deployment): Promise<string | null> {
  try {
    const repo = await openSysrootRepo(st.root);
    const c = await repo.loadCommit(d.csum);
    return (lookup(c.metadata, 'version', 's') as string | undefined) ?? null;
  } catch {
    return null;
  }
}

/** The configured reboot command, run for real. */
async function runReboot(command: string[]): Promise<void> {
  const r = await runProcess(command[0], command.slice(1), { env: inheritedEnv(), timeoutMs: 120_000 });
  if (r.spawnError || r.code !== 0) {
    throw new OstreeTsError(Codes.IO, `The reboot command '${command.join(' ')}' failed (${r.spawnError?.message ?? `status ${r.code}`}: ${r.output.toString('utf8').trim()}). Reboot by hand so the bootloader can try again or fall back, or set [health-check] reboot-command in atomic.conf.`, { command });
  }
}

/** Add this boot's checks to the record; a deployment it does not know yet enters it as `fresh`. */
function recordAttempt(r: AssessmentRecord, key: string, at: string, verdict: Verdict, checks: CheckRun[], fresh: DeploymentAssessment['state']): DeploymentAssessment {
  const a: DeploymentAssessment = r.deployments[key] ?? { state: fresh, tries: 0, since: at };
  a.checks = checks;
  a.attempts = [...(a.attempts ?? []), { at, verdict, checks }].slice(-10);
  r.deployments[key] = a;
  return a;
}

export async function healthCheck(opts: HealthCheckOptions): Promise<HealthCheckResult> {
  const root = await requireSysroot(opts.sysroot);
  const repo = await openSysrootRepo(root);
  const conf = await readAtomicConfig(root, repo.config);
  const st = await loadSysroot(root, opts.env);
  const booted = st.booted;
  if (!booted) {
    throw new OstreeTsError(Codes.NOT_FOUND, `This machine was not booted from a deployment of ${root}, so there is nothing to assess. Run the health check on the booted host (or 'atomic simulate-boot' to boot one as a test).`, { sysroot: root });
  }
  const so = scriptOptions(st, booted, conf);
  // Every script is checked before any runs: one that cannot run changes nothing.
  const green = await findScripts(so.deployRoot, 'green.d');
  const red = await findScripts(so.deployRoot, 'red.d');
  const key = deploymentKey(booted);
  const before = (st.assessment ?? emptyAssessment()).deployments[key];
  const suite = await runHealthChecks(so, opts.onCheck);
  const reason = failureReason(suite.checks);
  const at = isoTime(opts.env);
  const backend = bootBackend(conf, opts.faults);

  let action = 'recorded' as HealthAction;
  let triesLeft: number | null = null;
  let state: HealthCheckResult['state'] = before?.state ?? 'unknown';
  await underLock({ ...opts, lockWait: opts.lockWait ?? true }, 'atomic health-check', async () => {
    await adoptEspCounters(await loadSysroot(root, opts.env), backend);
    const now = await loadSysroot(root, opts.env);
    const d = now.deployments.find((x) => sameDeployment(x, booted)) ?? booted;
    triesLeft = await triesLeftOf(now, d, backend);
    const entry = (now.assessment ?? emptyAssessment()).deployments[key];
    const probation = entry?.state === 'untested' || triesLeft !== null;
    if (suite.verdict === 'pass') {
      await updateAssessment(root, (r) => {
        recordAttempt(r, key, at, 'pass', suite.checks, 'good');
      });
      if (entry?.state !== 'good' || triesLeft !== null) {
        await blessDeployment(root, opts.env, d, backend);
        action = 'blessed';
        triesLeft = null;
      }
      state = 'good';
    } else if (suite.verdict === 'inconclusive') {
      // A deployment the record does not know stays unknown: nothing is decided.
      if (entry) {
        await updateAssessment(root, (r) => {
          recordAttempt(r, key, at, 'inconclusive', suite.checks, 'untested');
        });
      }
      if (probation) {
        await giveBackTry(root, opts.env, d, backend);
        triesLeft = triesLeft !== null ? triesLeft + 1 : null;
      }
      action = 'retry-later';
      state = entry?.state ?? 'unknown';
    } else if (probation && entry?.state !== 'good') {
      await updateAssessment(root, (r) => {
        recordAttempt(r, key, at, 'fail', suite.checks, 'untested');
      });
      if (triesLeft !== null && triesLeft > 0) {
        action = 'try-again';
        state = 'untested';
      } else {
        await markDeploymentFailed(root, opts.env, d, reason ?? 'its required checks failed', backend);
        action = 'failed';
        state = 'failed';
      }
    } else {
      await updateAssessment(root, (r) => {
        const a = recordAttempt(r, key, at, 'fail', suite.checks, 'failed');
        a.reason = reason ?? 'its required checks failed';
      });
      action = 'unhealthy';
      state = entry?.state ?? 'failed';
    }
  });

  const after = suite.verdict === 'pass' ? green : suite.verdict === 'fail' ? red : [];
  const scripts = await runScripts(after, 'wanted', so, opts.onCheck);
  const reboot = action === 'try-again' || action === 'failed';
  if (reboot) await (opts.reboot ?? runReboot)(conf.rebootCommand);
  return {
    apiVersion: 'ostree-ts/v1', kind: 'HealthCheckResult', deployment: deploymentName(booted), stateroot: booted.osname,
    version: await commitVersionOf(st, booted), stateBefore: before?.state ?? 'unknown', state, verdict: suite.verdict, action,
    reason: suite.verdict === 'fail' ? reason : null, triesLeft, checks: suite.checks, scripts, reboot,
  };
}
