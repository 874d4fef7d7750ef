/**
 * Where a pull puts what it fetched: every object is checked against its
 * name before it is staged, and staged objects are made durable in batches
 * (each batch one transaction), so an interrupted pull keeps what it had.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import {
  S_IFLNK, S_IFMT, decodeArchiveHeader, decodeDirMeta, decodeDirTree, sha256Hex, type FileHeader, type ObjectType,
} from '../format/index.js';
import { createInflateRaw, createReadStream, fsp, inflateRaw, path, type SpooledBody } from '../io/index.js';
import { BadObjectError, StagingWriter, Transaction, checkStorable, type Repo } from '../repo/index.js';

export function badObject(checksum: string, type: ObjectType, why: string): OstreeTsError {
  return new OstreeTsError(Codes.OBJECT_CORRUPT, `The remote served a bad ${type} object ${checksum}: ${why.replace(/\.$/, '')}. Nothing of it was stored and no ref moved; pull again when the server is repaired.`, { checksum, type });
}

/** Check a fetched metadata object against its name and its type's rules. */
export function checkMetadata(checksum: string, type: 'dirtree' | 'dirmeta' | 'commit', data: Uint8Array): void {
  if (sha256Hex(data) !== checksum) throw badObject(checksum, type, 'its content does not match its name');
  if (type === 'commit') return;
  try {
    if (type === 'dirtree') decodeDirTree(data, checksum);
    else decodeDirMeta(data, `dirmeta ${checksum}`);
  } catch (e) {
    throw badObject(checksum, type, (e as Error).message);
  }
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
    if (!Buffer.isBuffer(body)) return this.write((txn) => storeSpooledContent(txn, checksum, body));
    return this.write(async (txn) => {
      let bytes: number;
      try {
        bytes = await this.writer.write({ kind: 'filez', dest: txn.stagedPath(checksum, 'file'), checksum, data: body });
      } catch (e) {
        if (e instanceof BadObjectError) throw badObject(checksum, 'file', e.why);
        throw e;
      }
      txn.adoptStaged(checksum, 'file', bytes);
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

async function storeContent(txn: Transaction, checksum: string, data: Buffer): Promise<void> {
  let header: FileHeader;
  let size: bigint;
  let length: number;
  try {
    ({ header, size, length } = decodeArchiveHeader(data, `file ${checksum}`));
  } catch (e) {
    throw badObject(checksum, 'file', (e as Error).message);
  }
  const isLink = (header.mode & S_IFMT) === S_IFLNK;
  let content: Buffer = Buffer.alloc(0);
  if (!isLink) {
    try {
      content = await inflateRaw(data.subarray(length), Number(size) + 1);
    } catch (e) {
      throw badObject(checksum, 'file', `its compressed content cannot be inflated (${(e as Error).message})`);
    }
    if (content.length !== Number(size)) throw badObject(checksum, 'file', `it inflates to ${content.length} bytes, not ${size}`);
  }
  if (txn.contentChecksum(header, content) !== checksum) throw badObject(checksum, 'file', 'its content does not match its name');
  // An archive repository keeps the compressed object as served: no second compression.
  if (txn.repo.isArchive) await txn.writeArchivedContent(checksum, data);
  else {
    checkStorable(txn.repo, checksum, header);
    await txn.writeContent(header, isLink ? { kind: 'symlink' } : { kind: 'buffer', data: content });
  }
}

/** The header of a spooled `.filez`, and where its compressed content starts. */
async function readSpooledHeader(checksum: string, body: SpooledBody): Promise<{ header: FileHeader; size: bigint; length: number }> {
  const fh = await fsp.open(body.path, 'r');
  try {
    const pre = Buffer.alloc(8);
    await fh.read(pre, 0, 8, 0);
    const len = pre.readUInt32BE(0);
    if (len > 16 * 1024 * 1024 || 8 + len > body.size) throw badObject(checksum, 'file', `its header length ${len} does not fit`);
    const head = Buffer.alloc(8 + len);
    await fh.read(head, 0, head.length, 0);
    return decodeArchiveHeader(head, `file ${checksum}`);
  } catch (e) {
    if (e instanceof OstreeTsError && e.code === Codes.OBJECT_CORRUPT) throw e;
    throw badObject(checksum, 'file', (e as Error).message);
  } finally {
    await fh.close();
  }
}

/** The inflated content of a spooled `.filez`, as a stream of chunks. */
async function* inflated(checksum: string, body: SpooledBody, offset: number): AsyncGenerator<Buffer> {
  const inflate = createInflateRaw();
  const src = createReadStream(body.path, { start: offset, highWaterMark: 256 * 1024 });
  src.on('error', (e) => inflate.destroy(e));
  src.pipe(inflate);
  try {
    for await (const chunk of inflate) yield chunk as Buffer;
  } catch (e) {
    throw badObject(checksum, 'file', `its compressed content cannot be inflated (${(e as Error).message})`);
  } finally {
    src.destroy();
  }
}

/** A large object: verified while streaming, never held whole in memory. */
async function storeSpooledContent(txn: Transaction, checksum: string, body: SpooledBody): Promise<void> {
  try {
    const { header, size, length } = await readSpooledHeader(checksum, body);
    if ((header.mode & S_IFMT) === S_IFLNK) {
      // Symlinks carry no content; a large one is simply read.
      await storeContent(txn, checksum, await fsp.readFile(body.path));
      return;
    }
    if (txn.repo.isArchive) {
      // Verify by inflating and hashing, then keep the served bytes as they are.
      const h = txn.contentHasher(header);
      let n = 0;
      for await (const c of inflated(checksum, body, length)) {
        n += c.length;
        if (n > Number(size)) break;
        h.update(c);
      }
      if (n !== Number(size)) throw badObject(checksum, 'file', `it inflates to ${n === Number(size) + 1 ? 'more than' : n} bytes, not ${size}`);
      if (h.digest('hex') !== checksum) throw badObject(checksum, 'file', 'its content does not match its name');
      await txn.adoptArchivedContent(checksum, body.path);
      return;
    }
    checkStorable(txn.repo, checksum, header);
    let got: string;
    try {
      got = await txn.writeContentStream(header, Number(size), inflated(checksum, body, length), `file ${checksum}`);
    } catch (e) {
      if (e instanceof OstreeTsError && e.code === Codes.IO && /expected \d+ bytes/.test(e.message)) {
        throw badObject(checksum, 'file', `it does not inflate to the ${size} bytes its header says`);
      }
      throw e;
    }
    if (got !== checksum) throw badObject(checksum, 'file', 'its content does not match its name');
  } finally {
    await fsp.rm(body.path, { force: true });
  }
}
