#!/usr/bin/env node
/**
 * ostree-ts: the command table. Only the verb that runs is loaded, so the
 * command starts fast; the shell (shell.ts) parses, runs and reports.
 */
import { createRequire } from 'node:module';
import { ADMIN_OPTIONS } from './admin/common.js';
import { GLOBALS } from './common.js';
import { start, type GroupEntry, type Program, type Verb, type VerbEntry } from './shell.js';

function load(m: Promise<{ default: Verb }>): Promise<Verb> {
  return m.then((x) => x.default);
}

/** `ostree-ts admin VERB`: each verb its own module (admin/<verb>.ts). */
const ADMIN: GroupEntry = {
  describe: 'Manage a sysroot: deploy, status, undeploy, cleanup, upgrade (as ostree admin)',
  options: ADMIN_OPTIONS,
  usage: 'Usage: ostree-ts admin [--sysroot=DIR] COMMAND [OPTIONS]\n\nDeployments, boot entries and upgrades of a sysroot, laid out as libostree lays them out.',
  verbs: {
    'init-fs': { describe: 'Lay out an empty sysroot with a bare repository at ostree/repo', load: () => load(import('./admin/init-fs.js')) },
    'os-init': { describe: 'Create a stateroot (its /var)', load: () => load(import('./admin/os-init.js')) },
    deploy: { describe: 'Check out a commit as a new deployment, the boot default unless told otherwise', load: () => load(import('./admin/deploy.js')) },
    status: { describe: 'List the deployments, default first', load: () => load(import('./admin/status.js')) },
    undeploy: { describe: 'Delete the deployment at INDEX', load: () => load(import('./admin/undeploy.js')) },
    cleanup: { describe: 'Delete deployments, kernels and objects nothing in the boot list needs', load: () => load(import('./admin/cleanup.js')) },
    pin: { describe: 'Keep deployments through upgrades and cleanup (or --unpin)', load: () => load(import('./admin/pin.js')) },
    'set-origin': { describe: 'Point a deployment at REMOTE URL BRANCH', load: () => load(import('./admin/set-origin.js')) },
    upgrade: { describe: 'Pull the followed ref and deploy its newest commit, if it changed', load: () => load(import('./admin/upgrade.js')) },
    switch: { describe: 'Follow another ref and deploy its newest commit', load: () => load(import('./admin/switch.js')) },
    kargs: { describe: 'Change kernel arguments (edit-in-place)', load: () => load(import('./admin/kargs.js')) },
    rollback: { describe: 'Make the previous deployment the boot default again', load: () => load(import('./admin/rollback.js')) },
  },
  examples: [
    ['$0 admin init-fs /mnt/sysroot', 'Lay out an empty sysroot with a bare repository at ostree/repo'],
    ['$0 admin --sysroot=/mnt/sysroot os-init debian', 'Create the stateroot debian (its /var)'],
    ['$0 admin --sysroot=/mnt/sysroot deploy --os=debian --karg=root=LABEL=root debian/stable', 'Deploy the commit debian/stable names, as the boot default'],
    ['$0 admin --sysroot=/mnt/sysroot status', 'The deployments, default first'],
    ['$0 admin --sysroot=/mnt/sysroot kargs edit-in-place --append-if-missing=quiet', 'Add an argument to every deployment\'s boot entry (switched atomically)'],
  ],
};

export const COMMANDS: Record<string, VerbEntry | GroupEntry> = {
  init: { describe: 'Initialize a new empty repository', load: () => load(import('./commands/init.js')) },
  commit: { describe: 'Record a tree (directory, tar archive, git tree, commit) as a new commit on a branch', load: () => load(import('./commands/commit.js')) },
  checkout: { describe: 'Check out a commit into a filesystem tree', load: () => load(import('./commands/checkout.js')) },
  refs: { describe: 'List, create or delete refs', load: () => load(import('./commands/refs.js')) },
  'rev-parse': { describe: 'Output the commit checksum a rev names', load: () => load(import('./commands/rev-parse.js')) },
  log: { describe: 'Show the history of a branch', load: () => load(import('./commands/log.js')) },
  show: { describe: 'Output a commit, or one of its metadata values', load: () => load(import('./commands/show.js')) },
  export: { describe: 'Write a commit as a tar archive (tar, tar.gz or tar.zst)', load: () => load(import('./commands/export.js')) },
  ls: { describe: 'List files in a commit', load: () => load(import('./commands/ls.js')) },
  cat: { describe: 'Concatenate contents of files in a commit', load: () => load(import('./commands/cat.js')) },
  diff: { describe: 'Compare the trees of two commits', load: () => load(import('./commands/diff.js')) },
  fsck: { describe: 'Check the repository for consistency: every object re-hashed, every commit complete', load: () => load(import('./commands/fsck.js')) },
  prune: { describe: 'Delete unreachable objects', load: () => load(import('./commands/prune.js')) },
  summary: { describe: 'Regenerate, sign or show the repository summary', load: () => load(import('./commands/summary.js')) },
  sign: { describe: 'Sign a commit (ed25519), verify its signatures, or generate a key pair', load: () => load(import('./commands/sign.js')) },
  'gpg-sign': { describe: 'Sign a commit with OpenPGP keys (verifiable by ostree with gpgme)', load: () => load(import('./commands/gpg-sign.js')) },
  verify: { describe: "Check a commit's (or the summary's) signatures against a remote's policy or given keys", load: () => load(import('./commands/verify.js')) },
  pull: { describe: 'Download commits (and what they need) from a remote, verified', load: () => load(import('./commands/pull.js')) },
  'static-delta': { describe: 'Generate, list, show, delete or apply static deltas', load: () => load(import('./commands/static-delta.js')) },
  'pull-local': { describe: 'Copy commits (and what they need) from another repository on this machine', load: () => load(import('./commands/pull-local.js')) },
  serve: { describe: 'Serve the repository over HTTP (static files, byte ranges), for pulls', load: () => load(import('./commands/serve.js')) },
  remote: { describe: "Add, delete, list or show remotes (and their signature policy); list a remote's refs or show its summary", load: () => load(import('./commands/remote.js')) },
  admin: ADMIN,
  config: { describe: 'Get or set repository configuration (SECTION.KEY)', load: () => load(import('./commands/config.js')) },
};

export const PROGRAM: Program = {
  name: 'ostree-ts',
  usage: 'Usage: ostree-ts [--repo=PATH] COMMAND [OPTIONS]\n\nBuilds, inspects and checks OSTree repositories, byte-compatible with libostree.',
  epilog: "Exit status: 0 on success, 1 on failure, as ostree's (70: an internal error, a bug in ostree-ts). atomic tells refusals apart: see 'atomic --help'.",
  globals: GLOBALS,
  verbs: COMMANDS,
  convention: 'ostree',
  version: () => {
    const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };
    return `ostree-ts ${pkg.version}\n  Compatible with libostree 2022.7 formats\n`;
  },
};

start(PROGRAM);
