/**
 * Where an import (pull, pull-local, a static delta) puts the objects it
 * brings: staged into a transaction, made durable in batches (each batch one
 * transaction), so an interrupted import keeps what it had. A full batch is
 * made durable in the background (syncfs, then renames into objects/) while
 * the next one fills: fetching never waits for the disk.
 *
 * Small served objects are checked and written by a worker thread
 * (StagingWriter); large ones, spooled to a file, are verified as they stream
 * into the transaction. Every served `.filez` is verified (verify-object.ts)
 * before it is staged; a bad one fails with BadObjectError.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { S_IFLNK, S_IFMT, type FileHeader } from '../format/objects.js';
import { fsp, path, randomSuffix } from '../io/fs.js';
import { recordSpaceAtFailure } from '../io/space.js';
import type { Repo } from './repo.js';
import { StagingWriter } from './staging-writer.js';
import { checkStorable } from './stored-form.js';
import { Transaction, type TransactionOptions } from './transaction.js';
import { readFilezHeader, verifiedFilezContent, verifyFilez } from './verify-object.js';

/** A served `.filez` too large to hold, spooled to a file (which the store consumes). */
export interface SpooledObject {
  path: string;
  size: number;
}

export interface BatchedStoreOptions extends TransactionOptions {
  /** Objects per durable batch (default 2000). */
  batch?: number;
  /** But a batch at most this often, in milliseconds (a fast import makes fewer, larger batches; each costs a filesystem sync). */
  minBatchMs?: number;
}

/** One transaction and the writes going into it. */
interface Batch {
  txn: Transaction;
  writes: Set<Promise<unknown>>;
  count: number;
  started: number;
}

export class BatchedStore {
  private current: Batch | null;
  /** The chain of batch commits under way, oldest first. */
  private committed: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private switching: Promise<void> | null = null;
  private closed = false;
  private readonly writer: StagingWriter;
  private readonly batch: number;
  private readonly minBatchMs: number;

  private constructor(readonly repo: Repo, txn: Transaction, private readonly opts: BatchedStoreOptions) {
    this.current = { txn, writes: new Set(), count: 0, started: performance.now() };
    this.writer = new StagingWriter(repo);
    this.batch = Math.max(1, opts.batch ?? 2000);
    this.minBatchMs = opts.minBatchMs ?? 0;
  }

  static async open(repo: Repo, opts: BatchedStoreOptions = {}): Promise<BatchedStore> {
    await removeStaleSpools(repo);
    return new BatchedStore(repo, await Transaction.begin(repo, txnOptions(opts)), opts);
  }

  /** Where to spool a served object too large to hold, for `content` (a spool left by a killed import is removed once expired). */
  spoolPath(): string {
    return path.join(this.repo.path, 'tmp', `pull-${randomSuffix(10)}.filez`);
  }

  /** Stage a metadata object the caller has verified (verifyMetadata). */
  metadata(type: 'dirtree' | 'dirmeta' | 'commit', checksum: string, bytes: Buffer): Promise<void> {
    return this.write(async (txn) => {
      txn.adoptStaged(checksum, type, await this.writer.write({ kind: 'metadata', dest: txn.stagedPath(checksum, type), data: bytes }));
    });
  }

  /** Stage detached commit metadata. */
  commitMeta(checksum: string, bytes: Buffer): Promise<void> {
    return this.write((txn) => txn.writeNamedMetadata('commitmeta', checksum, bytes));
  }

  /** Verify a served `.filez` (in memory, or spooled to a file) against its name, then stage it in this repository's form. */
  content(checksum: string, body: Buffer | SpooledObject): Promise<void> {
    if (!Buffer.isBuffer(body)) return this.write((txn) => storeSpooledContent(txn, checksum, body));
    return this.write(async (txn) => {
      txn.adoptStaged(checksum, 'file', await this.writer.write({ kind: 'filez', dest: txn.stagedPath(checksum, 'file'), checksum, data: body }));
    });
  }

  /**
   * Stage, in `txn` (a batch of this store's, inside `stage`), content built
   * in memory: the worker hashes it with its header, refuses it with
   * BadObjectError unless that gives `checksum`, and writes it in this
   * repository's form. `data` is copied, so a view into a larger buffer costs
   * only its own bytes.
   */
  async builtContent(txn: Transaction, checksum: string, header: FileHeader, data: Uint8Array): Promise<void> {
    // Its own buffers: a view would carry the whole buffer it is cut from to the worker.
    const own: FileHeader = { ...header, xattrs: header.xattrs.map((x) => ({ name: x.name, value: Uint8Array.prototype.slice.call(x.value) })) };
    const bytes = await this.writer.write({ kind: 'content', dest: txn.stagedPath(checksum, 'file'), checksum, header: own, data: Uint8Array.prototype.slice.call(data) });
    txn.adoptStaged(checksum, 'file', bytes);
  }

  /** Write into the current batch with the transaction's own calls; `weight`: the objects it counts for. */
  stage<T>(fn: (txn: Transaction) => Promise<T>, weight = 1): Promise<T> {
    return this.write(fn, weight);
  }

  private async write<T>(fn: (txn: Transaction) => Promise<T>, weight = 1): Promise<T> {
    while (this.switching) await this.switching;
    if (this.failure) throw this.failure;
    if (this.closed || !this.current) throw new OstreeTsError(Codes.IO, `Objects were still being written into ${this.repo.path} after the import had stopped storing them; nothing more was stored.`, { path: this.repo.path });
    const batch = this.current;
    const p = fn(batch.txn);
    batch.writes.add(p);
    let out: T;
    try {
      out = await p;
    } catch (e) {
      // A full disk is measured now, before the failed import removes what it staged.
      await recordSpaceAtFailure(e, batch.txn.stagingDir);
      throw e;
    } finally {
      batch.writes.delete(p);
    }
    batch.count += weight;
    if (batch.count >= this.batch && batch === this.current && !this.switching && performance.now() - batch.started >= this.minBatchMs) await this.rotate();
    return out;
  }

  /** Renames into objects/ on the worker once it runs (it is faster there); else on this thread. */
  private commitOptions(): Parameters<Transaction['commit']>[0] {
    return this.writer.started ? { rename: (moves) => this.writer.renameAll(moves) } : {};
  }

  /** Start a new batch; the full one is committed behind the others. */
  private rotate(): Promise<void> {
    const run = async (): Promise<void> => {
      const full = this.current as Batch;
      this.current = { txn: await Transaction.begin(this.repo, txnOptions(this.opts)), writes: new Set(), count: 0, started: performance.now() };
      this.committed = this.committed.then(async () => {
        await Promise.allSettled(full.writes);
        if (this.failure) {
          await full.txn.abort();
          return;
        }
        try {
          await full.txn.commit(this.commitOptions());
        } catch (e) {
          this.failure ??= e;
          await full.txn.abort();
        }
      });
    };
    this.switching = run().finally(() => { this.switching = null; });
    return this.switching;
  }

  /** Make everything stored so far durable (before a commit stops being partial, say). */
  async sync(): Promise<void> {
    while (this.switching) await this.switching;
    if (this.current && (this.current.count > 0 || this.current.writes.size > 0)) await this.rotate();
    await this.committed;
    if (this.failure) throw this.failure;
  }

  /** Make everything durable; the store is finished. */
  async finish(): Promise<void> {
    while (this.switching) await this.switching;
    const last = this.current as Batch;
    this.current = null;
    this.closed = true;
    await Promise.allSettled(last.writes);
    await this.committed;
    try {
      if (this.failure) {
        await last.txn.abort();
        throw this.failure;
      }
      await last.txn.commit(this.commitOptions());
    } finally {
      await this.writer.close();
    }
  }

  /** Drop what is staged but not yet durable (batches already committing finish). */
  async abort(): Promise<void> {
    this.closed = true;
    if (this.switching) await this.switching.catch(() => undefined);
    const last = this.current;
    this.current = null;
    if (last) await Promise.allSettled(last.writes);
    await this.committed.catch(() => undefined);
    await this.writer.close();
    if (last) await last.txn.abort();
  }
}

function txnOptions(opts: BatchedStoreOptions): TransactionOptions {
  return opts.fsync === undefined ? {} : { fsync: opts.fsync };
}

/** Spooled objects a killed import left in tmp/ (pull-*.filez), once older than core.tmp-expiry-secs. */
async function removeStaleSpools(repo: Repo, now = repo.host.now()): Promise<void> {
  const tmp = path.join(repo.path, 'tmp');
  const expiry = Number(repo.config.get('core', 'tmp-expiry-secs') ?? 86400) * 1000;
  for (const name of await fsp.readdir(tmp).catch(() => [] as string[])) {
    if (!/^pull-.*\.filez$/.test(name)) continue;
    const p = path.join(tmp, name);
    const st = await fsp.lstat(p).catch(() => null);
    if (st?.isFile() && now - st.mtimeMs > expiry) await fsp.rm(p, { force: true });
  }
}

/** A large served object: verified while it streams into the transaction, never held whole in memory. */
async function storeSpooledContent(txn: Transaction, checksum: string, body: SpooledObject): Promise<void> {
  try {
    const at = await readFilezHeader(checksum, body);
    if ((at.header.mode & S_IFMT) === S_IFLNK) {
      // Symlinks carry no content: there is nothing to inflate.
      const { header } = verifyFilez(checksum, await fsp.readFile(body.path), () => new Uint8Array(0));
      if (txn.repo.isArchive) await txn.adoptArchivedContent(checksum, body.path);
      else {
        checkStorable(txn.repo, checksum, header);
        await txn.writeContent(header, { kind: 'symlink' });
      }
      return;
    }
    const content = verifiedFilezContent(checksum, body, at);
    if (txn.repo.isArchive) {
      // Verified by inflating and hashing; the served bytes are kept as they are.
      for await (const _ of content);
      await txn.adoptArchivedContent(checksum, body.path);
      return;
    }
    checkStorable(txn.repo, checksum, at.header);
    await txn.writeContentStream(at.header, at.size, content, `file ${checksum}`);
  } finally {
    await fsp.rm(body.path, { force: true });
  }
}
