#!/usr/bin/env node
/**
 * ostree-ts: the command table. Only the verb that runs is loaded, so the
 * command starts fast. Errors become exit codes in report.ts.
 */
import { createRequire } from 'node:module';
import type { Argv, CommandModule } from 'yargs';
import { reportError } from './report.js';

type Loader = () => Promise<CommandModule>;

/** Command modules type their own argv; yargs sees them as plain modules. */
function load(m: Promise<unknown>): Promise<CommandModule> {
  return m as Promise<CommandModule>;
}

export const COMMANDS: Record<string, { describe: string; load: Loader }> = {
  init: { describe: 'Initialize a new empty repository', load: () => load(import('./commands/init.js')) },
  commit: { describe: 'Commit a new revision', load: () => load(import('./commands/commit.js')) },
  checkout: { describe: 'Check out a commit into a filesystem tree', load: () => load(import('./commands/checkout.js')) },
  refs: { describe: 'List, create or delete refs', load: () => load(import('./commands/refs.js')) },
  'rev-parse': { describe: 'Output the target of a rev', load: () => load(import('./commands/rev-parse.js')) },
  log: { describe: 'Show the history of a branch', load: () => load(import('./commands/log.js')) },
  show: { describe: 'Output a metadata object', load: () => load(import('./commands/show.js')) },
  export: { describe: 'Write a commit as a tar archive (tar, tar.gz or tar.zst)', load: () => load(import('./commands/export.js')) },
  ls: { describe: 'List files in a commit', load: () => load(import('./commands/ls.js')) },
  cat: { describe: 'Concatenate contents of files in a commit', load: () => load(import('./commands/cat.js')) },
  diff: { describe: 'Compare the trees of two commits', load: () => load(import('./commands/diff.js')) },
  fsck: { describe: 'Check the repository for consistency', load: () => load(import('./commands/fsck.js')) },
  prune: { describe: 'Delete unreachable objects', load: () => load(import('./commands/prune.js')) },
  summary: { describe: 'Regenerate, sign or show the repository summary', load: () => load(import('./commands/summary.js')) },
  sign: { describe: 'Sign a commit (ed25519), verify its signatures, or generate a key pair', load: () => load(import('./commands/sign.js')) },
  'gpg-sign': { describe: 'Sign a commit with OpenPGP keys', load: () => load(import('./commands/gpg-sign.js')) },
  verify: { describe: "Check a commit's or the summary's signatures against a policy", load: () => load(import('./commands/verify.js')) },
  pull: { describe: 'Download commits from a remote, verified', load: () => load(import('./commands/pull.js')) },
  'static-delta': { describe: 'Generate, list, show, delete or apply static deltas', load: () => load(import('./commands/static-delta.js')) },
  'pull-local': { describe: 'Copy commits from another repository on this machine', load: () => load(import('./commands/pull-local.js')) },
  serve: { describe: 'Serve the repository over HTTP, for pulls', load: () => load(import('./commands/serve.js')) },
  remote: { describe: 'Add, delete, list or show remotes', load: () => load(import('./commands/remote.js')) },
  admin: { describe: 'Manage a sysroot: deploy, status, undeploy, cleanup, upgrade (as ostree admin)', load: () => load(import('./commands/admin.js')) },
  config: { describe: 'Get or set repository configuration', load: () => load(import('./commands/config.js')) },
};

/** Options that take a separate value and may come before the verb. */
const VALUE_OPTIONS = new Set(['--repo']);

function findVerb(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith('-')) return a;
  }
  return undefined;
}

function globalOptions(y: Argv): Argv {
  return y
    .scriptName('ostree-ts')
    .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false, 'duplicate-arguments-array': true, 'boolean-negation': false })
    .option('repo', { type: 'string', describe: 'Path to the OSTree repository (default: the current directory, or /sysroot/ostree/repo)', global: true })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'Print debug information', global: true })
    .help('help')
    .alias('help', 'h')
    .version(false)
    .strict()
    .wrap(Math.min(110, process.stdout.columns || 100));
}

export async function main(args: string[]): Promise<number> {
  // A reader that stops early (`| head`) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const require = createRequire(import.meta.url);
  const yargs = require('yargs/yargs') as (a: string[]) => Argv;
  const verb = findVerb(args);
  const y = globalOptions(yargs(args));
  if (args.includes('--version') && !verb) {
    const pkg = require('../../../package.json') as { version: string };
    process.stdout.write(`ostree-ts ${pkg.version}\n  Compatible with libostree 2022.7 formats\n`);
    return 0;
  }
  const entry = verb ? COMMANDS[verb] : undefined;
  if (entry) {
    y.command(await entry.load());
  } else {
    for (const [name, c] of Object.entries(COMMANDS)) y.command(name, c.describe);
    y.usage('Usage: ostree-ts [--repo=PATH] COMMAND [OPTIONS]\n\nBuilds, inspects and checks OSTree repositories, byte-compatible with libostree.');
    if (verb) {
      process.stderr.write(`error: Unknown command '${verb}'. Run 'ostree-ts --help' for the list.\n`);
      return 1;
    }
    y.demandCommand(1, 'Give a command. Run ostree-ts --help for the list.');
  }
  let exitCode = 0;
  try {
    await y
      .fail((msg, err) => {
        if (err) throw err;
        throw Object.assign(new Error(msg), { usage: true });
      })
      .parseAsync();
    exitCode = process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    exitCode = reportError(e);
  }
  return exitCode;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
