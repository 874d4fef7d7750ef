import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { parseVariantText, type VarDict } from '../../format/index.js';
import { fsp } from '../../io/index.js';
import { commitTree, parseGitSpec, parsePathnameFilter, type TreeSource } from '../../repo/index.js';
import { asList, last, openRepo, parseSize, parseTimestamp, write, type GlobalArgs } from '../common.js';
import { formatBytes, progressLine } from '../progress.js';
import { SIGNING_OPTIONS, signersFrom, type SigningArgs } from '../signing.js';

export const command = 'commit [path]';
export const describe = 'Commit a new revision';

export function builder(y: Argv): Argv {
  return y
    .positional('path', { type: 'string', describe: 'Directory to commit (same as --tree=dir=PATH)' })
    .option('branch', { alias: 'b', type: 'string', describe: 'Branch (ref) to commit to' })
    .option('subject', { alias: 's', type: 'string', describe: 'One-line subject' })
    .option('body', { alias: 'm', type: 'string', describe: 'Full description' })
    .option('tree', { type: 'string', describe: 'Tree source, repeatable; later ones are layered on top: dir=PATH, tar=FILE (tar, tar.gz or tar.zst; - for stdin), git=REPO:REV[:SUBDIR], ref=REV' })
    .option('base', { type: 'string', describe: "Start from this commit's tree (no modifiers apply to it)" })
    .option('tar-autocreate-parents', { type: 'boolean', describe: 'Create directories missing from a tar archive (0755, owned like the entry)' })
    .option('tar-pathname-filter', { type: 'string', describe: 'REGEX,REPLACEMENT applied to each tar entry name (\\1 or $1 for groups)' })
    .option('tar-max-size', { type: 'string', describe: 'Refuse archives that decompress to more than SIZE (bytes, or K/M/G/T; default 64G)' })
    .option('statoverride', { type: 'string', describe: 'File of "MODE PATH" lines (add mode bits) or "=MODE PATH" (set them); MODE in decimal, PATH like /usr/bin/foo' })
    .option('skip-list', { type: 'string', describe: 'File of paths (like /usr/share/doc) to leave out of the commit' })
    .options(SIGNING_OPTIONS)
    .option('selinux-policy', { type: 'string', describe: 'Not supported: label the tree before committing, or commit from a tree that carries security.selinux xattrs' })
    .option('timestamp', { type: 'string', describe: 'Commit time: @SECONDS or a date string (default: now)' })
    .option('parent', { type: 'string', describe: "Parent commit checksum, or 'none' (default: the branch's current commit)" })
    .option('orphan', { type: 'boolean', describe: 'Create a commit with no parent (and, without -b, no ref)' })
    .option('add-metadata-string', { type: 'string', describe: 'Add KEY=VALUE string metadata' })
    .option('add-metadata', { type: 'string', describe: "Add KEY=VALUE metadata, VALUE in GVariant text (e.g. \"uint32 5\", \"'text'\")" })
    .option('add-detached-metadata-string', { type: 'string', describe: 'Add KEY=VALUE string detached metadata' })
    .option('owner-uid', { type: 'number', describe: 'Set the uid of every file and directory' })
    .option('owner-gid', { type: 'number', describe: 'Set the gid of every file and directory' })
    .option('no-xattrs', { type: 'boolean', describe: 'Do not import extended attributes' })
    .option('canonical-permissions', { type: 'boolean', describe: 'Files 0644/0755, directories 0755, owner 0:0' })
    .option('no-bindings', { type: 'boolean', describe: 'Do not add the ostree.ref-binding metadata' })
    .option('bind-ref', { type: 'string', describe: 'Add a ref to the ref-binding metadata' })
    .option('skip-if-unchanged', { type: 'boolean', describe: 'Write nothing if the tree equals the parent commit\'s' })
    .option('fsync', { type: 'boolean', describe: 'Sync written data to disk (default: core.fsync, true)' })
    .example('$0 --repo=repo commit -b os/x86_64 -s "v1" --tree=dir=rootfs', 'Commit a directory')
    .example('$0 --repo=repo commit -b os --timestamp=@1700000000 --add-metadata-string=version=1.0 rootfs', 'Reproducible commit with a version')
    .example('$0 --repo=repo commit -b os --tree=tar=rootfs.tar.zst --tree=git=config.git:main:etc-overlay', 'A rootfs tarball with files from git layered on top');
}

interface CommitArgs extends GlobalArgs, SigningArgs {
  path?: string;
  branch?: string | string[];
  subject?: string | string[];
  body?: string | string[];
  tree?: string[];
  base?: string | string[];
  tarAutocreateParents?: boolean;
  tarPathnameFilter?: string | string[];
  tarMaxSize?: string | string[];
  statoverride?: string | string[];
  skipList?: string | string[];
  selinuxPolicy?: string | string[];
  timestamp?: string | string[];
  parent?: string | string[];
  orphan?: boolean;
  addMetadataString?: string[];
  addMetadata?: string[];
  addDetachedMetadataString?: string[];
  ownerUid?: number | number[];
  ownerGid?: number | number[];
  noXattrs?: boolean;
  canonicalPermissions?: boolean;
  noBindings?: boolean;
  bindRef?: string[];
  skipIfUnchanged?: boolean;
  fsync?: boolean | boolean[];
}

function keyValue(s: string, opt: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0) throw new OstreeTsError(Codes.USAGE, `--${opt} needs KEY=VALUE, got '${s}'.`, { value: s });
  return [s.slice(0, i), s.slice(i + 1)];
}

function treeSources(argv: CommitArgs): TreeSource[] {
  const out: TreeSource[] = [];
  for (const t of asList(argv.tree)) {
    const i = t.indexOf('=');
    const kind = i < 0 ? '' : t.slice(0, i);
    const val = t.slice(i + 1);
    if (kind === 'dir') out.push({ kind: 'dir', path: val });
    else if (kind === 'ref') out.push({ kind: 'ref', rev: val });
    else if (kind === 'tar') out.push(val === '-' ? { kind: 'tar', path: 'stdin', stream: process.stdin } : { kind: 'tar', path: val });
    else if (kind === 'git') out.push({ kind: 'git', ...parseGitSpec(val) });
    else throw new OstreeTsError(Codes.USAGE, `Unsupported --tree='${t}'. Use dir=PATH, tar=FILE, git=REPO:REV[:SUBDIR] or ref=REV.`, { tree: t });
  }
  if (argv.path) out.push({ kind: 'dir', path: argv.path });
  if (out.length === 0 && !argv.base) throw new OstreeTsError(Codes.USAGE, 'Nothing to commit: give a directory, or --tree=dir=PATH (or tar=, git=, ref=).');
  return out;
}

async function readOptionFile(file: string | undefined, opt: string): Promise<string | undefined> {
  if (file === undefined) return undefined;
  return fsp.readFile(file, 'utf8').catch((e: Error) => {
    throw new OstreeTsError(Codes.NOT_FOUND, `Cannot read the --${opt} file ${file}: ${e.message}.`, { path: file });
  });
}

export async function handler(argv: CommitArgs): Promise<void> {
  const repo = await openRepo(argv);
  const metadata: VarDict = [];
  for (const s of asList(argv.addMetadataString)) {
    const [k, v] = keyValue(s, 'add-metadata-string');
    metadata.push([k, { type: 's', value: v }]);
  }
  for (const s of asList(argv.addMetadata)) {
    const [k, v] = keyValue(s, 'add-metadata');
    metadata.push([k, parseVariantText(v)]);
  }
  const detached: VarDict = asList(argv.addDetachedMetadataString).map((s) => {
    const [k, v] = keyValue(s, 'add-detached-metadata-string');
    return [k, { type: 's', value: v }];
  });
  const ts = last(argv.timestamp);
  const uid = last(argv.ownerUid);
  const gid = last(argv.ownerGid);
  if (last(argv.selinuxPolicy) !== undefined) {
    throw new OstreeTsError(Codes.USAGE, '--selinux-policy is not supported: label the tree (setfiles) before committing; security.selinux xattrs are committed as they are.');
  }
  const trees = treeSources(argv);
  // Keys are loaded (and checked) before anything is written.
  const signers = await signersFrom(argv);
  const filter = last(argv.tarPathnameFilter);
  const maxSize = last(argv.tarMaxSize);
  const progress = progressLine();
  const result = await commitTree(repo, {
    onProgress: (e) => progress.update(`Committing: ${e.filesDone} files, ${formatBytes(e.bytesDone)}`),
    trees,
    base: last(argv.base),
    tarAutocreateParents: argv.tarAutocreateParents,
    tarPathnameFilter: filter !== undefined ? parsePathnameFilter(filter) : undefined,
    tarMaxBytes: maxSize !== undefined ? parseSize(maxSize, '--tar-max-size') : undefined,
    statOverride: await readOptionFile(last(argv.statoverride), 'statoverride'),
    skipList: await readOptionFile(last(argv.skipList), 'skip-list'),
    branch: last(argv.branch),
    subject: last(argv.subject),
    body: last(argv.body),
    timestamp: ts !== undefined ? parseTimestamp(ts) : undefined,
    parent: last(argv.parent),
    orphan: argv.orphan,
    metadata,
    detachedMetadata: detached,
    noBindings: argv.noBindings,
    bindRefs: asList(argv.bindRef),
    ownerUid: uid,
    ownerGid: gid,
    noXattrs: argv.noXattrs,
    canonicalPermissions: argv.canonicalPermissions,
    skipIfUnchanged: argv.skipIfUnchanged,
    sign: signers.length ? async (data, detached) => (await import('../../sign/index.js')).signDetached(data, signers, detached) : undefined,
    fsync: last(argv.fsync),
  });
  progress.done();
  write(`${result.checksum}\n`);
}
