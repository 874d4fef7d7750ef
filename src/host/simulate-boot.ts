/**
 * `atomic simulate-boot`: one boot of the sysroot, as the configured
 * bootloader would make it, for image authors' CI. The firmware's step
 * (systemd-boot's entry choice and counter rename, or GRUB's grubenv rules)
 * is the sysroot layer's; then, unless the boot is to fail before userspace
 * (`failBoot`: a kernel or initramfs that never gets there), the early-boot
 * reconcile and the health checks run with that deployment as the booted
 * one, through a host environment that says so. A reboot they ask for is
 * reported, not made: the next simulated boot is the reboot.
 */
import { bootedHostEnv } from '../io/host-env.js';
import { adoptEspCounters, simulateFirmwareBoot, syncBootBackend } from '../sysroot/bootloader/index.js';
import type { SysrootFaults } from '../sysroot/faults.js';
import { deploymentName, loadSysroot, openSysrootRepo, requireSysroot } from '../sysroot/state.js';
import { readAtomicConfig } from './atomic-conf.js';
import { bootBackend } from './boot-backend.js';
import { bootReconcile, type ReconcileResult } from './boot-reconcile.js';
import type { CheckRun } from './checks.js';
import { underLock, type HostVerbOptions } from './common.js';
import { healthCheck, type HealthCheckResult } from './health-check.js';

export interface SimulateBootOptions extends HostVerbOptions {
  /** The boot never reaches userspace: no reconcile, no checks. */
  failBoot?: boolean;
  faults?: SysrootFaults;
  onCheck?: (r: CheckRun) => void;
}

export interface SimulatedBoot {
  apiVersion: 'ostree-ts/v1';
  kind: 'SimulatedBoot';
  backend: string;
  /** The entry file the bootloader chose (as named when chosen). */
  entry: string;
  /** CHECKSUM.SERIAL it boots. */
  deployment: string;
  stateroot: string;
  triesBefore: number | null;
  triesAfter: number | null;
  /** It booted another deployment than the default. */
  fellBack: boolean;
  /** Whether the boot reached userspace (false with failBoot). */
  reachedUserspace: boolean;
  reconcile: ReconcileResult | null;
  healthCheck: HealthCheckResult | null;
  /** 'did-not-boot' with failBoot; else the health check's verdict. */
  verdict: 'pass' | 'fail' | 'inconclusive' | 'did-not-boot';
  checks: CheckRun[];
  /** The boot's health check asked for a reboot. */
  reboot: boolean;
}

export async function simulateBoot(opts: SimulateBootOptions): Promise<SimulatedBoot> {
  const root = await requireSysroot(opts.sysroot);
  const conf = await readAtomicConfig(root, (await openSysrootRepo(root)).config);
  const backend = bootBackend(conf, opts.faults);
  const fw = await underLock(opts, 'atomic simulate-boot', async () => {
    // What the host last wrote is what the firmware finds: the ESP in step with /boot/loader, its counters kept.
    await adoptEspCounters(await loadSysroot(root, opts.env, { bootedCheck: false }), backend);
    await syncBootBackend(root, opts.env, backend);
    return simulateFirmwareBoot(root, backend, { failBoot: opts.failBoot });
  });
  const out: SimulatedBoot = {
    apiVersion: 'ostree-ts/v1', kind: 'SimulatedBoot', backend: conf.backend, entry: fw.entry, deployment: deploymentName(fw.deployment),
    stateroot: fw.deployment.osname, triesBefore: fw.triesBefore, triesAfter: fw.triesAfter, fellBack: fw.fellBack,
    reachedUserspace: !opts.failBoot, reconcile: null, healthCheck: null, verdict: 'did-not-boot', checks: [], reboot: false,
  };
  if (opts.failBoot) return out;
  const env = await bootedHostEnv(opts.env, { osname: fw.deployment.osname, checksum: fw.deployment.csum, serial: fw.deployment.deployserial });
  try {
    const hostOpts = { sysroot: root, env, lockWait: opts.lockWait, faults: opts.faults };
    out.reconcile = await bootReconcile(hostOpts);
    out.healthCheck = await healthCheck({ ...hostOpts, onCheck: opts.onCheck, reboot: async () => undefined });
  } finally {
    await env.dispose();
  }
  out.verdict = out.healthCheck.verdict;
  out.checks = out.healthCheck.checks;
  out.reboot = out.healthCheck.reboot;
  return out;
}
