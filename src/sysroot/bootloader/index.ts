/**
 * Boot back ends and boot assessment: which entry the firmware boots, how
 * many tries a new default has, and how it is blessed or marked failed.
 *
 *  - `bls` (the default): OSTree's `/boot/loader` only. Counters are in the
 *    entry names (`ostree-<idx>-<stateroot>+LEFT-DONE.conf`), as systemd-boot
 *    reads them from an XBOOTLDR `/boot`.
 *  - `systemd-boot`: the same names, and every deployment's kernel,
 *    initramfs and entry copied onto an EFI system partition (FAT: no
 *    symlinks, so no `loader` link swap there; see esp.ts), kept in step
 *    with `/boot/loader`.
 *  - `grub`: the entries carry no counter; greenboot's grubenv variables
 *    `boot_counter` (tries left, -1 once GRUB fell back) and `boot_success`
 *    do the counting.
 *
 * Every write is durable before the next (temporary name, fsync, rename)
 * and passes a fault point (faults.ts). The caller holds the sysroot lock.
 */
import { InternalError } from '../../errors/index.js';
import type { BootCounter } from '../../format/index.js';
import type { HostEnv } from '../../io/index.js';
import type { AssessmentRecord } from '../assessment.js';
import type { SysrootFaults } from '../faults.js';
import type { Deployment, SysrootState } from '../state.js';

export type BootBackendKind = 'bls' | 'grub' | 'systemd-boot';

/** Which back end boots this sysroot, and where its files are. */
export interface BootBackend {
  kind: BootBackendKind;
  /** systemd-boot: the EFI system partition's mount point (absolute; default: ROOT/boot/efi, then ROOT/efi, the first that exists). */
  esp?: string;
  /** grub: the grubenv (default: ROOT/boot/grub2/grubenv, or ROOT/boot/grub/grubenv when only that exists). */
  grubenv?: string;
  /** Where the writes stop (tests). */
  faults?: SysrootFaults;
}

/** The default back end: OSTree's /boot/loader only. */
export const BLS_BACKEND: BootBackend = { kind: 'bls' };

export interface FirmwareBootOptions {
  /**
   * The kernel or initramfs never reaches userspace. The firmware's step is
   * the same (the counter is spent before the kernel runs); the caller then
   * runs no reconcile and no checks.
   */
  failBoot?: boolean;
}

export interface FirmwareBoot {
  /** The entry file chosen, as named when it was chosen (before the firmware renamed it). */
  entry: string;
  /** The deployment that entry boots. */
  deployment: Deployment;
  /** Tries left before this boot (the entry's counter or grubenv boot_counter); null when not counted. */
  triesBefore: number | null;
  /** Tries left after the firmware's decrement; null when not counted. */
  triesAfter: number | null;
  /** The firmware booted another deployment than the default (index 0). */
  fellBack: boolean;
}

/** What the boot files and the record say of one deployment, together. */
export interface BootAssessmentView {
  key: string;
  /** The record's state; 'unknown' when the record has none for it. */
  state: 'untested' | 'good' | 'failed' | 'unknown';
  /** Tries left now: the entry's counter (bls, systemd-boot) or boot_counter (grub, the default only); null when not counted. */
  triesLeft: number | null;
  reason: string | null;
}

/** The back end's files: resolved paths (esp, grubenv) of `backend` for the sysroot at `root`. */
export async function resolveBackend(root: string, backend: BootBackend): Promise<BootBackend> {
  throw notYet('resolveBackend', [root, backend]);
}

/**
 * Start the probation of `d` (the new default) with `tries` tries: its entry
 * renamed to `+tries` (bls, systemd-boot: on /boot/loader and the ESP), or
 * grubenv `boot_counter=tries`, `boot_success=0` (grub); then the record
 * says untested. Other entries keep their names. `tries` 0 records it good
 * and counts nothing (boot counting disabled).
 */
export async function startProbation(root: string, env: HostEnv, d: Deployment, tries: number, backend: BootBackend): Promise<AssessmentRecord> {
  throw notYet('startProbation', [root, env, d, tries, backend]);
}

/** `d` booted and passed its checks: counter removed (`NAME.conf`) or grubenv `boot_success=1`, `boot_counter` unset; the record says good. */
export async function blessDeployment(root: string, env: HostEnv, d: Deployment, backend: BootBackend): Promise<AssessmentRecord> {
  throw notYet('blessDeployment', [root, env, d, backend]);
}

/**
 * `d` failed (`reason`: "did not boot" or a check's output): entry renamed
 * `NAME+0-DONE.conf`, so the firmware sorts it last; with grub the counter
 * is spent (`boot_counter=0`) while `d` is the default, unset otherwise; the
 * record says failed.
 */
export async function markDeploymentFailed(root: string, env: HostEnv, d: Deployment, reason: string, backend: BootBackend): Promise<AssessmentRecord> {
  throw notYet('markDeploymentFailed', [root, env, d, reason, backend]);
}

/**
 * Make `d` the default (first), the others after it in their order, through
 * the usual deployment-list write (counters kept, the ESP in step). With
 * grub, a default that is not on probation leaves boot_counter unset.
 */
export async function makeDefault(root: string, env: HostEnv, d: Deployment, backend?: BootBackend): Promise<SysrootState> {
  throw notYet('makeDefault', [root, env, d, backend]);
}

/**
 * One boot, as the configured firmware does it. systemd-boot (bls and
 * systemd-boot): sort the entries (tries left 0 last, sort-key, version
 * descending, file name descending), take loader.conf's `default` glob or
 * the first, rename a counted entry to its decremented name before booting
 * it. GRUB with greenboot's snippet: `boot_counter` decremented while
 * `boot_success=0`; at 0 (or -1) the second entry boots and
 * `boot_counter=-1`; `boot_success=0` saved.
 */
export async function simulateFirmwareBoot(root: string, backend: BootBackend, opts?: FirmwareBootOptions): Promise<FirmwareBoot> {
  throw notYet('simulateFirmwareBoot', [root, backend, opts]);
}

/** The tries left of every deployment of `st` under `backend`, by deploymentKey. */
export async function readTriesLeft(st: SysrootState, backend: BootBackend): Promise<Map<string, number | null>> {
  throw notYet('readTriesLeft', [st, backend]);
}

/** The record and the boot files side by side, for every deployment of `st`. */
export async function assessDeployments(st: SysrootState, backend: BootBackend): Promise<BootAssessmentView[]> {
  throw notYet('assessDeployments', [st, backend]);
}

/**
 * Where the record and the boot files disagree, each as a sentence saying
 * what to do: a deployment the record calls untested whose entry lost its
 * counter (another tool, such as `ostree admin deploy`, rewrote the
 * entries), an entry counted that the record does not know, a failed one
 * with tries left, record entries for deployments that are gone.
 */
export async function checkAssessment(st: SysrootState, backend: BootBackend): Promise<string[]> {
  throw notYet('checkAssessment', [st, backend]);
}

/**
 * systemd-boot: the firmware renames entries on the ESP only; give
 * /boot/loader the ESP's counters (and the deployments of `st` theirs).
 * Run before any change when the ESP may be ahead (at boot).
 */
export async function adoptEspCounters(st: SysrootState, backend: BootBackend): Promise<void> {
  throw notYet('adoptEspCounters', [st, backend]);
}

/** systemd-boot: copy what /boot/loader boots onto the ESP (esp.ts); other back ends: nothing. */
export async function syncBootBackend(root: string, env: HostEnv, backend: BootBackend): Promise<void> {
  throw notYet('syncBootBackend', [root, env, backend]);
}

export type { BootCounter };

/** Until the back ends are written: the interface only. */
function notYet(name: string, _args: unknown[]): InternalError {
  return new InternalError(`${name} is not implemented yet`, { name });
}
