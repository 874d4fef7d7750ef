/** Reading a commit's tree: path lookup, listings, history and diffs. */
import { Codes, OstreeTsError } from '../errors/index.js';
import { S_IFDIR, S_IFLNK, S_IFMT, type Commit, type Xattr } from '../format/objects.js';
import { resolveRev } from './refs.js';
import type { Repo } from './repo.js';

export type TreeNode =
  | { kind: 'dir'; path: string; tree: string; meta: string }
  | { kind: 'file'; path: string; checksum: string };

/** Find `p` (an absolute path inside the commit) in the tree of `commit`. */
export async function lookupPath(repo: Repo, commit: Commit, p: string): Promise<TreeNode> {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  let node: TreeNode = { kind: 'dir', path: '/', tree: commit.rootTree, meta: commit.rootMeta };
  for (const name of parts) {
    if (node.kind !== 'dir') break;
    const t = await repo.loadDirTree(node.tree);
    const childPath: string = node.path === '/' ? `/${name}` : `${node.path}/${name}`;
    const d = t.dirs.find((x) => x.name === name);
    const f = t.files.find((x) => x.name === name);
    if (d) node = { kind: 'dir', path: childPath, tree: d.tree, meta: d.meta };
    else if (f) node = { kind: 'file', path: childPath, checksum: f.checksum };
    else throw new OstreeTsError(Codes.NOT_FOUND, `No such file or directory ${childPath} in the commit.`, { path: childPath });
  }
  if (node.kind === 'file' && parts.length && node.path.split('/').filter(Boolean).length !== parts.length) {
    throw new OstreeTsError(Codes.NOT_FOUND, `${p} is not a directory in the commit.`, { path: p });
  }
  return node;
}

export interface LsEntry {
  type: 'd' | '-' | 'l';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  path: string;
  target?: string;
  /** File checksum, or the dirtree checksum for directories. */
  checksum: string;
  /** Dirmeta checksum (directories). */
  metaChecksum?: string;
  xattrs: Xattr[];
}

async function describe(repo: Repo, node: TreeNode): Promise<LsEntry> {
  if (node.kind === 'dir') {
    const m = await repo.loadDirMeta(node.meta);
    return { type: 'd', mode: m.mode, uid: m.uid, gid: m.gid, size: 0, path: node.path, checksum: node.tree, metaChecksum: node.meta, xattrs: m.xattrs };
  }
  const f = await repo.loadFile(node.checksum);
  const isDir = (f.header.mode & S_IFMT) === S_IFDIR;
  const isLink = !isDir && (f.header.mode & S_IFMT) === S_IFLNK;
  return {
    type: isLink ? 'l' : '-', mode: f.header.mode, uid: f.header.uid, gid: f.header.gid, size: f.size, path: node.path,
    target: isLink ? f.header.symlinkTarget : undefined, checksum: node.checksum, xattrs: f.header.xattrs,
  };
}

/** Entries as `ostree ls` lists them: the path itself, then its children (recursively with `recursive`). */
export async function* listTree(repo: Repo, rev: string, paths: string[], opts: { recursive?: boolean; dirOnly?: boolean } = {}): AsyncGenerator<LsEntry> {
  const checksum = (await resolveRev(repo, rev)) as string;
  const commit = await repo.loadCommit(checksum);
  for (const p of paths.length ? paths : ['/']) {
    const node = await lookupPath(repo, commit, p);
    yield await describe(repo, node);
    if (node.kind === 'dir' && !opts.dirOnly) yield* listChildren(repo, node, opts.recursive === true);
  }
}

async function* listChildren(repo: Repo, dir: Extract<TreeNode, { kind: 'dir' }>, recursive: boolean): AsyncGenerator<LsEntry> {
  const t = await repo.loadDirTree(dir.tree);
  const join = (n: string): string => (dir.path === '/' ? `/${n}` : `${dir.path}/${n}`);
  for (const f of t.files) yield await describe(repo, { kind: 'file', path: join(f.name), checksum: f.checksum });
  for (const d of t.dirs) {
    const node: TreeNode = { kind: 'dir', path: join(d.name), tree: d.tree, meta: d.meta };
    yield await describe(repo, node);
    if (recursive) yield* listChildren(repo, node, true);
  }
}

export interface LogEntry {
  checksum: string;
  commit: Commit;
}

/** A commit and its ancestors, newest first; `truncated` when history ends at a commit not present. */
export async function readHistory(repo: Repo, rev: string): Promise<{ entries: LogEntry[]; truncated: boolean }> {
  let c: string | null = (await resolveRev(repo, rev)) as string;
  const entries: LogEntry[] = [];
  while (c) {
    if (!(await repo.hasObject(c, 'commit'))) return { entries, truncated: true };
    const commit = await repo.loadCommit(c);
    entries.push({ checksum: c, commit });
    c = commit.parent;
  }
  return { entries, truncated: false };
}

export interface TreeDiff {
  modified: string[];
  removed: string[];
  added: string[];
}

/** What changed from `revA` to `revB`, as `ostree diff` reports it. */
export async function diffRevs(repo: Repo, revA: string, revB: string): Promise<TreeDiff> {
  const a = await repo.loadCommit((await resolveRev(repo, revA)) as string);
  const b = await repo.loadCommit((await resolveRev(repo, revB)) as string);
  const out: TreeDiff = { modified: [], removed: [], added: [] };
  if (a.rootMeta !== b.rootMeta) out.modified.push('/');
  await diffDirs(repo, '/', a.rootTree, b.rootTree, out);
  return out;
}

async function diffDirs(repo: Repo, at: string, ta: string, tb: string, out: TreeDiff): Promise<void> {
  if (ta === tb) return;
  const [A, B] = await Promise.all([repo.loadDirTree(ta), repo.loadDirTree(tb)]);
  const join = (n: string): string => (at === '/' ? `/${n}` : `${at}/${n}`);
  const bFiles = new Map(B.files.map((f) => [f.name, f.checksum]));
  const bDirs = new Map(B.dirs.map((d) => [d.name, d]));
  const aFiles = new Map(A.files.map((f) => [f.name, f.checksum]));
  const aDirs = new Map(A.dirs.map((d) => [d.name, d]));
  for (const f of A.files) {
    const other = bFiles.get(f.name);
    if (other === undefined) out.removed.push(join(f.name));
    else if (other !== f.checksum) out.modified.push(join(f.name));
  }
  for (const d of A.dirs) {
    const other = bDirs.get(d.name);
    if (!other) {
      out.removed.push(join(d.name));
      continue;
    }
    if (other.meta !== d.meta) out.modified.push(join(d.name));
    await diffDirs(repo, join(d.name), d.tree, other.tree, out);
  }
  for (const f of B.files) if (!aFiles.has(f.name)) out.added.push(join(f.name));
  for (const d of B.dirs) {
    if (aDirs.has(d.name)) continue;
    out.added.push(join(d.name));
    await listAdded(repo, join(d.name), d.tree, out.added);
  }
}

/** Everything inside an added directory is added too (ostree lists it all). */
async function listAdded(repo: Repo, at: string, tree: string, into: string[]): Promise<void> {
  const t = await repo.loadDirTree(tree);
  for (const f of t.files) into.push(`${at}/${f.name}`);
  for (const d of t.dirs) {
    into.push(`${at}/${d.name}`);
    await listAdded(repo, `${at}/${d.name}`, d.tree, into);
  }
}

/** The content of a regular file in a commit. */
export async function openPath(repo: Repo, rev: string, p: string): Promise<NodeJS.ReadableStream> {
  const commit = await repo.loadCommit((await resolveRev(repo, rev)) as string);
  const node = await lookupPath(repo, commit, p);
  if (node.kind === 'dir') throw new OstreeTsError(Codes.USAGE, `${p} is a directory; 'cat' needs a file. List it with 'ostree-ts ls ${rev} ${p}'.`, { path: p });
  const f = await repo.loadFile(node.checksum);
  if (f.header.symlinkTarget) throw new OstreeTsError(Codes.USAGE, `${p} is a symlink to ${f.header.symlinkTarget}.`, { path: p });
  return f.open();
}
