/**
 * The systemd units that run the boot assessment on a real host:
 *
 * - `atomic-boot-reconcile.service`, early (after the local file systems,
 *   before sysinit.target and so before nearly everything): finishes a
 *   fallback the bootloader made.
 * - `atomic-health-check.service`, `Before=boot-complete.target` and
 *   `RequiredBy=boot-complete.target`: boot-complete.target is reached only
 *   when it passes, and systemd's own systemd-bless-boot.service (pulled in
 *   on systemd-boot systems by its generator, ordered after
 *   boot-complete.target) then blesses the ESP entry too. On GRUB the health
 *   check itself sets grubenv's boot_success.
 *
 * `installUnits` writes them, and their enablement links, under a sysroot's
 * etc/systemd/system (or another directory), each file atomically.
 */
import { atomicWriteFile, fsp, isErrno, path } from '../io/fs.js';
import { grubSnippet } from '../sysroot/bootloader/grub.js';

export const UNIT_NAMES = ['atomic-boot-reconcile.service', 'atomic-health-check.service'] as const;

/** The unit files, for the `atomic` command at `exec`. */
export function unitFiles(exec: string): Record<(typeof UNIT_NAMES)[number], string> {
  return {
    'atomic-boot-reconcile.service': `[Unit]
Description=Boot assessment: finish a fallback the bootloader made (mark the update failed, quarantine it, make the running deployment the default)
Documentation=man:atomic(8)
ConditionKernelCommandLine=ostree
DefaultDependencies=no
RequiresMountsFor=/sysroot /boot
After=local-fs.target
Before=sysinit.target atomic-health-check.service shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${exec} boot-reconcile

[Install]
WantedBy=sysinit.target
`,
    'atomic-health-check.service': `[Unit]
Description=Boot assessment: run the health checks and bless the booted deployment (or reboot to try again or fall back)
Documentation=man:atomic(8)
ConditionKernelCommandLine=ostree
After=atomic-boot-reconcile.service network-online.target
Before=boot-complete.target

[Service]
Type=oneshot
RemainAfterExit=yes
# Each check has its own timeout (atomic.conf [health-check] timeout); this bounds the whole run.
TimeoutStartSec=30min
ExecStart=${exec} health-check

[Install]
RequiredBy=boot-complete.target
`,
  };
}

/** Where `[Install]` puts each unit's enablement link. */
const ENABLE: Record<(typeof UNIT_NAMES)[number], string> = {
  'atomic-boot-reconcile.service': 'sysinit.target.wants',
  'atomic-health-check.service': 'boot-complete.target.requires',
};

export interface InstallUnitsOptions {
  /** The unit directory (default: ROOT/etc/systemd/system). */
  dest?: string;
  /** The atomic command the units run (default /usr/bin/atomic). */
  exec?: string;
  /** Write the files only, without enabling them. */
  noEnable?: boolean;
  /** Also write the GRUB script that counts boots in the grubenv (etc/grub.d/08_ostree_ts_boot_counting), for counts up to this many tries (at least 9). */
  grubTries?: number;
}

export interface InstalledUnits {
  apiVersion: 'ostree-ts/v1';
  kind: 'InstalledUnits';
  dir: string;
  units: string[];
  links: string[];
  /** The GRUB script written, if asked for (regenerate grub.cfg afterwards). */
  grubScript: string | null;
}

export async function installUnits(root: string, o: InstallUnitsOptions = {}): Promise<InstalledUnits> {
  const dir = o.dest ? path.resolve(o.dest) : path.join(root, 'etc', 'systemd', 'system');
  await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  const files = unitFiles(o.exec ?? '/usr/bin/atomic');
  const units: string[] = [];
  const links: string[] = [];
  for (const name of UNIT_NAMES) {
    const file = path.join(dir, name);
    await atomicWriteFile(file, files[name], { mode: 0o644 });
    units.push(file);
    if (o.noEnable) continue;
    const wants = path.join(dir, ENABLE[name]);
    await fsp.mkdir(wants, { recursive: true, mode: 0o755 });
    const link = path.join(wants, name);
    await fsp.symlink(`../${name}`, link).catch(async (e: unknown) => {
      if (!isErrno(e, 'EEXIST')) throw e;
      await fsp.rm(link, { force: true });
      await fsp.symlink(`../${name}`, link);
    });
    links.push(link);
  }
  let grubScript: string | null = null;
  if (o.grubTries !== undefined) {
    grubScript = path.join(root, 'etc', 'grub.d', '08_ostree_ts_boot_counting');
    await fsp.mkdir(path.dirname(grubScript), { recursive: true, mode: 0o755 });
    await atomicWriteFile(grubScript, grubSnippet(Math.max(9, o.grubTries)), { mode: 0o755 });
  }
  return { apiVersion: 'ostree-ts/v1', kind: 'InstalledUnits', dir, units, links, grubScript };
}
