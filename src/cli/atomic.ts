#!/usr/bin/env node
/**
 * atomic: the host-facing command, for what rpm-ostree and bootc users do —
 * status, upgrade, rollback, rebase, deploy, pin, kargs — on the same
 * library as `ostree-ts admin`. Only the verb that runs is loaded.
 */
import { createRequire } from 'node:module';
import type { Argv, CommandModule } from 'yargs';
import { reportError } from './report.js';

function load(m: Promise<unknown>): Promise<CommandModule> {
  return m as Promise<CommandModule>;
}

export const VERBS: Record<string, { describe: string; load: () => Promise<CommandModule> }> = {
  status: { describe: 'Show the deployments: booted, default, rollback, pinned; versions, origins, signatures', load: () => load(import('./atomic/status.js')) },
  upgrade: { describe: 'Fetch and deploy the newest commit of the followed ref (checked first, switched atomically)', load: () => load(import('./atomic/upgrade.js')) },
  rollback: { describe: 'Make the previous deployment the boot default again', load: () => load(import('./atomic/rollback.js')) },
  rebase: { describe: 'Follow another ref (REMOTE:REF) and deploy its newest commit', load: () => load(import('./atomic/rebase.js')) },
  deploy: { describe: 'Deploy a given version or commit of the followed ref', load: () => load(import('./atomic/deploy.js')) },
  pin: { describe: 'Keep a deployment through upgrades and cleanup (or --unpin)', load: () => load(import('./atomic/pin.js')) },
  kargs: { describe: 'Show or change the kernel arguments of the default deployment', load: () => load(import('./atomic/kargs.js')) },
  cleanup: { describe: 'Remove deployments and objects nothing needs any more', load: () => load(import('./atomic/cleanup.js')) },
};

function findVerb(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--sysroot') {
      i++;
      continue;
    }
    if (!args[i].startsWith('-')) return args[i];
  }
  return undefined;
}

/**
 * `atomic status` is what scripts and prompts call most: its plain forms
 * (`[--sysroot=DIR] status [--json]`) run without loading the option parser.
 * Anything else (help, other options) goes through yargs as usual.
 */
function plainStatus(args: string[]): { sysroot?: string; json: boolean } | null {
  let sysroot: string | undefined;
  let json = false;
  let verb = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === 'status' && !verb) verb = true;
    else if (a === '--json') json = true;
    else if (a.startsWith('--sysroot=')) sysroot = a.slice('--sysroot='.length);
    else if (a === '--sysroot' && i + 1 < args.length) sysroot = args[++i];
    else return null;
  }
  return verb ? { sysroot, json } : null;
}

export async function main(args: string[]): Promise<number> {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const plain = plainStatus(args);
  if (plain) {
    try {
      const { handler } = await import('./atomic/status.js');
      await handler(plain);
      return 0;
    } catch (e) {
      return reportError(e, { json: plain.json });
    }
  }
  const require = createRequire(import.meta.url);
  const yargs = require('yargs/yargs') as (a: string[]) => Argv;
  const verb = findVerb(args);
  const y = yargs(args)
    .scriptName('atomic')
    .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false, 'duplicate-arguments-array': true, 'boolean-negation': false })
    .option('sysroot', { type: 'string', describe: 'The sysroot to act on (default /)', global: true })
    .help('help').alias('help', 'h').version(false).strict()
    .wrap(Math.min(110, process.stdout.columns || 100));
  const entry = verb ? VERBS[verb] : undefined;
  if (entry) y.command(await entry.load());
  else {
    for (const [name, c] of Object.entries(VERBS)) y.command(name, c.describe);
    y.usage('Usage: atomic [--sysroot=DIR] COMMAND [OPTIONS]\n\nKeeps a host on signed OSTree deployments: upgrades are checked before anything changes,\ndeployed beside the running system, and switched in one atomic step; rollback is one command.');
    if (verb) {
      process.stderr.write(`error: Unknown command '${verb}'. Run 'atomic --help' for the list.\n`);
      return 1;
    }
    y.demandCommand(1, 'Give a command. Run atomic --help for the list.');
  }
  try {
    await y.fail((msg, err) => {
      if (err) throw err;
      throw Object.assign(new Error(msg), { usage: true });
    }).parseAsync();
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    return reportError(e, { json: args.includes('--json') });
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
