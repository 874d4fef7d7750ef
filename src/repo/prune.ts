/** prune: delete objects that nothing reachable needs. */
import { fsp } from '../io/index.js';
import { listRefs } from './refs.js';
import type { Repo } from './repo.js';
import { objectKey, traverseCommit, type ObjectKey } from './traverse.js';

export interface PruneOptions {
  /** Keep only what refs reach (otherwise every commit object is kept). */
  refsOnly?: boolean;
  /** History depth from each ref: -1 all (default), 0 only the ref's commit. */
  depth?: number;
  /** Delete commits older than this (seconds since the epoch), except ref tips. */
  keepYoungerThan?: bigint;
  /** Report only; delete nothing. */
  noPrune?: boolean;
}

export interface PruneResult {
  apiVersion: 'ostree-ts/v1';
  kind: 'PruneResult';
  total: number;
  deleted: number;
  bytesFreed: number;
  deletedCommits: string[];
}

/** Prune holds the repository lock exclusive throughout: no writer relies on an object while it decides and deletes. */
export async function prune(repo: Repo, opts: PruneOptions = {}): Promise<PruneResult> {
  return repo.withLock('exclusive', 'prune', () => pruneLocked(repo, opts));
}

async function pruneLocked(repo: Repo, opts: PruneOptions): Promise<PruneResult> {
  const depth = opts.depth ?? -1;
  const refs = await listRefs(repo);
  const tips = new Set(refs.map((r) => r.checksum));
  const doomedCommits = new Set<string>();
  if (opts.keepYoungerThan !== undefined) {
    for (const tip of tips) {
      let c: string | null = tip;
      while (c && (await repo.hasObject(c, 'commit'))) {
        const commit = await repo.loadCommit(c);
        if (!tips.has(c) && commit.timestamp < opts.keepYoungerThan) doomedCommits.add(c);
        c = commit.parent;
      }
    }
  }
  const reachable = new Set<ObjectKey>();
  const all: Array<{ checksum: string; type: string; path: string }> = [];
  for await (const o of repo.listObjects()) all.push(o);
  // What is present is known from the listing: the walk needs no check per object.
  const present = new Set<ObjectKey>(all.map((o) => objectKey(o.checksum, o.type as never)));
  if (opts.refsOnly || opts.keepYoungerThan !== undefined || opts.depth !== undefined) {
    for (const tip of tips) await walkKeeping(repo, tip, depth, doomedCommits, reachable, present);
  }
  if (!opts.refsOnly) {
    for (const o of all) {
      if (o.type === 'commit' && !doomedCommits.has(o.checksum)) await traverseCommit(repo, o.checksum, reachable, { depth: 0, missing: new Set(), present });
    }
  }
  const result: PruneResult = { apiVersion: 'ostree-ts/v1', kind: 'PruneResult', total: all.length, deleted: 0, bytesFreed: 0, deletedCommits: [] };
  // Commits first, so that a crash never leaves a commit whose objects are gone.
  const victims = all
    .filter((o) => !reachable.has(objectKey(o.checksum, o.type as never)) && o.type !== 'tombstone-commit')
    .filter((o) => !(o.type === 'commitmeta' && reachable.has(objectKey(o.checksum, 'commit'))))
    .sort((a, b) => rank(a.type) - rank(b.type));
  for (const o of victims) {
    const st = await fsp.lstat(o.path).catch(() => null);
    if (!st) continue;
    result.deleted++;
    result.bytesFreed += st.size;
    if (o.type === 'commit') result.deletedCommits.push(o.checksum);
    if (!opts.noPrune) await fsp.rm(o.path, { force: true });
  }
  return result;
}

function rank(type: string): number {
  return type === 'commit' ? 0 : type === 'commitmeta' ? 1 : 2;
}

async function walkKeeping(repo: Repo, tip: string, depth: number, doomed: Set<string>, into: Set<ObjectKey>, present: Set<ObjectKey>): Promise<void> {
  let c: string | null = tip;
  let left = depth;
  while (c && (await repo.hasObject(c, 'commit'))) {
    if (!doomed.has(c)) await traverseCommit(repo, c, into, { depth: 0, missing: new Set(), present });
    if (left === 0) return;
    if (left > 0) left--;
    c = (await repo.loadCommit(c)).parent;
  }
}
