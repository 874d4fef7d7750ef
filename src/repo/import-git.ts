/**
 * `commit --tree=git=REPO:REV[:SUBDIR]`: a git tree written as OSTree
 * objects. Git keeps no owners and only two file modes, so files become
 * 0644 or 0755, symlinks stay symlinks, directories (and submodule
 * placeholders, as `git archive` writes them) are 0755, all owned by 0:0.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { encodeDirMeta, encodeDirTree, sortByName, validateFilename, S_IFDIR, S_IFLNK, S_IFREG, type DirTree } from '../format/objects.js';
import { Limiter } from '../io/fs.js';
import { GitRepo, type GitTreeEntry } from '../io/git.js';
import type { CommitModifier } from './commit-filter.js';
import type { RootChecksums } from './commit-writer.js';
import { joinPath } from './mtree.js';
import type { Transaction } from './transaction.js';

export interface GitSourceSpec {
  repo: string;
  rev: string;
  subdir?: string;
}

export interface GitImportResult {
  root: RootChecksums;
  /** remote.origin.url, or the repository's path. */
  source: string;
  /** The resolved git commit id. */
  commit: string;
}

/** Parse REPO:REV[:SUBDIR] (the repository path may itself hold colons only before the last two fields). */
export function parseGitSpec(spec: string): GitSourceSpec {
  const parts = spec.split(':');
  if (parts.length < 2 || !parts[0] || !parts[1]) {
    throw new OstreeTsError(Codes.USAGE, `Bad git tree source "${spec}": expected REPO:REV[:SUBDIR].`, { spec });
  }
  if (parts.length === 2) return { repo: parts[0], rev: parts[1] };
  const subdir = parts.pop() as string;
  const rev = parts.pop() as string;
  return { repo: parts.join(':'), rev, subdir };
}

export async function importGitTree(
  txn: Transaction, spec: GitSourceSpec, modifier: CommitModifier, opts: { signal?: AbortSignal } = {},
): Promise<GitImportResult> {
  const git = await GitRepo.open(spec.repo);
  const commit = await git.resolveCommit(spec.rev);
  const tree = await git.treeOf(commit, spec.subdir);
  const limit = new Limiter(8);
  // Identical git subtrees give identical OSTree trees, unless a path-dependent modifier is at work.
  const memo = modifier.isIdentity ? new Map<string, Promise<RootChecksums>>() : null;

  const dirMeta = async (rel: string): Promise<string> => {
    const st = modifier.apply(rel, { mode: S_IFDIR | 0o755, uid: 0, gid: 0 });
    return txn.writeMetadata('dirmeta', encodeDirMeta({ uid: st.uid, gid: st.gid, mode: st.mode, xattrs: [] }));
  };

  const writeTree = (oid: string, rel: string): Promise<RootChecksums> => {
    const cached = memo?.get(oid);
    if (cached) return cached;
    const p = (async () => {
      opts.signal?.throwIfAborted();
      const entries = await git.readTree(oid);
      const out: DirTree = { files: [], dirs: [] };
      await Promise.all(entries.map(async (e: GitTreeEntry) => {
        const why = validateFilename(e.path);
        if (why) throw new OstreeTsError(Codes.INVALID_NAME, `${git.location}: the tree at ${rel} contains ${why}.`, { path: rel });
        const p = joinPath(rel, e.path);
        if (!modifier.isIdentity && modifier.skips(p)) return;
        if (e.type === 'tree') {
          const sub = await writeTree(e.oid, p);
          out.dirs.push({ name: e.path, tree: sub.tree, meta: sub.meta });
        } else if (e.type === 'commit') {
          // A submodule: git archive writes an empty directory.
          const meta = await dirMeta(p);
          const empty = await txn.writeMetadata('dirtree', encodeDirTree({ files: [], dirs: [] }));
          out.dirs.push({ name: e.path, tree: empty, meta });
        } else {
          const isLink = e.mode === '120000';
          const base = isLink ? S_IFLNK | 0o777 : S_IFREG | (e.mode === '100755' ? 0o755 : 0o644);
          const st = modifier.apply(p, { mode: base, uid: 0, gid: 0 });
          // Blobs are read whole: a limit shared by every level keeps few in memory at once.
          const checksum = await limit.run(async () => {
            const data = await git.readBlob(e.oid);
            const header = { uid: st.uid, gid: st.gid, mode: st.mode, rdev: 0, symlinkTarget: isLink ? data.toString('utf8') : '', xattrs: [] };
            return txn.writeContent(header, isLink ? { kind: 'symlink' } : { kind: 'buffer', data });
          });
          out.files.push({ name: e.path, checksum });
        }
      }));
      const [treeSum, meta] = await Promise.all([
        txn.writeMetadata('dirtree', encodeDirTree({ files: sortByName(out.files), dirs: sortByName(out.dirs) })),
        dirMeta(rel),
      ]);
      return { tree: treeSum, meta };
    })();
    memo?.set(oid, p);
    return p;
  };

  const root = await writeTree(tree, '/');
  return { root, source: await git.sourceName(), commit };
}

