/**
 * The ostree-ts command table: every verb with its one-line description and
 * the module that implements it, loaded only when it runs (see ../shell.ts).
 */
import { packageVersion } from '../../io/package-root.js';
import { GLOBALS } from '../common.js';
import { ADMIN_OPTIONS } from '../options.js';
import { verbModule, type GroupEntry, type Program, type VerbEntry } from '../shell.js';

/** `ostree-ts admin VERB`: each verb its own module (admin/<verb>.ts). */
const ADMIN: GroupEntry = {
  describe: 'Manage a sysroot: deploy, status, undeploy, cleanup, upgrade (as ostree admin)',
  options: ADMIN_OPTIONS,
  usage: 'Usage: ostree-ts admin [--sysroot=DIR] COMMAND [OPTIONS]\n\nDeployments, boot entries and upgrades of a sysroot, laid out as libostree lays them out.',
  verbs: {
    'init-fs': { describe: 'Lay out an empty sysroot with a bare repository at ostree/repo', load: () => verbModule(import('../admin/init-fs.js')) },
    'os-init': { describe: 'Create a stateroot (its /var)', load: () => verbModule(import('../admin/os-init.js')) },
    deploy: { describe: 'Check out a commit as a new deployment, the boot default unless told otherwise', load: () => verbModule(import('../admin/deploy.js')) },
    status: { describe: 'List the deployments, default first', load: () => verbModule(import('../admin/status.js')) },
    undeploy: { describe: 'Delete the deployment at INDEX', load: () => verbModule(import('../admin/undeploy.js')) },
    cleanup: { describe: 'Delete deployments, kernels and objects nothing in the boot list needs', load: () => verbModule(import('../admin/cleanup.js')) },
    pin: { describe: 'Keep deployments through upgrades and cleanup (or --unpin)', load: () => verbModule(import('../admin/pin.js')) },
    'config-diff': { describe: 'Diff the current /etc configuration against the defaults (usr/etc)', load: () => verbModule(import('../admin/config-diff.js')) },
    unlock: { describe: 'Make the booted deployment mutable (as a hotfix or for development): needs the booted system', load: () => verbModule(import('../admin/unlock.js')) },
    'set-origin': { describe: 'Point a deployment at REMOTE URL BRANCH', load: () => verbModule(import('../admin/set-origin.js')) },
    upgrade: { describe: 'Pull the followed ref and deploy its newest commit, if it changed', load: () => verbModule(import('../admin/upgrade.js')) },
    switch: { describe: 'Follow another ref and deploy its newest commit', load: () => verbModule(import('../admin/switch.js')) },
    kargs: { describe: 'Change kernel arguments (edit-in-place)', load: () => verbModule(import('../admin/kargs.js')) },
    rollback: { describe: 'Make the previous deployment the boot default again', load: () => verbModule(import('../admin/rollback.js')) },
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
  init: { describe: 'Initialize a new empty repository', load: () => verbModule(import('./init.js')) },
  compose: { describe: 'Build a commit from a recipe (YAML): sources, files, scripts, checks and the OSTree conventions, signed, reproducible', load: () => verbModule(import('./compose.js')) },
  commit: { describe: 'Record a tree (directory, tar archive, git tree, commit) as a new commit on a branch', load: () => verbModule(import('./commit.js')) },
  checkout: { describe: 'Check out a commit into a filesystem tree', load: () => verbModule(import('./checkout.js')) },
  refs: { describe: 'List, create or delete refs', load: () => verbModule(import('./refs.js')) },
  'rev-parse': { describe: 'Output the commit checksum a rev names', load: () => verbModule(import('./rev-parse.js')) },
  reset: { describe: 'Reset a REF to a previous COMMIT', load: () => verbModule(import('./reset.js')) },
  log: { describe: 'Show the history of a branch', load: () => verbModule(import('./log.js')) },
  show: { describe: 'Output a commit, or one of its metadata values', load: () => verbModule(import('./show.js')) },
  export: { describe: 'Write a commit as a tar archive (tar, tar.gz or tar.zst)', load: () => verbModule(import('./export.js')) },
  ls: { describe: 'List files in a commit', load: () => verbModule(import('./ls.js')) },
  cat: { describe: 'Concatenate contents of files in a commit', load: () => verbModule(import('./cat.js')) },
  diff: { describe: 'Compare the trees of two commits', load: () => verbModule(import('./diff.js')) },
  checksum: { describe: 'Checksum a file or directory as an object would be named (content or dirmeta checksum)', load: () => verbModule(import('./checksum.js')) },
  fsck: { describe: 'Check the repository for consistency: every object re-hashed, every commit complete', load: () => verbModule(import('./fsck.js')) },
  prune: { describe: 'Delete unreachable objects', load: () => verbModule(import('./prune.js')) },
  'find-remotes': { describe: 'Find remotes to serve the given refs (configured remotes with a collection ID, repositories on mounted media), and pull from them', load: () => verbModule(import('./find-remotes.js')) },
  'create-usb': { describe: 'Copy the refs to a USB stick (a repository on removable media that find-remotes can pull from)', load: () => verbModule(import('./create-usb.js')) },
  summary: { describe: 'Regenerate, sign or show the repository summary', load: () => verbModule(import('./summary.js')) },
  sign: { describe: 'Sign a commit (ed25519), verify its signatures, or generate a key pair', load: () => verbModule(import('./sign.js')) },
  'gpg-sign': { describe: 'Sign a commit with OpenPGP keys (verifiable by ostree with gpgme)', load: () => verbModule(import('./gpg-sign.js')) },
  verify: { describe: "Check a commit's (or the summary's) signatures against a remote's policy or given keys", load: () => verbModule(import('./verify.js')) },
  pull: { describe: 'Download commits (and what they need) from a remote, verified', load: () => verbModule(import('./pull.js')) },
  'static-delta': { describe: 'Generate, list, show, delete or apply static deltas', load: () => verbModule(import('./static-delta.js')) },
  'pull-local': { describe: 'Copy commits (and what they need) from another repository on this machine', load: () => verbModule(import('./pull-local.js')) },
  serve: { describe: 'Serve the repository over HTTP (static files, byte ranges), for pulls', load: () => verbModule(import('./serve.js')) },
  remote: { describe: "Add, delete, list or show remotes (and their signature policy); list a remote's refs or show its summary", load: () => verbModule(import('./remote.js')) },
  admin: ADMIN,
  config: { describe: 'Get or set repository configuration (SECTION.KEY)', load: () => verbModule(import('./config.js')) },
};

export const PROGRAM: Program = {
  name: 'ostree-ts',
  usage: 'Usage: ostree-ts [--repo=PATH] COMMAND [OPTIONS]\n\nBuilds, inspects and checks OSTree repositories, byte-compatible with libostree.',
  epilog: "Exit status: 0 on success, 1 on failure, as ostree's (70: an internal error, a bug in ostree-ts). atomic tells refusals apart: see 'atomic --help'.",
  globals: GLOBALS,
  verbs: COMMANDS,
  convention: 'ostree',
  version: () => versionDocument(packageVersion()),
};

/**
 * What `--version` prints: ostree's YAML document, so that scripts reading it
 * (`ostree --version | grep -- '- gpgme'`) get true answers about this
 * program. Only features it really has are listed: OpenPGP verification as
 * ostree's gpgme, tar archives as its libarchive, ed25519 signatures.
 */
export function versionDocument(version: string): string {
  const features = ['gpgme', 'libarchive', 'sign-ed25519', 'release'];
  return [
    'libostree:',
    " Version: '2022.7'",
    ' Features:',
    ...features.map((f) => `  - ${f}`),
    'ostree-ts:',
    ` Version: '${version}'`,
    '',
  ].join('\n');
}
