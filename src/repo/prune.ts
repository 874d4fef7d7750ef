/** prune: delete objects that nothing reachable needs. */
import { Codes, OstreeTsError } from '../errors/index.js';
import { encodeMetadata } from '../format/objects.js';
import { atomicWriteFile, fsp } from '../io/fs.js';
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
  /** Only these refs lose history (to `depth`); the others keep all of theirs (`--only-branch`; implies refs-only). */
  onlyBranches?: string[];
  /** Per-ref depths overriding `depth` in a refs-only prune (`--retain-branch-depth=BRANCH=DEPTH`). */
  branchDepths?: Map<string, number>;
  /** Traverse and delete commit objects only (`--commit-only`). */
  commitOnly?: boolean;
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
  const perRef = opts.onlyBranches !== undefined || (opts.refsOnly === true && (opts.branchDepths?.size ?? 0) > 0);
  const refsOnly = opts.refsOnly === true || opts.onlyBranches !== undefined;
  const refDepth = (name: string): number => {
    if (opts.onlyBranches !== undefined && !opts.onlyBranches.includes(name)) return -1;
    return opts.branchDepths?.get(name) ?? depth;
  };
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
  for await (const o of repo.listObjects()) if (!opts.commitOnly || o.type === 'commit') all.push(o);
  // What is present is known from the listing: the walk needs no check per object.
  const present = new Set<ObjectKey>(all.map((o) => objectKey(o.checksum, o.type as never)));
  const keep = (c: string): Promise<void> => (opts.commitOnly
    ? (reachable.add(objectKey(c, 'commit')), Promise.resolve())
    : traverseCommit(repo, c, reachable, { depth: 0, missing: new Set(), present }));
  if (perRef) {
    for (const r of refs) await walkKeeping(repo, r.checksum, refDepth(r.refspec), doomedCommits, keep);
  } else if (refsOnly || opts.keepYoungerThan !== undefined || opts.depth !== undefined) {
    for (const tip of tips) await walkKeeping(repo, tip, depth, doomedCommits, keep);
  }
  if (!refsOnly) {
    for (const o of all) {
      if (o.type === 'commit' && !doomedCommits.has(o.checksum)) await keep(o.checksum);
    }
  }
  const result: PruneResult = { apiVersion: 'ostree-ts/v1', kind: 'PruneResult', total: all.filter((o) => o.type !== 'tombstone-commit').length, deleted: 0, bytesFreed: 0, deletedCommits: [] };
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

async function walkKeeping(repo: Repo, tip: string, depth: number, doomed: Set<string>, keep: (c: string) => Promise<void>): Promise<void> {
  let c: string | null = tip;
  let left = depth;
  while (c && (await repo.hasObject(c, 'commit'))) {
    if (!doomed.has(c)) await keep(c);
    if (left === 0) return;
    if (left > 0) left--;
    c = (await repo.loadCommit(c)).parent;
  }
}

/**
 * `prune --delete-commit`: remove one commit object (and its detached
 * metadata), refused while a ref points at it; a prune then removes what
 * only it reached.
 */
export async function deleteCommit(repo: Repo, checksum: string): Promise<string> {
  return repo.withLock('exclusive', 'prune', async () => {
    // As ostree: a full checksum, not a rev (a ref names a commit that cannot be deleted anyway).
    if (!/^[0-9a-f]{64}$/.test(checksum)) {
      throw new OstreeTsError(Codes.USAGE, `Deleting object ${checksum}.commit: give the commit's full checksum (ostree-ts rev-parse REV prints it).`, { checksum });
    }
    for (const r of await listRefs(repo)) {
      if (r.checksum === checksum) {
        throw new OstreeTsError(Codes.USAGE, `Commit '${checksum}' is referenced by '${r.refspec}'; delete or move that ref first.`, { checksum, ref: r.refspec });
      }
    }
    if (!(await repo.hasObject(checksum, 'commit'))) {
      throw new OstreeTsError(Codes.OBJECT_MISSING, `No such metadata object ${checksum}.commit in ${repo.path}.`, { checksum });
    }
    await tombstoneCommit(repo, checksum);
    return checksum;
  });
}

/**
 * Delete commit object `checksum` (and its detached metadata), leaving a
 * tombstone so that a pull knows it went on purpose; tombstones are turned
 * on first (core.tombstone-commits), as ostree does.
 */
async function tombstoneCommit(repo: Repo, checksum: string): Promise<void> {
  if (repo.config.get('core', 'tombstone-commits') !== 'true') {
    repo.config.set('core', 'tombstone-commits', 'true');
    await repo.saveConfig();
  }
  const tombstone = encodeMetadata([['commit', { type: 'ay', value: Buffer.from(`${checksum}\0`) }]]);
  await atomicWriteFile(repo.objectPath(checksum, 'tombstone-commit'), tombstone, { fsync: repo.fsyncEnabled });
  await fsp.rm(repo.objectPath(checksum, 'commit'));
  await fsp.rm(repo.objectPath(checksum, 'commitmeta'), { force: true });
}

/**
 * `fsck --add-tombstones`: every commit whose parent commit is missing is
 * deleted and tombstoned, as ostree does (a history cut short is then
 * recorded as cut on purpose). Returns the commits, in the order found.
 */
export async function tombstoneOrphanCommits(repo: Repo, onCommit: (checksum: string) => void = () => {}): Promise<string[]> {
  return repo.withLock('exclusive', 'fsck', async () => {
    const commits: string[] = [];
    for await (const o of repo.listObjects()) if (o.type === 'commit') commits.push(o.checksum);
    const orphans: string[] = [];
    for (const c of commits.sort()) {
      const parent = (await repo.loadCommit(c)).parent;
      if (parent && !(await repo.hasObject(parent, 'commit'))) orphans.push(c);
    }
    for (const c of orphans) {
      onCommit(c);
      await tombstoneCommit(repo, c);
    }
    return orphans;
  });
}
