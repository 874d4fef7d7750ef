/**
 * `diff --stats`: how many objects each of two commits reaches, how many
 * they share, and the space the shared ones take in this repository, as
 * ostree counts them (commit, dirtree, dirmeta and file objects; not the
 * detached metadata).
 */
import { fsp } from '../io/fs.js';
import { resolveRev } from './refs.js';
import type { Repo } from './repo.js';
import { splitKey, traverseCommit, type ObjectKey } from './traverse.js';

export interface DiffStats {
  objectsA: number;
  objectsB: number;
  commonObjects: number;
  commonBytes: number;
}

async function reachable(repo: Repo, rev: string): Promise<Set<ObjectKey>> {
  const into = new Set<ObjectKey>();
  await traverseCommit(repo, (await resolveRev(repo, rev)) as string, into, { depth: 0 });
  for (const k of into) if (k.endsWith('.commitmeta')) into.delete(k);
  return into;
}

export async function diffStats(repo: Repo, revA: string, revB: string): Promise<DiffStats> {
  const a = await reachable(repo, revA);
  const b = await reachable(repo, revB);
  let commonObjects = 0;
  let commonBytes = 0;
  for (const k of a) {
    if (!b.has(k)) continue;
    commonObjects++;
    const { checksum, type } = splitKey(k);
    commonBytes += (await fsp.lstat(repo.objectPath(checksum, type))).size;
  }
  return { objectsA: a.size, objectsB: b.size, commonObjects, commonBytes };
}
