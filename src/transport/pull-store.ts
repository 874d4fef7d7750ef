/**
 * Where a pull puts what it fetched: every object is checked against its
 * name before it is staged, and staged objects are made durable in batches
 * (each batch one transaction), so an interrupted pull keeps what it had.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { S_IFLNK, S_IFMT, type ObjectType } from '../format/index.js';
import { fsp, path, type SpooledBody } from '../io/index.js';
import {
  BadObjectError, StagingWriter, Transaction, checkStorable, readFilezHeader, verifiedFilezContent, verifyFilez, verifyMetadata, type Repo,
} from '../repo/index.js';

export function badObject(checksum: string, type: ObjectType, why: string): OstreeTsError {
  return new OstreeTsError(Codes.OBJECT_CORRUPT, `The remote served a bad ${type} object ${checksum}: ${why.replace(/\.$/, '')}. Nothing of it was stored and no ref moved; pull again when the server is repaired.`, { checksum, type });
}

/** Check a fetched metadata object against its name and its type's rules. */
export function checkMetadata(checksum: string, type: 'dirtree' | 'dirmeta' | 'commit', data: Uint8Array): void {
  try {
    verifyMetadata(checksum, type, data);
  } catch (e) {
    throw servedError(e);
  }
}

/** A served object that is not what its name says, told as the remote's fault. */
export function servedError(e: unknown): unknown {
  return e instanceof BadObjectError ? badObject(e.data.checksum, e.data.type, e.why) : e;
}

/** One transaction and the writes going into it. */
interface Batch {
  txn: Transaction;
  writes: Set<Promise<unknown>>;
  count: number;
  started: number;
}

/**
 * A batch is made durable in the background (syncfs, then renames into
 * objects/) while the next one fills: fetching never waits for the disk,
 * and whatever was committed survives an interruption.
 */
export class PullStore {
  private current: Batch | null;
  /** The chain of batch commits under way, oldest first. */
  private committed: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private switching: Promise<void> | null = null;
  private closed = false;
  /** Small objects are checked and written by a worker thread. */
  private readonly writer: StagingWriter;

  private constructor(readonly repo: Repo, txn: Transaction, private readonly batch: number, private readonly minBatchMs: number) {
    this.current = { txn, writes: new Set(), count: 0, started: Date.now() };
    this.writer = new StagingWriter(repo);
  }

  /**
   * `batch`: objects per durable batch; `minBatchMs`: but not more often than
   * this (a fast pull makes fewer, larger batches; each costs a filesystem sync).
   */
  static async open(repo: Repo, batch = 2000, minBatchMs = 0): Promise<PullStore> {
    await removeStaleSpools(repo);
    return new PullStore(repo, await Transaction.begin(repo), Math.max(1, batch), minBatchMs);
  }

  /** Stage a metadata object the caller has checked (checkMetadata). */
  metadata(type: 'dirtree' | 'dirmeta' | 'commit', checksum: string, bytes: Buffer): Promise<void> {
    return this.write(async (txn) => {
      txn.adoptStaged(checksum, type, await this.writer.write({ kind: 'metadata', dest: txn.stagedPath(checksum, type), data: bytes }));
    });
  }

  /** Stage detached commit metadata. */
  commitMeta(checksum: string, bytes: Buffer): Promise<void> {
    return this.write((txn) => txn.writeNamedMetadata('commitmeta', checksum, bytes));
  }

  /** Check a served `.filez` (in memory or spooled to a file) against its name, then stage it in this repository's form. */
  content(checksum: string, body: Buffer | SpooledBody): Promise<void> {
    if (!Buffer.isBuffer(body)) return this.write((txn) => storeSpooledContent(txn, checksum, body)).catch((e) => { throw servedError(e); });
    return this.write(async (txn) => {
      txn.adoptStaged(checksum, 'file', await this.writer.write({ kind: 'filez', dest: txn.stagedPath(checksum, 'file'), checksum, data: body }));
    });
  }

  private async write(fn: (txn: Transaction) => Promise<unknown>): Promise<void> {
    while (this.switching) await this.switching;
    if (this.failure) throw this.failure;
    if (this.closed || !this.current) throw new OstreeTsError(Codes.IO, 'The pull stopped storing objects.');
    const batch = this.current;
    const p = fn(batch.txn);
    batch.writes.add(p);
    try {
      await p;
    } finally {
      batch.writes.delete(p);
    }
    if (++batch.count >= this.batch && batch === this.current && !this.switching && Date.now() - batch.started >= this.minBatchMs) await this.rotate();
  }

  /** Start a new batch; the full one is committed behind the others. */
  private rotate(): Promise<void> {
    const run = async (): Promise<void> => {
      const full = this.current as Batch;
      this.current = { txn: await Transaction.begin(this.repo), writes: new Set(), count: 0, started: Date.now() };
      this.committed = this.committed.then(async () => {
        await Promise.allSettled(full.writes);
        if (this.failure) {
          await full.txn.abort();
          return;
        }
        try {
          await full.txn.commit({ rename: (moves) => this.writer.renameAll(moves) });
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
      await last.txn.commit({ rename: (moves) => this.writer.renameAll(moves) });
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

/** Large objects a killed pull left spooled in tmp/ (pull-*.filez), once older than core.tmp-expiry-secs. */
async function removeStaleSpools(repo: Repo, now = Date.now()): Promise<void> {
  const tmp = path.join(repo.path, 'tmp');
  const expiry = Number(repo.config.get('core', 'tmp-expiry-secs') ?? 86400) * 1000;
  for (const name of await fsp.readdir(tmp).catch(() => [] as string[])) {
    if (!/^pull-.*\.filez$/.test(name)) continue;
    const p = path.join(tmp, name);
    const st = await fsp.lstat(p).catch(() => null);
    if (st?.isFile() && now - st.mtimeMs > expiry) await fsp.rm(p, { force: true });
  }
}

/** A large object, spooled to a file: verified while it streams into the store, never held whole in memory. */
async function storeSpooledContent(txn: Transaction, checksum: string, body: SpooledBody): Promise<void> {
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
