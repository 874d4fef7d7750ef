#!/usr/bin/env node
/**
 * atomic: the host-facing command (status, upgrade, rollback, rebase, deploy).
 * The sysroot and updater layers it drives are not part of this build yet;
 * until they are, it says so plainly instead of pretending.
 */
const HOST_VERBS = ['status', 'upgrade', 'rollback', 'rebase', 'deploy', 'pin', 'kargs'];

function main(args: string[]): number {
  const verb = args.find((a) => !a.startsWith('-'));
  if (!verb || args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`Usage: atomic [--sysroot=DIR] COMMAND

Keeps a host on signed OSTree deployments: ${HOST_VERBS.join(', ')}.
These commands need the deployment (sysroot) support, which this build does not include yet.
Repository work is done with ostree-ts (run 'ostree-ts --help').
`);
    return verb ? 0 : 1;
  }
  process.stderr.write(`error: 'atomic ${verb}' is not available in this build: deployments (sysroot) are not supported yet. Use 'ostree-ts' for repository work.\n`);
  return 1;
}

process.exitCode = main(process.argv.slice(2));
