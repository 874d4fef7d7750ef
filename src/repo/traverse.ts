/** Reachability: the objects a commit (and optionally its history) needs. */
import { Codes, OstreeTsError } from '../errors/index.js';
import type { ObjectType } from '../format/objects.js';
import type { Repo } from './repo.js';

export type ObjectKey = `${string}.${ObjectType}`;

export function objectKey(checksum: string, type: ObjectType): ObjectKey {
  return `${checksum}.${type}` as ObjectKey;
}

export function splitKey(key: string): { checksum: string; type: ObjectType } {
  const i = key.indexOf('.');
  return { checksum: key.slice(0, i), type: key.slice(i + 1) as ObjectType };
}

export interface TraverseOptions {
  /** Parents to follow: 0 = the commit only, -1 = all history. */
  depth?: number;
  /** Record missing objects instead of throwing. */
  missing?: Set<ObjectKey>;
  /** Every object known to be present (skips a file-system check per object). */
  present?: Set<ObjectKey>;
}

/** Add to `into` every object reachable from commit `checksum`. */
export async function traverseCommit(repo: Repo, checksum: string, into: Set<ObjectKey>, opts: TraverseOptions = {}): Promise<void> {
  let depth = opts.depth ?? 0;
  let current: string | null = checksum;
  while (current) {
    const key = objectKey(current, 'commit');
    if (!(await repo.hasObject(current, 'commit'))) {
      // History may end at a commit that was never fetched.
      if (current !== checksum) return;
      if (opts.missing) {
        opts.missing.add(key);
        return;
      }
      throw new OstreeTsError(Codes.OBJECT_MISSING, `Commit ${current} is missing.`, { checksum: current });
    }
    const commit = await repo.loadCommit(current);
    const seenCommit = into.has(key);
    into.add(key);
    if (await repo.hasObject(current, 'commitmeta')) into.add(objectKey(current, 'commitmeta'));
    if (!seenCommit) {
      const partial = await repo.isCommitPartial(current);
      const has = opts.present
        ? (c: string, t: ObjectType): Promise<boolean> => Promise.resolve((opts.present as Set<ObjectKey>).has(objectKey(c, t)))
        : (c: string, t: ObjectType): Promise<boolean> => repo.hasObject(c, t);
      await traverseDir(repo, commit.rootTree, commit.rootMeta, into, partial ? new Set() : opts.missing, partial, has);
    }
    if (depth === 0) return;
    if (depth > 0) depth--;
    current = commit.parent;
  }
}

async function traverseDir(
  repo: Repo, tree: string, meta: string, into: Set<ObjectKey>, missing: Set<ObjectKey> | undefined, tolerant: boolean,
  has: (checksum: string, type: ObjectType) => Promise<boolean>,
): Promise<void> {
  const metaKey = objectKey(meta, 'dirmeta');
  into.add(metaKey);
  const treeKey = objectKey(tree, 'dirtree');
  if (into.has(treeKey)) return;
  into.add(treeKey);
  if (missing || tolerant) {
    if (!(await has(meta, 'dirmeta'))) missing?.add(metaKey);
    if (!(await has(tree, 'dirtree'))) {
      missing?.add(treeKey);
      return;
    }
  }
  // A blocking read: the walk is sequential anyway, and a thread-pool round trip per small object costs more than the read.
  const t = repo.loadDirTreeSync(tree);
  for (const f of t.files) {
    const k = objectKey(f.checksum, 'file');
    if (into.has(k)) continue;
    into.add(k);
    if (missing && !(await has(f.checksum, 'file'))) missing.add(k);
  }
  for (const d of t.dirs) await traverseDir(repo, d.tree, d.meta, into, missing, tolerant, has);
}
