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
import { Codes, OstreeTsError } from '../../errors/index.js';
import { badName, blessedName, parseBootCounter, withCounter, type BootCounter } from '../../format/boot-counter.js';
import { fsp, path } from '../../io/fs.js';
import type { HostEnv } from '../../io/host-env.js';
import {
  deploymentKey, readAssessment, updateAssessment, type AssessmentAttempt, type AssessmentRecord, type CheckResult, type DeploymentAssessment,
} from '../assessment.js';
import { faultHit, type SysrootFaults } from '../faults.js';
import {
  loadSysroot, readBootversion, readDeploymentList, requireSysroot, sameDeployment, type Deployment, type SysrootState,
} from '../state.js';
// The ESP, firmware and GRUB code loads when a back end or a simulated boot needs it: with the default
// back end (bls), `status` reads this module and needs none of them.
const esp = (): Promise<typeof import('./esp.js')> => import('./esp.js');
const firmware = (): Promise<typeof import('./firmware.js')> => import('./firmware.js');
const grub = (): Promise<typeof import('./grub.js')> => import('./grub.js');

export type BootBackendKind = 'bls' | 'grub' | 'systemd-boot';

/** Which back end boots this sysroot, and where its files are. */
export interface BootBackend {
  kind: BootBackendKind;
  /** systemd-boot: the EFI system partition's mount point, as a path inside the sysroot (`/boot/efi`); default /boot/efi, then /efi, the first that exists. */
  esp?: string;
  /** grub: the grubenv, as a path inside the sysroot; default /boot/grub2/grubenv, or /boot/grub/grubenv when only that exists. */
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

const BACKENDS: readonly BootBackendKind[] = ['bls', 'grub', 'systemd-boot'];

/** A back end's name as configured; a usage error naming the ones there are. */
export function parseBootBackendKind(v: string): BootBackendKind {
  if ((BACKENDS as readonly string[]).includes(v)) return v as BootBackendKind;
  throw new OstreeTsError(Codes.USAGE, `Unknown boot back end '${v}': use one of ${BACKENDS.join(', ')}.`, { backend: v });
}

/** The back end's files: resolved paths (esp, grubenv) of `backend` for the sysroot at `root`. */
export async function resolveBackend(root: string, backend: BootBackend): Promise<BootBackend> {
  const out: BootBackend = { ...backend };
  if (backend.kind === 'systemd-boot') out.esp = `/${path.relative(root, await (await esp()).espDir(root, backend))}`;
  if (backend.kind === 'grub') out.grubenv = `/${path.relative(root, await (await grub()).grubenvFile(root, backend))}`;
  return out;
}

function isoNow(env: HostEnv): string {
  return new Date(env.now()).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** `d` as the sysroot lists it now (its entry's current name), or a coded error when it is not in the boot list. */
async function current(root: string, env: HostEnv, d: Deployment, backend: BootBackend): Promise<{ st: SysrootState; d: Deployment; index: number }> {
  let st = await loadSysroot(root, env, { bootedCheck: false });
  // A damaged record or grubenv is refused before anything is renamed.
  await readAssessment(st.root);
  if (backend.kind === 'grub') {
    const { grubenvFile, readGrubenvFile } = await grub();
    await readGrubenvFile(await grubenvFile(st.root, backend));
  }
  if (backend.kind === 'systemd-boot') {
    // The ESP first: the firmware's counters are there, and it must boot what /boot/loader lists.
    await (await esp()).writeEsp(st.root, backend);
    st = await loadSysroot(root, env, { bootedCheck: false });
  }
  const index = st.deployments.findIndex((x) => sameDeployment(x, d));
  if (index < 0) {
    throw new OstreeTsError(Codes.NOT_FOUND, `Deployment ${deploymentKey(d)} is not in the boot list of ${st.root}, so its boot entry cannot be changed. Nothing was changed; 'atomic status' lists the deployments.`, { deployment: deploymentKey(d) });
  }
  const cur = st.deployments[index];
  if (!cur.entryFile) throw new OstreeTsError(Codes.SYSROOT_INVALID, `Deployment ${deploymentKey(d)} has no boot entry file.`, { deployment: deploymentKey(d) });
  return { st, d: cur, index };
}

/** Rename `d`'s entry to `name`: on the ESP first (systemd-boot), then in /boot/loader. */
async function renameEntry(st: SysrootState, d: Deployment, name: string, backend: BootBackend): Promise<void> {
  const from = d.entryFile!;
  if (from === name) return;
  if (backend.kind === 'systemd-boot') {
    const dir = path.join(await (await esp()).espDir(st.root, backend), 'loader', 'entries');
    const have = await fsp.readdir(dir).catch(() => [] as string[]);
    if (have.includes(from)) {
      await (await esp()).durableRename(dir, from, name);
      faultHit(backend.faults, 'esp-entry-rename');
    }
  }
  await (await esp()).durableRename(path.join(st.root, 'boot', 'loader', 'entries'), from, name);
  faultHit(backend.faults, 'entry-rename');
  d.entryFile = name;
  const c = parseBootCounter(name);
  d.bootCounter = c ? { left: c.left, done: c.done } : null;
}

async function record(root: string, st: SysrootState, backend: BootBackend, fn: (r: AssessmentRecord) => void): Promise<AssessmentRecord> {
  const r = await updateAssessment(root, fn);
  faultHit(backend.faults, 'record');
  st.assessment = r;
  return r;
}

/**
 * Start the probation of `d` (the new default) with `tries` tries: its entry
 * renamed to `+tries` (bls, systemd-boot: on /boot/loader and the ESP), or
 * grubenv `boot_counter=tries`, `boot_success=0` (grub); then the record
 * says untested. Other entries keep their names. `tries` 0 records it good
 * and counts nothing (boot counting disabled).
 */
export async function startProbation(root: string, env: HostEnv, d: Deployment, tries: number, backend: BootBackend): Promise<AssessmentRecord> {
  if (!Number.isInteger(tries) || tries < 0 || tries > 0xffff) {
    throw new OstreeTsError(Codes.USAGE, `Boot counting tries must be a whole number from 0 to 65535 (0 disables counting), not ${tries}.`, { tries });
  }
  const { st, d: cur } = await current(root, env, d, backend);
  const key = deploymentKey(cur);
  const since = isoNow(env);
  if (tries > 0) {
    if (backend.kind === 'grub') {
      const { grubenvFile, updateGrubenvFile } = await grub();
      await updateGrubenvFile(await grubenvFile(st.root, backend), (v) => {
        v.set('boot_counter', String(tries));
        v.set('boot_success', '0');
      });
      faultHit(backend.faults, 'grubenv');
    } else {
      await renameEntry(st, cur, withCounter(cur.entryFile!, { left: tries, done: 0 }), backend);
    }
  }
  const live = new Set(st.deployments.map(deploymentKey));
  return record(st.root, st, backend, (r) => {
    // Deployments gone from the boot list are forgotten here; the quarantine stays.
    for (const k of Object.keys(r.deployments)) if (!live.has(k)) delete r.deployments[k];
    r.deployments[key] = tries > 0
      ? { state: 'untested', tries, since, attempts: [] }
      : { state: 'good', tries: 0, reason: 'boot counting is disabled (0 tries)', since };
  });
}

/** `d` booted and passed its checks: counter removed (`NAME.conf`) or grubenv `boot_success=1`, `boot_counter` unset; the record says good. */
export async function blessDeployment(root: string, env: HostEnv, d: Deployment, backend: BootBackend): Promise<AssessmentRecord> {
  const { st, d: cur } = await current(root, env, d, backend);
  if (backend.kind === 'grub') {
    const { grubenvFile, updateGrubenvFile } = await grub();
    await updateGrubenvFile(await grubenvFile(st.root, backend), (v) => {
      v.set('boot_success', '1');
      v.delete('boot_counter');
    });
    faultHit(backend.faults, 'grubenv');
  } else {
    await renameEntry(st, cur, blessedName(cur.entryFile!), backend);
  }
  const key = deploymentKey(cur);
  const since = isoNow(env);
  return record(st.root, st, backend, (r) => {
    const was: DeploymentAssessment | undefined = r.deployments[key];
    r.deployments[key] = { ...(was ?? { tries: 0, attempts: [] }), state: 'good', since, reason: undefined };
    delete r.deployments[key].reason;
  });
}

/**
 * `d` failed (`reason`: "did not boot" or a check's output): entry renamed
 * `NAME+0-DONE.conf`, so the firmware sorts it last; with grub the counter
 * is spent (`boot_counter=0`) while `d` is the default, unset otherwise; the
 * record says failed.
 */
export async function markDeploymentFailed(root: string, env: HostEnv, d: Deployment, reason: string, backend: BootBackend): Promise<AssessmentRecord> {
  const { st, d: cur, index } = await current(root, env, d, backend);
  if (backend.kind === 'grub') {
    const { grubenvFile, updateGrubenvFile } = await grub();
    await updateGrubenvFile(await grubenvFile(st.root, backend), (v) => {
      if (index === 0) {
        // Still the default: spent, so GRUB boots the rollback entry next.
        v.set('boot_counter', '0');
        v.set('boot_success', '0');
      } else v.delete('boot_counter');
    });
    faultHit(backend.faults, 'grubenv');
  } else {
    await renameEntry(st, cur, badName(cur.entryFile!), backend);
  }
  const key = deploymentKey(cur);
  const since = isoNow(env);
  return record(st.root, st, backend, (r) => {
    const was: DeploymentAssessment | undefined = r.deployments[key];
    r.deployments[key] = { ...(was ?? { tries: 0, attempts: [] }), state: 'failed', reason, since };
  });
}

/**
 * An inconclusive health check uses no try: the bootloader spent one when
 * it booted `d` (systemd-boot renamed `+L-D` to `+(L-1)-(D+1)`, GRUB
 * decremented `boot_counter`), so it is given back: the entry renamed
 * `+(L+1)-(D-1)` (on the ESP first, then /boot/loader), or `boot_counter`
 * raised by one while `d` is the default. An entry that was not tried (no
 * DONE) or carries no counter is left as it is.
 */
export async function giveBackTry(root: string, env: HostEnv, d: Deployment, backend: BootBackend): Promise<void> {
  const { st, d: cur, index } = await current(root, env, d, backend);
  if (backend.kind === 'grub') {
    if (index !== 0) return;
    const { grubenvFile, readGrubenvFile, writeGrubenvFile } = await grub();
    const file = await grubenvFile(st.root, backend);
    const vars = await readGrubenvFile(file);
    const raw = vars.get('boot_counter');
    if (raw === undefined || !/^[0-9]+$/.test(raw)) return;
    vars.set('boot_counter', String(Number(raw) + 1));
    await writeGrubenvFile(file, vars);
    faultHit(backend.faults, 'grubenv');
    return;
  }
  const c = parseBootCounter(cur.entryFile!);
  if (!c || c.done === 0) return;
  await renameEntry(st, cur, withCounter(cur.entryFile!, { left: c.left + 1, done: c.done - 1 }), backend);
}

/**
 * What the bootloader's counter said at this boot, undone: `d`'s entry gets
 * back the counted name `counted` (systemd-bless-boot's `indeterminate`,
 * with the name the firmware gave it, `LoaderBootCountPath`) and the record
 * says untested again. Refused for a name with no tries left, and for GRUB
 * (grubenv keeps no name to go back to).
 */
export async function markIndeterminate(root: string, env: HostEnv, d: Deployment, counted: string, backend: BootBackend): Promise<AssessmentRecord> {
  const c = parseBootCounter(counted);
  if (backend.kind === 'grub') {
    throw new OstreeTsError(Codes.USAGE, 'With the grub back end there is no counted entry name to go back to (grubenv counts the tries). Nothing was changed; start a new probation with an update, or bless it good or bad.', {});
  }
  if (!c) throw new OstreeTsError(Codes.USAGE, `The boot entry name ${counted} carries no boot counter, so there is nothing to go back to. Nothing was changed.`, { entry: counted });
  if (c.left === 0) throw new OstreeTsError(Codes.USAGE, `The boot entry ${counted} has no tries left: it cannot be made indeterminate again (systemd-bless-boot refuses this too). Nothing was changed.`, { entry: counted });
  const { st, d: cur } = await current(root, env, d, backend);
  if (blessedName(counted) !== blessedName(cur.entryFile!)) {
    throw new OstreeTsError(Codes.USAGE, `The boot entry ${counted} is not the entry of deployment ${deploymentKey(cur)} (${cur.entryFile}). Nothing was changed.`, { entry: counted });
  }
  await renameEntry(st, cur, withCounter(cur.entryFile!, { left: c.left, done: c.done }), backend);
  const key = deploymentKey(cur);
  const since = isoNow(env);
  return record(st.root, st, backend, (r) => {
    const was: DeploymentAssessment | undefined = r.deployments[key];
    r.deployments[key] = { ...(was ?? { attempts: [] }), state: 'untested', tries: Math.max(was?.tries ?? 0, c.left + c.done), since };
    delete r.deployments[key].reason;
  });
}

/**
 * Before the switch that makes `d` the default: the record already says it
 * is untested, and with GRUB the grubenv counter is armed (`boot_counter`,
 * `boot_success=0`, as greenboot arms it when an update is staged), so the
 * first boot of `d` is counted and judged even when a power cut falls
 * between the switch and `startProbation`. A cut before the switch leaves
 * the old default counted once more; its next good boot blesses it again.
 * `undo` puts the grubenv back when the switch does not happen.
 */
export async function armProbation(root: string, env: HostEnv, d: Deployment, tries: number, backend: BootBackend): Promise<{ undo(): Promise<void> }> {
  const none = { undo: async () => {} };
  if (tries <= 0) return none;
  const key = deploymentKey(d);
  const since = isoNow(env);
  await readAssessment(root);
  let undo = none.undo;
  if (backend.kind === 'grub') {
    const { grubenvFile, readGrubenvFile, updateGrubenvFile, writeGrubenvFile } = await grub();
    const file = await grubenvFile(root, backend);
    const before = await readGrubenvFile(file);
    await updateGrubenvFile(file, (v) => {
      v.set('boot_counter', String(tries));
      v.set('boot_success', '0');
    });
    faultHit(backend.faults, 'grubenv');
    undo = () => writeGrubenvFile(file, before);
  }
  await updateAssessment(root, (r) => {
    r.deployments[key] = { state: 'untested', tries, since, attempts: [] };
  });
  faultHit(backend.faults, 'record');
  return { undo };
}

/**
 * Make `d` the default (first), the others after it in their order, through
 * the usual deployment-list write (counters kept, the ESP in step). With
 * grub, a default that is not on probation leaves boot_counter unset.
 */
export async function makeDefault(root: string, env: HostEnv, d: Deployment, backend: BootBackend = BLS_BACKEND): Promise<SysrootState> {
  let st = await loadSysroot(root, env);
  const index = st.deployments.findIndex((x) => sameDeployment(x, d));
  if (index < 0) {
    throw new OstreeTsError(Codes.NOT_FOUND, `Deployment ${deploymentKey(d)} is not in the boot list of ${st.root}, so it cannot be made the default. Nothing was changed.`, { deployment: deploymentKey(d) });
  }
  if (index > 0) {
    // The deployment writer (and the checkout behind it) loads here only: `status` reads this module too.
    const { writeList } = await import('../deploy.js');
    await writeList(st.root, env, (now) => {
      const target = now.deployments.find((x) => sameDeployment(x, d));
      if (!target) throw new OstreeTsError(Codes.NOT_FOUND, `Deployment ${deploymentKey(d)} left the boot list.`, { deployment: deploymentKey(d) });
      return [target, ...now.deployments.filter((x) => !sameDeployment(x, d))];
    }, { boot: backend });
    faultHit(backend.faults, 'deployments');
    st = await loadSysroot(root, env);
  } else if (backend.kind === 'systemd-boot') {
    await (await esp()).writeEsp(st.root, backend);
  }
  if (backend.kind === 'grub' && st.assessment?.deployments[deploymentKey(d)]?.state !== 'untested') {
    const { grubenvFile, readGrubenvFile, writeGrubenvFile } = await grub();
    const file = await grubenvFile(st.root, backend);
    const vars = await readGrubenvFile(file);
    if (vars.has('boot_counter')) {
      vars.delete('boot_counter');
      vars.set('boot_success', '1');
      await writeGrubenvFile(file, vars);
      faultHit(backend.faults, 'grubenv');
    }
  }
  return st;
}

/** The deployment an entry's ostree= argument boots, as the initramfs would find it. */
async function entryDeployment(root: string, name: string, options: string, list: Deployment[]): Promise<Deployment> {
  const m = /(?:^|\s)ostree=\/ostree\/boot\.([01])\/([^/\s]+)\/([^/\s]+)\/([0-9]+)(?=\s|$)/.exec(options);
  if (!m) throw new OstreeTsError(Codes.SYSROOT_INVALID, `The firmware chose boot entry ${name}, which has no ostree= argument: it cannot boot an OSTree deployment. Repair or remove that entry.`, { entry: name });
  const link = path.join(root, 'ostree', `boot.${m[1]}`, m[2], m[3], m[4]);
  const target = await fsp.readlink(link).catch(() => null);
  const dm = target ? /^([0-9a-f]{64})\.([0-9]+)$/.exec(path.basename(target)) : null;
  if (!dm) throw new OstreeTsError(Codes.SYSROOT_INVALID, `The firmware chose boot entry ${name}, whose ostree= names ${link}, which does not lead to a deployment: that boot would fail in the initramfs. Rewrite the boot entries (redeploy, or 'atomic' with the ESP back end resyncs them).`, { entry: name, link });
  const found = list.find((d) => d.osname === m[2] && d.csum === dm[1] && d.deployserial === Number(dm[2]));
  if (found) return found;
  return { osname: m[2], csum: dm[1], deployserial: Number(dm[2]), bootcsum: m[3], bootserial: Number(m[4]), kargs: options, origin: null, entry: null, staged: false, entryFile: null, bootCounter: null };
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
export async function simulateFirmwareBoot(rootIn: string, backend: BootBackend, opts: FirmwareBootOptions = {}): Promise<FirmwareBoot> {
  void opts.failBoot;
  const root = await requireSysroot(rootIn);
  const list = await readDeploymentList(root, await readBootversion(root));
  if (!list.length) throw new OstreeTsError(Codes.NOT_FOUND, `The sysroot ${root} has no boot entries: the firmware has nothing to boot. Deploy first.`, { sysroot: root });
  if (backend.kind === 'grub') {
    const { grubenvFile, readGrubenvFile, writeGrubenvFile } = await grub();
    const file = await grubenvFile(root, backend);
    const vars = await readGrubenvFile(file);
    const g = (await firmware()).grubBoot(vars);
    await writeGrubenvFile(file, vars);
    faultHit(backend.faults, 'grubenv');
    const chosen = list[Math.min(g.index, list.length - 1)];
    return { entry: chosen.entryFile ?? '', deployment: chosen, triesBefore: g.before, triesAfter: g.after, fellBack: !sameDeployment(chosen, list[0]) };
  }
  const base = backend.kind === 'systemd-boot' ? await (await esp()).espDir(root, backend) : path.join(root, 'boot');
  const entriesDir = path.join(base, 'loader', 'entries');
  const conf = await fsp.readFile(path.join(base, 'loader', 'loader.conf'), 'utf8').catch(() => null);
  const { chooseEntry, loaderConfDefault, readFirmwareEntries } = await firmware();
  const pick = chooseEntry(await readFirmwareEntries(entriesDir), loaderConfDefault(conf));
  if (!pick) throw new OstreeTsError(Codes.NOT_FOUND, `${entriesDir} holds no boot entries: the firmware has nothing to boot. Deploy first${backend.kind === 'systemd-boot' ? ', then let the ESP be written' : ''}.`, { dir: entriesDir });
  const { chosen, next } = pick;
  let deployment = await entryDeployment(root, chosen.name, chosen.entry.get('options') ?? '', list);
  let triesAfter: number | null = null;
  if (next) {
    await (await esp()).durableRename(entriesDir, chosen.name, next);
    faultHit(backend.faults, backend.kind === 'systemd-boot' ? 'esp-entry-rename' : 'entry-rename');
    triesAfter = parseBootCounter(next)!.left;
    if (backend.kind === 'systemd-boot') {
      // The emulation keeps /boot/loader in step at once (a real host does it at the next write, adoptEspCounters).
      await (await esp()).adoptCountersFrom(root, backend);
    }
    const after = await readDeploymentList(root, await readBootversion(root));
    deployment = after.find((d) => sameDeployment(d, deployment)) ?? deployment;
  }
  return {
    entry: chosen.name, deployment, triesBefore: chosen.triesLeft >= 0 ? chosen.triesLeft : null, triesAfter,
    fellBack: !sameDeployment(deployment, list[0]),
  };
}

/** The counters of the ESP's entries, by name without counter (systemd-boot: the firmware's are there). */
async function espCounters(root: string, backend: BootBackend): Promise<Map<string, BootCounter | null>> {
  const out = new Map<string, BootCounter | null>();
  const dir = path.join(await (await esp()).espDir(root, backend), 'loader', 'entries');
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith('ostree-') || !name.endsWith('.conf')) continue;
    const c = parseBootCounter(name);
    out.set(blessedName(name), c ? { left: c.left, done: c.done } : null);
  }
  return out;
}

/** The tries left of every deployment of `st` under `backend`, by deploymentKey. */
export async function readTriesLeft(st: SysrootState, backend: BootBackend): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>();
  if (backend.kind === 'grub') {
    const { grubenvFile, readGrubenvFile } = await grub();
    const vars = await readGrubenvFile(await grubenvFile(st.root, backend));
    const raw = vars.get('boot_counter');
    st.deployments.forEach((d, i) => out.set(deploymentKey(d), i === 0 && raw !== undefined && /^-?[0-9]+$/.test(raw) ? Number(raw) : null));
    return out;
  }
  const esp = backend.kind === 'systemd-boot' ? await espCounters(st.root, backend).catch(() => null) : null;
  for (const d of st.deployments) {
    let c = d.bootCounter ?? null;
    if (esp && d.entryFile && esp.has(blessedName(d.entryFile))) c = esp.get(blessedName(d.entryFile)) ?? null;
    out.set(deploymentKey(d), c ? c.left : null);
  }
  return out;
}

/** The record and the boot files side by side, for every deployment of `st`. */
export async function assessDeployments(st: SysrootState, backend: BootBackend): Promise<BootAssessmentView[]> {
  const tries = await readTriesLeft(st, backend);
  return st.deployments.map((d) => {
    const key = deploymentKey(d);
    const r = st.assessment?.deployments[key];
    return { key, state: r?.state ?? 'unknown', triesLeft: tries.get(key) ?? null, reason: r?.reason ?? null };
  });
}

/**
 * Where the record and the boot files disagree, each as a sentence saying
 * what to do: a deployment the record calls untested whose entry lost its
 * counter (another tool, such as `ostree admin deploy`, rewrote the
 * entries), an entry counted that the record does not know, a failed one
 * with tries left, record entries for deployments that are gone.
 */
export async function checkAssessment(st: SysrootState, backend: BootBackend): Promise<string[]> {
  const notes: string[] = [];
  if (st.assessmentProblem) notes.push(st.assessmentProblem);
  if (backend.kind === 'systemd-boot') {
    const diff = await (await esp()).espDifferences(st.root, backend);
    if (diff.length) {
      notes.push(`The EFI system partition is not in step with /boot/loader (${diff.join('; ')}): another tool, such as ostree admin deploy, changed the boot entries, and the firmware may boot entries whose deployments are gone. Sync it (a boot reconcile, or any atomic update, copies the entries).`);
    }
  }
  const tries = await readTriesLeft(st, backend);
  const live = new Set(st.deployments.map(deploymentKey));
  for (const k of Object.keys(st.assessment?.deployments ?? {})) {
    if (!live.has(k)) notes.push(`The boot assessment record names ${k}, which is not in the boot list (an update cut short before its switch, or a deployment removed, perhaps by another tool); it is forgotten when the next probation starts.`);
  }
  st.deployments.forEach((d, i) => {
    const key = deploymentKey(d);
    const r = st.assessment?.deployments[key];
    const left = tries.get(key) ?? null;
    const where = backend.kind === 'grub' ? 'the grubenv has no boot_counter for it' : `its boot entry ${d.entryFile ?? '(none)'} carries no counter`;
    if (r?.state === 'untested' && left === null && (backend.kind !== 'grub' || i === 0)) {
      notes.push(`${key} is on probation in the boot assessment record, but ${where}: another tool rewrote the boot configuration (ostree admin deploy writes entries without counters), so the firmware no longer counts its tries. Bless it, mark it failed, or start its probation again.`);
    } else if (left !== null && left > 0 && r?.state === 'good') {
      notes.push(`${key} is good in the boot assessment record, but its boot counter still has ${left} tries left. Bless it again to remove the counter.`);
    } else if (left !== null && left > 0 && r?.state === 'failed') {
      notes.push(`${key} failed (${r.reason ?? 'no reason recorded'}), but its boot counter still has ${left} tries left, so the firmware may boot it again. Mark it failed again.`);
    } else if (left !== null && backend.kind !== 'grub' && !r) {
      notes.push(`${key}'s boot entry ${d.entryFile} counts tries (${left} left), but the boot assessment record knows nothing of it. Start its probation, or bless it.`);
    }
  });
  return notes;
}

/**
 * systemd-boot: the firmware renames entries on the ESP only; give
 * /boot/loader the ESP's counters (and the deployments of `st` theirs).
 * Run before any change when the ESP may be ahead (at boot).
 */
/**
 * Record one boot attempt of `d` (the health checks' verdict and results);
 * its state is left as it is (blessing and marking failed change it).
 * Attempts beyond the last `keep` are dropped.
 */
export async function recordBootAttempt(root: string, env: HostEnv, d: Deployment, attempt: { verdict: AssessmentAttempt['verdict']; checks?: CheckResult[] }, backend: BootBackend = BLS_BACKEND, keep = 20): Promise<AssessmentRecord> {
  const key = deploymentKey(d);
  const at = isoNow(env);
  const r = await updateAssessment(root, (rec) => {
    const was = rec.deployments[key] ?? { state: 'untested' as const, tries: 0, since: at };
    const attempts = [...(was.attempts ?? []), { at, verdict: attempt.verdict, ...(attempt.checks ? { checks: attempt.checks } : {}) }].slice(-keep);
    rec.deployments[key] = { ...was, attempts, ...(attempt.checks ? { checks: attempt.checks } : {}) };
  });
  faultHit(backend.faults, 'record');
  return r;
}

export async function adoptEspCounters(st: SysrootState, backend: BootBackend): Promise<void> {
  if (backend.kind === 'systemd-boot') await (await esp()).adoptCountersFrom(st.root, backend, st);
}

/** systemd-boot: copy what /boot/loader boots onto the ESP (esp.ts); other back ends: nothing. */
export async function syncBootBackend(root: string, env: HostEnv, backend: BootBackend): Promise<void> {
  void env;
  if (backend.kind === 'systemd-boot') await (await esp()).writeEsp(await requireSysroot(root), backend);
}

export type { BootCounter };
