/**
 * The atomic command: its global options and its table of host-facing verbs,
 * for what rpm-ostree and bootc users do, on the same library as
 * `ostree-ts admin`. Each verb's module is loaded only when it runs (see
 * ../shell.ts).
 */
import * as path from 'node:path';
import { flag, SYSROOT_OPTION, type Parsed } from '../options.js';
import { defineVerb, verbModule, type GroupEntry, type Program, type VerbEntry } from '../shell.js';

/** Options every atomic verb takes. */
export const GLOBALS = {
  sysroot: SYSROOT_OPTION,
  verbose: flag('Print more (the stack trace of an internal error)'),
};

export type AtomicArgs = Parsed<typeof GLOBALS>;

/** Define an atomic verb (see shell.ts). */
export const verb = defineVerb<AtomicArgs>();

/** The sysroot the command acts on, absolute. */
export function sysrootOf(o: { sysroot?: string }): string {
  return path.resolve(o.sysroot ?? '/');
}

export const VERBS: Record<string, VerbEntry | GroupEntry> = {
  status: { describe: 'Show the deployments: booted (●), default, rollback, pinned; version, commit, origin, signature', load: () => verbModule(import('./status.js')) },
  upgrade: { describe: 'Fetch the newest commit of the followed ref, check it, deploy it beside the running one and make it the boot default', load: () => verbModule(import('./upgrade.js')) },
  rollback: { describe: 'Make the rollback deployment the boot default again (the current default becomes the rollback)', load: () => verbModule(import('./rollback.js')) },
  rebase: { describe: 'Follow another ref (REMOTE:REF, or a local REF) and deploy its newest commit as the boot default', load: () => verbModule(import('./rebase.js')) },
  deploy: { describe: 'Deploy a version (the commit\'s version) or a commit checksum of the followed ref; older ones are allowed', load: () => verbModule(import('./deploy.js')) },
  pin: { describe: 'Pin deployments (by index, 0 = default) so upgrades and cleanup keep them (or --unpin)', load: () => verbModule(import('./pin.js')) },
  kargs: { describe: 'Show the default deployment\'s kernel arguments, or change them (new boot entries, switched atomically)', load: () => verbModule(import('./kargs.js')) },
  cleanup: { describe: 'Remove deployment directories, kernels and repository objects no deployment in the boot list needs', load: () => verbModule(import('./cleanup.js')) },
  'health-check': { describe: 'Run the health checks on the booted deployment: bless it, or record the failure and reboot so the bootloader tries again or falls back', load: () => verbModule(import('./health-check.js')) },
  'boot-reconcile': { describe: 'Early at boot: if the bootloader fell back, mark the update failed, quarantine its commit and make the running deployment the default', load: () => verbModule(import('./boot-reconcile.js')) },
  bless: { describe: "Mark the booted deployment good, bad or indeterminate, or say where its boot counting stands (systemd-bless-boot's verbs)", load: () => verbModule(import('./bless.js')) },
  'simulate-boot': { describe: 'Boot the sysroot once as its bootloader would (entry choice, counters), then reconcile and run the health checks (for CI)', load: () => verbModule(import('./simulate-boot.js')) },
  quarantine: {
    describe: 'The commits updates refuse because they failed their boot assessment: list, clear',
    options: {},
    verbs: {
      list: { describe: 'List the quarantined commits and why', load: () => verbModule(import('./quarantine-list.js')) },
      clear: { describe: 'Take a commit (or every one) out of quarantine', load: () => verbModule(import('./quarantine-clear.js')) },
    },
  },
  'install-units': { describe: 'Install the systemd units that run boot-reconcile and health-check at every boot', load: () => verbModule(import('./install-units.js')) },
};

const SETUP = [
  'A sysroot is set up once, with ostree-ts admin (or ostree admin):',
  '  ostree-ts admin init-fs /mnt/sysroot',
  '  ostree-ts admin --sysroot=/mnt/sysroot os-init debian',
  '  ostree-ts --repo=/mnt/sysroot/ostree/repo remote add origin https://updates.example.org/repo debian/stable',
  '  ostree-ts --repo=/mnt/sysroot/ostree/repo pull origin debian/stable',
  '  ostree-ts admin --sysroot=/mnt/sysroot deploy --os=debian origin:debian/stable',
  'After that, atomic keeps it up to date.',
];

export const PROGRAM: Program = {
  name: 'atomic',
  usage: 'Usage: atomic [--sysroot=DIR] COMMAND [OPTIONS]\n\nKeeps a host on signed OSTree deployments: upgrades are checked before anything changes,\ndeployed beside the running system, and switched in one atomic step; rollback is one command.',
  examples: [
    ['$0 status', 'What is deployed, what boots next, what rollback would choose'],
    ['$0 upgrade --check', 'Is there an update, and how much does it download? (exit 77: none)'],
    ['$0 upgrade --reboot', 'Deploy the update as the boot default and reboot into it'],
    ['$0 rollback', 'Boot the previous deployment again'],
    ['$0 --sysroot=/mnt/sysroot rebase origin:debian/testing', 'Follow another branch'],
  ],
  // Only --help needs the exit-status table (report.ts is otherwise loaded only on a failure).
  epilog: async () => {
    const { EXIT_STATUS_HELP } = await import('../report.js');
    return [...SETUP, '', 'Exit status:', ...EXIT_STATUS_HELP.map(([n, what]) => `  ${String(n).padStart(2)}  ${what}`)].join('\n');
  },
  globals: GLOBALS,
  verbs: VERBS,
  convention: 'atomic',
};
