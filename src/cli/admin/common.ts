/** What the `ostree-ts admin` verbs share: the sysroot option, deployment indexes, progress lines. */
import { Codes, OstreeTsError } from '../../errors/index.js';
import { path } from '../../io/fs.js';
import type { UpdateEvent } from '../../host/index.js';
import type { DeployEvent } from '../../sysroot/index.js';
import type { GlobalArgs } from '../common.js';
import { LOCK_WAIT_OPTION, SYSROOT_OPTION, type Parsed } from '../options.js';
import { defineVerb } from '../shell.js';

/** Options of `admin` itself, given before or after the verb (`admin --sysroot=DIR status`). */
export const ADMIN_OPTIONS = { sysroot: SYSROOT_OPTION };

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

/** Progress on stderr, in the words `ostree admin` uses. */
export function deployProgress(e: DeployEvent): void {
  if (e.type === 'etc') process.stderr.write(`Copying /etc changes: ${e.modified} modified, ${e.removed} removed, ${e.added} added\n`);
  else if (e.type === 'bootconfig') process.stderr.write(`Bootloader updated; bootconfig swap: ${e.swap ? 'yes' : 'no'}; bootversion: boot.${e.bootversion}.${e.subbootversion}, deployment count: ${e.deployments}\n`);
}

export function updateProgress(e: UpdateEvent): void {
  if (e.type === 'deploy') deployProgress(e.event);
  else if (e.type === 'check') process.stderr.write(`Preflight ${e.result.check}: ${e.result.ok ? 'ok' : 'FAILED'} (${e.result.detail})\n`);
}

/** The updater (and the transport it pulls with) is loaded only by the verbs that use it. */
export const updater = (): Promise<typeof import('../../host/index.js')> => import('../../host/index.js');
