/** What the `ostree-ts admin` verbs share: the sysroot option, deployment indexes, progress lines. */
import { Codes, OstreeTsError } from '../../errors/index.js';
import { path } from '../../io/fs.js';
import { formatSize } from '../../format/byte-size.js';
import type { UpdateEvent } from '../../host/upgrade.js';
import type { DeployEvent } from '../../sysroot/deploy.js';
import type { GlobalArgs } from '../common.js';
import { ADMIN_OPTIONS, LOCK_WAIT_OPTION, type Parsed } from '../options.js';
import { defineVerb } from '../shell.js';

// In options.ts, so that the command table does not load this module.
export { ADMIN_OPTIONS } from '../options.js';

export type AdminArgs = GlobalArgs & Parsed<typeof ADMIN_OPTIONS>;

/** Define an `ostree-ts admin` verb. */
export const adminVerb = defineVerb<AdminArgs>();

/** The option the verbs that change the sysroot take. */
export const LOCKING = { 'lock-wait': LOCK_WAIT_OPTION };

export function sysrootOf(o: { sysroot?: string }): string {
  return path.resolve(o.sysroot ?? '/');
}

/** A deployment INDEX argument. */
export function deploymentIndex(s: string | undefined, what: string): number {
  if (s === undefined || !/^\d+$/.test(s)) throw new OstreeTsError(Codes.USAGE, `${what} needs a deployment INDEX (0 is the default; see 'ostree-ts admin status').`, { value: s ?? null });
  return Number(s);
}

/** Progress on stdout, in the words and order `ostree admin` prints them (scripts read them). */
export function deployProgress(e: DeployEvent, out: NodeJS.WritableStream = process.stdout): void {
  if (e.type === 'relabel') out.write("Relabeling /var (no stamp file 'var/.ostree-selabeled' found)\n");
  else if (e.type === 'etc') out.write(`Copying /etc changes: ${e.modified} modified, ${e.removed} removed, ${e.added} added\n`);
  else if (e.type === 'bootconfig') {
    out.write(`${e.swap ? 'Bootloader updated' : 'Transaction complete'}; bootconfig swap: ${e.swap ? 'yes' : 'no'}; bootversion: boot.${e.bootversion}.${e.subbootversion}, deployment count change: ${e.deployments - e.previous}\n`);
  } else if (e.type === 'cleanup' && e.result.prune && e.result.prune.bytesFreed > 0) out.write(`Freed objects: ${formatSize(e.result.prune.bytesFreed)}\n`);
}

/** The same lines on stderr, for verbs whose stdout ostree keeps for their result (undeploy). */
export function deployProgressOnStderr(e: DeployEvent): void {
  deployProgress(e, process.stderr);
}

export function updateProgress(e: UpdateEvent): void {
  if (e.type === 'deploy') deployProgress(e.event);
  else if (e.type === 'check') process.stderr.write(`Preflight ${e.result.check}: ${e.result.ok ? 'ok' : 'FAILED'} (${e.result.detail})\n`);
}

/** The updater (and the transport it pulls with) is loaded only by the verbs that use it. */
export const updater = (): Promise<typeof import('../../host/index.js')> => import('../../host/index.js');

/** What needs the running system's deployment, on a sysroot this machine did not boot: ostree's words (exit 1). */
export function notBooted(what?: string): OstreeTsError {
  return new OstreeTsError(Codes.NOT_FOUND, `${what ? `${what}: ` : ''}Not currently booted into an OSTree system`, { booted: false });
}

/** --stage: libostree finalizes a staged deployment at shutdown (ostree-finalize-staged.service); not done here. */
export function notBootedForStage(booted = false): OstreeTsError {
  if (!booted) return notBooted('Cannot stage deployment');
  return new OstreeTsError(Codes.USAGE, 'Staged deployments (finalized at shutdown by ostree-finalize-staged.service) are not supported by ostree-ts: run it without --stage, and the deployment is written and made the default at once, in one atomic switch.', { stage: true });
}
