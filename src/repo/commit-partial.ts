/**
 * The commit-partial protocol, libostree's, in one place. A commit brought
 * from elsewhere (pull, pull-local, a static delta, applied online or
 * offline) goes into the repository in this order:
 *
 *  1. `state/CHECKSUM.commitpartial` is written: the commit is known to be
 *     incomplete before any trace of it can become visible;
 *  2. the commit object and its detached metadata are staged, before any
 *     object of its tree;
 *  3. the tree's objects follow, in durable batches (BatchedStore);
 *  4. once every object is durable, the mark goes (unless only part of the
 *     commit was wanted: metadata only, subpaths, a delta before its
 *     fallbacks are fetched).
 *
 * An interruption anywhere leaves no commit, or a commit marked partial that
 * the next import resumes; checkout, delta generation and fsck see the mark.
 * fsck --delete marks a commit whose objects it removed the same way.
 */
import { atomicWriteFile, exists, fsp, mkdirp, path } from '../io/fs.js';
import type { BatchedStore } from './batched-store.js';
import type { Repo } from './repo.js';

/** Where the mark of a partial commit lives. */
export function commitPartialPath(repo: Repo, checksum: string): string {
  return path.join(repo.path, 'state', `${checksum}.commitpartial`);
}

/** Is commit `checksum` known to be incomplete here? */
export function isCommitPartial(repo: Repo, checksum: string): Promise<boolean> {
  return exists(commitPartialPath(repo, checksum));
}

/**
 * Mark commit `checksum` partial. `durable`: fsync the mark now; an import
 * need not, since the first batch's filesystem sync covers it before the
 * commit object can become visible.
 */
export async function markCommitPartial(repo: Repo, checksum: string, opts: { durable: boolean }): Promise<void> {
  const p = commitPartialPath(repo, checksum);
  await mkdirp(path.dirname(p));
  await atomicWriteFile(p, '', { fsync: opts.durable });
}

/** One commit being imported through a store, from the mark to its removal. */
export class CommitImport {
  private constructor(private readonly store: BatchedStore, readonly checksum: string) {}

  /**
   * Steps 1 and 2: mark the commit partial, then stage its commit object and
   * detached metadata (`objects`; null when the commit object is here
   * already, as when a partial commit is resumed).
   */
  static async begin(store: BatchedStore, checksum: string, objects: { commit: Buffer; detached: Buffer | null } | null): Promise<CommitImport> {
    await markCommitPartial(store.repo, checksum, { durable: false });
    if (objects) {
      await store.metadata('commit', checksum, objects.commit);
      if (objects.detached) await store.commitMeta(checksum, objects.detached);
    }
    return new CommitImport(store, checksum);
  }

  /**
   * Step 4: make everything staged so far durable; then, when `complete`
   * (every object of the tree is stored), remove the mark.
   */
  async finish(complete: boolean): Promise<void> {
    await this.store.sync();
    if (complete) await fsp.rm(commitPartialPath(this.store.repo, this.checksum), { force: true });
  }
}
