import { Codes, OstreeTsError } from '../../errors/index.js';
import { parseVariantText } from '../../format/gvariant-text.js';
import type { VarDict } from '../../format/gvariant.js';
import { editorCommand, runEditor } from '../../io/editor.js';
import { fsp, path } from '../../io/fs.js';
import { commitTree, type TreeSource } from '../../repo/commit.js';
import { parseGitSpec } from '../../repo/import-git.js';
import { parsePathnameFilter } from '../../repo/import-tar.js';
import { openRepo, parseSize, parseTimestamp, verb, write } from '../common.js';
import { flag, list, num, optionalArg, str, tristate, type Parsed } from '../options.js';
import { formatBytes, progressLine } from '../progress.js';
import { SIGNING_OPTIONS, signersFrom } from '../signing.js';

const TREE = 'Tree sources:';
const META = 'Metadata:';
const FILTERS = 'Filters:';
const OUTPUT = 'Output:';

const OPTIONS = {
  tree: list('Tree source: dir=PATH, tar=FILE (tar, tar.gz or tar.zst; - for stdin), git=REPO:REV[:SUBDIR] or ref=REV; repeatable, later ones are layered on top', { group: TREE }),
  base: str("Start from this commit's tree (no filters apply to it)", { group: TREE }),
  'tar-autocreate-parents': flag('Create directories missing from a tar archive (0755, owned like the entry)', { group: TREE }),
  'tar-pathname-filter': str('REGEX,REPLACEMENT applied to each tar entry name (\\1 or $1 for groups)', { group: TREE }),
  'tar-max-size': str('Refuse archives that decompress to more than SIZE (bytes, or K/M/G/T; default 64G)', { group: TREE }),
  branch: str('Branch (ref) to commit to; its current commit becomes the parent', { alias: 'b', group: META }),
  subject: str('One-line subject', { alias: 's', group: META }),
  body: str('Full description', { alias: 'm', group: META }),
  'body-file': str('Full description from FILE (as it is)', { alias: 'F', group: META }),
  editor: flag('Write the subject and description in an editor (OSTREE_EDITOR, VISUAL, EDITOR or vi); an empty subject aborts', { alias: 'e', group: META }),
  'keep-metadata': list('Copy metadata KEY (and its value) from the parent commit; repeatable', { group: META }),
  bootable: flag('Refuse a tree without a kernel (/usr/lib/modules/VERSION/vmlinuz); add ostree.bootable and ostree.linux', { group: META }),
  'generate-sizes': flag('Add ostree.sizes: the archived and unpacked size of every object (archive repositories)', { group: META }),
  timestamp: str('Commit time: @SECONDS or a date string (default: now)', { group: META }),
  parent: str("Parent commit checksum, or 'none' (default: the branch's current commit)", { group: META }),
  orphan: flag('Create a commit with no parent (and, without -b, no ref)', { group: META }),
  'add-metadata-string': list('Add KEY=VALUE string metadata', { group: META }),
  'add-metadata': list("Add KEY=VALUE metadata, VALUE in GVariant text (e.g. \"uint32 5\", \"'text'\")", { group: META }),
  'add-detached-metadata-string': list('Add KEY=VALUE string detached metadata', { group: META }),
  'no-bindings': flag('Do not add the ostree.ref-binding metadata', { group: META }),
  'bind-ref': list('Add a ref to the ref-binding metadata', { group: META }),
  ...SIGNING_OPTIONS,
  statoverride: str('File of "MODE PATH" lines (add mode bits) or "=MODE PATH" (set them); MODE in decimal, PATH like /usr/bin/foo', { group: FILTERS }),
  'skip-list': str('File of paths (like /usr/share/doc) to leave out of the commit', { group: FILTERS }),
  'owner-uid': num('Set the uid of every file and directory', { group: FILTERS }),
  'owner-gid': num('Set the gid of every file and directory', { group: FILTERS }),
  'no-xattrs': flag('Do not import extended attributes', { group: FILTERS }),
  'canonical-permissions': flag('Files 0644/0755, directories 0755, owner 0:0', { group: FILTERS }),
  'mode-ro-executables': flag('Executable files lose their write bits', { group: FILTERS }),
  'selinux-policy-from-base': flag('Label the tree with the SELinux policy of the --base commit (refused when it has one: no labelling here; a base without a policy labels nothing)', { alias: 'P', group: FILTERS }),
  'selinux-policy': str('Not supported: label the tree before committing, or commit from a tree that carries security.selinux xattrs', { group: FILTERS }),
  consume: flag('Delete the committed directories (--tree=dir and PATH) once the commit is written', { group: OUTPUT }),
  'link-checkout-speedup': flag('Accepted for trees of hardlinks into the repository: every file is hashed, so the result is the same', { group: OUTPUT }),
  'devino-canonical': flag('Accepted: files hardlinked to objects are hashed like any other, so the result is the same', { group: OUTPUT }),
  'table-output': flag('Print the checksum and object counts as KEY: VALUE lines', { group: OUTPUT }),
  'skip-if-unchanged': flag('Write nothing if the tree equals the parent commit\'s', { group: OUTPUT }),
  fsync: tristate('Sync written data to disk (default: core.fsync, true); --fsync=false skips it', { group: OUTPUT }),
};

type CommitArgs = Parsed<typeof OPTIONS> & { path?: string };

function keyValue(s: string, opt: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0) throw new OstreeTsError(Codes.USAGE, `--${opt} needs KEY=VALUE, got '${s}'.`, { value: s });
  return [s.slice(0, i), s.slice(i + 1)];
}

function treeSources(argv: CommitArgs): TreeSource[] {
  const out: TreeSource[] = [];
  for (const t of argv.tree) {
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
  // As ostree: with no tree named (and no --base), the current directory is the tree.
  if (out.length === 0 && !argv.base) out.push({ kind: 'dir', path: '.' });
  return out;
}

async function readOptionFile(file: string | undefined, opt: string): Promise<string | undefined> {
  if (file === undefined) return undefined;
  return fsp.readFile(file, 'utf8').catch((e: Error) => {
    throw new OstreeTsError(Codes.NOT_FOUND, `Cannot read the --${opt} file ${file}: ${e.message}.`, { path: file });
  });
}

/** The lines ostree's editor template holds below the message. */
function editorTemplate(branch: string | undefined): string {
  return '\n# Please enter the commit message for your changes. The first line will\n'
    + '# become the subject, and the remainder the body. Lines starting\n'
    + "# with '#' will be ignored, and an empty message aborts the commit.\n"
    + (branch !== undefined ? `#\n# Branch: ${branch}\n` : '');
}

/** Subject: the first non-blank line; body: the rest, comments dropped, trailing blanks trimmed (as ostree parses it). */
export function parseEditedMessage(text: string): { subject: string; body: string } {
  let subject: string | undefined;
  const bodyLines: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    if (line.startsWith('#')) continue;
    if (subject === undefined) {
      if (line.trim() !== '') subject = line.trim();
      continue;
    }
    if (bodyLines.length === 0 && line === '') continue;
    bodyLines.push(line);
  }
  while (bodyLines.length && bodyLines[bodyLines.length - 1] === '') bodyLines.pop();
  if (subject === undefined) throw new OstreeTsError(Codes.USAGE, 'Aborting commit due to empty commit subject: write a subject on the first line in the editor, or use -s.');
  return { subject, body: bodyLines.join('\n') };
}

async function editMessage(repoPath: string, branch: string | undefined): Promise<{ subject: string; body: string }> {
  const dir = await fsp.mkdtemp(path.join(repoPath, 'tmp', 'commit-msg-'));
  const file = path.join(dir, 'COMMIT_EDITMSG');
  try {
    await fsp.writeFile(file, editorTemplate(branch));
    await runEditor(editorCommand(process.env), file);
    return parseEditedMessage(await fsp.readFile(file, 'utf8'));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

/** Labelling from a base's policy needs libselinux, which this build does not use: refuse a base that has one. */
async function refuseBasePolicy(repo: Awaited<ReturnType<typeof openRepo>>, base: string): Promise<void> {
  const { resolveRev, lookupPath } = await import('../../repo/index.js');
  const rev = await resolveRev(repo, base) as string;
  const found = await lookupPath(repo, await repo.loadCommit(rev), '/usr/etc/selinux/config').then(() => true, () => false);
  if (found) {
    throw new OstreeTsError(Codes.USAGE, `The base commit ${rev} has an SELinux policy (/usr/etc/selinux/config), and this build cannot label with it: label the tree (setfiles) before committing, without -P.`, { rev });
  }
}

export default verb({
  positionals: { path: optionalArg('Directory to commit (same as --tree=dir=PATH; the current directory when no tree is named)') },
  options: OPTIONS,
  groups: [TREE, META, 'Signing:', FILTERS, OUTPUT],
  examples: [
    ['$0 --repo=repo commit -b os/x86_64 -s "v1" --tree=dir=rootfs', 'Commit a directory'],
    ['$0 --repo=repo commit -b os --timestamp=@1700000000 --add-metadata-string=version=1.0 rootfs', 'Reproducible commit with a version'],
    ['$0 --repo=repo commit -b os --tree=tar=rootfs.tar.zst --tree=git=config.git:main:etc-overlay', 'A rootfs tarball with files from git layered on top'],
  ],
  details: 'A commit records one tree (files, directories, symlinks with their owners, modes and extended attributes) with a subject, a time and metadata. '
    + 'The tree is built from the sources in order, each layered on the ones before (a later file replaces an earlier one); the filters then adjust it. '
    + 'Every object is stored and made durable before the branch moves to the new commit, whose parent is the commit the branch named.',
  async run(o) {
    const repo = await openRepo(o);
    const metadata: VarDict = [];
    for (const s of o.addMetadataString) {
      const [k, v] = keyValue(s, 'add-metadata-string');
      metadata.push([k, { type: 's', value: v }]);
    }
    for (const s of o.addMetadata) {
      const [k, v] = keyValue(s, 'add-metadata');
      metadata.push([k, parseVariantText(v)]);
    }
    const detached: VarDict = o.addDetachedMetadataString.map((s) => {
      const [k, v] = keyValue(s, 'add-detached-metadata-string');
      return [k, { type: 's', value: v }];
    });
    let subject = o.subject;
    let body = o.body;
    if (o.bodyFile !== undefined) {
      body = await fsp.readFile(o.bodyFile, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw new OstreeTsError(Codes.NOT_FOUND, `Cannot read the --body-file ${o.bodyFile}: ${e.code === 'ENOENT' ? 'no such file' : e.message}.`, { path: o.bodyFile });
      });
    }
    if (o.editor) ({ subject, body } = await editMessage(repo.path, o.branch));
    if (o.selinuxPolicyFromBase && o.base !== undefined) await refuseBasePolicy(repo, o.base);
    if (o.selinuxPolicy !== undefined) {
      throw new OstreeTsError(Codes.USAGE, '--selinux-policy is not supported: label the tree (setfiles) before committing; security.selinux xattrs are committed as they are.');
    }
    const trees = treeSources(o);
    // Keys are loaded (and checked) before anything is written.
    const signers = await signersFrom(o);
    const progress = progressLine();
    const result = await commitTree(repo, {
      onProgress: (e) => progress.update(`Committing: ${e.filesDone} files, ${formatBytes(e.bytesDone)}`),
      trees,
      base: o.base,
      tarAutocreateParents: o.tarAutocreateParents,
      tarPathnameFilter: o.tarPathnameFilter !== undefined ? parsePathnameFilter(o.tarPathnameFilter) : undefined,
      tarMaxBytes: o.tarMaxSize !== undefined ? parseSize(o.tarMaxSize, '--tar-max-size') : undefined,
      statOverride: await readOptionFile(o.statoverride, 'statoverride'),
      skipList: await readOptionFile(o.skipList, 'skip-list'),
      branch: o.branch,
      subject,
      body,
      bootable: o.bootable,
      generateSizes: o.generateSizes,
      keepMetadata: o.keepMetadata,
      modeRoExecutables: o.modeRoExecutables,
      timestamp: o.timestamp !== undefined ? parseTimestamp(o.timestamp) : undefined,
      parent: o.parent,
      orphan: o.orphan,
      metadata,
      detachedMetadata: detached,
      noBindings: o.noBindings,
      bindRefs: o.bindRef,
      ownerUid: o.ownerUid,
      ownerGid: o.ownerGid,
      noXattrs: o.noXattrs,
      canonicalPermissions: o.canonicalPermissions,
      skipIfUnchanged: o.skipIfUnchanged,
      sign: signers.length ? async (data, detached) => (await import('../../sign/index.js')).signDetached(data, signers, detached) : undefined,
      fsync: o.fsync,
    });
    progress.done();
    if (o.consume) {
      for (const t of trees) if (t.kind === 'dir') await fsp.rm(t.path, { recursive: true, force: true });
    }
    if (o.tableOutput) {
      const c = result.counts;
      write(`Commit: ${result.checksum}\nMetadata Total: ${c.metadataTotal}\nMetadata Written: ${c.metadataWritten}\n`
        + `Content Total: ${c.contentTotal}\nContent Written: ${c.contentWritten}\nContent Cache Hits: ${c.contentCacheHits}\n`
        + `Content Bytes Written: ${c.contentBytesWritten}\n`);
    } else {
      write(`${result.checksum}\n`);
    }
  },
});
