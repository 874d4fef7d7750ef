import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { parseVariantText, type VarDict } from '../../format/index.js';
import { commitTree, type TreeSource } from '../../repo/index.js';
import { asList, last, openRepo, parseTimestamp, write, type GlobalArgs } from '../common.js';
import { formatBytes, progressLine } from '../progress.js';

export const command = 'commit [path]';
export const describe = 'Commit a new revision';

export function builder(y: Argv): Argv {
  return y
    .positional('path', { type: 'string', describe: 'Directory to commit (same as --tree=dir=PATH)' })
    .option('branch', { alias: 'b', type: 'string', describe: 'Branch (ref) to commit to' })
    .option('subject', { alias: 's', type: 'string', describe: 'One-line subject' })
    .option('body', { alias: 'm', type: 'string', describe: 'Full description' })
    .option('tree', { type: 'string', array: true, describe: "Tree source: dir=PATH (a directory) or ref=REV (an existing commit's tree)" })
    .option('timestamp', { type: 'string', describe: 'Commit time: @SECONDS or a date string (default: now)' })
    .option('parent', { type: 'string', describe: "Parent commit checksum, or 'none' (default: the branch's current commit)" })
    .option('orphan', { type: 'boolean', describe: 'Create a commit with no parent (and, without -b, no ref)' })
    .option('add-metadata-string', { type: 'string', array: true, describe: 'Add KEY=VALUE string metadata' })
    .option('add-metadata', { type: 'string', array: true, describe: "Add KEY=VALUE metadata, VALUE in GVariant text (e.g. \"uint32 5\", \"'text'\")" })
    .option('add-detached-metadata-string', { type: 'string', array: true, describe: 'Add KEY=VALUE string detached metadata' })
    .option('owner-uid', { type: 'number', describe: 'Set the uid of every file and directory' })
    .option('owner-gid', { type: 'number', describe: 'Set the gid of every file and directory' })
    .option('no-xattrs', { type: 'boolean', describe: 'Do not import extended attributes' })
    .option('canonical-permissions', { type: 'boolean', describe: 'Files 0644/0755, directories 0755, owner 0:0' })
    .option('no-bindings', { type: 'boolean', describe: 'Do not add the ostree.ref-binding metadata' })
    .option('bind-ref', { type: 'string', array: true, describe: 'Add a ref to the ref-binding metadata' })
    .option('skip-if-unchanged', { type: 'boolean', describe: 'Write nothing if the tree equals the parent commit\'s' })
    .option('fsync', { type: 'boolean', describe: 'Sync written data to disk (default: core.fsync, true)' })
    .example('$0 --repo=repo commit -b os/x86_64 -s "v1" --tree=dir=rootfs', 'Commit a directory')
    .example('$0 --repo=repo commit -b os --timestamp=@1700000000 --add-metadata-string=version=1.0 rootfs', 'Reproducible commit with a version');
}

interface CommitArgs extends GlobalArgs {
  path?: string;
  branch?: string | string[];
  subject?: string | string[];
  body?: string | string[];
  tree?: string[];
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
    else throw new OstreeTsError(Codes.USAGE, `Unsupported --tree='${t}'. Use --tree=dir=PATH or --tree=ref=REV.`, { tree: t });
  }
  if (argv.path) out.push({ kind: 'dir', path: argv.path });
  if (out.length === 0) throw new OstreeTsError(Codes.USAGE, 'Nothing to commit: give a directory, or --tree=dir=PATH.');
  if (out.length > 1) throw new OstreeTsError(Codes.USAGE, 'Layering several --tree arguments is not supported yet; give one tree.');
  return out;
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
  const progress = progressLine();
  const result = await commitTree(repo, {
    onProgress: (e) => progress.update(`Committing: ${e.filesDone} files, ${formatBytes(e.bytesDone)}`),
    tree: treeSources(argv)[0],
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
    fsync: last(argv.fsync),
  });
  progress.done();
  write(`${result.checksum}\n`);
}
