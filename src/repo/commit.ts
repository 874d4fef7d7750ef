/** `commit`: a tree on disk (or an existing commit's tree) into a new commit, then the ref. */
import { Codes, OstreeTsError } from '../errors/index.js';
import { validateRefName, encodeMetadata, type VarDict, type Variant } from '../format/index.js';
import { writeDirectory, writeCommitObject, type RootChecksums, type TreeWriteOptions } from './commit-writer.js';
import { readRef, resolveRev, writeRef } from './refs.js';
import type { Repo } from './repo.js';
import { Transaction } from './transaction.js';

export type TreeSource = { kind: 'dir'; path: string } | { kind: 'ref'; rev: string };

export interface CommitOptions extends TreeWriteOptions {
  tree: TreeSource;
  branch?: string;
  subject?: string;
  body?: string;
  /** Seconds since the epoch; default now. */
  timestamp?: bigint;
  /** A checksum, or 'none'; default: the branch's current commit. */
  parent?: string;
  /** No parent; without a branch, no ref either (as `ostree commit --orphan`). */
  orphan?: boolean;
  /** Metadata entries in order (strings first, as ostree writes them). */
  metadata?: VarDict;
  detachedMetadata?: VarDict;
  /** Leave out ostree.ref-binding. */
  noBindings?: boolean;
  bindRefs?: string[];
  skipIfUnchanged?: boolean;
  fsync?: boolean;
}

export interface CommitResult {
  checksum: string;
  /** True when --skip-if-unchanged found nothing new and no commit was written. */
  skipped: boolean;
  written: number;
  existing: number;
}

export async function commitTree(repo: Repo, opts: CommitOptions): Promise<CommitResult> {
  if (!opts.branch && !opts.orphan) {
    throw new OstreeTsError(Codes.USAGE, 'A branch is required: pass -b BRANCH, or --orphan for a commit without a ref.');
  }
  if (opts.branch) validateRefName(opts.branch);
  let parent: string | null = null;
  if (opts.parent !== undefined) {
    parent = opts.parent === 'none' ? null : await resolveRev(repo, opts.parent);
  } else if (opts.branch && !opts.orphan) {
    parent = await readRef(repo, opts.branch);
  }
  const txn = await Transaction.begin(repo, { fsync: opts.fsync });
  try {
    let root: RootChecksums;
    if (opts.tree.kind === 'dir') {
      root = await writeDirectory(txn, opts.tree.path, opts);
    } else {
      const c = await repo.loadCommit(await resolveRev(repo, opts.tree.rev) as string);
      root = { tree: c.rootTree, meta: c.rootMeta };
    }
    if (opts.skipIfUnchanged && parent) {
      const p = await repo.loadCommit(parent);
      if (p.rootTree === root.tree && p.rootMeta === root.meta) {
        await txn.abort();
        return { checksum: parent, skipped: true, written: 0, existing: txn.stats.existing };
      }
    }
    const metadata: VarDict = [...(opts.metadata ?? [])];
    if (!opts.noBindings) {
      const bindings = new Set<string>(opts.bindRefs ?? []);
      if (opts.branch) bindings.add(opts.branch);
      const sorted = [...bindings].sort();
      metadata.push(['ostree.ref-binding', { type: 'as', value: sorted } satisfies Variant]);
      const collectionId = repo.config.get('core', 'collection-id');
      if (collectionId) metadata.push(['ostree.collection-binding', { type: 's', value: collectionId } satisfies Variant]);
    }
    const { checksum } = await writeCommitObject(txn, {
      root,
      parent,
      subject: opts.subject ?? '',
      body: opts.body ?? '',
      timestamp: opts.timestamp ?? BigInt(Math.floor(Date.now() / 1000)),
      metadata,
    });
    if (opts.detachedMetadata && opts.detachedMetadata.length) {
      await txn.writeNamedMetadata('commitmeta', checksum, encodeMetadata(opts.detachedMetadata));
    }
    await txn.commit();
    if (opts.branch) await writeRef(repo, opts.branch, checksum);
    return { checksum, skipped: false, written: txn.stats.written, existing: txn.stats.existing };
  } catch (e) {
    await txn.abort();
    throw e;
  }
}
