/**
 * `atomic bless good|bad|indeterminate|status`: systemd-bless-boot's verbs
 * for the booted deployment, on the same boot files and record as the
 * health checks.
 *
 * - `status` (the default) says what this boot's counting stands at, with
 *   systemd-bless-boot's words: `clean` (not counted), `indeterminate`
 *   (counted, tries left, not judged yet), `dirty` (counted, no tries left,
 *   not judged), `good` or `bad`.
 * - `good` blesses it (counter removed, or grubenv `boot_success=1`; record
 *   good), as a passed health check does.
 * - `bad` marks it failed (`+0-DONE`; with GRUB, the counter spent): the
 *   bootloader boots another entry next, and the reconcile there
 *   quarantines its commit.
 * - `indeterminate` undoes either: the entry gets back the counted name
 *   the bootloader gave it at this boot (EFI variable
 *   `LoaderBootCountPath`) and the record says untested. Refused when that
 *   name has no tries left, or is not known.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { LOADER_VENDOR_GUID, loaderEntryFileName, parseEfiStringVariable } from '../format/efivar.js';
import type { HostEnv } from '../io/host-env.js';
import { deploymentKey, emptyAssessment } from '../sysroot/assessment.js';
import { adoptEspCounters, blessDeployment, markDeploymentFailed, markIndeterminate, readTriesLeft, type BootBackend } from '../sysroot/bootloader/index.js';
import type { SysrootFaults } from '../sysroot/faults.js';
import { deploymentName, loadSysroot, openSysrootRepo, requireSysroot, sameDeployment, type Deployment, type SysrootState } from '../sysroot/state.js';
import { readAtomicConfig } from './atomic-conf.js';
import { bootBackend } from './boot-backend.js';
import { underLock, type HostVerbOptions } from './common.js';

export const BLESS_VERBS = ['good', 'bad', 'indeterminate', 'status'] as const;
export type BlessVerb = (typeof BLESS_VERBS)[number];
export type BlessStatus = 'clean' | 'dirty' | 'indeterminate' | 'good' | 'bad';

export interface BlessOptions extends HostVerbOptions {
  faults?: SysrootFaults;
}

export interface BlessResult {
  apiVersion: 'ostree-ts/v1';
  kind: 'BlessResult';
  /** CHECKSUM.SERIAL of the booted deployment. */
  deployment: string;
  stateroot: string;
  /** Its boot entry's file name now (null with GRUB's counting: the names carry no counter). */
  entry: string | null;
  /** The counted name the bootloader gave the entry at this boot (`LoaderBootCountPath`), when the firmware says. */
  bootCountEntry: string | null;
  /** Before the verb, and after it. */
  statusBefore: BlessStatus;
  status: BlessStatus;
  /** Tries left now; null when not counted. */
  triesLeft: number | null;
  changed: boolean;
}

/** The entry name systemd-boot says it booted with this boot's counter (`LoaderBootCountPath`); null when it says nothing. */
export async function bootCountEntry(env: HostEnv): Promise<string | null> {
  const raw = env.efiVariable ? await env.efiVariable(`LoaderBootCountPath-${LOADER_VENDOR_GUID}`) : null;
  const value = raw ? parseEfiStringVariable(raw) : null;
  return value ? loaderEntryFileName(value) : null;
}

/** systemd-bless-boot's word for where the counting of `d` stands. */
export async function blessStatus(st: SysrootState, d: Deployment, backend: BootBackend, countEntry: string | null): Promise<{ status: BlessStatus; triesLeft: number | null }> {
  const a = (st.assessment ?? emptyAssessment()).deployments[deploymentKey(d)];
  const triesLeft = (await readTriesLeft(st, backend)).get(deploymentKey(d)) ?? null;
  const counted = countEntry !== null || triesLeft !== null || (a !== undefined && a.tries > 0);
  if (!counted) return { status: a?.state === 'failed' ? 'bad' : 'clean', triesLeft };
  if (a?.state === 'failed') return { status: 'bad', triesLeft };
  if (triesLeft === null) return { status: a?.state === 'untested' ? 'indeterminate' : 'good', triesLeft };
  if (a?.state === 'good' && backend.kind !== 'grub') return { status: 'good', triesLeft };
  return { status: triesLeft > 0 ? 'indeterminate' : 'dirty', triesLeft };
}

export async function bless(verb: BlessVerb, opts: BlessOptions): Promise<BlessResult> {
  if (!(BLESS_VERBS as readonly string[]).includes(verb)) {
    throw new OstreeTsError(Codes.USAGE, `Unknown bless verb '${verb}': use one of ${BLESS_VERBS.join(', ')}.`, { verb });
  }
  const root = await requireSysroot(opts.sysroot);
  const conf = await readAtomicConfig(root, (await openSysrootRepo(root)).config);
  const backend = bootBackend(conf, opts.faults);
  const countEntry = await bootCountEntry(opts.env);
  const assess = async (): Promise<{ st: SysrootState; d: Deployment }> => {
    const st = await loadSysroot(root, opts.env);
    const booted = st.booted;
    if (!booted) {
      throw new OstreeTsError(Codes.NOT_FOUND, `This machine was not booted from a deployment of ${root}, so there is no boot to bless. Run it on the booted host (or 'atomic simulate-boot' to boot one as a test).`, { sysroot: root });
    }
    return { st, d: st.deployments.find((x) => sameDeployment(x, booted)) ?? booted };
  };
  const result = (st: SysrootState, d: Deployment, before: BlessStatus, after: { status: BlessStatus; triesLeft: number | null }, changed: boolean): BlessResult => ({
    apiVersion: 'ostree-ts/v1', kind: 'BlessResult', deployment: deploymentName(d), stateroot: d.osname,
    entry: backend.kind === 'grub' ? null : d.entryFile ?? null, bootCountEntry: countEntry, statusBefore: before, status: after.status, triesLeft: after.triesLeft, changed,
  });
  if (verb === 'status') {
    const { st, d } = await assess();
    const s = await blessStatus(st, d, backend, countEntry);
    return result(st, d, s.status, s, false);
  }
  return underLock(opts, `atomic bless ${verb}`, async () => {
    // The firmware's renames on the ESP come first (systemd-boot), as at every boot write.
    await adoptEspCounters((await assess()).st, backend);
    const { st, d } = await assess();
    const before = await blessStatus(st, d, backend, countEntry);
    const want: BlessStatus = verb === 'good' ? 'good' : verb === 'bad' ? 'bad' : 'indeterminate';
    if (before.status === want) return result(st, d, before.status, before, false);
    if (verb === 'good') await blessDeployment(root, opts.env, d, backend);
    else if (verb === 'bad') await markDeploymentFailed(root, opts.env, d, "marked bad by hand ('atomic bless bad')", backend);
    else {
      if (!countEntry) {
        throw new OstreeTsError(Codes.NOT_FOUND, `The bootloader did not say which counted name it gave ${deploymentName(d)}'s entry at this boot (no EFI variable LoaderBootCountPath), so there is nothing to go back to. Nothing was changed; bless it good or bad instead.`, { deployment: deploymentName(d) });
      }
      await markIndeterminate(root, opts.env, d, countEntry, backend);
    }
    const { st: now, d: after } = await assess();
    return result(now, after, before.status, await blessStatus(now, after, backend, countEntry), true);
  });
}
