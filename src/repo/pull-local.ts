/**
 * `pull-local`: copy commits and everything they reference from another
 * repository on this machine, of any mode, into this one, of any mode
 * (archive ↔ bare conversions included), as `ostree pull-local` does.
 *
 * Like a network pull: the commit is stored first and marked partial
 * (`state/CHECKSUM.commitpartial`), its objects follow in durable batches, the
 * mark goes when the tree is complete, and refs move last. An interrupted copy
 * resumes without copying again what it stored.
 *
 * Trust: metadata objects are always checked against their names and parsed
 * strictly (hashing them costs nothing). Content converted between modes is
 * re-hashed as it is converted. Between repositories of the same mode, content
 * is imported as stored: hard-linked when both are on one device with one
 * owner (else copied, for archive), unchecked from a trusted source as in
 * libostree; `untrusted` re-hashes every object before it is imported.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { isChecksum } from '../format/checksum.js';
import type { VarDict } from '../format/gvariant.js';
import { S_IFLNK, S_IFMT, S_IFREG, decodeCommit, decodeDirTree, decodeMetadata, type Commit, type ObjectType } from '../format/objects.js';
import { formatCollectionRef, isValidRefName, isValidRemoteName, validateCollectionId, type CollectionRef } from '../format/refs.js';
import { fsp, isErrno, path } from '../io/fs.js';
import { mapNoSpace } from '../io/space.js';
import { BatchedStore } from './batched-store.js';
import { CommitImport } from './commit-partial.js';
import { checkRefBinding } from './ref-binding.js';
import { collectionRefFile, listRefs, readRef, resolveCollectionRef, writeCollectionRef, writeRef } from './refs.js';
import type { Repo, StoredFile } from './repo.js';
import { checkBareUserOnlyFile, checkStorable, unstorableReason } from './stored-form.js';
import { STREAM_THRESHOLD, Transaction } from './transaction.js';
import { BadObjectError, contentChecksum, storedContentChecksum, verifyMetadata } from './verify-object.js';

export interface PullLocalOptions {
  /** Write refs as REMOTE:REF (refs/remotes/REMOTE/REF) instead of REF. */
  remote?: string;
  /** Verify every object, even where it could be copied as stored. */
  untrusted?: boolean;
  /** Parent commits to copy as well: 0 = none (default), -1 = the whole history. */
  depth?: number;
  /** Copy only the commits (and their detached metadata), left marked partial. */
  commitMetadataOnly?: boolean;
  /** Do not check that the commit's ostree.ref-binding names the ref copied. */
  disableVerifyBindings?: boolean;
  /** Override core.fsync for the objects written. */
  fsync?: boolean;
  /** Objects made durable at a time: what an interrupted copy keeps. */
  batch?: number;
  /** Objects copied at once. */
  concurrency?: number;
  /** Refuse regular files with mode bits outside 0775 (`--bareuseronly-files`). */
  bareUserOnlyFiles?: boolean;
  /**
   * Called with every commit before any of its content is copied (signature
   * checks); throwing stops the copy with nothing of that commit stored.
   */
  verifyCommit?: (checksum: string, bytes: Buffer, detached: VarDict | null) => Promise<void>;
  signal?: AbortSignal;
  onProgress?: (e: PullLocalProgress) => void;
}

export interface PullLocalProgress {
  phase: 'commit' | 'objects' | 'done';
  metadata: number;
  content: number;
}

export interface PullLocalResult {
  apiVersion: 'ostree-ts/v1';
  kind: 'PullLocalResult';
  source: string;
  /** Each ref (or commit) asked for; `refspec` is the ref written here (for a collection–ref, its path under refs/), null for a bare checksum. */
  refs: Array<{ ref: string; refspec: string | null; checksum: string; collectionId?: string }>;
  /** Metadata objects (commit, dirtree, dirmeta) copied. */
  metadataImported: number;
  /** Content objects copied. */
  contentImported: number;
  /** Bytes of content written (as stored). */
  contentBytesWritten: number;
}

type TreeObject = 'dirtree' | 'dirmeta' | 'file';

function corrupt(src: Repo, checksum: string, type: ObjectType, why: string, cause?: unknown): OstreeTsError {
  const end = /[.!?]$/.test(why) ? '' : '.';
  return new OstreeTsError(Codes.OBJECT_CORRUPT,
    `Object ${checksum}.${type} in ${src.path} is corrupt: ${why}${end} Nothing of it was stored here and no ref moved; check that repository ('ostree-ts --repo=${src.path} fsck').`,
    { checksum, type, source: src.path, reason: why }, { cause });
}

/** Why an object is corrupt: a repository error states it in `data.reason`; a decoder's message is the reason itself. */
function reasonOf(e: unknown): string {
  if (e instanceof OstreeTsError && typeof e.data.reason === 'string') return e.data.reason;
  return (e as Error).message;
}

/** A source object found not to be what its name says. */
function sourceBad(src: Repo, e: BadObjectError): OstreeTsError {
  const { checksum, type, actual } = e.data;
  return corrupt(src, checksum, type, actual ? `its content hashes to ${actual}` : e.why, e);
}

/** A metadata object of the source, checked against its name and parsed strictly. */
async function readSourceMetadata(src: Repo, type: 'commit' | 'dirtree' | 'dirmeta', checksum: string): Promise<Buffer> {
  const bytes = await src.readMetadataBytes(type, checksum);
  try {
    verifyMetadata(checksum, type, bytes);
  } catch (e) {
    if (e instanceof BadObjectError) throw sourceBad(src, e);
    throw e;
  }
  return bytes;
}

/** A commit to copy: named by a ref (written here afterwards), by a collection–ref, or by its checksum alone. */
interface Target {
  ref: string;
  checksum: string;
  isRef: boolean;
  /** Set for a collection–ref: written as one (refs/heads or refs/mirrors/COLLECTION/REF). */
  collection?: string;
}

/** What the refs (or checksums) named resolve to in the source. */
async function resolveTargets(src: Repo, refs: string[]): Promise<Target[]> {
  if (!refs.length) return (await listRefs(src, { remotes: false })).map((r) => ({ ref: r.ref, checksum: r.checksum, isRef: true }));
  const out: Target[] = [];
  for (const ref of refs) {
    if (isChecksum(ref)) {
      out.push({ ref, checksum: ref, isRef: false });
      continue;
    }
    if (ref.includes(':')) {
      throw new OstreeTsError(Codes.INVALID_REF, `Invalid ref name ${ref}: pull-local copies refs of ${src.path} as local refs, and a REMOTE:REF cannot be one. Name its commit instead (ostree-ts --repo=${src.path} rev-parse ${ref}).`, { ref });
    }
    if (!isValidRefName(ref)) throw new OstreeTsError(Codes.INVALID_REF, `Invalid ref name ${ref}.`, { ref });
    const checksum = await readRef(src, ref);
    if (!checksum) throw new OstreeTsError(Codes.REF_NOT_FOUND, `${src.path} has no ref ${ref}. List its refs with 'ostree-ts --repo=${src.path} refs'.`, { ref, source: src.path });
    out.push({ ref, checksum, isRef: true });
  }
  return out;
}

/** Copy commits (with their trees, and parents to `depth`) from `src` into `repo`, then write the refs. */
export async function pullLocal(repo: Repo, src: Repo, refs: string[], opts: PullLocalOptions = {}): Promise<PullLocalResult> {
  // Shared from the first object to the last ref: prune cannot take what an earlier batch stored.
  const ctx = {
    operation: `pulling from ${src.path} into ${repo.path}`,
    path: path.join(repo.path, 'tmp'),
    next: 'Free some space there, then run pull-local again: what was already stored is kept',
  };
  return mapNoSpace(ctx, () => repo.withLock('shared', 'pull-local', () => pullLocalLocked(repo, src, refs, opts)));
}

/**
 * Copy collection–refs from `src`, each resolved there as libostree resolves
 * them (refs/heads of its own collection, refs/mirrors, remotes with that
 * collection-id) or pinned to `commit`, and written here as collection–refs:
 * refs/heads when the collection is this repository's own, else
 * refs/mirrors/COLLECTION/REF. This is how a repository on removable media is
 * filled (`create-usb`).
 */
export async function pullLocalCollectionRefs(repo: Repo, src: Repo, wanted: Array<CollectionRef & { commit?: string }>, opts: PullLocalOptions = {}): Promise<PullLocalResult> {
  const targets: Target[] = [];
  for (const w of wanted) {
    validateCollectionId(w.collection);
    const checksum = w.commit ?? (await resolveCollectionRef(src, w));
    if (!checksum) {
      throw new OstreeTsError(Codes.REF_NOT_FOUND, `Collection–ref ${formatCollectionRef(w)} not found in ${src.path}. List what it has with 'ostree-ts --repo=${src.path} refs --collections'.`, { collectionId: w.collection, ref: w.ref, source: src.path });
    }
    if (!isChecksum(checksum)) throw new OstreeTsError(Codes.INVALID_CHECKSUM, `'${checksum}' is not a valid commit checksum.`, { checksum });
    targets.push({ ref: w.ref, checksum, isRef: true, collection: w.collection });
  }
  const ctx = {
    operation: `copying from ${src.path} into ${repo.path}`,
    path: path.join(repo.path, 'tmp'),
    next: 'Free some space there, then run it again: what was already stored is kept',
  };
  return mapNoSpace(ctx, () => repo.withLock('shared', 'pull-local', () => copyLocked(repo, src, targets, opts)));
}

async function pullLocalLocked(repo: Repo, src: Repo, refs: string[], opts: PullLocalOptions): Promise<PullLocalResult> {
  if (opts.remote !== undefined && !isValidRemoteName(opts.remote)) {
    throw new OstreeTsError(Codes.INVALID_REF, `Invalid remote name '${opts.remote}'.`, { remote: opts.remote });
  }
  return copyLocked(repo, src, await resolveTargets(src, refs), opts);
}

async function copyLocked(repo: Repo, src: Repo, targets: Target[], opts: PullLocalOptions): Promise<PullLocalResult> {
  const result: PullLocalResult = {
    apiVersion: 'ostree-ts/v1', kind: 'PullLocalResult', source: src.path, refs: [], metadataImported: 0, contentImported: 0, contentBytesWritten: 0,
  };
  const progress: PullLocalProgress = { phase: 'commit', metadata: 0, content: 0 };
  const store = await BatchedStore.open(repo, { batch: opts.batch, fsync: opts.fsync });
  const copier = new Copier(repo, src, store, opts, progress);
  try {
    await copyTargets(copier, targets);
    await store.finish();
  } catch (e) {
    await store.abort();
    throw e;
  }
  // Refs last, once every commit they name is complete.
  for (const t of targets) {
    if (t.collection) {
      const c = { collection: t.collection, ref: t.ref };
      await writeCollectionRef(repo, c, t.checksum);
      result.refs.push({ ref: t.ref, refspec: path.relative(path.join(repo.path, 'refs'), collectionRefFile(repo, c)), checksum: t.checksum, collectionId: t.collection });
      continue;
    }
    const refspec = t.isRef ? (opts.remote ? `${opts.remote}:${t.ref}` : t.ref) : null;
    if (refspec) await writeRef(repo, refspec, t.checksum);
    result.refs.push({ ref: t.ref, refspec, checksum: t.checksum });
  }
  progress.phase = 'done';
  opts.onProgress?.({ ...progress });
  result.metadataImported = copier.metadata;
  result.contentImported = copier.content;
  result.contentBytesWritten = copier.contentBytes;
  return result;
}

/** Each target's commit, with its parents as deep as asked. */
async function copyTargets(copier: Copier, targets: Target[]): Promise<void> {
  const { repo, src, opts } = copier;
  const parents = new Map<string, string | null>();
  for (const t of targets) {
    const commit = decodeCommit(await readSourceMetadata(src, 'commit', t.checksum), t.checksum);
    if (t.isRef && !opts.disableVerifyBindings) {
      // A collection–ref is also checked against the source's own collection ID, as libostree checks a local source.
      const collectionId = t.collection ? src.config.get('core', 'collection-id')?.trim() || null : null;
      checkRefBinding(commit, t.checksum, { ref: t.ref, collectionId, next: 'Copy it under one of those names, or pass --disable-verify-bindings.' });
    }
    let depth = opts.depth ?? 0;
    let current: string | null = t.checksum;
    while (current) {
      if (current !== t.checksum && !(await src.hasObject(current, 'commit')) && !(await repo.hasObject(current, 'commit'))) break; // history ends here
      let parent = parents.get(current);
      if (parent === undefined) {
        parent = (await copier.copyCommit(current)).parent;
        parents.set(current, parent);
      }
      if (depth === 0) break;
      if (depth > 0) depth--;
      current = parent;
    }
  }
}

class Copier {
  metadata = 0;
  content = 0;
  contentBytes = 0;

  constructor(readonly repo: Repo, readonly src: Repo, readonly store: BatchedStore, readonly opts: PullLocalOptions, readonly progress: PullLocalProgress) {}

  private report(): void {
    this.progress.metadata = this.metadata;
    this.progress.content = this.content;
    this.opts.onProgress?.({ ...this.progress });
  }

  /** Copy one commit and its tree; returns the commit (as verified, or as stored here when already complete). */
  async copyCommit(checksum: string): Promise<Commit> {
    const { repo, src, opts } = this;
    const have = await repo.hasObject(checksum, 'commit');
    if (have && !(await repo.isCommitPartial(checksum))) return repo.loadCommit(checksum); // complete already
    const bytes = have ? await repo.readMetadataBytes('commit', checksum) : await readSourceMetadata(src, 'commit', checksum);
    const commit = decodeCommit(bytes, checksum);
    let metaBytes: Buffer | null = null;
    let detached: VarDict | null = null;
    if (!have) {
      metaBytes = await src.readCommitMetaBytes(checksum);
      if (metaBytes) {
        try {
          detached = decodeMetadata(metaBytes);
        } catch (e) {
          throw corrupt(src, checksum, 'commitmeta', reasonOf(e), e);
        }
      }
    } else {
      detached = await repo.loadCommitMeta(checksum);
    }
    // Signatures before content.
    await opts.verifyCommit?.(checksum, bytes, detached);
    this.progress.phase = 'commit';
    this.report();
    // Marked partial, then the commit object staged ahead of its tree (commit-partial.ts).
    const imported = await CommitImport.begin(this.store, checksum, have ? null : { commit: bytes, detached: metaBytes });
    if (!have) this.metadata++;
    if (opts.commitMetadataOnly) {
      await imported.finish(false);
      return commit;
    }
    await this.copyTree(commit);
    await imported.finish(true);
    return commit;
  }

  /** Breadth-first over the tree, a bounded number of objects at once, into the store's durable batches. */
  private async copyTree(commit: Commit): Promise<void> {
    const { repo, src, opts, store } = this;
    type Job = { checksum: string; type: TreeObject };
    const queue: Job[] = [{ checksum: commit.rootTree, type: 'dirtree' }, { checksum: commit.rootMeta, type: 'dirmeta' }];
    const seen = new Set<string>(queue.map((j) => `${j.checksum}.${j.type}`));
    this.progress.phase = 'objects';
    const work = async (job: Job): Promise<void> => {
      opts.signal?.throwIfAborted();
      let tree: Buffer | null = null;
      if (await repo.hasObject(job.checksum, job.type)) {
        if (job.type === 'dirtree') tree = await repo.readMetadataBytes('dirtree', job.checksum);
      } else if (job.type === 'file') {
        await store.stage((txn) => this.copyContent(txn, job.checksum));
        this.content++;
      } else {
        const type = job.type;
        const bytes = await readSourceMetadata(src, type, job.checksum);
        await store.stage((txn) => txn.writeMetadata(type, bytes));
        if (type === 'dirtree') tree = bytes;
        this.metadata++;
      }
      if (tree) {
        const t = decodeDirTree(tree, job.checksum);
        const add = (c: string, type: TreeObject): void => {
          const k = `${c}.${type}`;
          if (seen.has(k)) return;
          seen.add(k);
          queue.push({ checksum: c, type });
        };
        for (const f of t.files) add(f.checksum, 'file');
        for (const d of t.dirs) {
          add(d.tree, 'dirtree');
          add(d.meta, 'dirmeta');
        }
      }
      if ((this.metadata + this.content) % 256 === 0) this.report();
    };
    const limit = opts.concurrency ?? 8;
    const running = new Set<Promise<void>>();
    let failure: unknown = null;
    while (queue.length || running.size) {
      while (queue.length && running.size < limit && !failure) {
        const p: Promise<void> = work(queue.shift() as Job).catch((e) => { failure ??= e; }).finally(() => running.delete(p));
        running.add(p);
      }
      if (running.size) await Promise.race(running);
      if (failure) {
        await Promise.allSettled(running);
        throw failure;
      }
    }
    this.report();
  }

  /** Whether objects of the source may be hard-linked here: same device, same owner (libostree's rule). */
  private linkable: Promise<boolean> | null = null;

  private canLink(): Promise<boolean> {
    this.linkable ??= Promise.all([fsp.stat(path.join(this.src.path, 'objects')), fsp.stat(path.join(this.repo.path, 'objects'))])
      .then(([a, b]) => a.dev === b.dev && a.uid === b.uid);
    return this.linkable;
  }

  /**
   * Can this object be imported as it is stored (hard link, or copy for
   * archive repositories)? Same modes only, and for untrusted sources only
   * when both repositories have the same owner, as in libostree.
   */
  private async directImport(checksum: string): Promise<'link' | 'copy' | null> {
    if (this.src.mode !== this.repo.mode && !(await this.sameAsBareUserOnly(checksum))) return null;
    const linkable = await this.canLink();
    if (linkable) return 'link';
    if (this.opts.untrusted) return null;
    return this.repo.isArchive ? 'copy' : null;
  }

  /**
   * bare-user to bare-user-only (libostree's special case for flatpak): a
   * regular file owned by 0:0, without xattrs, whose stored mode is its own
   * mode is the same file in both.
   */
  private async sameAsBareUserOnly(checksum: string): Promise<boolean> {
    if (this.src.mode !== 'bare-user' || this.repo.mode !== 'bare-user-only') return false;
    const stored = await this.src.loadFile(checksum).catch(() => null);
    if (!stored || (stored.header.mode & S_IFMT) !== S_IFREG) return false;
    const st = await fsp.stat(stored.objectPath).catch(() => null);
    const perms = stored.header.mode & 0o7777;
    // Unlike libostree, only files that read back the same there: no owner, no xattrs, the same mode.
    return st !== null && unstorableReason('bare-user-only', stored.header) === null && (st.mode & 0o7777) === perms;
  }

  /** Copy one content object into `txn`, in this repository's form; verified unless it is imported as stored from a trusted source. */
  private async copyContent(txn: Transaction, checksum: string): Promise<void> {
    const { src } = this;
    if (this.opts.bareUserOnlyFiles) {
      const stored = await src.loadFile(checksum).catch((e: unknown) => {
        throw e instanceof OstreeTsError && e.code === Codes.OBJECT_CORRUPT ? corrupt(src, checksum, 'file', reasonOf(e), e) : missing(src, checksum, e);
      });
      checkBareUserOnlyFile(checksum, stored.header);
    }
    // Counted as libostree counts: the content size of what was converted; objects imported as they are count nothing.
    const written = txn.stats.written;
    const count = (size: number): void => {
      if (txn.stats.written > written) this.contentBytes += size;
    };
    const direct = await this.directImport(checksum);
    if (direct) {
      if (this.opts.untrusted) await this.verifyStored(checksum);
      const from = src.objectPath(checksum, 'file');
      const fromStat = await fsp.lstat(from).catch(() => null);
      if (!fromStat) throw missing(src, checksum);
      let placed = true;
      await txn.writeStoredObject(checksum, 'file', async (dest) => {
        if (direct === 'link') {
          try {
            await fsp.link(from, dest);
            return;
          } catch (e) {
            if (!isErrno(e, 'EXDEV', 'EPERM', 'EMLINK')) throw e;
          }
        }
        if (this.repo.isArchive) {
          // A copy takes room (a hard link does not): counted against the free-space floor.
          txn.reserveContent(fromStat.size, `file ${checksum}`);
          await fsp.copyFile(from, dest);
          await fsp.chmod(dest, 0o644);
        } else {
          placed = false;
          throw new NotPlaced();
        }
      }).catch((e: unknown) => {
        if (!(e instanceof NotPlaced)) throw e;
      });
      if (placed) return;
    }
    const stored = await this.loadStored(checksum);
    const header = stored.header;
    let actual: string;
    try {
      actual = await this.convert(txn, checksum, stored);
    } catch (e) {
      if (e instanceof OstreeTsError && e.code === Codes.OBJECT_CORRUPT && e.data.checksum === checksum) throw corrupt(src, checksum, 'file', reasonOf(e), e);
      throw e;
    }
    if (actual !== checksum) throw corrupt(src, checksum, 'file', `its content hashes to ${actual}`);
    count(stored.size);
  }

  /** Store a source object in this repository's form; returns the checksum its content has. */
  private async convert(txn: Transaction, checksum: string, stored: StoredFile): Promise<string> {
    const { src } = this;
    const header = stored.header;
    checkStorable(this.repo, checksum, header);
    let actual: string;
    if ((header.mode & S_IFMT) === S_IFLNK) {
      actual = contentChecksum(header, Buffer.alloc(0));
      if (actual === checksum) await txn.writeContent(header, { kind: 'symlink' });
    } else if (stored.size < STREAM_THRESHOLD) {
      const data = await stored.read();
      actual = contentChecksum(header, data);
      if (actual === checksum) await txn.writeContent(header, { kind: 'buffer', data });
    } else if (!src.isArchive) {
      // Hashed as it is read; an object that does not match is stored under its own (true) name only.
      actual = await txn.writeContent(header, { kind: 'file', path: stored.objectPath, size: stored.size });
    } else {
      actual = await txn.writeContentStream(header, stored.size, stored.open(), `${src.path} object ${checksum}.file`);
    }
    return actual;
  }

  private async loadStored(checksum: string): Promise<StoredFile> {
    try {
      return await this.src.loadFile(checksum);
    } catch (e) {
      if (e instanceof OstreeTsError && e.code === Codes.OBJECT_MISSING) throw missing(this.src, checksum, e);
      if (e instanceof OstreeTsError && e.code === Codes.OBJECT_CORRUPT) throw corrupt(this.src, checksum, 'file', reasonOf(e), e);
      throw e;
    }
  }

  /** Re-hash a source object as stored (header and content) against its name. */
  private async verifyStored(checksum: string): Promise<void> {
    const stored = await this.loadStored(checksum);
    let actual: string;
    try {
      actual = await storedContentChecksum(stored, { archive: this.src.isArchive });
    } catch (e) {
      if (e instanceof OstreeTsError) throw corrupt(this.src, checksum, 'file', reasonOf(e), e);
      throw e;
    }
    if (actual !== checksum) throw corrupt(this.src, checksum, 'file', `its content hashes to ${actual}`);
  }
}

/** A same-mode import that could not be made as stored: convert instead. */
class NotPlaced extends Error {}

function missing(src: Repo, checksum: string, cause?: unknown): OstreeTsError {
  return new OstreeTsError(Codes.OBJECT_MISSING, `Object ${checksum}.file is missing from ${src.path}, which the commit needs. Nothing more was copied and no ref moved; check that repository ('ostree-ts --repo=${src.path} fsck').`, { checksum, type: 'file', source: src.path }, { cause });
}

