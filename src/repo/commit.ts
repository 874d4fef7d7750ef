/**
 * `commit`: one or more tree sources (directories, tar archives, git trees,
 * existing commits), layered in order, into a new commit, then the ref.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { ghashOrder } from '../format/ghash.js';
import type { VarDict, Variant } from '../format/gvariant.js';
import { encodeCommit, encodeMetadata } from '../format/objects.js';
import { validateRefName } from '../format/refs.js';
import { createReadStream, fsp, path } from '../io/fs.js';
import { mapNoSpace } from '../io/space.js';
import { bootableMetadata } from './commit-bootable.js';
import { CommitModifier } from './commit-filter.js';
import { commitSizes } from './commit-sizes.js';
import { writeDirectory, writeCommitObject, type RootChecksums, type TreeWriteOptions } from './commit-writer.js';
import { importGitTree, type GitSourceSpec } from './import-git.js';
import { importTar } from './import-tar.js';
import { MDir } from './mtree.js';
import { readRef, resolveRev, writeRef } from './refs.js';
import type { Repo } from './repo.js';
import { Transaction } from './transaction.js';

export type TreeSource =
  | { kind: 'dir'; path: string }
  | { kind: 'ref'; rev: string }
  /** A tar file (plain, gzip or zstd, told apart by content), or a stream of one. */
  | { kind: 'tar'; path: string; stream?: AsyncIterable<Buffer> }
  | ({ kind: 'git' } & GitSourceSpec);

export interface CommitOptions extends TreeWriteOptions {
  /** Layered in order: later sources replace files and merge directories. */
  trees: TreeSource[];
  /** Start from this commit's tree (no modifiers apply to it), as `--base`. */
  base?: string;
  /** `--statoverride` file contents. */
  statOverride?: string;
  /** `--skip-list` file contents. */
  skipList?: string;
  tarAutocreateParents?: boolean;
  tarPathnameFilter?: { regex: RegExp; replacement: string };
  /** Refuse archives that decompress to more than this many bytes. */
  tarMaxBytes?: number;
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
  /**
   * Sign the new commit inside the same transaction: given the commit
   * object's bytes and the detached metadata so far, return the detached
   * metadata with signatures added. The ref moves only once both are stored.
   */
  sign?: (commitBytes: Buffer, detached: VarDict) => Promise<VarDict>;
  /** Leave out ostree.ref-binding. */
  noBindings?: boolean;
  bindRefs?: string[];
  skipIfUnchanged?: boolean;
  fsync?: boolean;
  /** Refuse a tree without a kernel; add `ostree.bootable` and `ostree.linux` (`--bootable`). */
  bootable?: boolean;
  /** Add `ostree.sizes` (`--generate-sizes`; archive repositories only, as libostree). */
  generateSizes?: boolean;
  /** Metadata keys copied from the parent commit (`--keep-metadata`). */
  keepMetadata?: string[];
  /** Regular files with an executable bit lose their write bits. */
  modeRoExecutables?: boolean;
}

/** What `commit --table-output` prints. */
export interface CommitCounts {
  metadataTotal: number;
  metadataWritten: number;
  contentTotal: number;
  contentWritten: number;
  contentCacheHits: number;
  contentBytesWritten: number;
}

export interface CommitResult {
  checksum: string;
  /** True when --skip-if-unchanged found nothing new and no commit was written. */
  skipped: boolean;
  written: number;
  existing: number;
  counts: CommitCounts;
}

/** The repository lock is held shared from the first object written to the ref moved, so prune cannot come between. */
export async function commitTree(repo: Repo, opts: CommitOptions): Promise<CommitResult> {
  // A full disk becomes E_NO_SPACE naming the file; the failed transaction has already removed what it staged.
  const ctx = { operation: `committing into ${repo.path}`, path: path.join(repo.path, 'tmp') };
  return mapNoSpace(ctx, () => repo.withLock('shared', 'commit', () => commitLocked(repo, opts)));
}

async function commitLocked(repo: Repo, opts: CommitOptions): Promise<CommitResult> {
  if (!opts.branch && !opts.orphan) {
    throw new OstreeTsError(Codes.USAGE, 'A branch is required: name the branch to commit to, or make an orphan commit (one without a ref).', { hint: { option: 'branch' } });
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
    const { root, provenance } = await writeLayers(repo, txn, opts);
    if (opts.skipIfUnchanged && parent) {
      const p = await repo.loadCommit(parent);
      if (p.rootTree === root.tree && p.rootMeta === root.meta) {
        await txn.abort();
        return { checksum: parent, skipped: true, written: 0, existing: txn.stats.existing, counts: countsOf(txn) };
      }
    }
    let metadata: VarDict = [...(opts.metadata ?? []), ...provenance];
    if (opts.keepMetadata?.length) {
      if (!parent) throw new OstreeTsError(Codes.USAGE, '--keep-metadata needs a parent commit to copy from; commit to an existing branch or give --parent.', { keys: opts.keepMetadata });
      const pm = (await repo.loadCommit(parent)).metadata;
      for (const key of opts.keepMetadata) {
        const e = pm.find(([k]) => k === key);
        if (!e) throw new OstreeTsError(Codes.NOT_FOUND, `The parent commit ${parent} has no metadata key '${key}' to keep; drop --keep-metadata=${key} or add it with --add-metadata.`, { key, parent });
        metadata.push(e);
      }
    }
    if (!opts.noBindings) {
      const bindings = new Set<string>(opts.bindRefs ?? []);
      if (opts.branch) bindings.add(opts.branch);
      const sorted = [...bindings].sort();
      metadata.push(['ostree.ref-binding', { type: 'as', value: sorted } satisfies Variant]);
      const collectionId = repo.config.get('core', 'collection-id');
      if (collectionId) metadata.push(['ostree.collection-binding', { type: 's', value: collectionId } satisfies Variant]);
    }
    if (opts.bootable) {
      // libostree passes the metadata through a GVariantDict here, so it comes out in hash-table order.
      metadata.push(...await bootableMetadata(txn, root));
      const byKey = new Map(metadata);
      metadata = ghashOrder(metadata.map(([k]) => k)).map((k) => [k, byKey.get(k) as Variant]);
    }
    if (opts.generateSizes && repo.isArchive) {
      metadata.push(['ostree.sizes', { type: 'aay', value: await commitSizes(txn, root) } satisfies Variant]);
    }
    const { checksum, commit } = await writeCommitObject(txn, {
      root,
      parent,
      subject: opts.subject ?? '',
      body: opts.body ?? '',
      timestamp: opts.timestamp ?? BigInt(Math.floor(repo.host.now() / 1000)),
      metadata,
    });
    let detached: VarDict = [...(opts.detachedMetadata ?? [])];
    if (opts.sign) detached = await opts.sign(encodeCommit(commit), detached);
    if (detached.length) {
      await txn.writeNamedMetadata('commitmeta', checksum, encodeMetadata(detached));
    }
    await txn.commit();
    // The ref moves last, once the commit is durable.
    repo.stopAt('before-ref');
    if (opts.branch) await writeRef(repo, opts.branch, checksum);
    return { checksum, skipped: false, written: txn.stats.written, existing: txn.stats.existing, counts: countsOf(txn) };
  } catch (e) {
    await txn.abort();
    throw e;
  }
}

function countsOf(txn: Transaction): CommitCounts {
  const c = txn.counts;
  return {
    metadataTotal: c.metadataTotal,
    metadataWritten: c.metadataWritten,
    contentTotal: c.contentTotal,
    contentWritten: c.contentWritten,
    contentCacheHits: 0,
    contentBytesWritten: c.contentBytes,
  };
}

/** Write every tree source and layer them; returns the root and provenance metadata. */
async function writeLayers(repo: Repo, txn: Transaction, opts: CommitOptions): Promise<{ root: RootChecksums; provenance: VarDict }> {
  if (opts.trees.length === 0 && !opts.base) throw new OstreeTsError(Codes.USAGE, 'Nothing to commit: give at least one tree source.');
  const modifier = opts.modifier ?? new CommitModifier(opts, repo.mode === 'bare-user-only');
  const treeOpts: TreeWriteOptions = { ...opts, modifier };
  const provenance: VarDict = [];
  const mtree = new MDir();
  if (opts.base) {
    const c = await repo.loadCommit(await resolveRev(repo, opts.base) as string);
    await mtree.mergeTree(txn, c.rootTree, c.rootMeta, '/');
  }
  for (const t of opts.trees) {
    let layer: RootChecksums | null = null;
    if (t.kind === 'dir') layer = await writeDirectory(txn, t.path, treeOpts);
    else if (t.kind === 'ref') {
      const c = await repo.loadCommit(await resolveRev(repo, t.rev) as string);
      layer = { tree: c.rootTree, meta: c.rootMeta };
    } else if (t.kind === 'git') {
      const g = await importGitTree(txn, t, modifier, { signal: opts.signal });
      layer = g.root;
      for (const i of [0, 1]) {
        const k = i === 0 ? 'ostree-ts.source.git' : 'ostree-ts.source.git-commit';
        const at = provenance.findIndex(([key]) => key === k);
        if (at >= 0) provenance.splice(at, 1);
      }
      provenance.push(['ostree-ts.source.git', { type: 's', value: g.source }]);
      provenance.push(['ostree-ts.source.git-commit', { type: 's', value: g.commit }]);
    } else {
      if (!t.stream) {
        const st = await fsp.stat(t.path).catch((e: NodeJS.ErrnoException) => {
          throw new OstreeTsError(Codes.NOT_FOUND, `Cannot read the archive ${t.path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}.`, { path: t.path }, { cause: e });
        });
        if (!st.isFile()) throw new OstreeTsError(Codes.USAGE, `${t.path} is not a file; a tar tree source needs a tar archive.`, { path: t.path });
      }
      const source = t.stream ?? createReadStream(t.path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>;
      await importTar(txn, mtree, source, t.path, {
        autocreateParents: opts.tarAutocreateParents,
        pathnameFilter: opts.tarPathnameFilter,
        maxBytes: opts.tarMaxBytes,
        modifier,
        noXattrs: opts.noXattrs === true || repo.mode === 'bare-user-only',
        signal: opts.signal,
        onProgress: opts.onProgress,
      });
    }
    if (layer) await mtree.mergeTree(txn, layer.tree, layer.meta, '/');
  }
  modifier.checkAllUsed();
  return { root: await mtree.write(txn), provenance };
}
