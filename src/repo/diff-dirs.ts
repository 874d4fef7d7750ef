/**
 * `diff REV_OR_DIR REV_OR_DIR` with a directory on either side, as ostree
 * compares them: entry by entry, by the checksum each would have as an
 * object (a file's content object, a directory's dirmeta), a directory on
 * disk read with its owner (or the one given for it) and extended
 * attributes (unless left out). Paths in a commit print as `/a/b`, paths in
 * a directory relative to it (`a/b`), as ostree prints them.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { fsp, path } from '../io/fs.js';
import { checksumPath } from './checksum-path.js';
import type { TreeDiff } from './inspect.js';
import { resolveRev } from './refs.js';
import type { Repo } from './repo.js';

export type DiffSide = { kind: 'rev'; rev: string } | { kind: 'dir'; path: string };

export interface DirDiffOptions {
  /** Leave extended attributes of directories on disk out (`--no-xattrs`). */
  ignoreXattrs?: boolean;
  /** The owner of the second side's files on disk, as `--owner-uid`/`--owner-gid`. */
  ownerUid?: number;
  ownerGid?: number;
}

interface Entry {
  name: string;
  dir: boolean;
  /** The checksum of the object it is (content object, or dirmeta for a directory). */
  checksum: () => Promise<string>;
  /** For a directory: its node, to go into. */
  node?: () => Node;
}

interface Node {
  list(): Promise<Entry[]>;
  /** How an entry of this side prints. */
  show(rel: string): string;
  /** Same dirtree on both sides: nothing inside differs (commits only). */
  contents?: string;
}

function repoNode(repo: Repo, tree: string): Node {
  return {
    contents: tree,
    show: (rel) => `/${rel}`,
    async list() {
      const t = await repo.loadDirTree(tree);
      // A commit's directory lists its files, then its directories.
      return [
        ...t.files.map((f): Entry => ({ name: f.name, dir: false, checksum: async () => f.checksum })),
        ...t.dirs.map((d): Entry => ({ name: d.name, dir: true, checksum: async () => d.meta, node: () => repoNode(repo, d.tree) })),
      ];
    },
  };
}

function dirNode(root: string, rel: string, owner: { uid?: number; gid?: number }, ignoreXattrs: boolean): Node {
  const abs = path.join(root, rel);
  return {
    show: (r) => r,
    async list() {
      // In the order GLib enumerates a directory for ostree: readdir's order, each run of 1000 entries sorted by inode.
      const read = [];
      for await (const e of await fsp.opendir(abs)) read.push({ e, ino: (await fsp.lstat(path.join(abs, e.name))).ino });
      const names = [];
      for (let i = 0; i < read.length; i += 1000) names.push(...read.slice(i, i + 1000).sort((x, y) => x.ino - y.ino).map((x) => x.e));
      return names.map((e): Entry => {
        const childRel = rel ? `${rel}/${e.name}` : e.name;
        return {
          name: e.name,
          dir: e.isDirectory(),
          checksum: () => checksumPath(path.join(root, childRel), { ignoreXattrs, ...owner }),
          node: e.isDirectory() ? () => dirNode(root, childRel, owner, ignoreXattrs) : undefined,
        };
      });
    },
  };
}

async function nodeOf(repo: Repo, side: DiffSide, owner: { uid?: number; gid?: number }, ignoreXattrs: boolean): Promise<Node> {
  if (side.kind === 'dir') {
    // As ostree: a directory that cannot be read stops the diff naming it.
    const st = await fsp.stat(side.path).catch((e: NodeJS.ErrnoException) => {
      throw new OstreeTsError(Codes.NOT_FOUND, `Cannot read the directory ${side.path}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}.`, { path: side.path }, { cause: e });
    });
    if (!st.isDirectory()) throw new OstreeTsError(Codes.USAGE, `${side.path} is not a directory; diff compares a commit with a directory, or two of either.`, { path: side.path });
    return dirNode(side.path, '', owner, ignoreXattrs);
  }
  const c = await repo.loadCommit((await resolveRev(repo, side.rev)) as string);
  return repoNode(repo, c.rootTree);
}

export async function diffSides(repo: Repo, a: DiffSide, b: DiffSide, opts: DirDiffOptions = {}): Promise<TreeDiff> {
  // As ostree: extended attributes are left out when the repository keeps none.
  const ignoreXattrs = opts.ignoreXattrs === true || repo.mode === 'bare-user-only' || repo.config.get('core', 'disable-xattrs') === 'true';
  const A = await nodeOf(repo, a, {}, ignoreXattrs);
  const B = await nodeOf(repo, b, { uid: opts.ownerUid, gid: opts.ownerGid }, ignoreXattrs);
  const out: TreeDiff = { modified: [], removed: [], added: [] };
  await walk(A, B, '', out);
  return out;
}

async function walk(A: Node, B: Node, rel: string, out: TreeDiff): Promise<void> {
  if (A.contents !== undefined && A.contents === B.contents) return;
  const join = (n: string): string => (rel ? `${rel}/${n}` : n);
  const bEntries = await B.list();
  const bByName = new Map(bEntries.map((e) => [e.name, e]));
  const aNames = new Set<string>();
  for (const e of await A.list()) {
    aNames.add(e.name);
    const other = bByName.get(e.name);
    if (!other) {
      out.removed.push(A.show(join(e.name)));
      continue;
    }
    if (e.dir !== other.dir) {
      out.modified.push(A.show(join(e.name)));
      continue;
    }
    if ((await e.checksum()) !== (await other.checksum())) out.modified.push(A.show(join(e.name)));
    if (e.dir && e.node && other.node) await walk(e.node(), other.node(), join(e.name), out);
  }
  for (const e of bEntries) {
    if (aNames.has(e.name)) continue;
    out.added.push(B.show(join(e.name)));
    if (e.dir && e.node) await listAll(e.node(), join(e.name), out.added);
  }
}

async function listAll(n: Node, rel: string, into: string[]): Promise<void> {
  for (const e of await n.list()) {
    into.push(n.show(`${rel}/${e.name}`));
    if (e.dir && e.node) await listAll(e.node(), `${rel}/${e.name}`, into);
  }
}
